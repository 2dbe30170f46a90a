import { expect } from "chai";
import { createHash } from "node:crypto";
import {
  DEFAULT_SECTIONS,
  syntheticOvmf,
  type SyntheticSection,
} from "../../../../test/support/builders/synthetic-ovmf.ts";
import {
  computeSnpLaunchMeasurement,
  cpuSignature,
  LaunchMeasurementError,
  measureFirmware,
  parseOvmf,
  type SnpMeasurementInputs,
} from "./index.ts";

const sha384 = (data: Uint8Array): Buffer => createHash("sha384").update(data).digest();

/** One SNP_LAUNCH_UPDATE step as the ABI spec's PAGE_INFO table lists it. */
interface Step {
  pageType: number;
  gpa: bigint;
  contents: Buffer;
}

/** The spec's formula: digest := SHA-384(PAGE_INFO), starting from 48 zero bytes. */
function chain(steps: Step[]): string {
  let digest: Buffer = Buffer.alloc(48);
  for (const step of steps) {
    const tail = Buffer.alloc(16);
    tail.writeUInt16LE(0x70, 0); // LENGTH
    tail.writeUInt8(step.pageType, 2); // PAGE_TYPE; IMI_PAGE, VMPL3/2/1_PERMS and reserved stay 0
    tail.writeBigUInt64LE(step.gpa, 8); // GPA
    digest = sha384(Buffer.concat([digest, step.contents, tail]));
  }
  return digest.toString("hex");
}

/** QEMU's initial VMSA, field by field at the AMD APM Table B-4 offsets. */
function qemuVmsa(eip: number, rdx: number, sevFeatures: bigint): Buffer {
  const page = Buffer.alloc(4096);
  const seg = (at: number, selector: number, attrib: number, base: number): void => {
    page.writeUInt16LE(selector, at);
    page.writeUInt16LE(attrib, at + 2);
    page.writeUInt32LE(0xffff, at + 4);
    page.writeBigUInt64LE(BigInt(base), at + 8);
  };
  seg(0x00, 0, 0x93, 0); // ES
  seg(0x10, 0xf000, 0x9b, Math.floor(eip / 0x10000) * 0x10000); // CS
  for (const at of [0x20, 0x30, 0x40, 0x50]) seg(at, 0, 0x93, 0); // SS DS FS GS
  seg(0x60, 0, 0, 0); // GDTR
  seg(0x70, 0, 0x82, 0); // LDTR
  seg(0x80, 0, 0, 0); // IDTR
  seg(0x90, 0, 0x8b, 0); // TR
  const fields: [number, bigint][] = [
    [0xd0, 0x1000n], // EFER
    [0x148, 0x40n], // CR4
    [0x158, 0x10n], // CR0
    [0x160, 0x400n], // DR7
    [0x168, 0xffff0ff0n], // DR6
    [0x170, 0x2n], // RFLAGS
    [0x178, BigInt(eip % 0x10000)], // RIP
    [0x268, 0x0007040600070406n], // G_PAT
    [0x310, BigInt(rdx)], // RDX
    [0x3b0, sevFeatures], // SEV_FEATURES
    [0x3e8, 0x1n], // XCR0
  ];
  for (const [at, value] of fields) page.writeBigUInt64LE(value, at);
  page.writeUInt32LE(0x1f80, 0x408); // MXCSR
  page.writeUInt16LE(0x37f, 0x410); // X87 FCW
  return page;
}

/** The expected QEMU measurement of a synthetic image, step by step. */
function expectedQemu(
  image: Buffer,
  sections: SyntheticSection[],
  vcpus: number,
  rdx: number,
  apEip: number,
): string {
  const firmwareGpa = 2 ** 32 - image.length;
  const steps: Step[] = [];
  for (let off = 0; off < image.length; off += 4096) {
    steps.push({
      pageType: 1,
      gpa: BigInt(firmwareGpa + off),
      contents: sha384(image.subarray(off, off + 4096)),
    });
  }
  const typeOfSection: Record<number, number> = { 1: 3, 2: 5, 3: 6, 4: 3, 0x10: 3 };
  for (const s of sections) {
    for (let off = 0; off < s.size; off += 4096) {
      steps.push({
        pageType: typeOfSection[s.type] ?? -1,
        gpa: BigInt(s.gpa + off),
        contents: Buffer.alloc(48),
      });
    }
  }
  for (let i = 0; i < vcpus; i++) {
    const vmsa = qemuVmsa(i === 0 ? 0xfffffff0 : apEip, rdx, 1n);
    steps.push({ pageType: 2, gpa: 0xfffffffff000n, contents: sha384(vmsa) });
  }
  return chain(steps);
}

const EPYC_V4: SnpMeasurementInputs = { vcpus: 1, vcpu: { type: "EPYC-v4" }, vmm: "QEMU", guestFeatures: 1n };
const measure = (image: Buffer, inputs: Partial<SnpMeasurementInputs> = {}): string =>
  Buffer.from(computeSnpLaunchMeasurement(parseOvmf(image), { ...EPYC_V4, ...inputs })).toString("hex");

function refusal(fn: () => unknown): LaunchMeasurementError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(LaunchMeasurementError);
    return error as LaunchMeasurementError;
  }
  throw new Error("expected a LaunchMeasurementError");
}

describe("SNP launch measurement (synthetic OVMF, digest recomputed from the spec's PAGE_INFO formula)", () => {
  const image = syntheticOvmf({ resetEip: 0xffffc004 });

  for (const vcpus of [1, 2, 3, 8]) {
    it(`matches the step-by-step digest for ${vcpus} vCPU(s) (EPYC-v4, QEMU, SNPActive)`, () => {
      expect(measure(image, { vcpus })).to.equal(
        expectedQemu(image, DEFAULT_SECTIONS, vcpus, 0x00800f12, 0xffffc004),
      );
    });
  }

  it("puts the vCPU signature in RDX: EPYC-Milan differs from EPYC-v4 and matches signature 0xa00f11", () => {
    const milan = measure(image, { vcpus: 2, vcpu: { type: "EPYC-Milan" } });
    expect(milan).to.equal(expectedQemu(image, DEFAULT_SECTIONS, 2, 0x00a00f11, 0xffffc004));
    expect(milan).to.equal(measure(image, { vcpus: 2, vcpu: { signature: 0xa00f11 } }));
    expect(milan).to.equal(measure(image, { vcpus: 2, vcpu: { family: 25, model: 1, stepping: 1 } }));
    expect(milan).not.to.equal(measure(image, { vcpus: 2 }));
  });

  it("computes CPUID signatures with the extended family and model fields", () => {
    const table: [number, number, number, number][] = [
      [23, 1, 2, 0x00800f12],
      [23, 49, 0, 0x00830f10],
      [25, 1, 1, 0x00a00f11],
      [25, 17, 0, 0x00a10f10],
      [26, 0, 0, 0x00b00f00],
      [6, 0x8f, 8, 0x000806f8],
    ];
    for (const [family, model, stepping, signature] of table) {
      expect(cpuSignature({ family, model, stepping }), `${family}/${model}/${stepping}`).to.equal(signature);
    }
  });

  it("matches the step-by-step digest on 25 random layouts (sections, sizes, reset vector, vCPUs, CPU)", () => {
    let seed = 15;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const types = [1, 2, 3, 4, 0x10];
    for (let round = 0; round < 25; round++) {
      const pages = 2 + next(6);
      let gpa = 0x100000 * (1 + next(16));
      const sections: SyntheticSection[] = Array.from({ length: 1 + next(6) }, () => {
        const type = types[next(types.length)] ?? 1;
        const size = type === 2 || type === 3 ? 0x1000 : 0x1000 * (1 + next(4));
        const section = { gpa, size, type };
        gpa += size + 0x1000 * next(3);
        return section;
      });
      const resetEip = 2 ** 32 - pages * 4096 + 4 * next(1024);
      const family = 23 + next(4);
      const model = next(256);
      const stepping = next(16);
      const vcpus = 1 + next(6);
      const built = syntheticOvmf({ pages, sections, resetEip });
      const got = measure(built, { vcpus, vcpu: { family, model, stepping } });
      const rdx = cpuSignature({ family, model, stepping });
      expect(got, JSON.stringify({ pages, sections, resetEip, vcpus })).to.equal(
        expectedQemu(built, sections, vcpus, rdx, resetEip),
      );
    }
  });

  it("reuses a firmware digest without changing the result", () => {
    const ovmf = parseOvmf(image);
    const seed = measureFirmware(ovmf);
    expect(
      Buffer.from(computeSnpLaunchMeasurement(ovmf, { ...EPYC_V4, vcpus: 4 }, seed)).toString("hex"),
    ).to.equal(measure(image, { vcpus: 4 }));
  });

  describe("binds what the host owner could change", () => {
    const base = measure(image, { vcpus: 2 });

    it("one flipped firmware byte (outside the tables) changes the measurement", () => {
      const patched = Buffer.from(image);
      patched[0x2345] = (patched[0x2345] ?? 0) ^ 1;
      expect(measure(patched, { vcpus: 2 })).not.to.equal(base);
    });

    it("a moved AP reset vector changes it (the APs' VMSA and the footer page both differ)", () => {
      expect(measure(syntheticOvmf({ resetEip: 0xffffd004 }), { vcpus: 2 })).not.to.equal(base);
    });

    it("guest features beyond today's list are measured, not refused (the secure processor vets them)", () => {
      expect(measure(image, { vcpus: 2, guestFeatures: 0x10001n }))
        .to.match(/^[0-9a-f]{96}$/)
        .and.not.equal(base);
    });

    it("the vCPU count, the VMM type and the guest features each change it", () => {
      const others = [
        measure(image, { vcpus: 3 }),
        measure(image, { vcpus: 2, vmm: "gce" }),
        measure(image, { vcpus: 2, vmm: "ec2" }),
        measure(image, { vcpus: 2, guestFeatures: 0x21n }),
      ];
      expect(new Set([base, ...others]).size).to.equal(5);
    });

    it("a metadata section dropped or reordered changes it", () => {
      const dropped = DEFAULT_SECTIONS.filter((s) => s.type !== 2);
      const reordered = [
        DEFAULT_SECTIONS[2],
        DEFAULT_SECTIONS[1],
        DEFAULT_SECTIONS[0],
        DEFAULT_SECTIONS[3],
      ].filter((s): s is SyntheticSection => s !== undefined);
      expect(measure(syntheticOvmf({ sections: dropped }), { vcpus: 2 })).not.to.equal(base);
      expect(measure(syntheticOvmf({ sections: reordered }), { vcpus: 2 })).not.to.equal(base);
    });
  });

  describe("refuses bad shapes with a reason", () => {
    const cases: [string, Partial<SnpMeasurementInputs>, string, RegExp][] = [
      ["0 vCPUs", { vcpus: 0 }, "InvalidVcpuCount", /vCPU count 0 is not an integer in 1\.\.512/],
      ["513 vCPUs", { vcpus: 513 }, "InvalidVcpuCount", /513/],
      ["1.5 vCPUs", { vcpus: 1.5 }, "InvalidVcpuCount", /1\.5/],
      [
        "an unknown vCPU type",
        { vcpu: { type: "EPYC-X" } },
        "UnknownVcpuType",
        /unknown vCPU type "EPYC-X"; known: EPYC,/,
      ],
      ["a prototype key as vCPU type", { vcpu: { type: "__proto__" } }, "UnknownVcpuType", /__proto__/],
      ["no vCPU under QEMU", { vcpu: undefined }, "UnknownVcpuType", /QEMU puts the vCPU signature/],
      ["a signature over 32 bits", { vcpu: { signature: 2 ** 32 } }, "InvalidVcpuSignature", /32-bit/],
      ["model 256", { vcpu: { family: 25, model: 256, stepping: 0 } }, "InvalidVcpuSignature", /model 256/],
      ["features without SNPActive", { guestFeatures: 0x20n }, "InvalidGuestFeatures", /bit 0 \(SNPActive\)/],
      ["features over 64 bits", { guestFeatures: (1n << 64n) | 1n }, "InvalidGuestFeatures", /64 bits/],
    ];
    for (const [what, inputs, reason, message] of cases) {
      it(what, () => {
        const error = refusal(() => measure(image, inputs));
        expect(error.reason).to.equal(reason);
        expect(error.message).to.match(message);
      });
    }
  });
});
