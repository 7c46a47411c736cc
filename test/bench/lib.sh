# Shell helpers of the SSO bench scripts (sso.sh, lemonldap.sh), sourced:
# they expect $repo (the repository) and $work (the scratch folder).

# freeport prints a TCP port of 127.0.0.1 that was free a moment ago.
freeport() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# step prints a heading with the machine's load average.
step() { printf '== %s   (load %s)\n' "$*" "$(cut -d' ' -f1-3 /proc/loadavg)"; }

# figures runs test/bench/figures.py (the out/<suite>.json convention).
figures() { /usr/bin/python3 "$repo/test/bench/figures.py" "$@"; }

# start_enthub URL starts `$work/enthub serve` on $work/enthub.yaml
# (checked first), sets enthub_pid, and waits until URL/readyz answers
# (120 s), else prints the end of the log and fails.
start_enthub() {
	local url=$1
	"$work/enthub" config check --config "$work/enthub.yaml" >/dev/null
	"$work/enthub" serve --config "$work/enthub.yaml" >"$work/enthub.log" 2>&1 &
	enthub_pid=$!
	for ((i = 0; i < 600; i++)); do
		curl -fs "$url/readyz" >/dev/null 2>&1 && return 0
		kill -0 "$enthub_pid" 2>/dev/null || break
		sleep 0.2
	done
	echo "enthub not ready at $url:" >&2
	tail -20 "$work/enthub.log" >&2
	return 1
}

# bench_services_config prints the sso and aaf parts of an enthub.yaml for
# the bench: the relying parties of $work/services.yaml, no inbox.
bench_services_config() {
	printf 'sso:\n  services_file: %s\naaf:\n  inbox: ""\n' "$work/services.yaml"
}
