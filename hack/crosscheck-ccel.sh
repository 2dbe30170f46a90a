#!/usr/bin/env bash
# Cross-checks trustgate's CCEL replay against PyPI pytdxmeasure (an independent implementation): installs it into a
# venv under .cache/, replays the fixture's log with both, and compares RTMR0..3. Needs python3 and PyPI access the
# first time. Usage: hack/crosscheck-ccel.sh [<evidence item dir with ccel_table.dat, ccel_data.dat and quote.dat>]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
item="${1:-$root/operator/test/fixtures/evidence/tdx/google-gcp-cos113-ccel}"
venv="$root/.cache/pytdxmeasure-venv"
node="${NODE:-node}"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pytdxmeasure==0.0.9
fi

theirs="$("$venv/bin/python" "$root/hack/crosscheck-ccel.py" "$item/ccel_table.dat" "$item/ccel_data.dat")"
ours="$("$node" "$root/hack/replay-ccel.ts" "$item")"
echo "pytdxmeasure: $theirs"
echo "trustgate:    $ours"
"$node" -e '
const [theirs, ours] = process.argv.slice(1).map((text) => JSON.parse(text));
const same = JSON.stringify(theirs.rtmrs) === JSON.stringify(ours.rtmrs);
const quoted = JSON.stringify(ours.quote) === JSON.stringify(ours.rtmrs);
console.log(`RTMR0..3 equal: ${same}; events ${theirs.events} vs ${ours.events}; equal to the quote: ${quoted}`);
process.exit(same && quoted ? 0 : 1);
' "$theirs" "$ours"
