import type { Claims } from "../types.ts";
import type { TdxQuote } from "./quote.ts";
import { toHex as hex } from "./hex.ts";

/** The TDX claims of docs/evidence-bundle.md#output, from the quote body; lowercase hex. */
export function quoteClaims(quote: TdxQuote): Claims {
  const { body } = quote;
  const claims: Claims = {
    quoteVersion: quote.header.version,
    mrTd: hex(body.mrTd),
    mrSeam: hex(body.mrSeam),
    mrSignerSeam: hex(body.mrSignerSeam),
    mrConfigId: hex(body.mrConfigId),
    mrOwner: hex(body.mrOwner),
    mrOwnerConfig: hex(body.mrOwnerConfig),
    rtmr0: hex(body.rtmrs[0]),
    rtmr1: hex(body.rtmrs[1]),
    rtmr2: hex(body.rtmrs[2]),
    rtmr3: hex(body.rtmrs[3]),
    reportData: hex(body.reportData),
    tdAttributes: hex(body.tdAttributes),
    xfam: hex(body.xfam),
    teeTcbSvn: hex(body.teeTcbSvn),
    // TDATTRIBUTES bit 0 (TUD.DEBUG): the host can read and change the TD's state.
    debug: ((body.tdAttributes[0] ?? 0) & 1) === 1,
    qeSvn: quote.qeReport.isvSvn,
  };
  if (body.teeTcbSvn2 !== undefined) claims.teeTcbSvn2 = hex(body.teeTcbSvn2);
  if (body.mrServiceTd !== undefined) claims.mrServiceTd = hex(body.mrServiceTd);
  return claims;
}
