import { expect } from "chai";
import {
  efiGuid,
  FOOTER_GUID,
  SEV_METADATA_GUID,
  syntheticOvmf,
} from "../../../../test/support/builders/synthetic-ovmf.ts";
import { LaunchMeasurementError, parseOvmf, parseVmmType } from "./index.ts";
import { guidBytes, guidString, OVMF_SEV_METADATA_GUID } from "./ovmf.ts";

function refusal(fn: () => unknown): LaunchMeasurementError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(LaunchMeasurementError);
    return error as LaunchMeasurementError;
  }
  throw new Error("expected a LaunchMeasurementError");
}

/** Offset of the footer entry's u16 length: it and the footer GUID end 32 bytes before the end. */
const footerLengthAt = (image: Buffer): number => image.length - 32 - 18;

describe("OVMF footer table and SEV metadata parser", () => {
  it("reads the sections, the reset EIP and the mapping address of a well-formed image", () => {
    const ovmf = parseOvmf(syntheticOvmf({ pages: 8, resetEip: 0xffff8004 }));
    expect(ovmf.gpa).to.equal(0x1_0000_0000 - 8 * 4096);
    expect(ovmf.resetEip).to.equal(0xffff8004);
    expect(ovmf.sections).to.deep.equal([
      { type: "SnpSecMemory", gpa: 0x800000, size: 0x2000 },
      { type: "SnpSecrets", gpa: 0x802000, size: 0x1000 },
      { type: "Cpuid", gpa: 0x803000, size: 0x1000 },
      { type: "SnpKernelHashes", gpa: 0x804000, size: 0x1000 },
    ]);
  });

  it("converts GUIDs to and from EFI's mixed-endian bytes", () => {
    expect(Buffer.from(guidBytes(FOOTER_GUID))).to.deep.equal(efiGuid(FOOTER_GUID));
    expect(guidString(efiGuid(SEV_METADATA_GUID))).to.equal(OVMF_SEV_METADATA_GUID);
  });

  it("keeps unknown footer entries (e.g. TDX or hash-table GUIDs) without failing", () => {
    const extra = {
      guid: "7255371f-3a3b-4b04-927b-1da6efa8d454",
      data: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]),
    };
    const ovmf = parseOvmf(syntheticOvmf({ extraEntries: [extra] }));
    expect(Buffer.from(ovmf.table.get(extra.guid) ?? [])).to.deep.equal(extra.data);
  });

  const broken: [string, () => Buffer, string, RegExp][] = [
    ["an empty file", () => Buffer.alloc(0), "NotOvmf", /size 0 is not a positive multiple of 4096/],
    [
      "a size that is not whole pages",
      () => syntheticOvmf().subarray(1),
      "NotOvmf",
      /not a positive multiple of 4096/,
    ],
    [
      "a file of zeros (no footer GUID)",
      () => Buffer.alloc(8192),
      "NotOvmf",
      /no table footer GUID 96b582de/,
    ],
    [
      "a footer length larger than the image",
      () => {
        const image = syntheticOvmf();
        image.writeUInt16LE(0xffff, footerLengthAt(image));
        return image;
      },
      "NotOvmf",
      /footer table length 65535 does not fit/,
    ],
    [
      "an entry whose length runs past the table",
      () => {
        const image = syntheticOvmf({ omit: ["resetBlock"] });
        image.writeUInt16LE(0x400, footerLengthAt(image) - 18);
        return image;
      },
      "NotOvmf",
      /entry ending at offset 0x[0-9a-f]+ has invalid length 1024/,
    ],
    [
      "the same GUID twice",
      () => syntheticOvmf({ extraEntries: [{ guid: SEV_METADATA_GUID, data: Buffer.alloc(4) }] }),
      "NotOvmf",
      /lists GUID dc886566-984a-4798-a75e-5585a7bf67cc twice/,
    ],
    [
      "no SEV metadata entry",
      () => syntheticOvmf({ omit: ["metadata"] }),
      "NoSevMetadata",
      /not built for SEV-SNP/,
    ],
    [
      "no SEV-ES reset block",
      () => syntheticOvmf({ omit: ["resetBlock"] }),
      "NoResetBlock",
      /APs' start address/,
    ],
    [
      "a wrong metadata signature",
      () => syntheticOvmf({ signature: "ASEW" }),
      "MalformedSevMetadata",
      /"ASEW"/,
    ],
    ["metadata version 2", () => syntheticOvmf({ version: 2 }), "MalformedSevMetadata", /version 2/],
    [
      "a metadata header pointing past the start of the image",
      () => {
        const image = syntheticOvmf({ omit: ["resetBlock"], extraEntries: [] });
        // The metadata entry's u32 sits just before its 18-byte header, which ends where the footer entry starts.
        image.writeUInt32LE(image.length + 4096, footerLengthAt(image) - 22);
        return image;
      },
      "MalformedSevMetadata",
      /outside the 16384-byte image/,
    ],
    [
      "more sections than the header size holds",
      () => {
        const image = syntheticOvmf();
        image.writeUInt32LE(1000, 0x1000 + 12);
        return image;
      },
      "MalformedSevMetadata",
      /cannot hold 1000 sections/,
    ],
    [
      "an unknown section type",
      () => syntheticOvmf({ sections: [{ gpa: 0x800000, size: 0x1000, type: 7 }] }),
      "UnknownSectionType",
      /section 0 has unknown type 0x7 \(known: SnpSecMemory=0x1/,
    ],
    [
      "a section that is not page-aligned",
      () => syntheticOvmf({ sections: [{ gpa: 0x800800, size: 0x1000, type: 1 }] }),
      "SectionOutOfRange",
      /not a non-empty run of whole 4 KiB pages/,
    ],
    [
      "an empty section",
      () => syntheticOvmf({ sections: [{ gpa: 0x800000, size: 0, type: 1 }] }),
      "SectionOutOfRange",
      /not a non-empty run/,
    ],
    [
      "a section reaching into the firmware mapping",
      () => syntheticOvmf({ sections: [{ gpa: 0xffffb000, size: 0x2000, type: 1 }] }),
      "SectionOutOfRange",
      /overlaps the firmware mapped at 0xffffc000/,
    ],
    [
      "a secrets page overlapping the SEC memory",
      () =>
        syntheticOvmf({
          sections: [
            { gpa: 0x800000, size: 0x3000, type: 1 },
            { gpa: 0x802000, size: 0x1000, type: 2 },
          ],
        }),
      "SectionOutOfRange",
      /section 1 \(SnpSecrets\) \[0x802000, 0x803000\) overlaps section 0/,
    ],
    [
      "a two-page CPUID section",
      () => syntheticOvmf({ sections: [{ gpa: 0x800000, size: 0x2000, type: 3 }] }),
      "SectionOutOfRange",
      /Cpuid section is exactly one page/,
    ],
  ];
  for (const [what, build, reason, message] of broken) {
    it(`refuses ${what} (${reason})`, () => {
      const error = refusal(() => parseOvmf(build()));
      expect(error.reason).to.equal(reason);
      expect(error.message).to.match(message);
    });
  }

  it("every single-byte change of the tables is parsed or refused with a LaunchMeasurementError, never a crash", () => {
    const image = syntheticOvmf();
    const table = Array.from({ length: 120 }, (_, i) => image.length - 32 - 120 + i);
    const metadata = Array.from({ length: 16 + 12 * 4 }, (_, i) => 0x1000 + i);
    let refused = 0;
    for (const at of [...table, ...metadata]) {
      for (const value of [0x00, 0xff, (image[at] ?? 0) ^ 0x01]) {
        const mutated = Buffer.from(image);
        mutated[at] = value;
        try {
          parseOvmf(mutated);
        } catch (error) {
          expect(error, `byte 0x${at.toString(16)} := 0x${value.toString(16)}`).to.be.instanceOf(
            LaunchMeasurementError,
          );
          refused++;
        }
      }
    }
    expect(refused).to.be.greaterThan(100);
  });

  it("refuses an unknown VMM type by name", () => {
    const error = refusal(() => parseVmmType("kvm"));
    expect(error.reason).to.equal("UnknownVmmType");
    expect(error.message).to.equal('unknown VMM type "kvm"; known: QEMU, ec2, gce');
  });
});
