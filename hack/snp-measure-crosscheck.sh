#!/usr/bin/env bash
# Cross-checks trustgate's SEV-SNP launch MEASUREMENT (operator/src/attestation/snp/launch-measurement)
# against the independent Python implementation sev-snp-measure (PyPI) on Debian's OVMF builds:
#  1. downloads Debian's `ovmf` package with apt-get (pinned version, SHA-256 checked) and unpacks it;
#  2. installs sev-snp-measure (pinned) into a venv;
#  3. computes both tools' digests for several vCPU counts, vCPU types, guest features and VMM types.
# Everything is cached in $TRUSTGATE_CACHE/snp-measure (default ~/.cache/trustgate: CI runs in a fresh
# clone, so a cache inside the checkout would always be cold); a warm run takes a few seconds.
# Prints one line per case and a summary. Exit 0: all match; 1: a mismatch or a broken setup;
# 3: skipped because the network needed for a cold cache is absent (the reason is printed).
set -euo pipefail

OVMF_DEB_VERSION="2022.11-6+deb12u2" # Debian 12 (bookworm)
OVMF_DEB_SHA256="e73d3d1a8799f7f6fc16b73501d913edcdd86237556fbff30693e747e6dc262e"
# The images in that package with SEV metadata, and one without (which must be refused).
OVMF_FD_SHA256="7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773"      # usr/share/ovmf/OVMF.fd
OVMF_CODE_SHA256="d9b568def24088c92f34b5479e0ed7e44d0a4d4cea8a0f5716719180bba48106"    # usr/share/OVMF/OVMF_CODE.fd
OVMF_CODE_4M_SHA256="b157d97b1f69729514feb7f201d2cbe4957f23ab77920e361fe9f822ba49ca4c" # usr/share/OVMF/OVMF_CODE_4M.fd
SEV_SNP_MEASURE_VERSION="0.0.13"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${TRUSTGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trustgate}/snp-measure"
pkg="$cache/ovmf-$OVMF_DEB_VERSION"
venv="$cache/venv-sev-snp-measure-$SEV_SNP_MEASURE_VERSION"
node="$root/.tools/node/node_modules/.bin/node"
[[ -x "$node" ]] || node="$(command -v node)"
log() { echo "snp-crosscheck: $*" >&2; }

# Exit 3 only when the host cannot be resolved at all; any other failure is a real error.
fail_fetch() {
  local host="$1" what="$2"
  if ! getent hosts "$host" >/dev/null 2>&1; then
    echo "SKIP: no network: cannot resolve $host to fetch $what (cache $cache is cold)"
    exit 3
  fi
  echo "ERROR: fetching $what failed although $host resolves; see the messages above" >&2
  exit 1
}

check_sha256() {
  local file="$1" want="$2" got
  got="$(sha256sum "$file" | cut -d' ' -f1)"
  if [[ "$got" != "$want" ]]; then
    echo "ERROR: $file has SHA-256 $got, pinned $want" >&2
    exit 1
  fi
}

fetch_ovmf() {
  [[ -f "$pkg/usr/share/ovmf/OVMF.fd" ]] && return 0
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
    echo "SKIP: needs apt-get and dpkg-deb (Debian) to fetch ovmf $OVMF_DEB_VERSION"
    exit 3
  }
  local deb="$cache/ovmf_${OVMF_DEB_VERSION}_all.deb" host
  host="$(apt-get indextargets --format '$(SITE)' 2>/dev/null | head -n1 | sed -E 's#^[a-z]+://([^/:]+).*#\1#')"
  host="${host:-deb.debian.org}"
  mkdir -p "$cache"
  log "downloading ovmf $OVMF_DEB_VERSION with apt-get"
  if ! (cd "$cache" && apt-get download -q "ovmf=$OVMF_DEB_VERSION"); then
    # A fresh CI image may have no package lists yet.
    if [[ "$(id -u)" == 0 ]] && apt-get update -q && (cd "$cache" && apt-get download -q "ovmf=$OVMF_DEB_VERSION"); then
      :
    else
      apt-cache policy ovmf >&2 || true
      echo "hint: if ovmf $OVMF_DEB_VERSION is no longer in the apt sources, update the pins at the top of $0" >&2
      fail_fetch "$host" "Debian package ovmf=$OVMF_DEB_VERSION"
    fi
  fi
  check_sha256 "$deb" "$OVMF_DEB_SHA256"
  rm -rf "$pkg.tmp" && dpkg-deb -x "$deb" "$pkg.tmp" && mv "$pkg.tmp" "$pkg"
}

# Debian's python3 needs python3-venv for `python3 -m venv`; CI (root) installs what is missing.
ensure_python_venv() {
  python3 -c 'import venv, ensurepip' 2>/dev/null && return 0
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing python3 and python3-venv with apt-get"
    apt-get install -y -q python3 python3-venv >&2 || { apt-get update -q >&2 && apt-get install -y -q python3 python3-venv >&2; } ||
      fail_fetch deb.debian.org "Debian packages python3 python3-venv"
    python3 -c 'import venv, ensurepip' && return 0
  fi
  echo "ERROR: python3 with the venv module is needed to install sev-snp-measure (Debian: apt-get install python3-venv)" >&2
  exit 1
}

install_sev_snp_measure() {
  [[ -f "$venv/.installed" ]] && return 0
  ensure_python_venv
  log "installing sev-snp-measure==$SEV_SNP_MEASURE_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "sev-snp-measure==$SEV_SNP_MEASURE_VERSION" ||
    fail_fetch pypi.org "sev-snp-measure==$SEV_SNP_MEASURE_VERSION from PyPI"
  touch "$venv/.installed"
}

fetch_ovmf
install_sev_snp_measure
ovmf_fd="$pkg/usr/share/ovmf/OVMF.fd"
ovmf_code="$pkg/usr/share/OVMF/OVMF_CODE.fd"
ovmf_code_4m="$pkg/usr/share/OVMF/OVMF_CODE_4M.fd"
check_sha256 "$ovmf_fd" "$OVMF_FD_SHA256"
check_sha256 "$ovmf_code" "$OVMF_CODE_SHA256"
check_sha256 "$ovmf_code_4m" "$OVMF_CODE_4M_SHA256"
echo "tool $venv/bin/sev-snp-measure"
echo "image $ovmf_fd"
echo "image $ovmf_code"

cases=0
mismatches=0
# compare IMAGE VMM VCPU_TYPE FEATURES VCPUS...: one trustgate run for all counts, one sev-snp-measure run per count.
compare() {
  local image="$1" vmm="$2" type="$3" features="$4"
  shift 4
  local counts ours
  counts="$(IFS=,; echo "$*")"
  mapfile -t ours < <("$node" "$root/operator/src/cmd/main.ts" reference-values snp --ovmf "$image" --vcpus "$counts" \
    --vcpu-type "$type" --vmm-type "$vmm" --guest-features "$features" -o hex)
  local i=0 n theirs verdict
  for n in "$@"; do
    theirs="$("$venv/bin/sev-snp-measure" --mode snp --ovmf "$image" --vcpus "$n" --vcpu-type "$type" \
      --vmm-type "$vmm" --guest-features "$features" 2>/dev/null || true)"
    verdict=match
    if [[ -z "${ours[$i]:-}" || "${ours[$i]}" != "$theirs" ]]; then
      verdict=MISMATCH
      mismatches=$((mismatches + 1))
    fi
    echo "case $(basename "$image") $vmm $type $features vcpus=$n trustgate=${ours[$i]:-none} sev-snp-measure=${theirs:-none} $verdict"
    cases=$((cases + 1))
    i=$((i + 1))
  done
}

compare "$ovmf_fd" QEMU EPYC-v4 0x1 1 2 4 8
compare "$ovmf_fd" QEMU EPYC-Milan 0x1 1 2 4 8
compare "$ovmf_fd" QEMU EPYC-Genoa 0x1 1 2 4 8
compare "$ovmf_fd" QEMU EPYC-Genoa 0x21 1 2 4 8
compare "$ovmf_fd" ec2 EPYC-v4 0x1 1 4
compare "$ovmf_fd" gce EPYC-v4 0x1 1 4
compare "$ovmf_code" QEMU EPYC-Milan 0x1 1 2

# An image without SEV metadata (sev-snp-measure measures it anyway) must be refused, not measured.
refusal="$("$node" "$root/operator/src/cmd/main.ts" reference-values snp --ovmf "$ovmf_code_4m" --vcpus 1 --vcpu-type EPYC-v4 -o hex 2>&1 || true)"
if [[ "$refusal" == *"(NoSevMetadata)"* ]]; then
  echo "refused $(basename "$ovmf_code_4m") NoSevMetadata"
else
  echo "NOT REFUSED $(basename "$ovmf_code_4m"): $refusal"
  mismatches=$((mismatches + 1))
fi

echo "crosscheck: $cases cases, $((cases - mismatches)) match, sev-snp-measure $SEV_SNP_MEASURE_VERSION, ovmf $OVMF_DEB_VERSION"
((mismatches == 0))
