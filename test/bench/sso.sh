#!/usr/bin/env bash
# Measures complete SSO logins over HTTP on loopback against `enthub serve`
# on PostgreSQL, with a generated directory (test/bench/loadgen, package
# test/bench/load); prints figures, never asserts them:
#   - wave     the 8:00 wave: WAVE logins (default 20,000: a school's morning
#              in 15 minutes) as fast as they hold with VUS virtual users,
#              and how much the 15 minutes were compressed
#   - soak     SOAK (default 10m) of logins; enthub's RSS sampled every
#              second, its slope after the first fifth of the run reported
#   - ldap     logins while test/bench/ldapbench searches (uid, 16 clients)
#   - import   logins while `enthub aaf import --force` re-applies the whole
#              Complet (every record parsed, checked and compared in one
#              transaction)
#   - brokered the brokered journey: chooser → simulated EduConnect
#              (`loadgen educonnect`, beside enthub, signed and encrypted
#              assertions for any generated student) → service
# Every login is a fresh browser with a unique student identity, through
# the local password form (enthub's argon2id cost; ARGON2=light for 1 MiB,
# 1 pass, to see the SSO without the password hash), ending at a CAS, OIDC
# or SAML relying party in turn that validates what it got
# (serviceValidate; token + userinfo; the SAML response).
#
#   test/bench/sso.sh [STUDENTS]          default 100000
#
# With the simulated EduConnect configured, enthub shows its login chooser:
# the password journeys take the student profile, then the password form.
#
# Environment: WAVE (20000), VUS (32), SOAK (10m), SOAK_VUS (8), MIX (60s:
# logins during the LDAP, import and brokered scenarios), MEMORY_LIMIT
# (enthub's memory_limit_mib, default 512 + 20 per 1,000 students, above
# the unbounded peak measured at 100,000 — a tighter limit makes the
# collector eat the login rate, see README "Memory"; 0: none),
# ARGON2 (default|light), PROTOCOLS (the relying parties' protocols taken in
# turn, default cas,oidc,saml; cas alone compares with test/bench/brokered.sh,
# whose journey ends at a CAS service),
# SCENARIOS (wave,soak,ldap,import,brokered), KEEP=1 keeps the work folder.
# PROFILE=FILE writes a CPU profile of enthub during the brokered scenario
# (PROFILE_SECONDS, default 30, from its 5th second; http.pprof on the
# metrics listener) and prints its top entries. PG_STATEMENTS=1 loads
# pg_stat_statements in the throwaway PostgreSQL and prints, after each
# scenario, its statements by total time (calls, mean ms, rows a call):
# the statements whose cost grows with the directory stand out.
# Writes test/bench/out/sso.json (see figures.py) and the loadgen reports
# in test/bench/out/sso-reports.json.
# Needs the PostgreSQL server binaries (./test/run.sh installs them).
set -euo pipefail
students=${1:-100000}
wave=${WAVE:-20000}
vus=${VUS:-32}
soak=${SOAK:-10m}
soak_vus=${SOAK_VUS:-8}
mix=${MIX:-60s}
# A ceiling above the peak measured at 100,000 students (~1 GB while an
# AAF Complet is applied and the LDAP read model is rebuilt beside the old
# one; 511–550 MB otherwise), so that it only catches a runaway: a tighter
# limit makes the collector eat the login rate (README, "Memory").
memory_limit=${MEMORY_LIMIT:-$((512 + students * 20 / 1000))}
argon2=${ARGON2:-default}
scenarios=${SCENARIOS:-wave,soak,ldap,import,brokered}
protocols=${PROTOCOLS:-cas,oidc,saml}
cd "$(dirname "$0")/../.."
repo=$PWD
out=$repo/test/bench/out
mkdir -p "$out"
rm -f "$out/sso.json" "$out/sso-reports.json"
# shellcheck source=lib.sh
source "$repo/test/bench/lib.sh"
work=$(mktemp -d /tmp/enthub-ssobench.XXXXXX)
chmod 755 "$work"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
enthub_pid=
educonnect_pid=
cleanup() {
	[[ -n "$enthub_pid" ]] && kill "$enthub_pid" 2>/dev/null && wait "$enthub_pid" 2>/dev/null
	[[ -n "$educonnect_pid" ]] && kill "$educonnect_pid" 2>/dev/null && wait "$educonnect_pid" 2>/dev/null
	[[ -n "${pgbin:-}" && -d "$work/pg" ]] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
	if [[ -n "${KEEP:-}" ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [[ -z "$pgbin" ]]; then
	figures notrun "$out/sso.json" sso "no PostgreSQL server binaries (run ./test/run.sh once as root)"
	echo "sso.sh: no PostgreSQL server binaries" >&2
	exit 1
fi

step "build"
go build -o "$work/enthub" ./cmd/enthub
go build -o "$work/loadgen" ./test/bench/loadgen
go build -o "$work/ldapbench" ./test/bench/ldapbench
enthub=$work/enthub

step "PostgreSQL"
install -d -o postgres "$work/pg" "$work/pgsock"
runuser -u postgres -- "$pgbin/initdb" -D "$work/pg" -U postgres -A trust -E UTF8 --no-locale >/dev/null
pgport=$(freeport)
runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" \
	-o "-p $pgport -k $work/pgsock -c listen_addresses=127.0.0.1 -c max_connections=200${PG_STATEMENTS:+ -c shared_preload_libraries=pg_stat_statements}" -w start >/dev/null
"$pgbin/psql" -q -h 127.0.0.1 -p "$pgport" -U postgres -c 'CREATE DATABASE bench'
db="postgres://postgres@127.0.0.1:$pgport/bench?sslmode=disable"
psql_bench() { "$pgbin/psql" -q -h 127.0.0.1 -p "$pgport" -U postgres -d bench "$@"; }
[[ -n "${PG_STATEMENTS:-}" ]] && psql_bench -c 'CREATE EXTENSION pg_stat_statements'

step "generate and import $students students"
t0=$SECONDS
"$enthub" aaf generate --out "$work/complet" --students "$students" --seed 1 >/dev/null
"$enthub" aaf import "$work/complet" --db "$db" --log-level warn | tail -1
echo "   $((SECONDS - t0)) s"

step "give the students a password (argon2 $argon2)"
"$work/loadgen" setup -db "$db" -n "$students" -argon2 "$argon2" -users "$work/users.tsv" -services "$work/services.yaml" | sed 's/^/   /'

step "start enthub serve (HTTP and LDAP)"
bind_dn=cn=bench,ou=services,dc=enthub
bind_pw=bench-secret
hash=$(printf '%s' "$bind_pw" | "$enthub" hash-password)
http_port=$(freeport)
metrics_port=$(freeport)
ldap_port=$(freeport)
url=http://127.0.0.1:$http_port
"$work/loadgen" educonnect -enthub "$url" -dir "$work/educonnect" -config "$work/federation.yaml" >"$work/educonnect.log" 2>&1 &
educonnect_pid=$!
for ((i = 0; i < 100; i++)); do
	[[ -f "$work/federation.yaml" ]] && break
	kill -0 "$educonnect_pid" 2>/dev/null || { cat "$work/educonnect.log" >&2; exit 1; }
	sleep 0.1
done
cat >"$work/enthub.yaml" <<CONF
public_url: $url
db: $db
memory_limit_mib: $memory_limit
log:
  level: warn
http:
  listen: 127.0.0.1:$http_port
  metrics_listen: 127.0.0.1:$metrics_port
  pprof: true
$(bench_services_config)
ldap:
  enabled: true
  listen: 127.0.0.1:$ldap_port
  base_dn: dc=enthub
  max_connections: 4096
  service_accounts:
    - dn: $bind_dn
      password_hash: "$hash"
$(cat "$work/federation.yaml")
CONF
metrics=http://127.0.0.1:$metrics_port
start_enthub "$url" || exit 1
# The LDAP front listens once its read model (a copy of the directory) is
# built: wait for it, so that the scenarios' memory figures start from the
# working size rather than count the build.
for ((i = 0; i < 1500; i++)); do
	(exec 3<>"/dev/tcp/127.0.0.1/$ldap_port") 2>/dev/null && break
	kill -0 "$enthub_pid" 2>/dev/null || { tail -20 "$work/enthub.log" >&2; exit 1; }
	sleep 0.2
done

reports=$out/sso-reports.json
failed=0
# Identities are not reused between scenarios (until the directory is
# exhausted): each scenario starts after the last one used.
next_user=0
lg() { # lg SCENARIO ARGS...: one loadgen run; a failed run is counted, the bench goes on
	local name=$1
	shift
	step "$name"
	[[ -n "${PG_STATEMENTS:-}" ]] && psql_bench -c 'SELECT pg_stat_statements_reset()' >/dev/null
	"$work/loadgen" run -url "$url" -users "$work/users.tsv" -pid "$enthub_pid" -scenario "$name" -json "$reports" -protocols "$protocols" \
		-metrics-url "$metrics/metrics" -first-user "$next_user" "$@" || failed=$((failed + 1))
	next_user=$(/usr/bin/python3 -c "import json; r=json.load(open('$reports'))[-1]; print($next_user + r['journeys'] + r['errors'])")
	if [[ -n "${PG_STATEMENTS:-}" ]]; then
		echo "   PostgreSQL statements by total time during $name:"
		psql_bench -P pager=off -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
			round(rows::numeric / greatest(calls, 1), 1) AS rows_per_call, shared_blks_hit + shared_blks_read AS blocks, left(regexp_replace(query, '\s+', ' ', 'g'), 160) AS query
			FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench')
			ORDER BY total_exec_time DESC LIMIT ${PG_STATEMENTS_TOP:-25}" | sed 's/^/   /'
	fi
	kill -0 "$enthub_pid" 2>/dev/null || { echo "sso.sh: enthub died" >&2; tail -30 "$work/enthub.log" >&2; figures note "$out/sso.json" sso "enthub died during $name"; exit 1; }
}
for s in ${scenarios//,/ }; do
	case $s in
	wave)
		lg "8:00 wave" -vus "$vus" -n "$wave"
		secs=$(/usr/bin/python3 -c "import json; print(json.load(open('$reports'))[-1]['seconds'])")
		figures add "$out/sso.json" sso "8:00 wave: $wave logins of 15 min done in" "$secs" s
		figures add "$out/sso.json" sso "8:00 wave: compression (900 s / time taken)" "$(/usr/bin/python3 -c "print(round(900 / $secs, 1))")" x
		;;
	soak)
		# Heap profiles (in use) at the start, after each fifth and at the
		# end, to compare with go tool pprof -diff_base: RSS alone does not
		# tell a leak from memory the runtime keeps.
		secs=$(/usr/bin/python3 -c "import re; v,u=re.fullmatch(r'([0-9.]+)([smh])','$soak').groups(); print(float(v)*{'s':1,'m':60,'h':3600}[u])")
		mkdir -p "$out/heap"
		rm -f "$out"/heap/soak-*.pb.gz
		(for k in 0 1 2 3 4 5; do
			[[ $k -gt 0 ]] && sleep "$(/usr/bin/python3 -c "print($secs / 5)")"
			curl -fs "$metrics/debug/pprof/heap" -o "$out/heap/soak-$k.pb.gz" || true
		done) &
		heap_pid=$!
		lg "soak" -vus "$soak_vus" -duration "$soak"
		wait "$heap_pid" || true
		echo "   heap profiles: $out/heap/soak-{0..5}.pb.gz (go tool pprof -sample_index=inuse_space -diff_base soak-1.pb.gz soak-5.pb.gz)"
		;;
	ldap)
		"$work/ldapbench" -url "ldap://127.0.0.1:$ldap_port" -bind "$bind_dn" -pw "$bind_pw" -base dc=enthub -write-keys "$work/keys" >/dev/null
		lg "logins + LDAP searches" -vus "$vus" -duration "$mix" \
			-beside "ldap=$work/ldapbench -url ldap://127.0.0.1:$ldap_port -bind $bind_dn -pw $bind_pw -base dc=enthub -mode uid -workers 16 -n 100000 -warmup 0 -keys $work/keys/uid.txt -label enthub -pid $enthub_pid"
		;;
	import)
		lg "logins + AAF Complet import" -vus "$vus" -duration "$mix" \
			-beside "import=$enthub aaf import $work/complet --force --db '$db' --log-level warn"
		;;
	brokered)
		prof_pid=
		if [[ -n "${PROFILE:-}" ]]; then
			(sleep 5 && curl -fs "$metrics/debug/pprof/profile?seconds=${PROFILE_SECONDS:-30}" -o "$PROFILE") &
			prof_pid=$!
		fi
		lg "brokered logins" -journey brokered -vus "$vus" -duration "$mix"
		if [[ -n "$prof_pid" ]]; then
			wait "$prof_pid" || echo "sso.sh: no CPU profile (is the run shorter than ${PROFILE_SECONDS:-30} s + 5?)" >&2
			echo "   CPU profile $PROFILE (go tool pprof -top $PROFILE):"
			go tool pprof -top -nodecount=25 "$PROFILE" 2>/dev/null | sed 's/^/   /'
		fi
		;;
	*) echo "sso.sh: unknown scenario $s" >&2; exit 2 ;;
	esac
done
figures sso "$out/sso.json" "$reports"
figures note "$out/sso.json" sso "$students students; password logins, argon2 $argon2; relying parties $protocols; memory_limit_mib $memory_limit; $(nproc) cores shared by loadgen, enthub and PostgreSQL"
((failed == 0)) || figures note "$out/sso.json" sso "$failed scenario(s) had failed logins (see the error samples)"
echo "   wrote $out/sso.json"
((failed == 0))
