// `kubectl explain` against the real API server documents the trustgate CRDs' fields, security-relevant ones
// included: the descriptions of crds/ (every field has one; hack/crd-descriptions.ts) are what the API serves.
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { resolveBinDir } from "../../../hack/lib/find-binaries.ts";
import { run } from "../support/chart.ts";
import { kubeConfig, sharedControlPlane } from "../support/control-plane.ts";
import { installTrustgate } from "../support/install.ts";
import { REPO_ROOT } from "../support/samples.ts";

interface Schema {
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
}

/** The description crds/<file> gives the field at `path` (dots; "[]" steps into array items). */
async function description(file: string, path: string): Promise<string> {
  const crd = parse(await readFile(join(REPO_ROOT, "crds", file), "utf8")) as {
    spec: { versions: { schema: { openAPIV3Schema: Schema } }[] };
  };
  let node: Schema | undefined = crd.spec.versions[0]?.schema.openAPIV3Schema;
  for (const step of path.split(".")) {
    const name = step.replace(/\[\]$/, "");
    node = node?.properties?.[name];
    if (step.endsWith("[]")) node = node?.items;
  }
  if (node?.description === undefined) throw new Error(`${file}: no description at ${path}`);
  return node.description;
}

describe("kubectl explain on the trustgate CRDs (real API server)", function () {
  this.timeout(60_000);

  before(async function () {
    await installTrustgate(await kubeConfig());
  });

  const fields: [resource: string, file: string, path: string][] = [
    ["attestationpolicies", "attestationpolicies.trustgate.io.yaml", "spec.gpu.requireRevocationCheck"],
    ["attestationpolicies", "attestationpolicies.trustgate.io.yaml", "spec.gpu.ocspUrl"],
    ["attestationpolicies", "attestationpolicies.trustgate.io.yaml", "spec.snp.allowDebug"],
    ["attestationpolicies", "attestationpolicies.trustgate.io.yaml", "spec.tdx.allowDebug"],
    ["confidentialvms", "confidentialvms.trustgate.io.yaml", "spec.tee"],
    ["confidentialvms", "confidentialvms.trustgate.io.yaml", "status.attestation.verdict"],
    ["confidentialhosts", "confidentialhosts.trustgate.io.yaml", "status.gpus"],
    ["confidentialhosts", "confidentialhosts.trustgate.io.yaml", "status.report.keyId"],
  ];
  for (const [resource, file, path] of fields) {
    it(`${resource}.${path}`, async function () {
      const kubectl = join(await resolveBinDir(), "kubectl");
      const kubeconfig = (await sharedControlPlane()).kubeconfigPath;
      const out = await run(kubectl, ["explain", `${resource}.${path}`, "--kubeconfig", kubeconfig]);
      expect(out.code, out.stderr).to.equal(0);
      // kubectl wraps and indents: compare word by word.
      const words = (text: string): string => text.split(/\s+/).filter(Boolean).join(" ");
      expect(words(out.stdout)).to.include(words(await description(file, path)));
    });
  }
});
