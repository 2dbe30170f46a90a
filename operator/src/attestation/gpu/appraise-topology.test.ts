import { expect } from "chai";
import type { GpuResult } from "../types.ts";
import { topologyViolations } from "./appraise-topology.ts";

const SWITCHES: [string, string, string, string] = [
  "5151515151515151",
  "5252525252525252",
  "5353535353535353",
  "5454545454545454",
];
const GPUS = ["61", "62", "63", "64", "65", "66", "67", "68"].map((g) => g.repeat(8));

function result(index: number, deviceType: "gpu" | "switch", topology: GpuResult["topology"]): GpuResult {
  return {
    index,
    authentic: true,
    nonce: "",
    driverVersion: "",
    vbiosVersion: "",
    measurements: "match",
    revocation: "good",
    errors: [],
    deviceType,
    ...(topology === undefined ? {} : { topology }),
  };
}

function board(
  change: { gpu?: (i: number) => string[] | undefined; sw?: (i: number) => GpuResult["topology"] } = {},
) {
  return [
    ...GPUS.map((_, i) => {
      const pdis = change.gpu === undefined ? [...SWITCHES, ...SWITCHES] : change.gpu(i);
      return result(i, "gpu", pdis === undefined ? undefined : { switchPdis: pdis });
    }),
    ...SWITCHES.map((pdi, i) =>
      result(8 + i, "switch", change.sw === undefined ? { pdi, gpuPdis: GPUS } : change.sw(i)),
    ),
  ];
}

const messages = (results: GpuResult[]): string[] => topologyViolations(results).map((v) => v.message);

describe("topologyViolations (PPCIe NVLink topology from signed opaque data)", () => {
  it("accepts a board whose GPUs all reach the 4 attested switches, each connected to the same 8 GPUs", () => {
    expect(messages(board())).to.deep.equal([]);
  });

  const cases: { name: string; results: GpuResult[]; expected: RegExp[] }[] = [
    {
      name: "a GPU reaching a switch that is not in the bundle (a swapped switch PDI)",
      results: board({
        gpu: (i) => (i === 3 ? [...SWITCHES.slice(0, 3), "77".repeat(8)] : SWITCHES),
      }),
      expected: [
        /^GPU 3's NVLinks reach .*; not attested here: 7777777777777777; not reached: 5454545454545454$/,
      ],
    },
    {
      name: "a GPU reaching only 3 of the switches",
      results: board({ gpu: (i) => (i === 0 ? SWITCHES.slice(0, 3) : SWITCHES) }),
      expected: [/^GPU 0's NVLinks reach .*; not reached: 5454545454545454$/],
    },
    {
      name: "a GPU that signs no topology",
      results: board({ gpu: (i) => (i === 5 ? undefined : SWITCHES) }),
      expected: [/^GPU 5's NVLinks reach switches \(none\)/],
    },
    {
      name: "an attested switch whose own PDI is swapped (no GPU reaches it)",
      results: board({ sw: (i) => ({ pdi: i === 2 ? "99".repeat(8) : (SWITCHES[i] ?? ""), gpuPdis: GPUS }) }),
      expected: Array.from(
        { length: 8 },
        (_, g) =>
          new RegExp(
            `^GPU ${g}'s NVLinks .*not attested here: 5353535353535353; not reached: 9999999999999999$`,
          ),
      ),
    },
    {
      name: "two switches signing the same PDI",
      results: board({ sw: (i) => ({ pdi: SWITCHES[i === 3 ? 0 : i] ?? "", gpuPdis: GPUS }) }),
      expected: [
        /^NVSwitches 8 and 11 report the same PDI 5151515151515151$/,
        ...Array.from({ length: 8 }, () => /not attested here: 5454545454545454$/),
      ],
    },
    {
      name: "a switch without its own PDI",
      results: board({ sw: (i) => (i === 1 ? { gpuPdis: GPUS } : { pdi: SWITCHES[i], gpuPdis: GPUS }) }),
      expected: [
        /^NVSwitch 9 signs no PDI of its own/,
        ...Array.from({ length: 8 }, () => /not attested here: 5252525252525252$/),
      ],
    },
    {
      name: "a switch connected to 7 GPUs",
      results: board({ sw: (i) => ({ pdi: SWITCHES[i], gpuPdis: i === 0 ? GPUS.slice(1) : GPUS }) }),
      expected: [/^NVSwitch 8 is connected to 7 distinct GPUs \(7 reported\), not 8$/],
    },
    {
      name: "a switch listing one GPU twice",
      results: board({
        sw: (i) => ({ pdi: SWITCHES[i], gpuPdis: i === 1 ? [...GPUS.slice(0, 7), GPUS[0] ?? ""] : GPUS }),
      }),
      expected: [/^NVSwitch 9 is connected to 7 distinct GPUs \(8 reported\), not 8$/],
    },
    {
      name: "a switch connected to another board's GPU",
      results: board({
        sw: (i) => ({ pdi: SWITCHES[i], gpuPdis: i === 2 ? [...GPUS.slice(0, 7), "aa".repeat(8)] : GPUS }),
      }),
      expected: [/^NVSwitch 10 is connected to other GPUs than NVSwitch 8$/],
    },
  ];
  for (const { name, results, expected } of cases)
    it(`refuses ${name}`, () => {
      const actual = messages(results);
      expect(actual, actual.join("\n")).to.have.length(expected.length);
      actual.forEach((message, i) => expect(message).to.match(expected[i] ?? /^$/));
    });
});
