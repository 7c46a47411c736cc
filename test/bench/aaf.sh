#!/usr/bin/env bash
# Measures the AAF import, prints figures (never asserts them):
#   - first import of a generated delivery on PostgreSQL and on SQLite,
#   - a forced re-import of the same, unchanged delivery,
#   - the Delta derived from the same seed,
#   - peak memory of each (GNU time),
#   - OpenLDAP slapadd of an LDIF of the same accounts, and our ratio to it.
#
#   test/bench/aaf.sh [STUDENTS]        default 100000 (about 270,000 records, 263,000 accounts)
#
# Needs the PostgreSQL server binaries, slapd (slapadd) and GNU time; run
# ./test/run.sh once as root to install them. Everything lives in a temp
# folder removed on exit.
set -euo pipefail
students=${1:-100000}
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/enthub-bench.XXXXXX)
chmod 755 "$work"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
cleanup() {
	[[ -n "${pgbin:-}" && -d "$work/pg" ]] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
# Figures also go to test/bench/out/aaf.json (test/bench/figures.py; run.sh gathers them).
json=$PWD/test/bench/out/aaf.json
mkdir -p "$(dirname "$json")"
rm -f "$json"
figure() { /usr/bin/python3 test/bench/figures.py add "$json" aaf "$@"; }

go build -o "$work/enthub" ./cmd/enthub
enthub=$work/enthub
timed() { # timed NAME CMD... : runs CMD, prints its wall time and peak RSS
	local name=$1
	shift
	/usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
		cat "$work/$name.err" >&2
		return 1
	}
	read -r secs kb <"$work/time"
	printf '%-34s %8.1f s   peak RSS %5d MB   %s\n' "$name" "$secs" $((kb / 1024)) "$(grep -E 'records in' "$work/$name.out" | sed 's/^ *//')"
	figure "$name" "$secs" s
	figure "$name, peak RSS" $((kb / 1024)) MB
}

echo "== generate $students students"
timed generate "$enthub" aaf generate --out "$work/complet" --students "$students" --seed 1
timed generate-delta "$enthub" aaf generate --out "$work/delta" --students "$students" --seed 1 --delta
# The issue's yardstick is a Delta of 5,000 changes: 1 % of 100,000 students
# moving, arriving, leaving… gives about that many records.
timed generate-delta-5k "$enthub" aaf generate --out "$work/delta5k" --students "$students" --seed 1 --delta --delta-rate 0.01
records=$(grep -c '<addRequest>' "$work"/complet/*.xml | awk -F: '{s+=$2} END {print s}')
echo "   $records records, $(du -sm "$work/complet" | cut -f1) MB"

echo "== PostgreSQL"
install -d -o postgres "$work/pg" "$work/pgsock"
runuser -u postgres -- "$pgbin/initdb" -D "$work/pg" -U postgres -A trust -E UTF8 --no-locale >/dev/null
port=$(( (RANDOM % 10000) + 40000 ))
runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" -o "-p $port -k $work/pgsock -c listen_addresses=127.0.0.1" -w start >/dev/null
"$pgbin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c 'CREATE DATABASE bench'
pg="postgres://postgres@127.0.0.1:$port/bench?sslmode=disable"
timed pg-first-import "$enthub" aaf import "$work/complet" --db "$pg" --log-level warn
timed pg-reimport-unchanged "$enthub" aaf import "$work/complet" --db "$pg" --force --log-level warn
"$pgbin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c 'CREATE DATABASE bench_before_delta TEMPLATE bench'
timed pg-delta "$enthub" aaf import "$work/delta" --db "$pg" --log-level warn
echo "   $(grep -c 'Request>' "$work"/delta5k/*.xml | awk -F: '{s+=$2} END {print s/2}') records in the 5k Delta"
timed pg-delta-5k "$enthub" aaf import "$work/delta5k" --db "postgres://postgres@127.0.0.1:$port/bench_before_delta?sslmode=disable" --log-level warn
accounts=$("$pgbin/psql" -At -h 127.0.0.1 -p "$port" -U postgres -d bench -c "SELECT count(*) FROM accounts")

echo "== SQLite"
timed sqlite-first-import "$enthub" aaf import "$work/complet" --db "sqlite:$work/bench.db" --log-level warn
timed sqlite-reimport-unchanged "$enthub" aaf import "$work/complet" --db "sqlite:$work/bench.db" --force --log-level warn

echo "== OpenLDAP slapadd of the same $accounts accounts"
"$pgbin/psql" -At -h 127.0.0.1 -p "$port" -U postgres -d bench -c "
	SELECT format(E'dn: uid=%s,ou=people,dc=enthub\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s %s\nsn: %s\ngivenName: %s\ndisplayName: %s %s\nemployeeNumber: %s\n%s',
		a.login, a.login, p.first_name, p.last_name, coalesce(nullif(p.last_name, ''), '-'), p.first_name, p.first_name, p.last_name,
		p.aaf_id, CASE WHEN p.email <> '' THEN 'mail: ' || p.email || E'\n' ELSE '' END)
	FROM accounts a JOIN persons p ON p.id = a.person_id" >"$work/people.ldif"
{
	printf 'dn: dc=enthub\nobjectClass: dcObject\nobjectClass: organization\ndc: enthub\no: enthub\n\n'
	printf 'dn: ou=people,dc=enthub\nobjectClass: organizationalUnit\nou: people\n\n'
	cat "$work/people.ldif"
} >"$work/all.ldif"
mkdir -p "$work/ldap/db"
cat >"$work/ldap/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "dc=enthub"
rootdn "cn=admin,dc=enthub"
directory $work/ldap/db
maxsize 8589934592
index objectClass eq
index uid eq
index employeeNumber eq
CONF
timed slapadd slapadd -q -f "$work/ldap/slapd.conf" -l "$work/all.ldif"
slapsecs=$(awk '{print $1}' "$work/time")

echo "== figures"
pgsecs=$(grep -oE 'records in [0-9.]+ s' "$work/pg-first-import.out" | grep -oE '[0-9.]+')
awk -v r="$records" -v a="$accounts" -v p="$pgsecs" -v s="$slapsecs" 'BEGIN {
	printf "PostgreSQL first import: %.0f records/s, %.0f accounts/s\n", r / p, a / p
	printf "slapadd -q:              %.0f entries/s\n", (a + 2) / s
	printf "ratio (our accounts/s to slapadd entries/s): %.2f\n", (a / p) / ((a + 2) / s)
	printf "%.0f %.0f %.0f %.2f\n", r / p, a / p, (a + 2) / s, (a / p) / ((a + 2) / s) > "/dev/stderr"
}' 2>"$work/figures"
read -r rps aps sps ratio <"$work/figures"
figure "PostgreSQL first import ($students students)" "$rps" records/s
figure "PostgreSQL first import, accounts" "$aps" accounts/s
figure "slapadd -q of the same accounts" "$sps" entries/s
figure "ratio first import accounts/s / slapadd entries/s" "$ratio" x
