/**
 * AMD's CRL for a product's ASKs or ASVKs (KDS `/{vcek|vlek}/v1/{product}/crl`): signed by the product's ARK with
 * RSASSA-PSS SHA-384 like its certificates. An ASK/ASVK on it makes every VCEK/VLEK it issued untrustworthy.
 */
import { constants, verify, type X509Certificate } from "node:crypto";
import * as pkijs from "pkijs";
import type { VerificationError } from "../types.ts";
import type { Endorsement } from "./endorsement-chain.ts";

const RSASSA_PSS = "1.2.840.113549.1.1.10";
const PSS_SALT_LENGTH = 48;

function serialHex(bytes: ArrayBuffer | Uint8Array): string {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes))
    .toString("hex")
    .replace(/^(00)+(?=.)/, "")
    .toLowerCase();
}

function signedByArk(crl: pkijs.CertificateRevocationList, ark: X509Certificate): boolean {
  if (crl.signatureAlgorithm.algorithmId !== RSASSA_PSS || crl.signature.algorithmId !== RSASSA_PSS)
    return false;
  if (!pkijs.Certificate.fromBER(ark.raw).subject.isEqual(crl.issuer)) return false;
  try {
    return verify(
      "sha384",
      crl.tbsView,
      { key: ark.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT_LENGTH },
      crl.signatureValue.valueBlock.valueHexView,
    );
  } catch {
    return false;
  }
}

/** What AMD's CRL says of the endorsement's ASK/ASVK as of `now`; no errors when it is signed, current and silent. */
export function amdCrlErrors(
  der: Uint8Array,
  endorsement: Endorsement,
  now: Date,
  grace: { ms: number; stale: string[] } = { ms: 0, stale: [] },
): VerificationError[] {
  const { intermediate, ark } = endorsement.issuers;
  let crl: pkijs.CertificateRevocationList;
  try {
    crl = pkijs.CertificateRevocationList.fromBER(der);
  } catch {
    return [{ code: "EvidenceMalformed", message: `AMD CRL for ${endorsement.product} does not parse` }];
  }
  if (!signedByArk(crl, ark)) {
    return [
      {
        code: "SignatureInvalid",
        message: `AMD CRL is not signed by ARK-${endorsement.product} (RSASSA-PSS SHA-384)`,
      },
    ];
  }
  const nextUpdate = crl.nextUpdate?.value;
  const withinGrace =
    nextUpdate !== undefined && nextUpdate < now && now.getTime() < nextUpdate.getTime() + grace.ms;
  if (withinGrace)
    grace.stale.push(
      `AMD CRL for ${endorsement.product} passed its nextUpdate ${nextUpdate.toISOString()}; accepted within the stale grace`,
    );
  else if (crl.thisUpdate.value > now || (nextUpdate !== undefined && nextUpdate < now)) {
    return [
      {
        code: "CollateralExpired",
        message: `AMD CRL for ${endorsement.product} is valid ${crl.thisUpdate.value.toISOString()} to ${nextUpdate?.toISOString() ?? "?"}`,
      },
    ];
  }
  const serial = serialHex(Buffer.from(intermediate.serialNumber, "hex"));
  const revoked = (crl.revokedCertificates ?? []).some(
    (entry) => serialHex(entry.userCertificate.valueBlock.valueHexView) === serial,
  );
  if (!revoked) return [];
  return [
    {
      code: "CertificateRevoked",
      message: `AMD revoked ${intermediate.subject.split("\n").find((l) => l.startsWith("CN=")) ?? "the ASK"} (serial ${serial}) that issued the ${endorsement.keyKind.toUpperCase()}`,
    },
  ];
}
