import { expect } from "chai";
import * as asn1js from "asn1js";
import { arrayBufferOf, commonNameDn, derExtension, x509Time } from "./x509-builder.ts";
import * as pkijs from "pkijs";

describe("X.509 building blocks", function () {
  it("copies exactly the bytes of a view into a fresh ArrayBuffer", function () {
    const pool = Buffer.from([9, 9, 1, 2, 3, 9]);
    const view = pool.subarray(2, 5);
    expect([...new Uint8Array(arrayBufferOf(view))]).to.deep.equal([1, 2, 3]);
  });

  it("encodes a commonName-only name", function () {
    const dn = commonNameDn("trustgate webhook CA");
    expect(dn.typesAndValues).to.have.length(1);
    expect(dn.typesAndValues[0]?.type).to.equal("2.5.4.3");
    expect(dn.typesAndValues[0]?.value.valueBlock.value).to.equal("trustgate webhook CA");
  });

  it("uses UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280)", function () {
    const cases: [string, number][] = [
      ["2049-12-31T23:59:59Z", pkijs.TimeType.UTCTime],
      ["2050-01-01T00:00:00Z", pkijs.TimeType.GeneralizedTime],
      ["9999-12-31T23:59:59Z", pkijs.TimeType.GeneralizedTime],
    ];
    for (const [date, type] of cases) expect(x509Time(new Date(date)).type, date).to.equal(type);
  });

  it("stores the DER of the extension value", function () {
    const ext = derExtension(
      "2.5.29.19",
      true,
      new asn1js.Sequence({ value: [new asn1js.Boolean({ value: true })] }),
    );
    expect(ext.critical).to.equal(true);
    expect(Buffer.from(ext.extnValue.valueBlock.valueHexView).toString("hex")).to.equal("30030101ff");
  });
});
