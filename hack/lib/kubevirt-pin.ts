// The KubeVirt API version we generate types from and validate against (inputs in hack/kubevirt/).

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const KUBEVIRT_DIR = "hack/kubevirt";

export const KUBEVIRT_PIN = {
  repository: "kubevirt/kubevirt",
  commit: "d923fdb815cd2016ddaebdaaa51db04133576d72",
  version: "v1.9.0-beta.0-1264 (v1.10 development line)",
  /** sha256 of each input, by path below hack/kubevirt. */
  files: {
    "openapi-spec.json": "92b7a06a64069cdf1422b32f14a8e29744e5b51921b6d28056e92b32917d39d6",
    "crds/virtualmachines.kubevirt.io.yaml":
      "fea3db26cdceddc94be052c13972656026c7ed05648d7b512d8ffbd07777cf38",
    "crds/virtualmachineinstances.kubevirt.io.yaml":
      "03ab349937f4d007f2ff0cbe892a81c2ee85b76b489997fcb4a21cc97b75cdc7",
    "crds/kubevirts.kubevirt.io.yaml": "063d36582e4c3b8328edee61975eedee2b8f0b1d86ea3fecf3d4587efb60fcb1",
  },
} as const;

export type PinnedFile = keyof typeof KUBEVIRT_PIN.files;

export function sha256(content: string | Buffer): string {
  return createHash("sha256").update(content).digest("hex");
}

/** The content of a pinned input; throws when it is not the pinned version. */
export function readPinnedFile(root: string, file: PinnedFile): string {
  const path = join(root, KUBEVIRT_DIR, file);
  const content = readFileSync(path);
  const actual = sha256(content);
  if (actual !== KUBEVIRT_PIN.files[file]) {
    throw new Error(
      `${KUBEVIRT_DIR}/${file} has sha256 ${actual}, but hack/lib/kubevirt-pin.ts pins ${KUBEVIRT_PIN.files[file]}; ` +
        "update the pin (commit, version, checksums) together with the file",
    );
  }
  return content.toString("utf8");
}
