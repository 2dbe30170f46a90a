import { createHash } from "node:crypto";
import type { ConfidentialVM } from "../../api/v1alpha1/generated/types.ts";
import { canonicalJson } from "../../encoding/canonical-json.ts";
import { buildRootDataVolume } from "../../kubevirt/data-volume.ts";
import type { VirtualMachine } from "../../kubevirt/generated/types.ts";
import {
  buildVirtualMachine,
  type VmPlacement,
  type VmRenderOptions,
} from "../../kubevirt/virtual-machine.ts";
import {
  ANNOTATION_LAUNCH_HASH,
  ANNOTATION_SPEC_HASH,
} from "../../api/v1alpha1/confidential-vm-conditions.ts";

function sha256Hex32(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}

/** The VirtualMachine a CVM renders to on a placement, annotated with the hash of what it launches. */
export interface RenderedLaunch {
  vm: VirtualMachine;
  hash: string;
}

/**
 * Renders the CVM's VirtualMachine (and an http image's DataVolume) and hashes what the guest is launched as.
 * Only metadata is left out of the hash: names, labels and owner never reach the guest and change in place.
 * Throws VmBuildError when the CVM cannot be rendered.
 */
export function renderLaunch(
  cvm: ConfidentialVM,
  placement: VmPlacement,
  options: VmRenderOptions = {},
): RenderedLaunch {
  const vm = buildVirtualMachine(cvm, placement, options);
  const hash = launchHash(cvm, vm);
  vm.metadata = { ...vm.metadata, annotations: { [ANNOTATION_LAUNCH_HASH]: hash } };
  return { vm, hash };
}

function launchHash(cvm: ConfidentialVM, vm: VirtualMachine): string {
  const dataVolume = cvm.spec.image.http === undefined ? undefined : buildRootDataVolume(cvm).spec;
  return sha256Hex32(canonicalJson({ vm: vm.spec, dataVolume }));
}

/**
 * Whether `running` (read whole from the API server) was launched as the CVM renders now except that its GPUs carry
 * a `tag` (the planned host PCI address, which older operators rendered): guest metadata only, so no relaunch.
 */
export function launchedWithGpuTags(
  cvm: ConfidentialVM,
  placement: VmPlacement,
  running: VirtualMachine,
): boolean {
  const launched = running.metadata?.annotations?.[ANNOTATION_LAUNCH_HASH];
  const tags = (running.spec.template.spec?.domain.devices.gpus ?? []).map((gpu) => gpu.tag);
  if (launched === undefined || tags.every((tag) => tag === undefined)) return false;
  const vm = buildVirtualMachine(cvm, placement);
  const devices = vm.spec.template.spec?.domain.devices;
  if (devices === undefined || (devices.gpus ?? []).length !== tags.length) return false;
  devices.gpus = (devices.gpus ?? []).map((gpu, i) =>
    tags[i] === undefined ? gpu : { ...gpu, tag: tags[i] },
  );
  return launchHash(cvm, vm) === launched;
}

/**
 * The hash of hand-picked spec fields that VirtualMachines launched before the rendered hash carry: they are
 * compared with it, so a new operator version does not relaunch every running CVM. Remove once none are left.
 */
export function legacySpecHash(cvm: ConfidentialVM, placement: VmPlacement): string {
  const { tee, image, resources, gpus, nodeSelector, runStrategy } = cvm.spec;
  // The hash also took spec.tdx and spec.snp, since removed (KubeVirt could not set them); canonicalJson leaves
  // unset fields out, so a CVM that never set them hashes as before.
  return sha256Hex32(canonicalJson({ tee, image, resources, gpus, nodeSelector, runStrategy, placement }));
}

/** Whether a running VirtualMachine was launched as `wanted` (new-style hash) or, for old VMs, the legacy hash. */
export function launchedAsWanted(
  vm: VirtualMachine,
  wanted: { hash: string; legacyHash: () => string },
): boolean {
  const annotations = vm.metadata?.annotations ?? {};
  const launched = annotations[ANNOTATION_LAUNCH_HASH];
  if (launched !== undefined) return launched === wanted.hash;
  const legacy = annotations[ANNOTATION_SPEC_HASH];
  return legacy !== undefined && legacy === wanted.legacyHash();
}
