/**
 * Appraisal of one device's NRAS claims (pure): `measres` gives the measurement result, the `x-nvidia-cert-ocsp-status`
 * of every certificate chain NRAS checked gives the revocation result, and every boolean `x-nvidia-*` check must be
 * true. The claims must describe the device the local verifier saw (ueid, driver and VBIOS versions), with secure
 * boot on and debug off.
 */
import type { ErrorCode, VerificationError } from "../../types.ts";
import type { GpuVerificationSources } from "../../types.ts";

export interface NrasDeviceFacts {
  kind: "gpu" | "switch";
  ueid?: string;
  driverVersion: string;
  vbiosVersion: string;
}

export interface NrasAppraisal {
  measurements: "match" | "mismatch" | "unchecked";
  revocation: "good" | "revoked" | "unchecked";
  errors: VerificationError[];
}

/** Which error a failed `x-nvidia-…` boolean check is. */
function codeOfCheck(claim: string): ErrorCode {
  if (claim.includes("nonce")) return "NonceMismatch";
  if (claim.includes("cert-chain")) return "ChainInvalid";
  if (claim.includes("signature")) return "SignatureInvalid";
  if (claim.endsWith("-fetched") || claim.endsWith("-measurements-available")) return "RimUnavailable";
  return "MeasurementMismatch";
}

function revocationOf(
  claims: Record<string, unknown>,
  sources: GpuVerificationSources,
): Pick<NrasAppraisal, "revocation" | "errors"> {
  const chains = Object.entries(claims).filter(
    (entry): entry is [string, Record<string, unknown>] =>
      entry[0].endsWith("-cert-chain") && typeof entry[1] === "object" && entry[1] !== null,
  );
  const errors: VerificationError[] = [];
  let revoked = false;
  let incomplete = chains.length === 0;
  for (const [name, chain] of chains) {
    const status = chain["x-nvidia-cert-ocsp-status"];
    const reason = chain["x-nvidia-cert-revocation-reason"];
    if (status === "good") continue;
    if (status === "revoked") {
      if (reason === "certificateHold" && sources.allowCertificateHold) continue;
      revoked = true;
      errors.push({
        code: "CertificateRevoked",
        message: `NRAS: ${name} is revoked (reason ${typeof reason === "string" ? reason : "unspecified"})`,
      });
    } else {
      incomplete = true;
      errors.push({
        code: "CollateralUnavailable",
        message: `NRAS: ${name} OCSP status is ${JSON.stringify(status ?? null)}`,
      });
    }
  }
  if (chains.length === 0)
    errors.push({
      code: "CollateralUnavailable",
      message: "NRAS: the claims report no certificate chain status",
    });
  return { revocation: revoked ? "revoked" : incomplete ? "unchecked" : "good", errors };
}

function versionError(claims: Record<string, unknown>, claim: string, local: string): VerificationError[] {
  const value = claims[claim];
  if (
    value === undefined ||
    local === "" ||
    (typeof value === "string" && value.toUpperCase() === local.toUpperCase())
  )
    return [];
  return [
    {
      code: "BindingMismatch",
      message: `NRAS: ${claim} ${JSON.stringify(value)} differs from the evidence's ${local}`,
    },
  ];
}

export function appraiseNrasClaims(
  claims: Record<string, unknown>,
  device: NrasDeviceFacts,
  sources: GpuVerificationSources,
): NrasAppraisal {
  const errors: VerificationError[] = [];
  const ueid = claims["ueid"];
  if (device.ueid !== undefined && ueid !== undefined && ueid !== device.ueid) {
    errors.push({
      code: "BindingMismatch",
      message: `NRAS: ueid ${JSON.stringify(ueid)} is not the device's ${device.ueid}`,
    });
  }
  const prefix = device.kind === "switch" ? "x-nvidia-switch" : "x-nvidia-gpu";
  errors.push(
    ...(device.kind === "switch"
      ? versionError(claims, "x-nvidia-switch-bios-version", device.vbiosVersion)
      : [
          ...versionError(claims, "x-nvidia-gpu-driver-version", device.driverVersion),
          ...versionError(claims, "x-nvidia-gpu-vbios-version", device.vbiosVersion),
        ]),
  );
  for (const [claim, value] of Object.entries(claims)) {
    if (claim.startsWith(prefix) && value === false)
      errors.push({ code: codeOfCheck(claim), message: `NRAS: ${claim} is false` });
  }
  if (claims["secboot"] !== true)
    errors.push({ code: "PolicyViolation", message: "NRAS: secure boot (secboot) is not reported on" });
  if (claims["dbgstat"] !== "disabled") {
    errors.push({
      code: "PolicyViolation",
      message: `NRAS: debug status (dbgstat) is ${JSON.stringify(claims["dbgstat"] ?? null)}, not disabled`,
    });
  }
  const measres = claims["measres"];
  const measurements = measres === "success" ? "match" : measres === undefined ? "unchecked" : "mismatch";
  if (measurements === "mismatch")
    errors.push({
      code: "MeasurementMismatch",
      message: `NRAS: measurement result (measres) is ${JSON.stringify(measres)}`,
    });
  if (measurements === "unchecked")
    errors.push({ code: "RimUnavailable", message: "NRAS: the claims hold no measurement result (measres)" });
  const revocation = revocationOf(claims, sources);
  return { measurements, revocation: revocation.revocation, errors: [...errors, ...revocation.errors] };
}
