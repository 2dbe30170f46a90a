import { expect } from "chai";
import { checkPromql } from "./promql.ts";

describe("checkPromql", () => {
  const cases: [expr: string, metrics: string[], problems: string[]][] = [
    ['absent(up{job="a-webhook-metrics"} == 1)', ["up"], []],
    [
      'sum by (phase) (trustgate_confidentialvms{job="x",phase!="Attested"}) > 0',
      ["trustgate_confidentialvms"],
      [],
    ],
    [
      "histogram_quantile(0.95, sum by (le, stage) (rate(trustgate_attestation_duration_seconds_bucket[5m])))",
      ["trustgate_attestation_duration_seconds_bucket"],
      [],
    ],
    ["(trustgate_a - time()) < 1209600", ["trustgate_a"], []],
    ["max(a) / on (x) group_left (y) b", ["a", "b"], []],
    ['sum(rate(x{le="+Inf"}[$__rate_interval]))', ["x"], []],
    ["sum(rate(x[5m])", ["x"], ["unclosed ("]],
    ["summ(x)", ["x"], ["unknown function summ"]],
    ["x{job=bare}", ["x"], ["bad label matcher: job=bare"]],
    ["rate(x[5 minutes])", ["x"], ["bad range: [5 minutes]"]],
    ['label_replace(x, "dst", "$1", "src", "(.*)")', ["x"], []],
  ];
  for (const [expr, metrics, problems] of cases) {
    it(`${expr} → ${metrics.join(", ")}${problems.length > 0 ? `; ${problems.join(", ")}` : ""}`, () => {
      const check = checkPromql(expr);
      expect(check.metrics.sort()).to.deep.equal(metrics.sort());
      expect(check.problems).to.deep.equal(problems);
    });
  }
});
