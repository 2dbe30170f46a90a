import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import {
  applyPlan,
  planCertificates,
  type RotationPolicy,
  rotationTime,
  shouldRotate,
  type TlsMaterial,
} from "./rotation.ts";
import { certificateFacts, splitPemBundle } from "./x509.ts";

const DAY = 86_400_000;
const T0 = new Date("2026-01-01T00:00:00Z");
const at = (days: number): Date => new Date(T0.getTime() + days * DAY);
const POLICY: RotationPolicy = { caLifetimeMs: 365 * DAY, certLifetimeMs: 90 * DAY };
const SANS = [
  "trustgate-webhook.trustgate-system.svc",
  "trustgate-webhook.trustgate-system.svc.cluster.local",
];
const NAMES = { caName: "trustgate-webhook-ca", sans: SANS };

function issue(current: TlsMaterial, now: Date, sans: readonly string[] = SANS): TlsMaterial {
  const plan = planCertificates(current, sans, now, POLICY);
  return applyPlan(current, plan, { ...NAMES, sans }, now, POLICY);
}

describe("shouldRotate", () => {
  const nb = at(0);
  const na = at(90);
  const cases: [string, Date, boolean][] = [
    ["not yet valid (our clock behind the certificate's)", at(-1), true],
    ["fresh", at(0), false],
    ["halfway", at(45), false],
    ["just before two thirds", new Date(at(60).getTime() - 1), false],
    ["at two thirds", at(60), true],
    ["expired", at(91), true],
  ];
  for (const [name, now, want] of cases) {
    it(`${name}: ${String(want)}`, () => {
      expect(shouldRotate(nb, na, now)).to.equal(want);
    });
  }
  it("takes another fraction", () => {
    expect(rotationTime(nb, na, 0.5)).to.deep.equal(at(45));
    expect(shouldRotate(nb, na, at(46), 0.5)).to.equal(true);
  });
});

describe("planCertificates and applyPlan", function () {
  this.timeout(10_000);
  const first = issue({}, T0);

  it("makes a CA and a serving certificate when the Secret is empty", () => {
    const plan = planCertificates({}, SANS, T0, POLICY);
    expect(plan).to.include({ ca: "new", serving: "new" });
    expect(plan.reasons).to.deep.equal(["no CA yet", "no serving certificate yet"]);
    const ca = certificateFacts(first.ca?.certPem ?? "");
    const serving = certificateFacts(first.serving?.certPem ?? "");
    expect(ca.ca).to.equal(true);
    expect(ca.notAfter).to.deep.equal(at(365));
    expect(serving.ca).to.equal(false);
    expect(serving.sans).to.deep.equal(SANS);
    expect(serving.notAfter).to.deep.equal(at(90));
    expect(serving.notBefore.getTime()).to.equal(T0.getTime() - 60_000);
    expect(serving.issuer).to.equal(ca.subject);
    expect(splitPemBundle(first.caBundle ?? "")).to.deep.equal([first.ca?.certPem]);
    const cert = new X509Certificate(first.serving?.certPem ?? "");
    expect(cert.verify(new X509Certificate(first.ca?.certPem ?? "").publicKey)).to.equal(true);
    expect(cert.checkHost(SANS[0] ?? "")).to.equal(SANS[0]);
    expect(cert.keyUsage).to.deep.equal(["1.3.6.1.5.5.7.3.1"]);
    expect(cert.publicKey.asymmetricKeyDetails).to.deep.include({ namedCurve: "prime256v1" });
  });

  const cases: Record<
    string,
    { now: Date; material?: () => TlsMaterial; sans?: string[]; ca: string; serving: string; reason?: string }
  > = {
    "keeps everything while young": { now: at(30), ca: "keep", serving: "keep" },
    "re-issues the serving certificate at two thirds of its lifetime, keeping the CA": {
      now: at(60),
      ca: "keep",
      serving: "new",
      reason: "the serving certificate reached its rotation time (expires 2026-04-01T00:00:00.000Z)",
    },
    "re-issues an expired serving certificate": { now: at(100), ca: "keep", serving: "new" },
    "re-issues when the wanted names change": {
      now: at(1),
      sans: ["webhook.example.svc", "127.0.0.1"],
      ca: "keep",
      serving: "new",
      reason: "the serving certificate names",
    },
    "rotates the CA at two thirds of its lifetime and keeps a still-good serving certificate": {
      now: at(250),
      material: () => issue(first, at(200)),
      ca: "new",
      serving: "keep",
      reason: "the CA reached its rotation time",
    },
    "re-issues a serving certificate whose key does not match": {
      now: at(1),
      material: () => ({
        ...first,
        serving: { certPem: first.serving?.certPem ?? "", keyPem: first.ca?.keyPem ?? "" },
      }),
      ca: "keep",
      serving: "new",
      reason: "the serving certificate is not from a trusted CA or does not match its key",
    },
    "replaces a CA whose key does not match, and its serving certificate stays trusted through the bundle": {
      now: at(1),
      material: () => ({
        ...first,
        ca: { certPem: first.ca?.certPem ?? "", keyPem: first.serving?.keyPem ?? "" },
      }),
      ca: "new",
      serving: "keep",
      reason: "the CA is unreadable or does not match its key",
    },
    "replaces garbage": {
      now: at(1),
      material: () => ({
        ca: { certPem: "garbage", keyPem: "garbage" },
        caBundle: "x",
        serving: { certPem: "y", keyPem: "z" },
      }),
      ca: "new",
      serving: "new",
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    it(name, () => {
      const plan = planCertificates(c.material?.() ?? first, c.sans ?? SANS, c.now, POLICY);
      expect({ ca: plan.ca, serving: plan.serving }, plan.reasons.join("; ")).to.deep.equal({
        ca: c.ca,
        serving: c.serving,
      });
      if (c.reason !== undefined) expect(plan.reasons.join("; ")).to.include(c.reason);
    });
  }

  it("keeps the old CA in the bundle after a CA rotation until it expires, and signs new certificates with the new one", () => {
    const renewed = issue(first, at(200)); // serving certificate re-issued by the first CA
    const rotated = issue(renewed, at(250)); // CA rotated
    const bundle = splitPemBundle(rotated.caBundle ?? "");
    expect(bundle).to.deep.equal([rotated.ca?.certPem, first.ca?.certPem]);
    expect(rotated.serving).to.deep.equal(renewed.serving);
    const next = issue(rotated, at(262)); // serving certificate due: from the new CA
    expect(certificateFacts(next.serving?.certPem ?? "").issuer).to.equal(
      certificateFacts(rotated.ca?.certPem ?? "").subject,
    );
    expect(splitPemBundle(next.caBundle ?? "")).to.have.length(2);
    const afterExpiry = issue(next, at(366));
    expect(splitPemBundle(afterExpiry.caBundle ?? ""), "the first CA expired on day 365").to.deep.equal([
      rotated.ca?.certPem,
    ]);
  });

  it("never issues a serving certificate that outlives its CA", () => {
    const shortCa: RotationPolicy = { caLifetimeMs: 30 * DAY, certLifetimeMs: 90 * DAY };
    const material = applyPlan({}, planCertificates({}, SANS, T0, shortCa), NAMES, T0, shortCa);
    expect(certificateFacts(material.serving?.certPem ?? "").notAfter).to.deep.equal(at(30));
  });

  it("schedules the next check at the earlier rotation time", () => {
    expect(planCertificates(first, SANS, at(1), POLICY).nextCheck).to.deep.equal(
      rotationTime(new Date(T0.getTime() - 60_000), at(90)),
    );
  });

  it("backdates short-lived certificates by a tenth of their lifetime at most", () => {
    const short: RotationPolicy = { caLifetimeMs: 60_000, certLifetimeMs: 6_000 };
    const material = applyPlan({}, planCertificates({}, SANS, T0, short), NAMES, T0, short);
    const facts = certificateFacts(material.serving?.certPem ?? "");
    // X.509 times have whole seconds.
    expect(facts.notBefore.getTime()).to.equal(T0.getTime() - 1_000);
    expect(planCertificates(material, SANS, new Date(T0.getTime() + 1_000), short)).to.include({
      ca: "keep",
      serving: "keep",
    });
  });

  it("names IP addresses as IP SANs", () => {
    const material = issue({}, T0, ["localhost", "127.0.0.1", "::1"]);
    const cert = new X509Certificate(material.serving?.certPem ?? "");
    expect(cert.checkIP("127.0.0.1")).to.equal("127.0.0.1");
    expect(cert.checkIP("::1")).to.equal("::1");
    expect(planCertificates(material, ["::1", "127.0.0.1", "localhost"], at(1), POLICY).serving).to.equal(
      "keep",
    );
  });
});
