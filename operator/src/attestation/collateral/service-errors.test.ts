import { expect } from "chai";
import {
  bodySnippet,
  redactedUrl,
  secretScrubber,
  serviceInfo,
  type AttestationService,
} from "./service-errors.ts";

describe("attestation service errors", () => {
  it("knows each service's name and size limit, and refuses an unknown one by name", () => {
    expect(serviceInfo("intel-pcs")).to.deep.equal({ name: "Intel PCS", maxBytes: 1024 * 1024 });
    expect(serviceInfo("amd-kds").maxBytes).to.equal(64 * 1024);
    expect(() => serviceInfo("nvidia-xyz" as AttestationService)).to.throw(
      /unknown service "nvidia-xyz" \(known: intel-pcs, amd-kds, nvidia-rim, nvidia-ocsp, nvidia-nras\)/,
    );
    expect(() => serviceInfo("toString" as AttestationService)).to.throw(/unknown service "toString"/);
  });

  it("redacts userinfo and credential-like query parameters from URLs, keeping the rest", () => {
    const cases: [string, string][] = [
      [
        "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=b0c06f000000&update=early",
        "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=b0c06f000000&update=early",
      ],
      ["https://user:pw@pccs.example/sgx", "https://pccs.example/sgx"],
      [
        "https://pccs.example/a?subscription-key=abc&x=1",
        "https://pccs.example/a?subscription-key=REDACTED&x=1",
      ],
      ["https://x.example/?access_token=t&sig=s", "https://x.example/?access_token=REDACTED&sig=s"],
    ];
    for (const [url, want] of cases) expect(redactedUrl(new URL(url))).to.equal(want);
  });

  it("scrubs credential header values from any text, and only those", () => {
    const scrub = secretScrubber({
      "Ocp-Apim-Subscription-Key": "k3y-0123456789",
      Authorization: "Bearer tok",
      accept: "application/json",
    });
    expect(scrub("invalid key k3y-0123456789 (Bearer tok) for application/json")).to.equal(
      "invalid key [redacted] ([redacted]) for application/json",
    );
    expect(scrub("via http://u:p@proxy:8080")).to.equal("via http://[redacted]@proxy:8080");
  });

  it("makes a short printable quoted snippet of an error body", () => {
    const cases: [Uint8Array, string][] = [
      [Buffer.from(""), ""],
      [Buffer.from("  \n "), ""],
      [Buffer.from('{"error":\n  "busy"}\r\n'), JSON.stringify('{"error": "busy"}')],
      [Buffer.from("a\u0000b\u001bc"), JSON.stringify("a b c")],
      [Buffer.from("x".repeat(500)), JSON.stringify(`${"x".repeat(160)}…`)],
      [Buffer.from([0xff, 0xfe, 0x30, 0x82, 0x01, 0x0a, 0xc3]), "(7 bytes, not text)"],
    ];
    for (const [body, want] of cases) expect(bodySnippet(body), want).to.equal(want);
  });
});
