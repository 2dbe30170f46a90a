import { expect } from "chai";
import { crdsFinding, jwksFinding, leaseFinding, webhookCa } from "./checks.ts";

const NOW = new Date("2026-12-07T06:00:00Z");
const lease = (spec: Record<string, unknown>): unknown => ({ spec });

describe("trustgate doctor: checks", function () {
  it("crds: all three resources served, or which are missing, or the group not served at all", function () {
    const served = {
      resources: ["attestationpolicies", "confidentialhosts", "confidentialvms"].map((name) => ({ name })),
    };
    expect(crdsFinding(served).ok).to.equal(true);
    expect(crdsFinding(undefined)).to.deep.include({ ok: false });
    expect(crdsFinding(undefined).message).to.include("the CRDs are not installed");
    const partial = crdsFinding({
      resources: [{ name: "confidentialvms" }, { name: "confidentialvms/status" }],
    });
    expect(partial.ok).to.equal(false);
    expect(partial.message).to.equal(
      "trustgate.io/v1alpha1 does not serve attestationpolicies, confidentialhosts",
    );
  });

  const leases: [string, unknown, boolean, RegExp][] = [
    [
      "renewed 5 s ago",
      lease({ holderIdentity: "c-1", renewTime: "2026-12-07T05:59:55.000000Z", leaseDurationSeconds: 15 }),
      true,
      /held by c-1, renewed 5 s ago/,
    ],
    ["missing", undefined, false, /does not exist/],
    [
      "released (no holder)",
      lease({ holderIdentity: "", renewTime: "2026-12-07T05:59:55Z", leaseDurationSeconds: 15 }),
      false,
      /no holder/,
    ],
    [
      "expired: the leader stopped renewing",
      lease({ holderIdentity: "c-1", renewTime: "2026-12-07T05:59:00Z", leaseDurationSeconds: 15 }),
      false,
      /expired: renewed 60 s ago, duration 15 s/,
    ],
    [
      "no renewTime",
      lease({ holderIdentity: "c-1", leaseDurationSeconds: 15 }),
      false,
      /no renewTime or duration/,
    ],
  ];
  for (const [name, object, held, message] of leases) {
    it(`controller-lease: ${name}`, function () {
      const finding = leaseFinding("ns/ctl", object, NOW);
      expect(finding.ok).to.equal(held);
      expect(finding.message).to.match(message);
    });
  }

  const jwks = (text: string): unknown => ({ data: { "jwks.json": text } });
  const configMaps: [string, unknown, boolean, RegExp][] = [
    [
      "public keys",
      jwks(JSON.stringify({ keys: [{ kty: "EC", crv: "P-256", x: "a", y: "b" }] })),
      true,
      /holds 1 public signing key/,
    ],
    ["missing", undefined, false, /does not exist/],
    ["no jwks.json", { data: {} }, false, /has no jwks.json/],
    ["not JSON", jwks("{"), false, /is not JSON/],
    ["empty", jwks('{"keys":[]}'), false, /has no keys/],
    // The JWKS is public (served to anyone): a private key there is a leak, never a pass.
    [
      "a private key published",
      jwks(JSON.stringify({ keys: [{ kty: "EC", crv: "P-256", x: "a", y: "b", d: "secret" }] })),
      false,
      /private key material/,
    ],
  ];
  for (const [name, object, passes, message] of configMaps) {
    it(`jwks: ${name}`, function () {
      const finding = jwksFinding("ns/trustgate-jwks", object);
      expect(finding.ok).to.equal(passes);
      expect(finding.message).to.match(message);
    });
  }

  describe("webhook: the caBundle of the configuration", function () {
    const service = { namespace: "tg", name: "tg-webhook" };
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const hook = (caBundle: string, name = "tg-webhook", namespace = "tg"): unknown => ({
      name: "x.webhook.trustgate.io",
      clientConfig: { caBundle, service: { name, namespace } },
    });
    const config = (...webhooks: unknown[]): unknown => ({ webhooks });
    const bundle = Buffer.from(pem).toString("base64");

    it("returns the one caBundle all webhooks share, as PEM", function () {
      expect(webhookCa("tg-webhook", config(hook(bundle), hook(bundle)), service)).to.deep.equal({ ca: pem });
    });

    const bad: [string, unknown, RegExp][] = [
      ["no configuration", undefined, /does not exist/],
      ["no webhooks", config(), /has no webhooks/],
      ["a webhook without caBundle (not started yet)", config(hook(bundle), hook("")), /has no caBundle yet/],
      [
        "different caBundles",
        config(hook(bundle), hook(Buffer.from("other").toString("base64"))),
        /different caBundles/,
      ],
      // A configuration pointing elsewhere would let someone else's server decide admissions.
      [
        "a webhook calling another Service",
        config(hook(bundle), hook(bundle, "evil", "tg")),
        /does not call Service tg\/tg-webhook/,
      ],
    ];
    for (const [name, object, message] of bad) {
      it(name, function () {
        const result = webhookCa("tg-webhook", object, service);
        expect(result).to.have.property("finding");
        const finding = (result as { finding: { ok: boolean; message: string } }).finding;
        expect(finding.ok).to.equal(false);
        expect(finding.message).to.match(message);
      });
    }
  });
});
