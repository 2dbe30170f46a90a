/** CRLs arrive as DER, PEM or hex text (PCCS and some tools serve hex); returns DER, or the input unchanged. */
export function crlDer(bytes: Uint8Array): Uint8Array {
  if (bytes[0] === 0x30) return bytes;
  const text = Buffer.from(bytes).toString("latin1").trim();
  const pem = /^-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----$/.exec(text)?.[1];
  if (pem !== undefined) return Buffer.from(pem.replace(/\s/g, ""), "base64");
  return /^([0-9a-fA-F]{2})+$/.test(text) ? Buffer.from(text, "hex") : bytes;
}
