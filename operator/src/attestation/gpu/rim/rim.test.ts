import { expect } from "chai";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { nvidiaItemDir } from "../../../../test/fixtures/nvidia/shared-items.ts";
import { EvidenceError, type ErrorCode } from "../../types.ts";
import { NVIDIA_DEVICE_IDENTITY_CA } from "../nvidia-roots.ts";
import { RimVerifier } from "./rim.ts";

const RIMS = {
  driver545: "gonvtrust-hopper-545-fullrim/rims/NV_GPU_DRIVER_GH100_545.00_test_no_gpu.swidtag",
  vbios545: "gonvtrust-hopper-545-fullrim/rims/NV_GPU_VBIOS_1010_0200_882_96005E0001_test_no_gpu.swidtag",
  vbios580: "sdk-hopper-580-159/rims/NV_GPU_VBIOS_1010_0205_862_9600740020_PROD.swidtag",
  switch: "sdk-nvswitch-ls10/rims/NV_SWITCH_BIOS_5612_0002_890_9610550001.xml",
} as const;

export function sharedRim(name: keyof typeof RIMS): string {
  const [item, ...rest] = RIMS[name].split("/");
  return readFileSync(`${nvidiaItemDir(item ?? "")}/${rest.join("/")}`, "utf8");
}

function expectCode(run: () => unknown, code: ErrorCode, pattern?: RegExp): void {
  try {
    run();
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(EvidenceError);
    expect((error as EvidenceError).code, (error as Error).message).to.equal(code);
    if (pattern !== undefined) expect((error as Error).message).to.match(pattern);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe("NVIDIA RIMs (SWID tags): signature, signer chain, reference values", () => {
  const verifier = new RimVerifier();
  const cases: [keyof typeof RIMS, string, string, string, number, string][] = [
    ["driver545", "2024-06-01T00:00:00Z", "545.00", "HCC RIM L4 Signer", 21, "2025-06-26T06:10:12.000Z"],
    [
      "vbios545",
      "2024-06-01T00:00:00Z",
      "96.00.5E.00.01",
      "HCC RIM L4 Signer",
      12,
      "2025-06-22T09:38:54.000Z",
    ],
    ["vbios580", "2025-06-01T00:00:00Z", "96.00.74.00.20", "HCC RIM L4 Signer", 12, "2025-09-05"],
    ["switch", "2026-06-01T00:00:00Z", "96.10.55.00.01", "NVIDIA Reference Value L4 LS10", 31, "2028-05-19"],
  ];
  for (const [name, at, version, signer, active, notAfter] of cases) {
    it(`${name}: verifies at ${at} to the pinned CoRIM root (${version}, ${active} active indexes)`, () => {
      const rim = verifier.verify(sharedRim(name), new Date(at));
      expect(rim.version).to.equal(version);
      expect(rim.signerChain.map((c) => /CN=([^\n]*)/.exec(c.subject)?.[1])).to.deep.equal([
        signer,
        ...(name === "switch"
          ? ["NVIDIA Reference Value L3 LS10 001", "NVIDIA Reference Value LS10 CA"]
          : ["NVIDIA Reference Value L3 GH100 001", "NVIDIA Reference Value GH100 CA"]),
        "NVIDIA CoRIM signing Root CA",
      ]);
      expect(rim.measurements.filter((m) => m.active)).to.have.length(active);
      expect(rim.signerChain[0]?.validToDate.toISOString().startsWith(notAfter)).to.equal(true);
    });

    it(`${name}: rejected after its signer certificate expired (CertificateExpired)`, () => {
      const after = new Date(
        new Date(verifier.verify(sharedRim(name), new Date(at)).signerChain[0]?.validTo ?? "").getTime() +
          1000,
      );
      expectCode(() => verifier.verify(sharedRim(name), after), "CertificateExpired", /RIM signer chain/);
    });
  }

  it("a RIM is only trusted through the pinned CoRIM root: with another root the chain is invalid", () => {
    const other = new RimVerifier({ roots: [NVIDIA_DEVICE_IDENTITY_CA] });
    expectCode(() => other.verify(sharedRim("driver545"), new Date("2024-06-01T00:00:00Z")), "ChainInvalid");
  });

  it("a RIM whose KeyInfo lacks the intermediate certificates has no path to the root (ChainInvalid)", () => {
    const text = sharedRim("driver545");
    const certs = [...text.matchAll(/<ds:X509Certificate>[^<]*<\/ds:X509Certificate>/g)].map((m) => m[0]);
    const stripped = text.replace(certs[1] ?? "", "");
    expectCode(() => verifier.verify(stripped, new Date("2024-06-01T00:00:00Z")), "ChainInvalid");
  });

  it("a CA link verified for one RIM is remembered by fingerprint only: a re-signed copy of that CA fails", () => {
    const shared = new RimVerifier();
    const at = new Date("2024-06-01T00:00:00Z");
    shared.verify(sharedRim("driver545"), at);
    const text = sharedRim("vbios545");
    const ca = [...text.matchAll(/<ds:X509Certificate>([^<]*)<\/ds:X509Certificate>/g)][1]?.[1] ?? "";
    const der = Buffer.from(ca, "base64");
    // The last byte lies in the certificate's signature: same names and key, a signature that does not verify.
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
    expectCode(() => shared.verify(text.replace(ca, der.toString("base64")), at), "ChainInvalid");
    expect(shared.verify(text, at).version).to.equal("96.00.5E.00.01");
  });

  it("caches verified RIMs by content and still re-checks validity", () => {
    const fresh = new RimVerifier();
    const at = new Date("2024-06-01T00:00:00Z");
    fresh.verify(sharedRim("vbios545"), at);
    fresh.verify(sharedRim("vbios545"), at);
    expect(fresh.stats).to.deep.equal({ hits: 1, misses: 1 });
    expectCode(
      () => fresh.verify(sharedRim("vbios545"), new Date("2025-07-01T00:00:00Z")),
      "CertificateExpired",
    );
  });

  it("verifies each RIM once per content digest; a failing text is verified again each time, never cached", () => {
    const fresh = new RimVerifier();
    const at = new Date("2024-06-01T00:00:00Z");
    const text = sharedRim("driver545");
    // The same content as a different string, as each bundle's JSON parse yields.
    const copy = Buffer.from(text, "utf8").toString("utf8");
    const first = fresh.verify(text, at);
    expect(fresh.verify(copy, at)).to.equal(first);
    expect(first.sha256).to.equal(createHash("sha256").update(text).digest("hex"));
    const tampered = text.replace("545.00", "545.01");
    expectCode(() => fresh.verify(tampered, at), "SignatureInvalid");
    expectCode(() => fresh.verify(tampered, at), "SignatureInvalid");
    expect(fresh.stats).to.deep.equal({ hits: 1, misses: 3 });
  });
});
