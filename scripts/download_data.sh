#!/usr/bin/env bash
# Downloads the DeepChrome data release (Zenodo record 2652278: 56 REMC cell types, binned
# histone-mark counts, about 1 GB), checks it and unpacks it to the layout deepchrome reads:
#   DEST/<cell>/classification/{train,valid,test}.csv
#
# usage: scripts/download_data.sh [options] DEST
#   --archive FILE   use a local copy of data.tar.gz instead of downloading it
#   --md5 HEX        the archive's expected MD5 (default: read from the Zenodo record)
#   --url URL        where to download from (default: the Zenodo record's data.tar.gz)
#   --cells LIST     comma-separated cell types the archive must hold
#                    (default: the 56 of configs/paper/deepchrome_auc.csv)
#
# Nothing in DEST changes until the whole archive has been verified: its checksum, the gzip
# stream (a truncated download fails here), every expected cell type with three non-empty
# CSVs of whole genes (100 rows each). An interrupted download resumes where it stopped.
# Exit codes: 0 done, 1 download or verification failed, 2 bad usage.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
record=2652278
url="https://zenodo.org/records/${record}/files/data.tar.gz?download=1"
api="https://zenodo.org/api/records/${record}"
archive="" md5="" cells="" dest=""

die() { echo "download_data: error: $*" >&2; exit 1; }
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --archive) [ $# -ge 2 ] || usage; archive="$2"; shift 2 ;;
    --md5) [ $# -ge 2 ] || usage; md5="$2"; shift 2 ;;
    --url) [ $# -ge 2 ] || usage; url="$2"; api=""; shift 2 ;;
    --cells) [ $# -ge 2 ] || usage; cells="$2"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "download_data: unknown option $1" >&2; usage ;;
    *) [ -z "$dest" ] || usage; dest="$1"; shift ;;
  esac
done
[ -n "$dest" ] || usage

if [ -z "$cells" ]; then
  table="$here/configs/paper/deepchrome_auc.csv"
  [ -r "$table" ] || die "$table: cannot read the list of the paper's cell types"
  cells="$(tail -n +2 "$table" | cut -d, -f1 | tr '\n' ',' | sed 's/,$//')"
fi
IFS=',' read -r -a expected <<< "$cells"

# One cell type's folder is complete: three non-empty CSVs of whole genes.
check_cell() {
  local dir="$1" f rows
  for f in train valid test; do
    [ -s "$dir/classification/$f.csv" ] || { echo "$dir/classification/$f.csv: missing or empty"; return 1; }
    rows=$(wc -l < "$dir/classification/$f.csv")
    [ $((rows % 100)) -eq 0 ] || { echo "$dir/classification/$f.csv: $rows rows, not whole genes of 100 bins"; return 1; }
  done
}

mkdir -p "$dest"
complete=1
for c in "${expected[@]}"; do
  check_cell "$dest/$c" > /dev/null 2>&1 || { complete=0; break; }
done
if [ "$complete" -eq 1 ]; then
  echo "download_data: $dest already holds all ${#expected[@]} cell types; nothing to do"
  exit 0
fi

work="$dest/.download"
mkdir -p "$work"

if [ -z "$archive" ]; then
  if ! command -v curl > /dev/null; then
    echo "download_data: installing curl" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -q curl > /dev/null || die "curl is needed to download the data (apt-get install curl)"
  fi
  if [ -z "$md5" ] && [ -n "$api" ]; then
    # The record's metadata gives the archive's checksum.
    meta="$(curl -fsSL --max-time 60 "$api" 2> /dev/null)" ||
      die "cannot reach zenodo.org ($api): are you offline? Download https://zenodo.org/records/$record/files/data.tar.gz elsewhere and run: $0 --archive data.tar.gz $dest"
    md5="$(printf '%s' "$meta" | tr -d '\n' | sed 's/"key"/\n"key"/g' | grep '"key": *"data.tar.gz"' |
           grep -o 'md5:[0-9a-f]\{32\}' | head -1 | cut -d: -f2 || true)"
    [ -n "$md5" ] || echo "download_data: warning: no checksum for data.tar.gz in the Zenodo record; checking the contents only" >&2
  fi
  part="$work/data.tar.gz.part"
  echo "download_data: downloading $url (about 1 GB; resumes if interrupted)"
  curl -fL --retry 3 --connect-timeout 30 -C - -o "$part" "$url" ||
    die "the download from $url failed (offline, or the server refused); run the same command again to resume"
  mv -f "$part" "$work/data.tar.gz"
  archive="$work/data.tar.gz"
fi
[ -r "$archive" ] || die "$archive: cannot read the archive"

if [ -n "$md5" ]; then
  echo "download_data: checking the MD5 of $archive"
  got="$(md5sum < "$archive" | cut -d' ' -f1)"
  [ "$got" = "$md5" ] || die "$archive: MD5 $got, expected $md5: the archive is incomplete or corrupt (delete it and download again)"
fi
echo "download_data: checking the gzip stream"
gzip -t < "$archive" 2> /dev/null || die "$archive: the archive is incomplete or corrupt (gzip check failed); delete it and download again"

unpack="$work/unpack"
rm -rf "$unpack"
mkdir -p "$unpack"
echo "download_data: unpacking"
tar -xzf "$archive" -C "$unpack" || die "$archive: cannot unpack the archive (incomplete or corrupt)"

# Find each cell type's folder wherever the archive put it (e.g. data/<cell>/classification).
declare -A found=()
while IFS= read -r train; do
  celldir="$(dirname "$(dirname "$train")")"
  found["$(basename "$celldir")"]="$celldir"
done < <(find "$unpack" -path '*/classification/train.csv' -type f)

missing=()
for c in "${expected[@]}"; do
  [ -n "${found[$c]:-}" ] || { missing+=("$c"); continue; }
  msg="$(check_cell "${found[$c]}")" || die "the archive is incomplete: $msg"
done
[ ${#missing[@]} -eq 0 ] || die "the archive is incomplete: no data for ${#missing[@]} of the ${#expected[@]} cell types (${missing[*]})"

# Verified: move the cell types into place, each replacing any older copy.
for c in "${expected[@]}"; do
  rm -rf "${dest:?}/$c"
  mv "${found[$c]}" "$dest/$c"
done
rm -rf "$unpack"
[ "$archive" != "$work/data.tar.gz" ] || rm -f "$archive"
rmdir "$work" 2> /dev/null || true
echo "download_data: $dest holds ${#expected[@]} cell types (<cell>/classification/{train,valid,test}.csv)"
if [ "${dest%/}" = "data" ]; then
  echo "next: build/deepchrome sweep configs/paper/deepchrome_56.json"
else
  echo "next: build/deepchrome sweep configs/paper/deepchrome_56.json --set data.root=${dest%/}"
fi
