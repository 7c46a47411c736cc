#!/usr/bin/env bash
# The anchor: the same CAS flows, with the same client (test/bench/loadgen),
# against Debian's LemonLDAP::NG (the web SSO most French académies run) and
# against enthub, alternately, on this machine, in this run; prints both
# rates and the ratio enthub / LemonLDAP::NG (figures, never asserted):
#   - full   a fresh browser's complete CAS login: /cas/login?service=… →
#            login form → credentials posted → 302 to the service with a
#            ticket → /cas/serviceValidate by the service
#   - ticket with an SSO session already open: /cas/login?service=… → 302
#            with a new ticket → /cas/serviceValidate (what every further
#            application a user opens costs)
#
#   test/bench/lemonldap.sh
#
# LemonLDAP::NG: packages lemonldap-ng, lemonldap-ng-fastcgi-server and
# nginx, installed here with apt-get when missing (as root). It runs from a
# scratch folder (its own lemonldap-ng.ini through LLNG_DEFAULTCONFFILE, its
# own lmConf-1.json; /etc/lemonldap-ng and /var/lib/lemonldap-ng are not
# used): llng-fastcgi-server (FCGI::ProcManager, NPROC workers, as www-data)
# behind nginx on 127.0.0.1, the portal with the Demo authentication and
# user database (the demo users dwho, rtyler, msmith; password = login,
# compared in clear), the CAS issuer on (casAccessControlPolicy none: any
# service), sessions in the package's default backend, Apache::Session::File
# (one file per session), with Cache::FileCache as the local cache.
# enthub: `enthub serve` on SQLite with a generated directory, its students
# given a password by loadgen setup; since the Demo backend of LemonLDAP::NG
# hashes nothing, enthub's accounts get the light argon2id cost (1 MiB, 1
# pass) for the comparison, and the full login is run a third time on
# enthub with its own cost (19 MiB, 2 passes) to show what the hash costs.
#
# Environment: ROUNDS (3; each figure is the median), SECONDS_PER_RUN (20),
# VUS (16), NPROC (LemonLDAP::NG FastCGI workers, 7 as the package's
# default), KEEP=1 keeps the work folder. Writes test/bench/out/lemonldap.json.
set -euo pipefail
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-20}
vus=${VUS:-16}
nproc_llng=${NPROC:-7}
cd "$(dirname "$0")/../.."
repo=$PWD
out=$repo/test/bench/out
mkdir -p "$out"
rm -f "$out/lemonldap.json" "$out/lemonldap-reports.json"
# shellcheck source=lib.sh
source "$repo/test/bench/lib.sh"
notrun() {
	figures notrun "$out/lemonldap.json" lemonldap "$1"
	echo "lemonldap.sh: not run: $1" >&2
	exit 0
}

# --- LemonLDAP::NG, nginx -----------------------------------------------------------------
# The portal's Recommends are not optional in practice: without them its
# initialisation fails (the captcha module, always loaded, needs
# GD::SecurityImage and Image::Magick; the issuers need IO::String); the
# CAS issuer needs XML::Simple (not even recommended). The common
# library's Recommends bring the XS cookie and HTTP parsers a production
# install has.
pkgs=(lemonldap-ng lemonldap-ng-fastcgi-server nginx libxml-simple-perl
	fonts-urw-base35 libauthen-webauthn-perl libcrypt-openssl-bignum-perl libconvert-base32-perl libio-string-perl
	libipc-run-perl libgd-securityimage-perl libmime-tools-perl libnet-ldap-perl libio-socket-timeout-perl
	libunicode-string-perl libimage-magick-perl
	libapache-session-browseable-perl libemail-sender-perl libcookie-baker-xs-perl libdbi-perl libhttp-parser-xs-perl
	liblwp-protocol-https-perl libstring-random-perl)
missing=()
for p in "${pkgs[@]}"; do
	[[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" == installed ]] || missing+=("$p")
done
if ((${#missing[@]})); then
	[[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null || notrun "${missing[*]} not installed and not root with apt-get to install them"
	echo "== apt-get install ${missing[*]}"
	# Another apt may hold the lock: wait for it rather than fail.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null ||
		notrun "apt-get install ${missing[*]} failed"
fi
command -v llng-fastcgi-server >/dev/null || notrun "llng-fastcgi-server missing after install"
command -v nginx >/dev/null || notrun "nginx missing after install"
version=$(dpkg-query -W -f='${Version}' lemonldap-ng)

work=$(mktemp -d /tmp/enthub-llng.XXXXXX)
chmod 755 "$work"
enthub_pid=
cleanup() {
	[[ -n "$enthub_pid" ]] && kill "$enthub_pid" 2>/dev/null && wait "$enthub_pid" 2>/dev/null
	[[ -f "$work/nginx.pid" ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
	[[ -f "$work/run/llng.pid" ]] && kill "$(cat "$work/run/llng.pid")" 2>/dev/null
	sleep 0.5
	if [[ -n "${KEEP:-}" ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "configure LemonLDAP::NG $version"
llng_port=$(freeport)
# A host name, not 127.0.0.1: LemonLDAP::NG sets its cookie with
# Domain=.<domain>, which clients (Go's cookie jar, browsers) refuse for an
# IP address.
llng_url=http://localhost:$llng_port
mkdir -p "$work"/{conf,sessions/lock,psessions/lock,cache,notifications,run,nginx}
cat >"$work/lemonldap-ng.ini" <<INI
[all]
logLevel = error
checkTime = 600
[configuration]
type = File
dirName = $work/conf
localStorage = Cache::FileCache
localStorageOptions = { 'namespace' => 'lemonldap-ng-config', 'default_expires_in' => 600, 'directory_umask' => '007', 'cache_root' => '$work/cache', 'cache_depth' => 3 }
[portal]
staticPrefix = /static
templateDir = /usr/share/lemonldap-ng/portal/templates
languages = fr, en
[handler]
status = 0
useRedirectOnError = 1
INI
# The package's own configuration, with the portal on loopback, the CAS
# issuer on, and every storage in the scratch folder.
/usr/bin/python3 - "$work" "$llng_url" <<'PY'
import json, sys
work, url = sys.argv[1], sys.argv[2]
c = json.load(open("/var/lib/lemonldap-ng/conf/lmConf-1.json"))
c.update({
    "cfgNum": 1, "portal": url + "/", "domain": "localhost", "cookieName": "lemonldap", "securedCookie": 0,
    "issuerDBCASActivation": 1, "casAccessControlPolicy": "none", "casAttr": "uid",
    "globalStorage": "Apache::Session::File",
    "globalStorageOptions": {"Directory": work + "/sessions", "LockDirectory": work + "/sessions/lock",
                             "generateModule": "Lemonldap::NG::Common::Apache::Session::Generate::SHA256"},
    "persistentStorageOptions": {"Directory": work + "/psessions", "LockDirectory": work + "/psessions/lock"},
    "localSessionStorageOptions": dict(c["localSessionStorageOptions"], cache_root=work + "/cache"),
    "notificationStorageOptions": {"dirName": work + "/notifications"},
    "notification": 0, "loginHistoryEnabled": 0, "trustedDomains": "localhost",
})
json.dump(c, open(work + "/conf/lmConf-1.json", "w"), indent=1)
PY
chown -R www-data:www-data "$work"/{conf,sessions,psessions,cache,notifications,run}
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx/error.log warn;
user www-data;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  fastcgi_temp_path $work/nginx/fastcgi;
  proxy_temp_path $work/nginx/proxy;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  include /etc/nginx/mime.types;
  # No keepalive to the FastCGI server: an FCGI::ProcManager worker serves
  # one connection at a time, so idle kept connections would hold workers.
  upstream llng_portal_upstream { server unix:$work/run/llng.sock; }
  server {
    listen 127.0.0.1:$llng_port;
    server_name localhost;
    root /usr/share/lemonldap-ng/portal/htdocs/;
    if (\$uri !~ ^/((static|javascript|favicon).*|.*\.psgi)) {
      rewrite ^/(.*)\$ /index.psgi/\$1 break;
    }
    location ~ ^(?<sc>/.*\.psgi)(?:\$|/) {
      include /etc/nginx/fastcgi_params;
      fastcgi_pass llng_portal_upstream;
      fastcgi_param HTTP_HOST \$host;
      fastcgi_param LLTYPE psgi;
      fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
      fastcgi_split_path_info ^(.*\.psgi)(/.*)\$;
      fastcgi_param PATH_INFO \$fastcgi_path_info;
    }
    location /static/ { alias /usr/share/lemonldap-ng/portal/htdocs/static/; }
  }
}
CONF
step "start llng-fastcgi-server ($nproc_llng workers) and nginx on $llng_url"
LLNG_DEFAULTCONFFILE=$work/lemonldap-ng.ini LLNG_DEFAULTLOGGER=Lemonldap::NG::Common::Logger::Std \
	llng-fastcgi-server -u www-data -g www-data -n "$nproc_llng" -s "$work/run/llng.sock" -p "$work/run/llng.pid" >"$work/llng.log" 2>&1 ||
	notrun "llng-fastcgi-server did not start: $(tail -3 "$work/llng.log" | tr '\n' ' ')"
nginx -c "$work/nginx.conf" -p "$work/nginx" >"$work/nginx.log" 2>&1 || notrun "nginx did not start: $(tail -3 "$work/nginx.log" | tr '\n' ' ')"
ok=
for ((i = 0; i < 100; i++)); do
	if curl -fs -o /dev/null "$llng_url/cas/login?service=http%3A%2F%2Fcas.bench.invalid%2Fapp%2F"; then ok=1; break; fi
	sleep 0.3
done
[[ -n "$ok" ]] || notrun "LemonLDAP::NG portal does not answer at $llng_url/cas/login: $(tail -3 "$work/nginx/error.log" "$work/llng.log" 2>/dev/null | tr '\n' ' ')"
llng_pid=$(cat "$work/run/llng.pid")
printf 'dwho\t\tdwho\nrtyler\t\trtyler\nmsmith\t\tmsmith\n' >"$work/llng-users.tsv"

# --- enthub ------------------------------------------------------------------------------------
step "build and start enthub"
go build -o "$work/enthub" ./cmd/enthub
go build -o "$work/loadgen" ./test/bench/loadgen
enthub=$work/enthub
"$enthub" aaf generate --out "$work/complet" --students 2000 --seed 3 >/dev/null
"$enthub" aaf import "$work/complet" --db "sqlite:$work/enthub.db" --log-level warn >/dev/null
"$work/loadgen" setup -db "sqlite:$work/enthub.db" -n 1000 -argon2 light -users "$work/light.tsv" -services "$work/services.yaml" | sed 's/^/   /'
"$work/loadgen" setup -db "sqlite:$work/enthub.db" -skip 1000 -n 1000 -argon2 default -users "$work/default.tsv" | sed 's/^/   /'
http_port=$(freeport)
cat >"$work/enthub.yaml" <<CONF
public_url: http://127.0.0.1:$http_port
db: sqlite:$work/enthub.db
log:
  level: warn
http:
  listen: 127.0.0.1:$http_port
$(bench_services_config)
CONF
enthub_url=http://127.0.0.1:$http_port
start_enthub "$enthub_url" || exit 1

# --- the runs -----------------------------------------------------------------------------------
reports=$out/lemonldap-reports.json
run() { # run SERVER MODE ROUND URL USERS PID [ARGS]
	local server=$1 mode=$2 round=$3 url=$4 users=$5 pid=$6
	shift 6
	"$work/loadgen" run -url "$url" -users "$users" -pid "$pid" -journey "cas-$mode" -scenario "$server $mode round $round" \
		-vus "$vus" -duration "${secs}s" -json "$reports" "$@" | sed -n '1,3p;$p'
}
step "warm-up (not measured): FastCGI workers compile the portal on their first requests"
# Each LemonLDAP::NG worker loads the portal (about 2 s of CPU) on its
# first request: enough logins, as many at once as there are workers, that
# every worker has served some before anything is measured.
"$work/loadgen" run -url "$llng_url" -users "$work/llng-users.tsv" -journey cas-full -login-field user -vus "$nproc_llng" -n $((nproc_llng * 10)) >/dev/null || true
"$work/loadgen" run -url "$enthub_url" -users "$work/light.tsv" -journey cas-full -vus "$vus" -duration 5s >/dev/null || true
for ((r = 1; r <= rounds; r++)); do
	for mode in full ticket; do
		step "round $r, $mode"
		# Alternate who goes first, so that a drift of the machine's load
		# does not always favour the same server.
		if ((r % 2)); then
			run enthub "$mode" "$r" "$enthub_url" "$work/light.tsv" "$enthub_pid"
			run lemonldap "$mode" "$r" "$llng_url" "$work/llng-users.tsv" "$llng_pid" -login-field user
		else
			run lemonldap "$mode" "$r" "$llng_url" "$work/llng-users.tsv" "$llng_pid" -login-field user
			run enthub "$mode" "$r" "$enthub_url" "$work/light.tsv" "$enthub_pid"
		fi
	done
	step "round $r, full, enthub with its own argon2id cost"
	run enthub-argon2 full "$r" "$enthub_url" "$work/default.tsv" "$enthub_pid"
done

# --- figures ------------------------------------------------------------------------------------
/usr/bin/python3 - "$reports" "$out/lemonldap.json" "$repo/test/bench/figures.py" "$version" "$nproc_llng" "$vus" <<'PY'
import json, statistics, subprocess, sys
reports, outp, fig, version, nproc, vus = sys.argv[1:]
rs = json.load(open(reports))
def med(server, mode, key):
    v = [key(r) for r in rs if r["scenario"].startswith(server + " " + mode + " ") and not r.get("skipped")]
    return statistics.median(v) if v else None
def add(name, value, unit):
    if value is not None:
        subprocess.run([sys.executable, fig, "add", outp, "lemonldap", name, str(round(value, 2)), unit], check=True)
def variant(r):
    # The ticket runs start with one login per virtual user: count the tickets only.
    for v in r["variants"]:
        if v["name"] == "cas-ticket/ticket":
            return v
    return {"count": r["journeys"], "p99": r["latency_ms"]["p99"]}
rate = lambda r: variant(r)["count"] / r["seconds"] if r["seconds"] else 0
p99 = lambda r: variant(r)["p99"]
cpu = lambda r: (r.get("server") or {}).get("cpu_ms_per_journey", 0)
errs = sum(r["errors"] for r in rs)
print("%-8s | %10s %8s %8s | %10s %8s %8s | %6s" % ("CAS", "enthub/s", "p99 ms", "cpu ms", "LL::NG/s", "p99 ms", "cpu ms", "ratio"))
for mode in ("full", "ticket"):
    e, l = med("enthub", mode, rate), med("lemonldap", mode, rate)
    ratio = e / l if e and l else None
    print("%-8s | %10.1f %8.1f %8.1f | %10.1f %8.1f %8.1f | %6.2f" % (mode, e or 0, med("enthub", mode, p99) or 0, med("enthub", mode, cpu) or 0,
          l or 0, med("lemonldap", mode, p99) or 0, med("lemonldap", mode, cpu) or 0, ratio or 0))
    add("CAS %s login: enthub (light hash)" % mode if mode == "full" else "CAS ticket with session: enthub", e, "/s")
    add("CAS %s login: LemonLDAP::NG" % mode if mode == "full" else "CAS ticket with session: LemonLDAP::NG", l, "/s")
    add("CAS %s: ratio enthub / LemonLDAP::NG" % mode, ratio, "x")
    add("CAS %s: enthub p99" % mode, med("enthub", mode, p99), "ms")
    add("CAS %s: LemonLDAP::NG p99" % mode, med("lemonldap", mode, p99), "ms")
    add("CAS %s: enthub CPU per operation" % mode, med("enthub", mode, cpu), "ms")
    add("CAS %s: LemonLDAP::NG CPU per operation" % mode, med("lemonldap", mode, cpu), "ms")
a = med("enthub-argon2", "full", rate)
print("full login on enthub with its own argon2id cost: %.1f/s" % (a or 0))
add("CAS full login: enthub (argon2id 19 MiB, 2 passes)", a, "/s")
add("errors, all runs", errs, "")
note = ("LemonLDAP::NG %s: llng-fastcgi-server %s workers behind nginx, Demo auth (no hash), sessions Apache::Session::File; "
        "enthub on SQLite; %s virtual users; medians of the rounds; CPU per operation: enthub's process, LemonLDAP::NG's FastCGI manager and workers (nginx not counted); "
        "in ticket runs the CPU per operation includes each virtual user's one first login") % (version, nproc, vus)
subprocess.run([sys.executable, fig, "note", outp, "lemonldap", note], check=True)
PY
