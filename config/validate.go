package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Validate checks every key and returns one problem per bad value, each
// naming the key path: `ldap.listen: address "300.1.1.1:389" is not valid`.
func (c Config) Validate() Problems {
	var p Problems
	add := func(key, format string, args ...any) {
		p = append(p, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}

	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("public_url", "%q is not an http(s) URL", c.PublicURL)
	} else if u.Path != "" && u.Path != "/" {
		add("public_url", "%q: enthub must be served at the root of its host, without a path", c.PublicURL)
	} else if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		add("public_url", "%q: no query (?…) or fragment (#…) allowed", c.PublicURL)
	}
	if !strings.HasPrefix(c.DB, "sqlite:") && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		add("db", "%q: want sqlite:PATH or postgres://HOST/DB", c.DB)
	}
	if c.MemoryLimitMiB < 0 || (c.MemoryLimitMiB > 0 && c.MemoryLimitMiB < 64) {
		add("memory_limit_mib", "%d: want 0 (no limit) or at least 64", c.MemoryLimitMiB)
	}
	if c.DBConnectTimeout < 0 || c.DBConnectTimeout > time.Hour {
		add("db_connect_timeout", "%v: want 0 (no retry) up to 1h", c.DBConnectTimeout)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		add("log.format", "%q: want text or json", c.Log.Format)
	}

	checkPositive(add, "guests.code_ttl", int64(c.Guests.CodeTTL))
	checkPositive(add, "guests.max_period", int64(c.Guests.MaxPeriod))
	checkPositive(add, "guests.expire_every", int64(c.Guests.ExpireEvery))
	if len(c.Guests.PrincipalProfiles)+len(c.Guests.PrincipalFunctions) == 0 {
		add("guests.principal_profiles", "empty, as is guests.principal_functions: no one could open the principal's console")
	}
	if c.Guests.SMTP.Addr != "" {
		// A relay is named by host name more often than by address.
		if host, port, err := net.SplitHostPort(c.Guests.SMTP.Addr); err != nil || host == "" || port == "" {
			add("guests.smtp.addr", "%q: want host:port (smtp.example.fr:25)", c.Guests.SMTP.Addr)
		}
		if c.Guests.SMTP.From == "" {
			add("guests.smtp.from", "required when guests.smtp.addr is set")
		}
	}
	for i, a := range c.Portal.Admins {
		if strings.TrimSpace(a) == "" || strings.ContainsAny(a, " \t\n") {
			add(fmt.Sprintf("portal.admins[%d]", i), "%q: want a login", a)
		}
	}
	if n := len([]rune(c.Portal.Banner)); n > 300 {
		add("portal.banner", "%d characters: 300 at most", n)
	}
	checkAddr(add, "http.listen", c.HTTP.Listen, true)
	checkPair(add, "http", c.HTTP.TLSCert, c.HTTP.TLSKey)
	checkAddr(add, "http.metrics_listen", c.HTTP.MetricsListen, false)
	if c.HTTP.MetricsListen != "" && c.HTTP.MetricsListen == c.HTTP.Listen {
		add("http.metrics_listen", "%q is http.listen: leave it empty to serve /metrics there", c.HTTP.MetricsListen)
	}
	if c.HTTP.Pprof && c.HTTP.MetricsListen == "" {
		add("http.pprof", "needs http.metrics_listen: profiles are never served on the public listener")
	}
	checkPositive(add, "http.shutdown_timeout", int64(c.HTTP.ShutdownTimeout))
	checkPositive(add, "http.read_timeout", int64(c.HTTP.ReadTimeout))
	checkPositive(add, "http.write_timeout", int64(c.HTTP.WriteTimeout))
	for i, cidr := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			add(fmt.Sprintf("http.trusted_proxies[%d]", i), "%q is not a CIDR (like 10.0.0.0/8)", cidr)
		}
	}

	if c.LDAP.Enabled {
		checkAddr(add, "ldap.listen", c.LDAP.Listen, false)
		checkAddr(add, "ldap.ldaps_listen", c.LDAP.LDAPSListen, false)
		checkPair(add, "ldap", c.LDAP.TLSCert, c.LDAP.TLSKey)
		if c.LDAP.LDAPSListen != "" && c.LDAP.TLSCert == "" {
			add("ldap.ldaps_listen", "LDAPS needs ldap.tls_cert and ldap.tls_key")
		}
		if !looksLikeDN(c.LDAP.BaseDN) {
			add("ldap.base_dn", "%q is not a DN (like dc=enthub or dc=ent,dc=example,dc=fr)", c.LDAP.BaseDN)
		}
		checkPositive(add, "ldap.max_connections", int64(c.LDAP.MaxConnections))
		checkPositive(add, "ldap.idle_timeout", int64(c.LDAP.IdleTimeout))
		checkPositive(add, "ldap.size_limit", int64(c.LDAP.SizeLimit))
		seen := map[string]bool{}
		for i, sa := range c.LDAP.ServiceAccounts {
			key := fmt.Sprintf("ldap.service_accounts[%d]", i)
			if !looksLikeDN(sa.DN) {
				add(key+".dn", "%q is not a DN", sa.DN)
			}
			if seen[strings.ToLower(sa.DN)] {
				add(key+".dn", "%q is declared twice", sa.DN)
			}
			seen[strings.ToLower(sa.DN)] = true
			if !strings.HasPrefix(sa.PasswordHash, "$argon2id$") && !strings.HasPrefix(sa.PasswordHash, "{SSHA}") {
				add(key+".password_hash", "want an argon2id ($argon2id$…) or {SSHA} hash, never a clear password")
			}
		}
	}

	if c.LDAP.Push.URL != "" {
		if u, err := url.Parse(c.LDAP.Push.URL); err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
			add("ldap.push.url", "%q is not an ldap:// or ldaps:// URL", c.LDAP.Push.URL)
		}
		if !looksLikeDN(c.LDAP.Push.BindDN) {
			add("ldap.push.bind_dn", "%q is not a DN", c.LDAP.Push.BindDN)
		}
	}
	if c.AAF.Inbox != "" {
		if fi, err := os.Stat(c.AAF.Inbox); err == nil && !fi.IsDir() {
			add("aaf.inbox", "%q is a file, want a folder", c.AAF.Inbox)
		}
	}
	checkPositive(add, "aaf.settle_time", int64(c.AAF.SettleTime))
	if _, err := cron.ParseStandard(c.AAF.PurgeSchedule); err != nil {
		add("aaf.purge_schedule", "%q is not a cron expression: %v", c.AAF.PurgeSchedule, err)
	}
	checkPositive(add, "aaf.grace_period", int64(c.AAF.GracePeriod))
	if c.AAF.VolumetryThreshold <= 0 || c.AAF.VolumetryThreshold > 100 {
		add("aaf.volumetry_threshold", "%v: want a percentage in ]0, 100]", c.AAF.VolumetryThreshold)
	}
	checkPositive(add, "aaf.volumetry_min_accounts", int64(c.AAF.VolumetryMinAccounts))
	for i, v := range c.AAF.ParentRespLegal {
		if v < 0 || v > 2 {
			add(fmt.Sprintf("aaf.parent_resp_legal[%d]", i), "%d: respLegal is 0, 1 or 2", v)
		}
	}
	for i, v := range c.AAF.OrderScope {
		if v != "academie" && v != "degre" && v != "prefix" {
			add(fmt.Sprintf("aaf.order_scope[%d]", i), "%q: want academie, degre or prefix", v)
		}
	}
	if c.AAF.OrderGuard && len(c.AAF.OrderScope) == 0 {
		add("aaf.order_scope", "empty: name at least one of academie, degre, prefix, or set aaf.order_guard: false")
	}
	switch _, err := time.LoadLocation(c.Stats.TimeZone); {
	case c.Stats.TimeZone == "":
	case err != nil:
		add("stats.time_zone", "%q is not a time zone such as Europe/Paris (and stats.time_zone is deprecated: write time_zone)", c.Stats.TimeZone)
	case c.Stats.TimeZone != c.TimeZone:
		add("stats.time_zone", "%q differs from time_zone %q: stats.time_zone is a deprecated alias of time_zone; remove it", c.Stats.TimeZone, c.TimeZone)
	}
	if _, err := time.LoadLocation(c.TimeZone); (err != nil || c.TimeZone == "") && c.TimeZone != c.Stats.TimeZone {
		add("time_zone", "%q is not a time zone such as Europe/Paris or America/Cayenne", c.TimeZone)
	}
	if c.Stats.FoldEvery < time.Second {
		add("stats.fold_every", "%v: at least 1s", c.Stats.FoldEvery)
	}
	if c.Stats.HealthEvery < time.Second {
		add("stats.health_every", "%v: at least 1s", c.Stats.HealthEvery)
	}
	if !strings.Contains(c.AAF.LoginPattern, "{nom}") {
		add("aaf.login_pattern", "%q must contain {nom}", c.AAF.LoginPattern)
	}

	checkPositive(add, "sso.session_idle", int64(c.SSO.SessionIdle))
	checkPositive(add, "sso.session_absolute", int64(c.SSO.SessionAbsolute))
	if c.SSO.SessionIdle > c.SSO.SessionAbsolute {
		add("sso.session_idle", "%v is longer than sso.session_absolute (%v)", c.SSO.SessionIdle, c.SSO.SessionAbsolute)
	}
	checkPositive(add, "sso.key_overlap", int64(c.SSO.KeyOverlap))
	if c.SSO.KeySecret != "" {
		if b, err := base64.StdEncoding.DecodeString(c.SSO.KeySecret); err != nil || len(b) != 32 {
			add("sso.key_secret", "want base64 of 32 bytes (head -c32 /dev/urandom | base64)")
		}
	}
	if c.SSO.ServicesReload < time.Second {
		add("sso.services_reload", "%v: at least 1s", c.SSO.ServicesReload)
	}
	if c.SSO.ServicesFile != "" {
		if _, err := os.Stat(c.SSO.ServicesFile); err != nil {
			add("sso.services_file", "%v", err)
		}
	}
	c.validateFederation(add)
	c.GAR.validate(add)
	return p
}

// validate checks the GAR section when id_ent enables it.
func (g GAR) validate(add func(string, string, ...any)) {
	if g.IDEnt == "" {
		return
	}
	if strings.ContainsAny(g.IDEnt, "/\\ ") {
		add("gar.id_ent", "%q: no slash or space (it starts every export file name)", g.IDEnt)
	}
	if b, err := base64.StdEncoding.DecodeString(g.IDSecret); err != nil || len(b) < 32 {
		add("gar.id_secret", "want base64 of 32 bytes (head -c32 /dev/urandom | base64), set in ENTHUB_GAR_ID_SECRET")
	}
	if len(g.Schools) == 0 {
		add("gar.schools", "list the UAIs of the subscribing schools")
	}
	for i, pr := range g.RespAffProfiles {
		switch pr {
		case "eleve", "enseignant", "documentaliste", "direction", "vie_scolaire", "personnel":
		default:
			add(fmt.Sprintf("gar.resp_aff_profiles[%d]", i), "%q: want enseignant, documentaliste, direction, vie_scolaire or personnel", pr)
		}
	}
	if g.Schedule != "" {
		if _, err := cron.ParseStandard(g.Schedule); err != nil {
			add("gar.schedule", "%q is not a cron expression: %v", g.Schedule, err)
		}
		if g.WorkDir == "" {
			add("gar.work_dir", "a scheduled export needs a folder")
		}
	}
	if g.SFTP.Address == "" {
		return
	}
	checkAddr(add, "gar.sftp.address", g.SFTP.Address, true)
	if g.SFTP.User == "" {
		add("gar.sftp.user", "is required with gar.sftp.address")
	}
	for key, f := range map[string]string{"gar.sftp.key_file": g.SFTP.KeyFile, "gar.sftp.known_hosts": g.SFTP.KnownHosts} {
		if f == "" {
			add(key, "is required with gar.sftp.address (key authentication, pinned host key)")
		} else if _, err := os.Stat(f); err != nil {
			add(key, "%v", err)
		}
	}
	if g.SFTP.Attempts < 1 || g.SFTP.Attempts > 20 {
		add("gar.sftp.attempts", "%d: want 1 to 20", g.SFTP.Attempts)
	}
	checkPositive(add, "gar.sftp.backoff", int64(g.SFTP.Backoff))
	checkPositive(add, "gar.sftp.timeout", int64(g.SFTP.Timeout))
}

// checkAddr validates host:port; empty is allowed unless required.
func checkAddr(add func(string, string, ...any), key, addr string, required bool) {
	if addr == "" {
		if required {
			add(key, "an address (host:port) is required")
		}
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		add(key, "address %q is not valid: want host:port", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		add(key, "address %q is not valid: port %q", addr, port)
		return
	}
	if host == "" || host == "localhost" {
		return
	}
	if _, err := netip.ParseAddr(host); err != nil {
		add(key, "address %q is not valid", addr)
	}
}

func checkPair(add func(string, string, ...any), prefix, cert, key string) {
	if (cert == "") != (key == "") {
		add(prefix+".tls_cert", "tls_cert and tls_key go together")
	}
	for _, kf := range [][2]string{{prefix + ".tls_cert", cert}, {prefix + ".tls_key", key}} {
		if kf[1] != "" {
			if _, err := os.Stat(kf[1]); err != nil {
				add(kf[0], "%v", err)
			}
		}
	}
}

func checkPositive(add func(string, string, ...any), key string, v int64) {
	if v <= 0 {
		add(key, "must be positive")
	}
}

func looksLikeDN(dn string) bool {
	if dn == "" {
		return false
	}
	for _, rdn := range strings.Split(dn, ",") {
		k, v, ok := strings.Cut(rdn, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			return false
		}
	}
	return true
}
