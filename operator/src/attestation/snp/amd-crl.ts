/**
 * AMD's CRL for a product's ASKs or ASVKs (KDS `/{vcek|vlek}/v1/{product}/crl`): signed by the product's ARK with
 * RSASSA-PSS SHA-384 like its certificates. An ASK/ASVK on it makes every VCEK/VLEK it issued untrustworthy.
 */
import { constants, createHash, verify, type X509Certificate } from "node:crypto";
import * as pkijs from "pkijs";
import { BoundedMap } from "../bounded-map.ts";
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

/** A CRL whose ARK signature verified: its window and revoked serials (normalized hex). */
interface VerifiedCrl {
  thisUpdate: Date;
  nextUpdate?: Date;
  revoked: ReadonlySet<string>;
}

/**
 * By SHA-256 of the CRL's DER and the ARK's fingerprint (the facts that decide parse and signature): every report
 * of a product checks the same CRL, which was decoded and its RSA-PSS signature verified each time. Failures are
 * not kept. The time window and the serial are checked on every call.
 */
const verifiedCrls = new BoundedMap<string, VerifiedCrl>(16);

function verifiedCrl(
  der: Uint8Array,
  ark: X509Certificate,
  product: string,
): VerifiedCrl | VerificationError {
  const key = `${createHash("sha256").update(der).digest("hex")}/${ark.fingerprint256}`;
  const known = verifiedCrls.get(key);
  if (known !== undefined) return known;
  let crl: pkijs.CertificateRevocationList;
  try {
    crl = pkijs.CertificateRevocationList.fromBER(der);
  } catch {
    return { code: "EvidenceMalformed", message: `AMD CRL for ${product} does not parse` };
  }
  if (!signedByArk(crl, ark)) {
    return {
      code: "SignatureInvalid",
      message: `AMD CRL is not signed by ARK-${product} (RSASSA-PSS SHA-384)`,
    };
  }
  const nextUpdate = crl.nextUpdate?.value;
  const verified: VerifiedCrl = {
    thisUpdate: crl.thisUpdate.value,
    ...(nextUpdate === undefined ? {} : { nextUpdate }),
    revoked: new Set(
      (crl.revokedCertificates ?? []).map((entry) =>
        serialHex(entry.userCertificate.valueBlock.valueHexView),
      ),
    ),
  };
  verifiedCrls.set(key, verified);
  return verified;
}

/** What AMD's CRL says of the endorsement's ASK/ASVK as of `now`; no errors when it is signed, current and silent. */
export function amdCrlErrors(
  der: Uint8Array,
  endorsement: Endorsement,
  now: Date,
  grace: { ms: number; stale: string[] } = { ms: 0, stale: [] },
): VerificationError[] {
  const { intermediate, ark } = endorsement.issuers;
  const crl = verifiedCrl(der, ark, endorsement.product);
  if ("code" in crl) return [crl];
  const nextUpdate = crl.nextUpdate;
  const withinGrace =
    nextUpdate !== undefined && nextUpdate < now && now.getTime() < nextUpdate.getTime() + grace.ms;
  if (withinGrace)
    grace.stale.push(
      `AMD CRL for ${endorsement.product} passed its nextUpdate ${nextUpdate.toISOString()}; accepted within the stale grace`,
    );
  else if (crl.thisUpdate > now || (nextUpdate !== undefined && nextUpdate < now)) {
    return [
      {
        code: "CollateralExpired",
        message: `AMD CRL for ${endorsement.product} is valid ${crl.thisUpdate.toISOString()} to ${nextUpdate?.toISOString() ?? "?"}`,
      },
    ];
  }
  const serial = serialHex(Buffer.from(intermediate.serialNumber, "hex"));
  if (!crl.revoked.has(serial)) return [];
  return [
    {
      code: "CertificateRevoked",
      message: `AMD revoked ${intermediate.subject.split("\n").find((l) => l.startsWith("CN=")) ?? "the ASK"} (serial ${serial}) that issued the ${endorsement.keyKind.toUpperCase()}`,
    },
  ];
}
