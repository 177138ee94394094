#!/usr/bin/env bash
# Installs the Debian packages deepchrome builds with (and curl, for scripts/download_data.sh;
# samtools and bedtools, for the prepare tests), skipping those already present.
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

# libhts-dev + pkg-config: `deepchrome prepare` reads BAM/CRAM/SAM with htslib (optional at
# build time); samtools + bedtools: the prepare tests' oracle (they make BAMs, count bins).
packages=(build-essential cmake nlohmann-json3-dev doctest-dev zlib1g-dev curl ca-certificates
          libhts-dev pkg-config samtools bedtools)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deepchrome: build dependencies present"
  exit 0
fi
echo "deepchrome: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || echo "deepchrome: apt-get update failed; trying the install with the current package lists" >&2
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
