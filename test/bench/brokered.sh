#!/usr/bin/env bash
# Complete brokered logins over HTTP on loopback, prints figures (never asserts them):
# `enthub demo` (enthub and its simulated EduConnect, which signs and encrypts
# each assertion, in one process on the same cores) and test/bench/brokered,
# headless browsers each doing chooser → EduConnect → ACS → CAS service →
# ticket validation. Also prints the CPU time per login of the demo process
# and of the client (both on the same cores), which the load of other
# processes on the machine does not inflate much.
#
#   test/bench/brokered.sh [CONCURRENCY] [DURATION]     default 8 20s
#
# With PROFILE=FILE the demo writes a CPU profile of the run to FILE and the
# script prints how its samples split between enthub and the simulated
# upstreams (which stand for EduConnect's own machines): the demo labels the
# simulation's goroutines component=upstream-simulation. CLIENT_PROFILE=FILE
# profiles the client's measured logins.
#
# The issue's yardstick: ≥ 300 logins/s, p99 < 100 ms, no error, on 2 cores.
set -euo pipefail
conc=${1:-8}
dur=${2:-20s}
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/enthub-brokeredbench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

go build -o "$work/enthub" ./cmd/enthub
go build -o "$work/brokered" ./test/bench/brokered
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=127.0.0.1:$(port)
prof=()
[ -n "${PROFILE:-}" ] && prof=(--cpu-profile "$(realpath -m "$PROFILE")")
"$work/enthub" "${prof[@]}" demo --http "$http" --ldap "127.0.0.1:$(port)" --data "$work/data" --log-level warn >"$work/demo.out" 2>"$work/demo.err" &
pid=$!
for _ in $(seq 600); do
	grep -q 'Press Ctrl-C' "$work/demo.out" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || { cat "$work/demo.err" >&2; exit 1; }
	sleep 0.1
done
set +e
cprof=()
[ -n "${CLIENT_PROFILE:-}" ] && cprof=(-cpuprofile "$CLIENT_PROFILE")
"$work/brokered" -url "http://$http" -c "$conc" -duration "$dur" -pid "$pid" "${cprof[@]}" | tee "$work/bench.out"
status=${PIPESTATUS[0]}
set -e
echo "cores: $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg)"
server=$(sed -n 's/^CPU per login: server (pid [0-9]*) \([0-9.]*\) ms.*/\1/p' "$work/bench.out")
if [ -n "$server" ]; then
	awk -v ms="$server" -v c="$(nproc)" 'BEGIN { printf "enthub demo (with its simulated upstream) alone → %.0f logins/s on %d idle cores\n", c * 1000 / ms, c }'
fi
if [ -n "${PROFILE:-}" ]; then
	kill -TERM "$pid" && wait "$pid" || true # the profile is written on exit
	pid=
	echo "CPU profile $PROFILE, samples by component (enthub-http: its requests; upstream-simulation; unlabelled: start-up, background jobs, the Go runtime and GC):"
	go tool pprof -tags "$PROFILE" 2>/dev/null | sed -n '/component/,/^$/p' | tee "$work/tags.out"
	# The run's CPU per login split in the ratio of the labelled samples
	# (the Go runtime's and GC's share with them, in proportion).
	awk -v ms="${server:-0}" -v c="$(nproc)" '
		/: enthub-http$/ { e = $1 + 0; if ($1 ~ /ms$/) e /= 1000 }
		/: upstream-simulation$/ { u = $1 + 0; if ($1 ~ /ms$/) u /= 1000 }
		END { if (e + u > 0 && ms > 0) printf "per login ≈ enthub %.2f ms, simulated upstream %.2f ms (enthub alone → %.0f logins/s on %d idle cores)\n", ms * e / (e + u), ms * u / (e + u), c * 1000 / (ms * e / (e + u)), c }' "$work/tags.out"
fi
exit "$status"
