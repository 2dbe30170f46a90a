import { expect } from "chai";
import { createHash } from "node:crypto";
import type { AttestationPolicySpecTdx } from "../../../api/v1alpha1/generated/types.ts";
import { buildEventLog } from "../../../../test/support/evidence/event-log-builder.ts";
import { gcpCcel, gcpQuoteRtmrs } from "../../../../test/support/evidence/gcp-ccel.ts";
import { compilePolicySpec } from "../../policy/compiled-policy.ts";
import { toHex } from "../hex.ts";
import { appraiseEventLog } from "./appraise-events.ts";
import { bootClaimValues, eventLogClaims, eventRows, uefiVariable } from "./claims.ts";
import { verifyEventLog, type EventLogVerification } from "./index.ts";
import { parseEventLog, type TdEvent } from "./parse.ts";
import { replayRtmrs } from "./replay.ts";

const gcpEvents = (): TdEvent[] => parseEventLog(gcpCcel()).events;
const gcp = (): EventLogVerification =>
  verifyEventLog(Buffer.from(gcpCcel()).toString("base64"), gcpQuoteRtmrs());
const digestOf = (index: number): string => toHex(gcpEvents()[index]?.sha384 ?? new Uint8Array());
const KERNEL = 39;
const CMDLINE = 40;
const cmdlineText = (): string => {
  const text = Buffer.from(gcpEvents()[CMDLINE]?.data ?? []).toString("utf8");
  return text.slice("kernel_cmdline: ".length).replace(/\0$/, "");
};
const tdx = (spec: AttestationPolicySpecTdx) => compilePolicySpec({ tdx: spec }).tdx;
/** A log of the given events that replays to itself (the quote of such a boot would carry these RTMRs). */
const selfReplaying = (events: TdEvent[]): EventLogVerification =>
  verifyEventLog(buildEventLog(events).toString("base64"), replayRtmrs(events));

describe("event-log claims of the real GCP boot (COS 113: shim → GRUB → kernel)", () => {
  const claims = eventLogClaims(gcpEvents());

  it("kernel: the file GRUB read after its `linux` command (event 39, /syslinux/vmlinuz.A)", () => {
    expect(claims.kernel?.event.index).to.equal(KERNEL);
    expect(Buffer.from(claims.kernel?.event.data ?? []).toString()).to.equal("/syslinux/vmlinuz.A\0");
  });

  it("cmdline: GRUB's kernel_cmdline event, bound to its digest", () => {
    expect(claims.cmdline?.event.index).to.equal(CMDLINE);
    expect(claims.cmdline?.value).to.match(
      /^\/syslinux\/vmlinuz\.A init=\/usr\/lib\/systemd\/systemd rootwait ro/,
    );
    expect(
      toHex(
        createHash("sha384")
          .update(claims.cmdline?.value ?? "")
          .digest(),
      ),
    ).to.equal(digestOf(CMDLINE));
  });

  it("Secure Boot variables in RTMR0 (events 2-6), Secure Boot off on this VM, no initrd, nothing unknown", () => {
    expect(
      Object.fromEntries(Object.entries(claims.secureBootVariables).map(([k, v]) => [k, v.event.index])),
    ).to.deep.equal({
      SecureBoot: 2,
      PK: 3,
      KEK: 4,
      db: 5,
      dbx: 6,
    });
    expect(claims.secureBoot).to.equal(false);
    expect(claims.initrd).to.deep.equal([]);
    expect(claims.unknown).to.deep.equal([]);
    expect(
      claims.events.filter((entry) => entry.claim === "separator").map((entry) => entry.event.index),
    ).to.deep.equal([7, 15]);
  });

  it("bootClaimValues and eventRows carry what the output and the signed result show", () => {
    expect(bootClaimValues(claims)).to.deep.equal({
      initrd: [],
      kernel: digestOf(KERNEL),
      cmdline: claims.cmdline?.value,
      secureBoot: false,
    });
    const rows = eventRows(claims);
    expect(rows).to.have.length(43);
    expect(rows[KERNEL]).to.include({
      index: 39,
      rtmr: 2,
      type: "EV_IPL",
      claim: "kernel",
      digest: digestOf(KERNEL),
    });
    expect(rows[2]).to.include({ claim: "secureBootVariable:SecureBoot", value: "SecureBoot=0" });
  });

  it("uefiVariable refuses a name or value that overruns the data", () => {
    const data = Buffer.from(gcpEvents()[2]?.data ?? []);
    expect(uefiVariable(data)?.name).to.equal("SecureBoot");
    expect(uefiVariable(data.subarray(0, data.length - 1))).to.equal(undefined);
    expect(uefiVariable(data.subarray(0, 20))).to.equal(undefined);
  });
});

describe("appraiseEventLog (table)", () => {
  const otherDigest = "ab".repeat(48);
  const cases: {
    name: string;
    spec: AttestationPolicySpecTdx;
    log?: () => EventLogVerification;
    expected: RegExp[];
  }[] = [
    {
      name: "no event rules: nothing checked",
      spec: {},
      log: () => ({ status: "absent", events: [], errors: [] }),
      expected: [],
    },
    {
      name: "the boot's own kernel, cmdline and Secure Boot variables",
      spec: {
        events: {
          kernel: [otherDigest, "KERNEL"],
          cmdline: ["CMDLINE"],
          secureBootVariables: { PK: ["PK"], dbx: ["DBX"] },
        },
      },
      expected: [],
    },
    {
      name: "another kernel",
      spec: { events: { kernel: [otherDigest] } },
      expected: [
        /^spec\.tdx\.events\.kernel: event 39 \(EV_IPL "\/syslinux\/vmlinuz\.A", RTMR2\) has kernel digest "[0-9a-f]{96}", expected one of \["abab/,
      ],
    },
    {
      name: "one changed command-line character",
      spec: { events: { cmdline: ["CMDLINE-1"] } },
      expected: [
        /^spec\.tdx\.events\.cmdline: event 40 \(EV_IPL "kernel_cmdline: \/syslinux\/vmlinuz.A init=.*", RTMR2\) has command line "\/syslinux\/vmlinuz\.A init=.*", expected one of \[/,
      ],
    },
    {
      name: "an initrd pinned, the boot has none",
      spec: { events: { initrd: [otherDigest] } },
      expected: [/^spec\.tdx\.events\.initrd: the event log has no initrd$/],
    },
    {
      name: "another dbx",
      spec: { events: { secureBootVariables: { dbx: [otherDigest] } } },
      expected: [
        /^spec\.tdx\.events\.secureBootVariables\.dbx: event 6 \(EV_EFI_VARIABLE_DRIVER_CONFIG, RTMR0\) has dbx variable digest/,
      ],
    },
    {
      name: "requireSecureBoot on a VM with Secure Boot off",
      spec: { requireSecureBoot: true },
      expected: [
        /^spec\.tdx\.requireSecureBoot: event 2 \(EV_EFI_VARIABLE_DRIVER_CONFIG, RTMR0\) says SecureBoot=0: Secure Boot is off$/,
      ],
    },
    {
      name: "unknownEvents deny: every event of this boot is classified",
      spec: { unknownEvents: "deny" },
      expected: [],
    },
    {
      name: "unknownEvents deny: an EV_POST_CODE event is refused by index and digest",
      spec: { unknownEvents: "deny" },
      log: () =>
        selfReplaying([
          ...gcpEvents(),
          {
            index: 43,
            offset: 0,
            mrIndex: 1,
            eventType: 0x1,
            sha384: new Uint8Array(48).fill(7),
            data: new Uint8Array([1]),
          },
        ]),
      expected: [
        /^spec\.tdx\.unknownEvents: event 43 \(EV_POST_CODE, RTMR0\) \(digest (07){48}\) is not an event the claims classify/,
      ],
    },
    {
      name: "unknownEvents allow (default) lets it pass",
      spec: {},
      log: () =>
        selfReplaying([
          ...gcpEvents(),
          {
            index: 43,
            offset: 0,
            mrIndex: 1,
            eventType: 0x1,
            sha384: new Uint8Array(48).fill(7),
            data: new Uint8Array([1]),
          },
        ]),
      expected: [],
    },
    {
      name: "rules without an event log fail closed, each named",
      spec: { events: { kernel: ["KERNEL"] }, requireSecureBoot: true },
      log: () => ({ status: "absent", events: [], errors: [] }),
      expected: [
        /^spec\.tdx\.events\.kernel: the bundle carries no event log \(tee\.eventLog\), so this rule cannot be checked and fails closed$/,
        /^spec\.tdx\.requireSecureBoot: the bundle carries no event log/,
      ],
    },
    {
      name: "rules with a log that did not replay fail closed",
      spec: { events: { cmdline: ["CMDLINE"] } },
      log: () => ({ status: "mismatch", events: [], errors: [] }),
      expected: [/^spec\.tdx\.events\.cmdline: the event log did not verify \(mismatch\)/],
    },
  ];
  const substitute = (value: string): string =>
    value === "KERNEL"
      ? digestOf(KERNEL)
      : value === "PK"
        ? digestOf(3)
        : value === "DBX"
          ? digestOf(6)
          : value === "CMDLINE"
            ? cmdlineText()
            : value === "CMDLINE-1"
              ? cmdlineText().replace("rootwait", "rootwaiT")
              : value;
  const resolve = (spec: AttestationPolicySpecTdx): AttestationPolicySpecTdx =>
    JSON.parse(JSON.stringify(spec), (_key, value: unknown) =>
      typeof value === "string" ? substitute(value) : value,
    ) as AttestationPolicySpecTdx;

  for (const { name, spec, log, expected } of cases) {
    it(name, () => {
      const violations = appraiseEventLog((log ?? gcp)(), tdx(resolve(spec)));
      expect(violations.map((violation) => violation.message)).to.have.length(
        expected.length,
        JSON.stringify(violations),
      );
      for (const [i, pattern] of expected.entries()) expect(violations[i]?.message).to.match(pattern);
    });
  }
});
