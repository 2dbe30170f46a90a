import js from "@eslint/js";
import tseslint from "typescript-eslint";

// Layering: production code imports no test support or hack/; the webhook no controller; the guest not the agent;
// a controller not another controller. `layer` forbids `regex` to tests too, test support only to production files.
const noTestSupport = {
  regex: String.raw`(^|/)(test|hack)/`,
  message: "production code must not import test support or hack/ (move shared code under operator/src)",
};
const layer = (files, regex, message) => {
  const patterns = regex === undefined ? [] : [{ regex, message }];
  return [
    { files, rules: { "no-restricted-imports": ["error", { patterns }] } },
    {
      files,
      ignores: ["**/*.test.ts"],
      rules: { "no-restricted-imports": ["error", { patterns: [...patterns, noTestSupport] }] },
    },
  ];
};
const CONTROLLERS = ["confidentialvm", "confidentialhost"];

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".tools/", ".cache/", "**/generated/**"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      // @kubernetes/client-node models are plain data classes; its APIs take object literals.
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
    },
  },
  {
    files: ["**/*.test.ts", "e2e/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-expressions": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  ...layer(["operator/src/**/*.ts", "guest/src/**/*.ts"]),
  ...layer(
    ["operator/src/webhook/**/*.ts"],
    String.raw`(^|/)controllers/`,
    "the webhook imports no controller (shared code goes to api/ or runtime/)",
  ),
  ...layer(
    ["guest/src/**/*.ts"],
    String.raw`(^|/)agent/`,
    "the guest imports nothing of the agent (shared code goes to operator/src/kube/)",
  ),
  ...CONTROLLERS.flatMap((own) =>
    layer(
      [`operator/src/controllers/${own}/**/*.ts`],
      String.raw`(^|/)(${CONTROLLERS.filter((other) => other !== own).join("|")})/`,
      "controllers do not import each other (shared code: api/, placement/)",
    ),
  ),
  { files: ["**/*.js"], ...tseslint.configs.disableTypeChecked },
);
