import { expect } from "chai";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { CompactSign } from "jose";
import type { GuestPublicKey } from "../binding.ts";
import { SIMULATED_GPU_SYSTEM } from "../simulated/simulated-gpus.ts";
import type { EvidenceBundle } from "../types.ts";
import type { GpuSystemState } from "./appraise-gpu-system.ts";
import {
  GPU_SYSTEM_SIGNATURE_TYP,
  gpuSystemProvenanceViolations,
  gpuSystemSigningInput,
  signGpuSystem,
} from "./gpu-system-signature.ts";

const NONCE = "a1".repeat(32);
const OTHER_NONCE = "b2".repeat(32);
const PROD: GpuSystemState = SIMULATED_GPU_SYSTEM;
const DEVTOOLS: GpuSystemState = { ...PROD, devToolsMode: "on", environment: "sim" };

function guestKey(): { publicJwk: GuestPublicKey; privateKey: KeyObject } {
  const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = pair.publicKey.export({ format: "jwk" });
  return {
    publicJwk: { kty: "EC", crv: "P-256", x: jwk.x ?? "", y: jwk.y ?? "" },
    privateKey: pair.privateKey,
  };
}

describe("the guest's signature over the GPUs' CC state (status.evidence.gpuSystemSignature)", () => {
  const guest = guestKey();
  const attacker = guestKey();

  function bundleWith(
    gpuSystem: GpuSystemState | undefined,
    gpuSystemSignature: string | undefined,
  ): EvidenceBundle {
    return {
      nonce: NONCE,
      publicKey: guest.publicJwk,
      tee: { type: "snp", report: "" },
      gpus: [{ arch: "HOPPER", evidence: "", certChain: "" }],
      ...(gpuSystem === undefined ? {} : { gpuSystem }),
      ...(gpuSystemSignature === undefined ? {} : { gpuSystemSignature }),
    };
  }

  // [case, state in the bundle, signature (made here), required (controller) → violation `actual`s]
  const cases: [
    string,
    () => Promise<[GpuSystemState | undefined, string | undefined]>,
    boolean,
    string[],
  ][] = [
    [
      "the guest's own signature over the state it sends",
      async () => [PROD, await signGpuSystem(NONCE, PROD, guest.privateKey)],
      true,
      [],
    ],
    [
      "the token holder turns devtools on → off after the guest signed",
      async () => [PROD, await signGpuSystem(NONCE, DEVTOOLS, guest.privateKey)],
      true,
      ["signature invalid"],
    ],
    [
      "the token holder re-signs the state with a key of its own",
      async () => [PROD, await signGpuSystem(NONCE, PROD, attacker.privateKey)],
      true,
      ["signature invalid"],
    ],
    [
      "a signature of the same guest key from another challenge (replayed)",
      async () => [PROD, await signGpuSystem(OTHER_NONCE, PROD, guest.privateKey)],
      true,
      ["signature invalid"],
    ],
    ["the state without a signature", () => Promise.resolve([PROD, undefined]), true, ["unsigned"]],
    [
      "the state without a signature, in trustgate verify too",
      () => Promise.resolve([PROD, undefined]),
      false,
      ["unsigned"],
    ],
    [
      "the token holder strips state and signature (controller)",
      () => Promise.resolve([undefined, undefined]),
      true,
      ["no gpuSystem"],
    ],
    [
      "a bundle assembled elsewhere without the state (trustgate verify)",
      () => Promise.resolve([undefined, undefined]),
      false,
      [],
    ],
    [
      "a signature left without its state",
      async () => [undefined, await signGpuSystem(NONCE, PROD, guest.privateKey)],
      false,
      ["no gpuSystem"],
    ],
    ["garbage in the signature", () => Promise.resolve([PROD, "a.b.c"]), true, ["signature invalid"]],
    [
      "a JWS of another type by the right key",
      async () => [
        PROD,
        await new CompactSign(gpuSystemSigningInput(NONCE, PROD))
          .setProtectedHeader({ alg: "ES256", typ: "JWT" })
          .sign(guest.privateKey),
      ],
      true,
      ["signature invalid"],
    ],
  ];
  for (const [name, make, required, actual] of cases)
    it(name, async () => {
      const [state, jws] = await make();
      const violations = await gpuSystemProvenanceViolations(bundleWith(state, jws), required);
      expect(violations.map((v) => v.actual)).to.deep.equal(actual);
      for (const v of violations) expect(v.field).to.equal("status.evidence.gpuSystemSignature");
    });

  it("has nothing to check in a bundle without GPUs", async () => {
    const bundle = { ...bundleWith(undefined, undefined), gpus: [] };
    expect(await gpuSystemProvenanceViolations(bundle, true)).to.deep.equal([]);
  });

  it("says what was wrong: another writer, the key bound to the TEE evidence", async () => {
    const forged = bundleWith(PROD, await signGpuSystem(NONCE, DEVTOOLS, guest.privateKey));
    const [violation] = await gpuSystemProvenanceViolations(forged, true);
    expect(violation?.message).to.equal(
      "status.evidence.gpuSystemSignature was made over another nonce or another GPU state than the bundle " +
        "carries: the GPUs' CC state was not written by the guest that holds the key bound to the TEE evidence",
    );
    const [typed] = await gpuSystemProvenanceViolations(bundleWith(PROD, "a.b.c"), true);
    expect(typed?.message).to.include("is not a compact JWS");
  });

  it("signs a fixed field order, whatever order the state's keys come in", async () => {
    const reordered = {
      readyState: PROD.readyState,
      multiGpuMode: PROD.multiGpuMode,
      environment: PROD.environment,
      devToolsMode: PROD.devToolsMode,
      ccFeature: PROD.ccFeature,
    };
    expect(Buffer.from(gpuSystemSigningInput(NONCE, reordered)).toString()).to.equal(
      Buffer.from(gpuSystemSigningInput(NONCE, PROD)).toString(),
    );
    const jws = await signGpuSystem(NONCE, reordered, guest.privateKey);
    expect(JSON.parse(Buffer.from(jws.split(".")[0] ?? "", "base64url").toString())).to.deep.equal({
      alg: "ES256",
      typ: GPU_SYSTEM_SIGNATURE_TYP,
    });
    expect(await gpuSystemProvenanceViolations(bundleWith(PROD, jws), true)).to.deep.equal([]);
  });
});
