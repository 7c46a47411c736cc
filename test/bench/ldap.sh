#!/usr/bin/env bash
# Measures enthub's LDAP front against OpenLDAP slapd (back_mdb) loaded with
# the same entries, with the same client (test/bench/ldapbench, go-ldap) and
# the same keys; prints figures (never asserts them):
#   - uid       (uid=X), subtree under the base
#   - jointure  (ENTPersonJointure=X), subtree under the base
#   - class     base search on a class entry returning member
#   - members   (isMemberOf=<class DN>) one level under ou=people
#   - paged     a whole school, (ENTPersonStructRattach=<school DN>) one level
#               under ou=people, pages of 500
# each on 1, 16 and 50 connections, then a table with both servers' ops/s and
# p99 and the ratio enthub/slapd, with the load average seen by each run.
#
#   test/bench/ldap.sh [STUDENTS]     default 100000 (about 263,000 accounts)
#
# Environment: OPS (operations per run of uid, jointure and class, default
# 20000), MEMBERS_OPS (default 4000), PAGED_OPS (default 200), ROUNDS
# (default 3: each figure is the median of that many runs, enthub and
# slapd back to back, alternating which goes first), WORKERS (default
# 1,16,50), MODES (default uid,jointure,class,members,paged),
# KEEP=1 keeps the work folder; WORK=DIR uses (and keeps) DIR, reusing the
# database and the slapd of an earlier run there (delete DIR to start over).
#
# How: builds enthub and ldapbench; generates a delivery (enthub aaf
# generate) and imports it into SQLite; starts `enthub serve` with LDAP on a
# free port and a service account; dumps the whole tree from enthub with
# ldapsearch (paged, user attributes: the SDET ones slapd's schema knows;
# operational attributes are left to slapadd) and loads it with slapadd -q,
# schema checked, into a throwaway slapd (mdb, core/cosine/inetorgperson/nis and the SDET
# schemas of shared/reference/sdet-ldap, eq indexes on objectClass, uid,
# ENTPersonJointure, ENTPersonLogin, member, isMemberOf and
# ENTPersonStructRattach: what an administrator would index for these
# queries). slapd is read as its rootDN (no ACL evaluation: its best case).
# Needs slapd, ldap-utils and python3 (./test/run.sh installs the first two).
set -euo pipefail
students=${1:-100000}
ops=${OPS:-20000}
members_ops=${MEMBERS_OPS:-4000}
paged_ops=${PAGED_OPS:-200}
rounds=${ROUNDS:-3}
workers=${WORKERS:-1,16,50}
modes=${MODES:-uid,jointure,class,members,paged}
cd "$(dirname "$0")/../.."
repo=$PWD
if [[ -n "${WORK:-}" ]]; then
	work=$(realpath -m "$WORK")
	KEEP=1
	mkdir -p "$work"
else
	work=$(mktemp -d /tmp/enthub-ldapbench.XXXXXX)
fi
chmod 755 "$work"
enthub_pid=
slapd_pid=
cleanup() {
	[[ -n "$enthub_pid" ]] && kill "$enthub_pid" 2>/dev/null && wait "$enthub_pid" 2>/dev/null
	[[ -n "$slapd_pid" ]] && kill "$slapd_pid" 2>/dev/null && wait "$slapd_pid" 2>/dev/null
	if [[ -n "${KEEP:-}" ]]; then
		echo "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for bin in slapd slapadd ldapsearch ldapwhoami python3; do
	command -v "$bin" >/dev/null || { echo "ldap.sh: $bin is missing (run ./test/run.sh once as root)" >&2; exit 1; }
done
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
step() { printf '== %s   (load %s)\n' "$*" "$(loadavg)"; }
timed() { # timed NAME CMD... : runs CMD, prints its wall time
	local name=$1 t0=$SECONDS
	shift
	"$@" >"$work/$name.out" 2>"$work/$name.err" || {
		tail -20 "$work/$name.err" >&2
		return 1
	}
	printf '   %-28s %5d s\n' "$name" $((SECONDS - t0))
}
waitfor() { # waitfor WHAT SECONDS CMD...
	local what=$1 limit=$2
	shift 2
	for ((i = 0; i < limit * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "ldap.sh: $what did not come up in ${limit}s" >&2
	return 1
}

step "build"
go build -o "$work/enthub" ./cmd/enthub
go build -o "$work/ldapbench" ./test/bench/ldapbench
enthub=$work/enthub
bench=$work/ldapbench

if [[ -f "$work/imported" ]]; then
	step "reusing the database of $work"
else
	step "generate and import $students students (SQLite)"
	rm -rf "$work/complet" "$work"/enthub.db*
	timed generate "$enthub" aaf generate --out "$work/complet" --students "$students" --seed 1
	timed import "$enthub" aaf import "$work/complet" --db "sqlite:$work/enthub.db" --log-level warn
	touch "$work/imported"
fi

step "start enthub serve"
base=dc=enthub
bind_dn=cn=bench,ou=services,$base
bind_pw=bench-secret
hash=$(printf '%s' "$bind_pw" | "$enthub" hash-password)
http_port=$(freeport)
ldap_port=$(freeport)
cat >"$work/enthub.yaml" <<CONF
public_url: http://127.0.0.1:$http_port
db: sqlite:$work/enthub.db
log:
  level: warn
http:
  listen: 127.0.0.1:$http_port
ldap:
  enabled: true
  listen: 127.0.0.1:$ldap_port
  base_dn: $base
  max_connections: 4096
  service_accounts:
    - dn: $bind_dn
      password_hash: "$hash"
aaf:
  inbox: ""
CONF
"$enthub" config check --config "$work/enthub.yaml" >/dev/null
t0=$SECONDS
"$enthub" serve --config "$work/enthub.yaml" >"$work/enthub.log" 2>&1 &
enthub_pid=$!
enthub_url=ldap://127.0.0.1:$ldap_port
waitfor "enthub LDAP" 600 ldapwhoami -x -H "$enthub_url" -D "$bind_dn" -w "$bind_pw"
printf '   %-28s %5d s   RSS %d MB\n' "ready" $((SECONDS - t0)) $(($(awk '/VmRSS/ {print $2}' /proc/$enthub_pid/status) / 1024))

dump_and_load() { # dumps enthub's tree into an LDIF and loads it into a new slapd database
	step "dump the tree from enthub"
	t0=$SECONDS
	ldapsearch -x -LLL -o ldif-wrap=no -H "$enthub_url" -D "$bind_dn" -w "$bind_pw" -b "$base" \
		-E pr=1000/noprompt '(objectClass=*)' '*' >"$work/dump.ldif"
	# -LLL keeps the paging comments out; drop anything slapd would refuse as
	# user input (none expected: '*' returns no operational attribute).
	grep -v -E '^(#|entryUUID|entryDN|createTimestamp|modifyTimestamp|subschemaSubentry|hasSubordinates|structuralObjectClass|memberOf)(:|$)' \
		"$work/dump.ldif" >"$work/slapd.ldif"
	entries=$(grep -c '^dn:' "$work/slapd.ldif")
	printf '   %-28s %5d s   %d entries, %d MB\n' "ldapsearch pr=1000" $((SECONDS - t0)) "$entries" $(($(stat -c %s "$work/slapd.ldif") >> 20))

	step "load slapd (slapadd -q)"
	schemas=$repo/../shared/reference/sdet-ldap/recia-docker-openldap-test
	[[ -d "$schemas" ]] || schemas=/work/shared/reference/sdet-ldap/recia-docker-openldap-test
	rm -rf "$work/slapd"
	mkdir -p "$work/slapd/db"
	{
		for f in core cosine inetorgperson nis; do echo "include /etc/ldap/schema/$f.schema"; done
		# The load order of test/peer.SDETSchemas (the OID macros first).
		for f in 11-esco-const 05-ldappc 13-esco-personne 16-esco-addons 17-esco-structure 21-esco-groupe 31-esco-mail 51-esco-application; do
			echo "include $schemas/$f.schema"
		done
		cat <<-CONF
	pidfile $work/slapd/slapd.pid
	argsfile $work/slapd/slapd.args
	modulepath /usr/lib/ldap
	moduleload back_mdb
	sizelimit unlimited
	loglevel none

	database mdb
	suffix "$base"
	rootdn "cn=admin,$base"
	rootpw secret
	directory $work/slapd/db
	maxsize 17179869184
	index objectClass eq
	index uid eq
	index ENTPersonJointure eq
	index ENTPersonLogin eq
	index member eq
	index isMemberOf eq
	index ENTPersonStructRattach eq
	access to * by * read
	CONF
	} >"$work/slapd/slapd.conf"
	# With schema checking: the served entries must be valid SDET entries.
	timed slapadd slapadd -q -f "$work/slapd/slapd.conf" -l "$work/slapd.ldif"
	touch "$work/slapd/loaded"
}
if [[ -f "$work/slapd/loaded" ]]; then
	step "reusing the slapd database of $work"
	entries=$(grep -c '^dn:' "$work/slapd.ldif")
else
	dump_and_load
fi
slapd_port=$(freeport)
slapd_url=ldap://127.0.0.1:$slapd_port
slapd -d 0 -f "$work/slapd/slapd.conf" -h "$slapd_url/" >"$work/slapd.log" 2>&1 &
slapd_pid=$!
waitfor "slapd" 60 ldapwhoami -x -H "$slapd_url" -D "cn=admin,$base" -w secret
slapd_count=$(ldapsearch -x -LLL -H "$slapd_url" -D "cn=admin,$base" -w secret -b "$base" -E pr=1000/noprompt '(objectClass=*)' 1.1 | grep -c '^dn:')
echo "   slapd serves $slapd_count entries (enthub dumped $entries)"

step "keys"
"$bench" -url "$enthub_url" -bind "$bind_dn" -pw "$bind_pw" -base "$base" -write-keys "$work/keys" | sed 's/^/   /'

run() { # run ROUND LABEL URL BIND PW MODE WORKERS OPS PID
	local keys=$6
	[[ $6 == members ]] && keys=class
	"$bench" -label "$2" -url "$3" -bind "$4" -pw "$5" -base "$base" -mode "$6" -workers "$7" -n "$8" -pid "$9" \
		-keys "$work/keys/$keys.txt" | sed "s/^RESULT /RESULT $1 /" | tee -a "$work/results.txt"
}
: >"$work/results.txt"
for mode in ${modes//,/ }; do
	case $mode in
	members) n=$members_ops ;;
	paged) n=$paged_ops ;;
	*) n=$ops ;;
	esac
	step "$mode: $n operations per run, $rounds rounds"
	for w in ${workers//,/ }; do
		for ((r = 1; r <= rounds; r++)); do
			# Alternate who goes first, so that a drift of the machine's
			# load does not always favour the same server.
			if ((r % 2)); then
				run "$r" enthub "$enthub_url" "$bind_dn" "$bind_pw" "$mode" "$w" "$n" "$enthub_pid"
				run "$r" slapd "$slapd_url" "cn=admin,$base" secret "$mode" "$w" "$n" "$slapd_pid"
			else
				run "$r" slapd "$slapd_url" "cn=admin,$base" secret "$mode" "$w" "$n" "$slapd_pid"
				run "$r" enthub "$enthub_url" "$bind_dn" "$bind_pw" "$mode" "$w" "$n" "$enthub_pid"
			fi
		done
	done
done

echo
echo "== figures: $students students, $entries entries; $(nproc) cores shared by client and servers; medians of $rounds rounds"
echo "   enthub RSS $(($(awk '/VmRSS/ {print $2}' /proc/$enthub_pid/status) / 1024)) MB, slapd RSS $(($(awk '/VmRSS/ {print $2}' /proc/$slapd_pid/status) / 1024)) MB, mdb $(du -sm "$work/slapd/db" | cut -f1) MB"
echo "   cpu: server CPU µs per operation (user+system); load: 1-minute load average after the runs;"
echo "   ratio: enthub/slapd ops/s, median of the per-round ratios (each round runs both servers back to back)"
awk '
	function median(list,    n, v, i, j, x) {
		n = split(list, v, " ")
		for (i = 2; i <= n; i++) { x = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
		return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	$1 == "RESULT" {
		k = $4 SUBSEP $5; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
		s = $3; rate[s, k] = rate[s, k] " " $7; p50[s, k] = p50[s, k] " " $8; p99[s, k] = p99[s, k] " " $9
		epo[k] = $10; load[s, k] = load[s, k] " " $11; cpu[s, k] = cpu[s, k] " " $12; one[$2, s, k] = $7; rounds[k, $2] = 1
	}
	END {
		printf "%-8s %7s %8s | %8s %7s %7s %5s %5s | %8s %7s %7s %5s %5s | %5s\n", "mode", "clients", "entr/op",
			"enthub/s", "p50 ms", "p99 ms", "cpu", "load", "slapd/s", "p50 ms", "p99 ms", "cpu", "load", "ratio"
		for (i = 1; i <= n; i++) {
			k = order[i]; split(k, kk, SUBSEP); ratios = ""
			for (r = 1; (k, r) in rounds; r++)
				if (one[r, "slapd", k] > 0) ratios = ratios " " one[r, "enthub", k] / one[r, "slapd", k]
			printf "%-8s %7s %8s | %8.0f %7.2f %7.2f %5.0f %5.2f | %8.0f %7.2f %7.2f %5.0f %5.2f | %5.2f\n", kk[1], kk[2], epo[k],
				median(rate["enthub", k]), median(p50["enthub", k]), median(p99["enthub", k]), median(cpu["enthub", k]), median(load["enthub", k]),
				median(rate["slapd", k]), median(p50["slapd", k]), median(p99["slapd", k]), median(cpu["slapd", k]), median(load["slapd", k]),
				median(ratios)
		}
	}' "$work/results.txt" | tee "$work/table.txt"
# The same figures in test/bench/out/ldap.json (test/bench/figures.py; run.sh gathers them).
json=$repo/test/bench/out/ldap.json
mkdir -p "$(dirname "$json")"
rm -f "$json"
awk -F'|' 'NR > 1 { split($1, k, " "); split($2, e, " "); split($3, l, " ")
	printf "%s %s %s %s %s %s %s\n", k[1], k[2], e[1], e[3], l[1], l[3], $4 + 0 }' "$work/table.txt" |
	while read -r mode clients eps ep99 sps sp99 ratio; do
		for f in "$mode $clients clients: enthub|$eps|ops/s" "$mode $clients clients: enthub p99|$ep99|ms" \
			"$mode $clients clients: slapd|$sps|ops/s" "$mode $clients clients: slapd p99|$sp99|ms" "$mode $clients clients: ratio enthub/slapd|$ratio|x"; do
			IFS='|' read -r name value unit <<<"$f"
			/usr/bin/python3 "$repo/test/bench/figures.py" add "$json" ldap "$name" "$value" "$unit"
		done
	done
/usr/bin/python3 "$repo/test/bench/figures.py" note "$json" ldap "$students students, $entries entries; medians of $rounds rounds; $(nproc) cores shared by client and servers"
