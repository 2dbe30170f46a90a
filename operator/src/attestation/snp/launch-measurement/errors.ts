/** Why an input to the SNP launch-measurement computation was refused. */
export type LaunchMeasurementErrorReason =
  | "NotOvmf"
  | "NoSevMetadata"
  | "MalformedSevMetadata"
  | "UnknownSectionType"
  | "SectionOutOfRange"
  | "NoResetBlock"
  | "InvalidVcpuCount"
  | "UnknownVcpuType"
  | "InvalidVcpuSignature"
  | "InvalidGuestFeatures"
  | "UnknownVmmType";

export class LaunchMeasurementError extends Error {
  readonly reason: LaunchMeasurementErrorReason;

  constructor(reason: LaunchMeasurementErrorReason, message: string) {
    super(message);
    this.name = "LaunchMeasurementError";
    this.reason = reason;
  }
}
