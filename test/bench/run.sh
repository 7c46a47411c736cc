#!/usr/bin/env bash
# Runs every bench suite in full and prints one table of all their figures,
# with the date, the machine (CPU model, cores, RAM) and the commit; writes
# the same as JSON in test/bench/out/bench.json (and a copy named by date
# and commit, to compare runs):
#   aaf        test/bench/aaf.sh        AAF import, PostgreSQL and SQLite, against slapadd
#   ldap       test/bench/ldap.sh       the LDAP front against slapd
#   sso        test/bench/sso.sh        complete logins: the 8:00 wave, the soak, beside LDAP
#                                       searches and an AAF import; brokered logins (simulated EduConnect)
#   lemonldap  test/bench/lemonldap.sh  CAS against Debian's LemonLDAP::NG, alternately
#   chaos      test/bench/chaos.sh      fault recoveries and attacks (test/chaos, long versions)
#
#   test/bench/run.sh [STUDENTS]        default 100000
#
# SUITES=aaf,ldap,sso,lemonldap,chaos chooses; each suite's own variables
# (WAVE, SOAK, ROUNDS…) pass through. Every suite runs even when another
# failed; its log is test/bench/out/<suite>.log.
#
# The convention (test/bench/figures.py): a suite writes its figures to
# test/bench/out/<suite>.json — {"name", "date", "commit", "figures":
# [{"name", "value", "unit"}], "notes": [...], "not_run": "reason"} —
# with `figures.py add|note|notrun`. This script gathers every
# out/<suite>.json; a suite that wrote none is listed as not run, with the
# end of its log.
set -uo pipefail
students=${1:-100000}
suites=${SUITES:-aaf,ldap,sso,lemonldap,chaos}
cd "$(dirname "$0")/../.."
out=test/bench/out
mkdir -p "$out"
figures() { /usr/bin/python3 test/bench/figures.py "$@"; }
files=()
for s in ${suites//,/ }; do
	script=test/bench/$s.sh
	json=$out/$s.json
	files+=("$json")
	if [[ ! -x "$script" ]]; then
		# A suite may write its JSON by other means (a Go test); keep what is there.
		[[ -f "$json" ]] || figures notrun "$json" "$s" "no $script in this tree"
		continue
	fi
	rm -f "$json"
	printf '==> %s (%s)   load %s\n' "$s" "$script" "$(cut -d' ' -f1-3 /proc/loadavg)"
	t0=$SECONDS
	case $s in
	aaf | ldap | sso) "$script" "$students" >"$out/$s.log" 2>&1 ;;
	*) "$script" >"$out/$s.log" 2>&1 ;;
	esac
	rc=$?
	printf '    exit %d after %d s, log %s\n' "$rc" $((SECONDS - t0)) "$out/$s.log"
	if [[ ! -f "$json" ]]; then
		figures notrun "$json" "$s" "exit $rc without figures: $(tail -3 "$out/$s.log" | tr '\n' ' ')"
	elif ((rc != 0)); then
		figures note "$json" "$s" "the suite exited with status $rc (see $out/$s.log)"
	fi
done
echo
figures table "$out/bench.json" "${files[@]}"
stamp=$(date -u +%Y%m%dT%H%M%SZ)-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cp "$out/bench.json" "$out/bench-$stamp.json"
echo "copy: $out/bench-$stamp.json"
