// A small PromQL check for the chart's alert rules and dashboard (promtool is not built here): the expression's
// brackets balance, every function is a PromQL function, and the metric names it selects are returned so a test
// can compare them with the series the components export (operator/src/runtime/exported-series.ts).

/** PromQL's functions and aggregation operators (Prometheus 2.x/3.x), as far as trustgate's queries may use them. */
const FUNCTIONS = new Set([
  "abs",
  "absent",
  "absent_over_time",
  "avg",
  "avg_over_time",
  "bottomk",
  "ceil",
  "changes",
  "clamp",
  "clamp_max",
  "clamp_min",
  "count",
  "count_over_time",
  "count_values",
  "day_of_month",
  "day_of_week",
  "delta",
  "deriv",
  "exp",
  "floor",
  "group",
  "histogram_quantile",
  "holt_winters",
  "idelta",
  "increase",
  "irate",
  "label_join",
  "label_replace",
  "last_over_time",
  "ln",
  "log2",
  "log10",
  "max",
  "max_over_time",
  "min",
  "min_over_time",
  "predict_linear",
  "quantile",
  "quantile_over_time",
  "rate",
  "resets",
  "round",
  "scalar",
  "sort",
  "sort_desc",
  "sqrt",
  "stddev",
  "stdvar",
  "sum",
  "sum_over_time",
  "time",
  "timestamp",
  "topk",
  "vector",
]);
/** Keywords that are followed by a label list in parentheses. */
const LABEL_LIST_KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", ...LABEL_LIST_KEYWORDS]);

export interface PromqlCheck {
  /** Metric names the expression selects. */
  metrics: string[];
  /** What is wrong with it; empty when it passes. */
  problems: string[];
}

function balanced(expr: string): string | undefined {
  const pairs: Record<string, string> = { ")": "(", "}": "{", "]": "[" };
  const stack: string[] = [];
  for (const ch of expr) {
    if ("({[".includes(ch)) stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) return `unbalanced ${ch}`;
  }
  return stack.length === 0 ? undefined : `unclosed ${stack.join("")}`;
}

/** Checks one expression; Grafana's $__rate_interval-style variables are allowed in range selectors. */
export function checkPromql(expr: string): PromqlCheck {
  const problems: string[] = [];
  // String literals (label values) hold no names.
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const unbalanced = balanced(noStrings);
  if (unbalanced !== undefined) problems.push(unbalanced);
  const matchers = [...noStrings.matchAll(/\{([^}]*)\}/g)].map((m) => m[1] ?? "");
  for (const body of matchers)
    for (const part of body.split(",").filter((p) => p.trim() !== ""))
      if (!/^\s*[a-zA-Z_]\w*\s*(=~|!~|!=|=)\s*""\s*$/.test(part))
        problems.push(`bad label matcher: ${part.trim()}`);
  const ranges = [...noStrings.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] ?? "");
  for (const range of ranges)
    if (!/^(?:\d+(?:ms|s|m|h|d|w|y))+(?::(?:\d+(?:ms|s|m|h|d|w|y))*)?$|^\$\w+$/.test(range.trim()))
      problems.push(`bad range: [${range}]`);
  const bare = noStrings.replace(/\{[^}]*\}/g, " ").replace(/\[[^\]]*\]/g, " ");
  const metrics = new Set<string>();
  const tokens = [...bare.matchAll(/[a-zA-Z_:][\w:]*|\(|\)|[^\sa-zA-Z_:()]+/g)].map((m) => m[0]);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? "";
    if (!/^[a-zA-Z_:]/.test(token)) continue;
    if (LABEL_LIST_KEYWORDS.has(token) && tokens[i + 1] === "(") {
      const close = tokens.indexOf(")", i);
      if (close < 0) break;
      i = close;
      continue;
    }
    if (KEYWORDS.has(token)) continue;
    // A call, or an aggregation with its grouping first: sum by (x) (...).
    if (tokens[i + 1] === "(" || tokens[i + 1] === "by" || tokens[i + 1] === "without") {
      if (!FUNCTIONS.has(token)) problems.push(`unknown function ${token}`);
      continue;
    }
    // An exponent (1e3) or a duration suffix of an offset is not a name.
    if (/^e\d*$/.test(token) && /\d$/.test(tokens[i - 1] ?? "")) continue;
    metrics.add(token);
  }
  return { metrics: [...metrics], problems };
}
