/**
 * What the control plane says a CVM was given (its host and the GPUs assigned to it). Real providers enumerate the
 * hardware themselves and ignore this; simulated ones derive the identities of the simulated devices from it.
 */
export interface SimulatedHardware {
  /** The simulated machine (CPU chip): the host's node name, or the CVM's namespace/name. */
  machine: string;
  /** One name per GPU, e.g. `<node>/<PCI address>`. */
  gpus: readonly string[];
  /** The TEE the CVM asked for (`spec.tee`): which evidence the simulated TEE produces (SNP when not given). */
  tee?: "tdx" | "snp";
}
