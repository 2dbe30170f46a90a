import { expect } from "chai";
import { AnsweredNonces, decideChallenge } from "./challenge.ts";

const NOW = new Date("2030-01-01T12:00:00Z");
const A = "a1".repeat(32);
const B = "b2".repeat(32);
const open = (nonce: string, expiresAt = "2030-01-01T12:05:00Z") => ({
  nonce,
  issuedAt: "2030-01-01T12:00:00Z",
  expiresAt,
});

describe("decideChallenge (answer each nonce once, never an expired one)", () => {
  const table: {
    case: string;
    challenge: Parameters<typeof decideChallenge>[0];
    answered: string[];
    expect: string;
  }[] = [
    { case: "no status.challenge", challenge: undefined, answered: [], expect: "wait:NoChallenge" },
    { case: "a challenge without a nonce", challenge: {}, answered: [], expect: "wait:NoChallenge" },
    { case: "a new open challenge", challenge: open(A), answered: [], expect: `answer:${A}` },
    { case: "the same nonce again", challenge: open(A), answered: [A], expect: "wait:AlreadyAnswered" },
    { case: "a new nonce after an answered one", challenge: open(B), answered: [A], expect: `answer:${B}` },
    {
      case: "an expired challenge",
      challenge: open(A, "2030-01-01T11:59:59Z"),
      answered: [],
      expect: "wait:Expired",
    },
    {
      case: "expiring exactly now",
      challenge: open(A, NOW.toISOString()),
      answered: [],
      expect: "wait:Expired",
    },
    {
      case: "expired and already answered: answered wins",
      challenge: open(A, "2030-01-01T11:00:00Z"),
      answered: [A],
      expect: "wait:AlreadyAnswered",
    },
    { case: "an uppercase nonce", challenge: open(A.toUpperCase()), answered: [], expect: "wait:Malformed" },
    { case: "a short nonce", challenge: open("ab".repeat(16)), answered: [], expect: "wait:Malformed" },
    { case: "no expiresAt", challenge: { nonce: A }, answered: [], expect: "wait:Malformed" },
    { case: "an unparseable expiresAt", challenge: open(A, "soon"), answered: [], expect: "wait:Malformed" },
  ];

  for (const row of table) {
    it(`${row.case} -> ${row.expect.split(":")[0] ?? ""}`, () => {
      const decision = decideChallenge(row.challenge, new Set(row.answered), NOW);
      const got = decision.action === "answer" ? `answer:${decision.nonce}` : `wait:${decision.reason}`;
      expect(got).to.equal(row.expect);
    });
  }

  it("returns the expiry of a challenge to answer", () => {
    const decision = decideChallenge(open(A), new Set(), NOW);
    expect(decision).to.deep.include({ action: "answer", expiresAt: new Date("2030-01-01T12:05:00Z") });
  });
});

describe("AnsweredNonces", () => {
  it("remembers the latest nonces and forgets the oldest beyond its limit", () => {
    const answered = new AnsweredNonces(2);
    answered.add(A);
    answered.add(B);
    answered.add("c3".repeat(32));
    expect([...answered.set]).to.deep.equal([B, "c3".repeat(32)]);
  });
});
