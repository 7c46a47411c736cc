#!/usr/bin/env bash
# Complete brokered logins over HTTP on loopback, prints figures (never asserts them):
# `enthub demo` (enthub and its simulated EduConnect, which signs and encrypts
# each assertion, in one process on the same cores) and test/bench/brokered,
# headless browsers each doing chooser → EduConnect → ACS → CAS service →
# ticket validation. Also prints the demo process's CPU time per login, which
# the load of other processes on the machine does not inflate.
#
#   test/bench/brokered.sh [CONCURRENCY] [DURATION]     default 8 20s
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
"$work/enthub" demo --http "$http" --ldap "127.0.0.1:$(port)" --data "$work/data" --log-level warn >"$work/demo.out" 2>"$work/demo.err" &
pid=$!
for _ in $(seq 600); do
	grep -q 'Press Ctrl-C' "$work/demo.out" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || { cat "$work/demo.err" >&2; exit 1; }
	sleep 0.1
done
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # utime + stime, in clock ticks
tck=$(getconf CLK_TCK)
before=$(cpu)
set +e
"$work/brokered" -url "http://$http" -c "$conc" -duration "$dur" | tee "$work/bench.out"
status=${PIPESTATUS[0]}
set -e
after=$(cpu)
logins=$(sed -n 's/.*: \([0-9]*\) ok.*/\1/p' "$work/bench.out")
echo "cores: $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$logins" ] && [ "$logins" -gt 0 ]; then
	# The warm-up's logins are in the CPU time too: an upper bound.
	awk -v t=$((after - before)) -v hz="$tck" -v n="$logins" -v c="$(nproc)" 'BEGIN {
		ms = t / hz * 1000 / n
		printf "enthub demo CPU: %.2f ms per login (at most; warm-up included) → %.0f logins/s on %d idle cores\n", ms, c * 1000 / ms, c }'
fi
exit "$status"
