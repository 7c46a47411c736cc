#!/usr/bin/env bash
# Runs the fault and attack suites of test/chaos in their long versions
# (ENTHUB_TEST_CHAOS_LONG=1: more rounds, more clients) and turns the
# figures they log ("figure: …", see test/chaos/harness_test.go) into
# test/bench/out/chaos.json for run.sh's table: the recovery times as
# figures (the slowest round, since the target is a bound), every
# sentence as a note. The suites themselves fail on lost data, a crash or
# a missed target; this script exits with their status.
#
#   test/bench/chaos.sh            LONG=0 for the short versions run.sh runs
#
# Needs what ./test/run.sh installs: the PostgreSQL server binaries,
# HAProxy, root for the tmpfs of the full-inbox test.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
out=$repo/test/bench/out
mkdir -p "$out"
json=$out/chaos.json
rm -f "$json"
log=$(mktemp /tmp/enthub-chaos.XXXXXX.log)
long=${LONG:-1}
[[ $long == 0 ]] && long=
t0=$SECONDS
ENTHUB_TEST_CHAOS_LONG=$long go test -count=1 -v -timeout 60m ./test/chaos/ 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
/usr/bin/python3 - "$log" "$json" $((SECONDS - t0)) "${long:+long}" <<'EOF'
import re, subprocess, sys
log, out, secs, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] or "short"
fig = lambda *a: subprocess.run(["/usr/bin/python3", "test/bench/figures.py", *a], check=True)
text = open(log, encoding="utf-8", errors="replace").read()

def dur(s):
    """A Go duration (1.2s, 340ms, 1m2s, 15µs) in seconds."""
    total = 0.0
    for n, u in re.findall(r"([\d.]+)(h|ms|µs|us|ns|m|s)", s):
        total += float(n) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}[u]
    return total

D = r"([\d.]+(?:h|ms|µs|us|ns|m|s)(?:[\d.]+(?:ms|µs|us|ns|m|s))*)"
rules = [  # regex over a figure sentence → (figure name, which group)
    (r"ready " + D + r" and first login " + D + r" after PostgreSQL's return", [
        ("PostgreSQL restarted: ready again (slowest round)", 1), ("PostgreSQL restarted: first login (slowest round)", 2)]),
    (r"/readyz 503 " + D + r" after the stop", [("PostgreSQL stopped: /readyz 503 after (slowest round)", 1)]),
    (r"standby promoted: enthub ready " + D + r" and first login " + D, [
        ("standby promoted: enthub ready", 1), ("standby promoted: first login", 2)]),
    (r"imported again to completion " + D + r" after the restart", [("SIGKILL during import: re-imported after restart", 1)]),
    (r"single logout .* within " + D, [("logout through HAProxy reached both services", 1)]),
    (r"slow HTTP clients: GET /login p50 \S+ max " + D, [("slow-loris HTTP: a normal page, max", 1)]),
    (r"slow LDAP clients: rootDSE search p50 \S+ max " + D, [("slow LDAP clients: a search, max", 1)]),
]
worst = {}
sentences = []
for line in text.splitlines():
    m = re.search(r"(\w+_test\.go:\d+): figure: (.*)", line)
    if not m:
        continue
    sentences.append(m.group(2))
    for rx, names in rules:
        r = re.search(rx, m.group(2))
        if r:
            for name, g in names:
                worst[name] = max(worst.get(name, 0.0), dur(r.group(g)))
for name, v in worst.items():
    fig("add", out, "chaos", name, "%.3f" % (v * 1000), "ms")
passed = len(re.findall(r"^\s*--- PASS", text, re.M))
failed = len(re.findall(r"^\s*--- FAIL", text, re.M))
fig("add", out, "chaos", "fault and attack tests passed (%s versions)" % mode, str(passed), "")
fig("add", out, "chaos", "fault and attack tests failed", str(failed), "")
fig("add", out, "chaos", "chaos suites wall time", str(secs), "s")
for s in sentences:
    fig("note", out, "chaos", s)
EOF
rm -f "$log"
exit "$status"
