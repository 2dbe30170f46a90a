import { expect } from "chai";
import { generateSimPki, type SimPki } from "./sim-pki.ts";
import { SimulatedTee } from "./simulated-tee.ts";

describe("SimulatedTee (the guest's --tee-provider simulated)", function () {
  this.timeout(30_000);
  let pki: SimPki;
  const reportData = new Uint8Array(64).fill(1);

  before(async () => {
    pki = await generateSimPki();
  });

  it("answers with the evidence of the TEE the CVM asked for: a quote for tdx, a report for snp or none given", async () => {
    const tee = new SimulatedTee(pki);
    const shapes = await Promise.all(
      (["tdx", "snp", undefined] as const).map(async (kind) => {
        const evidence = await tee.collect(reportData, { machine: "node-a", ...(kind ? { tee: kind } : {}) });
        return [evidence.type, Object.keys(evidence).sort().join(",")];
      }),
    );
    expect(shapes).to.deep.equal([
      ["tdx", "quote,type"],
      ["snp", "report,type"],
      ["snp", "report,type"],
    ]);
  });

  it("refuses TDX, naming why, when the PKI predates the simulated TDX TEE", async () => {
    const old: SimPki = { ...pki };
    delete old.intel;
    let error: unknown;
    await new SimulatedTee(old)
      .collect(reportData, { machine: "node-a", tee: "tdx" })
      .catch((e: unknown) => (error = e));
    expect(String(error)).to.include("this simulated PKI has no Intel CA");
    expect(
      (await new SimulatedTee(old).collect(reportData, { machine: "node-a", tee: "snp" })).type,
    ).to.equal("snp");
  });
});
