#!/usr/bin/env bash
# Measures the GAR-ENT export through the binary, prints figures (never asserts them):
#   - generate and import a delivery of STUDENTS students (SQLite),
#   - enthub gar export of every school: wall time, peak RSS (GNU time), files, elements,
#   - the same export validated by xmllint --schema (when installed), timed apart.
#
#   test/bench/gar.sh [STUDENTS]        default 100000
#
# The issue's yardstick: 100,000 students exported in under 30 s and under 256 MB.
set -euo pipefail
students=${1:-100000}
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/enthub-garbench.XXXXXX)
trap 'rm -rf "$work"' EXIT

go build -o "$work/enthub" ./cmd/enthub
enthub=$work/enthub
db="sqlite:$work/e.db"
timed() { # timed NAME CMD... : runs CMD, prints its wall time and peak RSS
	local name=$1
	shift
	/usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
		cat "$work/$name.err" >&2
		return 1
	}
	read -r secs kb user sys <"$work/time"
	printf '%-24s %8.1f s   peak RSS %5d MB   CPU %6.1f s (load average %s)\n' "$name" "$secs" $((kb / 1024)) \
		"$(echo "$user + $sys" | bc)" "$(cut -d' ' -f1 /proc/loadavg)"
}

echo "== $students students"
timed generate "$enthub" aaf generate --out "$work/aaf" --students "$students" --seed 1
timed import "$enthub" aaf import "$work/aaf" --db "$db" --log-level warn
schools=$("$enthub" dir stats --json --db "$db" | grep -o '"uai": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/' | paste -sd, -)
export ENTHUB_GAR_ID_ENT=ENT-BENCH ENTHUB_GAR_SCHOOLS=$schools
ENTHUB_GAR_ID_SECRET=$(head -c32 /dev/urandom | base64)
export ENTHUB_GAR_ID_SECRET
timed gar-export "$enthub" gar export --out "$work/gar" --db "$db" --log-level warn
sed 's/^/   /' "$work/gar-export.out"
echo "   $(ls "$work"/gar/*/ | wc -l) files, $(du -sm "$work/gar" | cut -f1) MB with the archive"
if command -v xmllint >/dev/null; then
	dir=$(ls -d "$work"/gar/*/)
	schema=../shared/reference/gar/GAR-ENT.xsd
	timed xmllint-schema xmllint --noout --schema "$schema" "$dir"*.xml
	grep -c ' validates$' "$work/xmllint-schema.err" | sed 's/^/   files valid: /'
fi
