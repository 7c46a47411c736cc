#!/usr/bin/env bash
# enthub's one test command (CI runs it through .ci/run).
#
#   ./test/run.sh                          everything: install peers, gofmt, vet, staticcheck, go test ./...
#   ./test/run.sh -run TestSlapd ./test/...   extra arguments go to `go test`; vet and staticcheck
#                                          check the same packages (default ./...), gofmt the tree
#   ./test/run.sh --no-lint ./directory/...   skip gofmt/vet/staticcheck (quick local loop)
#   ./test/run.sh --no-install ...         never call apt-get or go install
#   ENTHUB_TEST_FUZZTIME=1m ./test/run.sh  every Fuzz* target of the packages for that long each
#                                          (default 5s; 0 skips the step, as does a -run flag)
#   ENTHUB_TEST_CHAOS_LONG=1 ./test/run.sh ./test/chaos/   the long fault and attack suites
#                                          (ENTHUB_TEST_*: enthub ignores these, other ENTHUB_
#                                          variables must be configuration keys)
#
# Arguments that start with "./", "../", "." or the module path are package patterns; every other
# argument is a `go test` flag. -count=1 and -timeout 30m are added unless given. go test's output
# goes through test/testreport (output of failing tests only, then the skipped tests with their
# reasons, then "tests: N passed, N failed, N skipped"), except with -v or -json.
#
# Every step runs even when an earlier one failed; the exit status is 1 if any failed.
#
# What the script prepares for the Go tests (read by package test/peer):
#   ENTHUB_TEST_POSTGRES  postgres://postgres@127.0.0.1:PORT/enthub_test?sslmode=disable, a throwaway
#                         cluster that lives as long as this script (stopped and removed on exit,
#                         also on failure or Ctrl-C). Already set: that server is used instead.
#                         Tests take a fresh database each with test/peer.Postgres(t).
#   ENTHUB_TEST_PEERS=1   every peer package below is installed: a test whose peer is missing fails
#                         instead of skipping (as it does when CI is set)
set -euo pipefail

# Debian packages the tests use. One apt-get install for all of them, only when one is missing.
PEER_PACKAGES=(
	postgresql                  # test/peer.Postgres: SQL store conformance on a real PostgreSQL
	slapd ldap-utils            # test/peer.Slapd: reference LDAP server; ldapsearch/ldapwhoami as LDAP clients
	apache2                     # test/peer.Apache: relying parties for the SSO end-to-end tests
	libapache2-mod-auth-mellon  #   SAML2 SP (mellon_create_metadata for test/peer.MellonSP)
	libapache2-mod-auth-openidc #   OIDC RP
	libapache2-mod-auth-cas     #   CAS client
	openssl                     # keys and certificates for the SP/IdP fixtures (mellon_create_metadata uses it)
	xmlsec1                     # independent check of the signatures enthub puts on SAML messages and metadata
	php-cli php-ldap            # PHP LDAP client, as the PHP apps (GRR, SPIP, Chamilo) bind to the directory
	chromium                    # test/peer.Chromium: portal pages in a real headless browser
	fonts-dejavu-core           #   so that screenshots show text, not boxes
	python3-pysaml2             # a second, independent SAML2 implementation (run with /usr/bin/python3)
	php-cas php-xml             # phpCAS, the CAS client of GRR, SPIP and most PHP school apps (php -S serves it)
	libxml2-utils               # xmllint --schema: independent check of the GAR-ENT export against the GAR's XSD
	openssh-server              # test/peer.SSHD: a real SFTP server (internal-sftp) the GAR delivery lands on
	haproxy                     # test/chaos: two enthub instances behind a round-robin load balancer
)
# sssd (NSS/PAM against the LDAP front) is left out: 39 packages for one test that does not exist yet.

STATICCHECK_VERSION=v0.7.0 # the only version the module proxy serves here

start=$SECONDS
cd "$(dirname "$0")/.."

is_ci() { [[ -n "${CI:-}" && "${CI:-}" != "false" && "${CI:-}" != "0" ]]; }
say() { printf '==> %s\n' "$*"; }
loud() {
	printf '\n' >&2
	printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
	printf '!!! %s\n' "$@" >&2
	printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' >&2
}
die() {
	loud "$@"
	exit 1
}

# --- arguments ---------------------------------------------------------------------------------
install=1
lint=1
test_flags=()
patterns=()
module=$(go list -m)
while (($#)); do
	case "$1" in
	--no-install) install=0 ;;
	--no-lint) lint=0 ;;
	--)
		shift
		for a in "$@"; do
			case "$a" in
			. | ./* | ../* | "$module" | "$module"/*) patterns+=("$a") ;;
			*) test_flags+=("$a") ;;
			esac
		done
		break
		;;
	. | ./* | ../* | "$module" | "$module"/*) patterns+=("$1") ;;
	*) test_flags+=("$1") ;;
	esac
	shift
done
((${#patterns[@]})) || patterns=(./...)
has_flag() {
	local f
	for f in "${test_flags[@]+"${test_flags[@]}"}"; do
		case "$f" in "$1" | "$1"=*) return 0 ;; esac
	done
	return 1
}
has_flag -count || test_flags=(-count=1 "${test_flags[@]+"${test_flags[@]}"}")
has_flag -timeout || test_flags=(-timeout 30m "${test_flags[@]+"${test_flags[@]}"}")

# --- Debian packages ---------------------------------------------------------------------------
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
	for p in "${PEER_PACKAGES[@]}"; do
		[[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" == installed ]] || missing+=("$p")
	done
else
	missing=("${PEER_PACKAGES[@]}")
fi
if ((${#missing[@]})); then
	if ((install)) && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
		say "installing ${#missing[@]} Debian package(s): ${missing[*]}"
		t0=$SECONDS
		export DEBIAN_FRONTEND=noninteractive
		if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
			say "apt-get took $((SECONDS - t0)) s"
			missing=()
		else
			is_ci && die "apt-get install failed"
			loud "apt-get install failed: tests that need ${missing[*]} will SKIP"
		fi
	else
		loud "Debian packages missing: ${missing[*]}" \
			"not root, no apt-get or --no-install: tests that need them SKIP locally and FAIL under CI"
	fi
fi
if ((${#missing[@]} == 0)); then
	export ENTHUB_TEST_PEERS=1
fi

# --- npm: the certified OIDC relying party and OpenID provider, axe-core for the pages -------------
# panva's openid-client (test/peer/oidcrp, run by test/peer.OpenIDClient), panva's oidc-provider
# (test/peer/oidcop, run by test/peer.OIDCProvider as the Entra ID-like upstream of the OIDC
# connector) and axe-core (test/peer/axe, injected into pages by test/peer.AxeCore), each at the exact
# versions of its package-lock.json, into its node_modules (ignored by git), run with the machine's
# Node.js. npm ci runs again only when a lock file changed since the last install.
for npmdir in test/peer/oidcrp:openid-client test/peer/oidcop:oidc-provider test/peer/axe:axe-core; do
	dir=${npmdir%%:*} pkg=${npmdir##*:}
	if cmp -s "$dir/package-lock.json" "$dir/node_modules/.enthub-installed-lock" 2>/dev/null; then
		continue
	fi
	if ((install)) && command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
		say "npm ci in $dir ($pkg for the end-to-end tests)"
		if npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null; then
			cp "$dir/package-lock.json" "$dir/node_modules/.enthub-installed-lock"
		else
			is_ci && die "npm ci in $dir failed"
			loud "npm ci in $dir failed: the $pkg tests will SKIP"
			unset ENTHUB_TEST_PEERS
		fi
	else
		is_ci && die "node and npm are needed for the $pkg tests ($dir)"
		loud "$pkg not installed (no node/npm, or --no-install): the $pkg tests SKIP"
		unset ENTHUB_TEST_PEERS
	fi
done

# --- staticcheck -------------------------------------------------------------------------------
gobin=$(go env GOBIN)
[[ -n "$gobin" ]] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
staticcheck=""
if [[ -x "$gobin/staticcheck" ]]; then
	staticcheck="$gobin/staticcheck"
elif command -v staticcheck >/dev/null 2>&1; then
	staticcheck=$(command -v staticcheck)
elif ((install && lint)); then
	say "installing staticcheck $STATICCHECK_VERSION"
	if go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"; then
		staticcheck="$gobin/staticcheck"
	fi
fi

# --- throwaway PostgreSQL ----------------------------------------------------------------------
scratch=$(mktemp -d "${TMPDIR:-/tmp}/enthub-run.XXXXXX") # logs, the testreport binary; removed on exit
pg_tmp=""
pg_bin=""
pg_as=() # prefix that runs a PG server binary as the postgres user when we are root
cleanup() {
	local rc=$?
	if [[ -n "$pg_tmp" ]]; then
		if [[ -f "$pg_tmp/data/postmaster.pid" ]]; then
			"${pg_as[@]+"${pg_as[@]}"}" "$pg_bin/pg_ctl" -D "$pg_tmp/data" -m immediate -w stop >/dev/null 2>&1 || true
		fi
		rm -rf "$pg_tmp"
	fi
	rm -rf "$scratch"
	exit "$rc"
}
# Long steps run in the background (own process group, thanks to set -m) while the script waits:
# bash runs a signal trap only between commands, and a foreground go test would delay it.
set -m
current="" # process group of the step running now
on_signal() {
	[[ -z "$current" ]] || kill -TERM -- "-$current" 2>/dev/null || true
	exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
in_background() {
	local rc=0
	"$@" &
	current=$!
	wait "$current" || rc=$?
	current=""
	return "$rc"
}

free_port() {
	local port
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		# a refused connection means nobody listens there
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

start_postgres() {
	if [[ -n "${ENTHUB_TEST_POSTGRES:-}" ]]; then
		say "PostgreSQL: using ENTHUB_TEST_POSTGRES from the environment"
		return 0
	fi
	pg_bin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
	if [[ -z "$pg_bin" || ! -x "$pg_bin/initdb" ]]; then
		is_ci && die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (package postgresql)"
		loud "SKIP: no PostgreSQL server binaries (apt-get install postgresql): PostgreSQL tests will skip"
		return 0
	fi
	pg_tmp=$(mktemp -d "${TMPDIR:-/tmp}/enthub-pg.XXXXXX")
	if [[ $(id -u) -eq 0 ]]; then
		id postgres >/dev/null 2>&1 || die "running as root but there is no postgres user to run PostgreSQL as"
		chown postgres: "$pg_tmp"
		pg_as=(runuser -u postgres --)
	fi
	chmod 0755 "$pg_tmp"
	"${pg_as[@]+"${pg_as[@]}"}" "$pg_bin/initdb" -D "$pg_tmp/data" -U postgres -A trust -E UTF8 --no-locale \
		>"$pg_tmp/initdb.log" 2>&1 || {
		cat "$pg_tmp/initdb.log" >&2
		die "initdb failed"
	}
	# fsync, synchronous_commit and full_page_writes off: a test cluster is never reused after a
	# crash, so commits need not wait for the disk. Durability is not what the tests check.
	local port tries
	for tries in 1 2 3 4 5; do
		port=$(free_port)
		if "${pg_as[@]+"${pg_as[@]}"}" "$pg_bin/pg_ctl" -D "$pg_tmp/data" -l "$pg_tmp/server.log" -w -t 30 \
			-o "-p $port -k $pg_tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >/dev/null; then
			break
		fi
		((tries < 5)) || {
			tail -n 30 "$pg_tmp/server.log" >&2 || true
			die "PostgreSQL did not start"
		}
	done
	"$pg_bin/psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
		-c 'CREATE DATABASE enthub_test' >/dev/null
	export ENTHUB_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/enthub_test?sslmode=disable"
	say "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $pg_tmp)"
}
start_postgres

# --- checks ------------------------------------------------------------------------------------
failed=()
passed=()
step() { # step NAME CMD...: run, record, go on (so one run reports every problem)
	local name=$1
	shift
	say "$name"
	if in_background "$@"; then passed+=("$name"); else failed+=("$name"); fi
}
check_gofmt() {
	local out
	out=$(gofmt -l . 2>&1) || {
		printf '%s\n' "$out"
		return 1
	}
	[[ -z "$out" ]] && return 0
	printf 'gofmt: these files need gofmt -w:\n%s\n' "$out"
	return 1
}
check_staticcheck() {
	if [[ -z "$staticcheck" ]]; then
		is_ci && {
			echo "staticcheck is not installed"
			return 1
		}
		loud "SKIP staticcheck: not installed (go install honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION)"
		return 0
	fi
	"$staticcheck" "${patterns[@]}"
}
run_tests() { # runs in the background, in a subshell: the closing line goes through a file
	local tests_line rc log="$scratch/go-test.log" report="$scratch/testreport"
	# go test -json through test/testreport: a plain go test's output (failing tests in full), then
	# the skipped tests with their reasons, then "tests: N passed, N failed, N skipped".
	# With -v or -json the user wants go test's own output.
	if has_flag -v || has_flag -json || ! go build -o "$report" ./test/testreport; then
		go test "${test_flags[@]}" "${patterns[@]}" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		tests_line="go test: $(grep -c '^ok ' "$log" || true) package(s) ok, $(grep -c -E '^FAIL[[:space:]]+[^[:space:]]' "$log" || true) failed"
	else
		go test -json "${test_flags[@]}" "${patterns[@]}" 2>&1 | "$report" | tee "$log"
		rc=${PIPESTATUS[0]}
		tests_line=$(grep -E '^tests: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
	fi
	printf '%s\n' "$tests_line" >"$scratch/tests-line"
	return "$rc"
}

# Bounded fuzzing: every Fuzz* target of the packages, one after the other, for ENTHUB_TEST_FUZZTIME
# each (go test fuzzes one target per run). A crasher is written under the package's
# testdata/fuzz/ (go's own rule), so that the next go test replays it. Minimisation is
# capped: with slow executions it would eat the whole budget.
fuzztime=${ENTHUB_TEST_FUZZTIME:-5s}
run_fuzz() { # runs in the background, in a subshell: the closing line goes through a file
	local list line pkg name total=0 bad=() names=() out rc
	if ! list=$(go test -list '^Fuzz' "${patterns[@]}" 2>&1); then
		printf '%s\n' "$list"
		printf 'fuzz: could not list the targets\n' >"$scratch/fuzz-line"
		return 1
	fi
	while IFS= read -r line; do
		case "$line" in
		Fuzz*) names+=("$line") ;;
		ok*)
			pkg=$(awk '{print $2}' <<<"$line")
			for name in "${names[@]+"${names[@]}"}"; do
				total=$((total + 1))
				rc=0
				out=$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s "$pkg" 2>&1) || rc=$?
				# Go's fuzzer stops with "context deadline exceeded" and no input when the time runs
				# out while it still replays the cached corpus (slow targets on a busy machine): not a
				# finding; once more with time to get past the replay, and then it counts.
				if ((rc != 0)) && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
					printf 'fuzz %s %s: the corpus replay outlasted %s, again for 60s\n' "$pkg" "$name" "$fuzztime"
					rc=0
					out=$(go test -run '^$' -fuzz "^${name}\$" -fuzztime 60s -fuzzminimizetime 1s "$pkg" 2>&1) || rc=$?
				fi
				if ((rc == 0)); then
					line=$(grep -Eo 'execs: [0-9]+' <<<"$out" | tail -n 1 || true)
					printf 'fuzz %s %s: ok (%s)\n' "$pkg" "$name" "${line:-seed corpus only: raise ENTHUB_TEST_FUZZTIME}"
				else
					printf '%s\n' "$out"
					bad+=("$pkg.$name")
				fi
			done
			names=()
			;;
		esac
	done <<<"$list"
	if ((${#bad[@]})); then
		printf 'fuzz: %d target(s) for %s each, %d FAILED: %s\n' "$total" "$fuzztime" "${#bad[@]}" "${bad[*]}" >"$scratch/fuzz-line"
		return 1
	fi
	printf 'fuzz: %d target(s) for %s each, no failure\n' "$total" "$fuzztime" >"$scratch/fuzz-line"
}

if ((lint)); then
	step gofmt check_gofmt
	step "go vet" go vet "${patterns[@]}"
	step staticcheck check_staticcheck
fi
step "go test" run_tests
if [[ "$fuzztime" != 0 && "$fuzztime" != 0s ]] && ! has_flag -run; then
	step fuzz run_fuzz
fi

if ((${#failed[@]})); then
	printf '\nrun.sh: FAILED (%s) after %d s%s\n' "${failed[*]}" "$((SECONDS - start))" "$( ((lint)) || echo ', lint skipped')"
else
	printf '\nrun.sh: PASS (%s) in %d s%s\n' "${passed[*]}" "$((SECONDS - start))" "$( ((lint)) || echo ', lint skipped')"
fi
# last line, for whoever reads the closing line of the run
fuzz_line=$(cat "$scratch/fuzz-line" 2>/dev/null || true)
[[ -z "$fuzz_line" ]] || printf '%s\n' "$fuzz_line"
tests_line=$(cat "$scratch/tests-line" 2>/dev/null || true)
[[ -z "$tests_line" ]] || printf '%s\n' "$tests_line"
((${#failed[@]} == 0))
