/**
 * Intel signs the exact bytes of the `tcbInfo` / `enclaveIdentity` member as served, so the member's text must be
 * cut out of the response body verbatim; re-serializing parsed JSON would change the signed bytes.
 */
import { EvidenceError } from "../types.ts";
import { parseJsonObject, str } from "./json-fields.ts";

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);

function malformed(what: string): EvidenceError {
  return new EvidenceError("EvidenceMalformed", `${what}: not a JSON object`);
}

function skipWhitespace(text: string, index: number): number {
  let at = index;
  while (at < text.length && WHITESPACE.has(text.charAt(at))) at++;
  return at;
}

/** Index just past the JSON string starting at `index` (which holds the opening quote). */
function endOfString(text: string, index: number, what: string): number {
  for (let at = index + 1; at < text.length; at++) {
    const char = text.charAt(at);
    if (char === "\\") at++;
    else if (char === '"') return at + 1;
  }
  throw malformed(what);
}

/** Index just past the JSON value starting at `index`. */
function endOfValue(text: string, index: number, what: string): number {
  let depth = 0;
  let at = index;
  while (at < text.length) {
    const char = text.charAt(at);
    if (char === '"') {
      at = endOfString(text, at, what);
      if (depth === 0) return at;
      continue;
    }
    if (char === "{" || char === "[") depth++;
    else if (char === "}" || char === "]") {
      if (depth === 0) return at;
      depth--;
      if (depth === 0) return at + 1;
    } else if (depth === 0 && (char === "," || WHITESPACE.has(char))) return at;
    at++;
  }
  if (depth !== 0) throw malformed(what);
  return at;
}

/** The verbatim text of each top-level member of a JSON object. */
export function topLevelMembers(text: string, what: string): Map<string, string> {
  const members = new Map<string, string>();
  let at = skipWhitespace(text, 0);
  if (text.charAt(at) !== "{") throw malformed(what);
  at = skipWhitespace(text, at + 1);
  while (text.charAt(at) === '"') {
    const keyEnd = endOfString(text, at, what);
    const key = JSON.parse(text.slice(at, keyEnd)) as string;
    at = skipWhitespace(text, keyEnd);
    if (text.charAt(at) !== ":") throw malformed(what);
    const valueStart = skipWhitespace(text, at + 1);
    const valueEnd = endOfValue(text, valueStart, what);
    members.set(key, text.slice(valueStart, valueEnd));
    at = skipWhitespace(text, valueEnd);
    if (text.charAt(at) !== ",") break;
    at = skipWhitespace(text, at + 1);
  }
  if (text.charAt(at) !== "}") throw malformed(what);
  return members;
}

export interface SignedJson {
  /** The exact signed bytes (as text). */
  text: string;
  /** Hex r||s. */
  signature: string;
}

/** Splits a PCS response body `{"tcbInfo": {...}, "signature": "..."}` into signed text and signature. */
export function splitSignedJson(
  body: string,
  member: "tcbInfo" | "enclaveIdentity" | "tcbEvaluationDataNumbers",
  what: string,
): SignedJson {
  parseJsonObject(body, what);
  const members = topLevelMembers(body, what);
  const text = members.get(member);
  const signatureText = members.get("signature");
  if (text === undefined || signatureText === undefined) {
    throw new EvidenceError("EvidenceMalformed", `${what}: expected "${member}" and "signature" members`);
  }
  return { text, signature: str({ signature: JSON.parse(signatureText) as unknown }, "signature", what) };
}
