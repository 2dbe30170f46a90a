/**
 * Elliptic-curve keys derived from a CA's secret and a name, so that a simulated device (a VCEK for a chip and TCB,
 * a PCK for a machine) gets the same key in every process that holds the CA key: the simulated TEE signing evidence
 * and the simulated KDS serving its certificate agree without sharing state. HKDF picks the scalar; the reduction
 * modulo the group order has a negligible bias, which is fine for simulated devices.
 */
import { createECDH, createHash, createPrivateKey, hkdfSync, type KeyObject } from "node:crypto";

const CURVES = {
  "P-256": {
    ecdh: "prime256v1",
    bytes: 32,
    order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
  "P-384": {
    ecdh: "secp384r1",
    bytes: 48,
    order:
      0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
} as const;

export type DerivedCurve = keyof typeof CURVES;

/** A private key on `curve` derived from `secret` (the CA's key material) and `label` (the device). */
export function deriveEcPrivateKey(curve: DerivedCurve, secret: Uint8Array, label: string): KeyObject {
  const { ecdh, bytes, order } = CURVES[curve];
  const okm = Buffer.from(
    hkdfSync("sha384", secret, "trustgate simulated device key", `${curve}\0${label}`, bytes + 16),
  );
  const scalar = (BigInt(`0x${okm.toString("hex")}`) % (order - 1n)) + 1n;
  const d = Buffer.from(scalar.toString(16).padStart(bytes * 2, "0"), "hex");
  const point = createECDH(ecdh);
  point.setPrivateKey(d);
  const uncompressed = point.getPublicKey();
  const coordinate = (from: number): string =>
    uncompressed.subarray(from, from + bytes).toString("base64url");
  return createPrivateKey({
    key: { kty: "EC", crv: curve, d: d.toString("base64url"), x: coordinate(1), y: coordinate(1 + bytes) },
    format: "jwk",
  });
}

/** A positive certificate serial (16 bytes, DER-minimal) for `label`, unique under the issuer named by `scope`. */
export function deriveSerial(scope: Uint8Array, label: string): Uint8Array {
  const serial = createHash("sha256").update(scope).update(`\0${label}`).digest().subarray(0, 16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40; // positive, and no leading zero byte to strip
  return new Uint8Array(serial);
}
