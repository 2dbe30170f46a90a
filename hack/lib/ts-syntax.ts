// Small helpers for writing TypeScript source text: names, property keys, literals and JSDoc.

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const COMMENT_WIDTH = 100;

/** `evidence` → `Evidence`, `x-forwarded` → `XForwarded`, `v1beta1` → `V1beta1`. */
export function pascalCase(word: string): string {
  return word
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part !== "")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
}

/** `status-conditions` → `statusConditions`, `MrTd` → `mrTd`. */
export function camelCase(word: string): string {
  const pascal = pascalCase(word);
  return pascal.charAt(0).toLowerCase() + pascal.slice(1);
}

/** `ConfidentialVM` → `CONFIDENTIAL_VM`, `AttestationPolicy` → `ATTESTATION_POLICY`. */
export function screamingSnakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toUpperCase();
}

/** English singular of a PascalCase plural, for naming array items (`Conditions` → `Condition`). */
export function singular(name: string): string {
  if (/[^aeiou]ies$/.test(name)) return `${name.slice(0, -3)}y`;
  if (/(sses|shes|ches|xes|uses)$/.test(name)) return name.slice(0, -2);
  if (/(ss|is|Status|Bus)$/.test(name) || !name.endsWith("s")) return `${name}Item`;
  return name.slice(0, -1);
}

/** A property key as TypeScript accepts it in an interface. */
export function propertyKey(key: string): string {
  return IDENTIFIER.test(key) ? key : JSON.stringify(key);
}

/** A literal type for a JSON enum value. */
export function literalType(value: unknown): string {
  return value === null ? "null" : JSON.stringify(value);
}

/** A JSDoc block for `text`, wrapped to the comment width at the given indentation. */
export function jsDoc(text: string | undefined, indent: string): string {
  if (text === undefined || text.trim() === "") return "";
  const lines = text
    .replaceAll("*/", "*\\/")
    .trim()
    .split("\n")
    .flatMap((line) => wrap(line.trim(), COMMENT_WIDTH - indent.length - 3));
  const first = lines[0];
  if (lines.length === 1 && first !== undefined && indent.length + first.length + 7 <= COMMENT_WIDTH) {
    return `${indent}/** ${first} */\n`;
  }
  return `${indent}/**\n${lines.map((line) => `${indent} *${line === "" ? "" : ` ${line}`}`).join("\n")}\n${indent} */\n`;
}

function wrap(line: string, width: number): string[] {
  const out: string[] = [];
  let current = "";
  for (const word of line.split(/\s+/)) {
    if (current !== "" && current.length + 1 + word.length > width) {
      out.push(current);
      current = word;
    } else {
      current = current === "" ? word : `${current} ${word}`;
    }
  }
  out.push(current);
  return out;
}
