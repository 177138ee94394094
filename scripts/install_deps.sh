#!/usr/bin/env bash
# Installs the Debian packages deepchrome builds with (and curl, for scripts/download_data.sh;
# python3, for tools/import_attentivechrome.py and its test; libhts-dev + pkg-config, with
# which `deepchrome prepare` reads BAM/CRAM/SAM (htslib is optional at build time); samtools
# and bedtools, the prepare tests' oracle), skipping those already present; then chromium,
# which only the browser test suite uses (it opens report.html headless): when chromium
# cannot be installed this says so and goes on, and that suite reports itself skipped.
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(build-essential cmake nlohmann-json3-dev doctest-dev zlib1g-dev curl ca-certificates python3
          libhts-dev pkg-config samtools bedtools)
optional=(chromium)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
missing_optional=()
for p in "${optional[@]}"; do installed "$p" || missing_optional+=("$p"); done
if [ ${#missing[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
  echo "deepchrome: build dependencies present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || echo "deepchrome: apt-get update failed; trying the install with the current package lists" >&2
if [ ${#missing[@]} -gt 0 ]; then
  echo "deepchrome: installing ${missing[*]}"
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ ${#missing_optional[@]} -gt 0 ]; then
  echo "deepchrome: installing ${missing_optional[*]} (for the browser test suite)"
  $SUDO apt-get install -y -q --no-install-recommends "${missing_optional[@]}" ||
    echo "deepchrome: could not install ${missing_optional[*]}; the browser test suite will be skipped" >&2
fi
