/**
 * The Intel SGX extension (OID 1.2.840.113741.1.13.1) of a PCK leaf certificate: FMSPC, PCE-ID and the TCB the
 * certificate was issued for (SGX TCB Data Structures / PCK Certificate and CRL Profile specification).
 */
import * as asn1js from "asn1js";
import type { X509Certificate } from "node:crypto";
import * as pkijs from "pkijs";
import { EvidenceError } from "../types.ts";
import { commonName } from "./cert-chain.ts";

const SGX_EXTENSION = "1.2.840.113741.1.13.1";

export interface PckTcb {
  fmspc: string;
  pceId: string;
  /** SGX TCB component SVNs 1..16 (index 0..15). */
  sgxTcbComponents: number[];
  pceSvn: number;
  cpuSvn: string;
  /** Key for the PCK CRL: `platform` or `processor`. */
  caType: "platform" | "processor";
}

function malformed(message: string): EvidenceError {
  return new EvidenceError("EvidenceMalformed", `PCK certificate: ${message}`);
}

function entries(block: asn1js.AsnType): Map<string, asn1js.AsnType> {
  if (!(block instanceof asn1js.Sequence)) throw malformed("SGX extension is not a SEQUENCE");
  const map = new Map<string, asn1js.AsnType>();
  for (const entry of block.valueBlock.value) {
    const [oid, value] = entry instanceof asn1js.Sequence ? entry.valueBlock.value : [];
    if (!(oid instanceof asn1js.ObjectIdentifier) || value === undefined) {
      throw malformed("bad SGX extension entry");
    }
    map.set(oid.getValue(), value);
  }
  return map;
}

function octets(value: asn1js.AsnType | undefined, name: string, length: number): string {
  if (!(value instanceof asn1js.OctetString) || value.valueBlock.valueHexView.length !== length) {
    throw malformed(`${name} is not a ${length}-byte OCTET STRING`);
  }
  return Buffer.from(value.valueBlock.valueHexView).toString("hex");
}

function integer(value: asn1js.AsnType | undefined, name: string): number {
  if (!(value instanceof asn1js.Integer)) throw malformed(`${name} is not an INTEGER`);
  return value.valueBlock.valueDec;
}

export function parsePckTcb(leaf: X509Certificate, issuer: X509Certificate): PckTcb {
  if (!commonName(leaf).includes("SGX PCK Certificate")) {
    throw new EvidenceError("ChainInvalid", `"${commonName(leaf)}" is not an SGX PCK certificate`);
  }
  const issuerName = commonName(issuer);
  const caType =
    issuerName === "Intel SGX PCK Platform CA"
      ? "platform"
      : issuerName === "Intel SGX PCK Processor CA"
        ? "processor"
        : undefined;
  if (caType === undefined) {
    throw new EvidenceError("ChainInvalid", `PCK issuer "${issuerName}" is not a PCK CA`);
  }

  const extension = pkijs.Certificate.fromBER(leaf.raw).extensions?.find(
    (ext) => ext.extnID === SGX_EXTENSION,
  );
  if (extension === undefined) throw malformed("no SGX extension");
  const parsed = asn1js.fromBER(extension.extnValue.valueBlock.valueHexView);
  if (parsed.offset === -1) throw malformed("undecodable SGX extension");
  const sgx = entries(parsed.result);
  const tcbBlock = sgx.get(`${SGX_EXTENSION}.2`);
  if (tcbBlock === undefined) throw malformed("no TCB in SGX extension");
  const tcb = entries(tcbBlock);
  const sgxTcbComponents = Array.from({ length: 16 }, (_, index) =>
    integer(tcb.get(`${SGX_EXTENSION}.2.${index + 1}`), `SGX TCB component ${index + 1}`),
  );
  return {
    fmspc: octets(sgx.get(`${SGX_EXTENSION}.4`), "FMSPC", 6),
    pceId: octets(sgx.get(`${SGX_EXTENSION}.3`), "PCE-ID", 2),
    sgxTcbComponents,
    pceSvn: integer(tcb.get(`${SGX_EXTENSION}.2.17`), "PCESVN"),
    cpuSvn: octets(tcb.get(`${SGX_EXTENSION}.2.18`), "CPUSVN", 16),
    caType,
  };
}
