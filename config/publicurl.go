package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
)

// PublicURLFor is the URL a server listening on addr is reached at when
// nothing else says so: the listen address itself, or, for a wildcard
// address (0.0.0.0, ::, no host), this machine's name, since no browser can
// open http://0.0.0.0:8080 or http://[::]:8080. note, empty unless the
// address was a wildcard, says which name was chosen and why; when the
// machine has no name, 127.0.0.1 is used and works on this machine only.
// u is empty when addr is not host:port.
func PublicURLFor(addr string, tls bool, hostname func() (string, error)) (u, note string) {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "" // Validate says what is wrong with addr
	}
	if isWildcard(host) {
		name, err := hostname()
		if err != nil || name == "" {
			host = "127.0.0.1"
			note = fmt.Sprintf(" (%s listens on every address, and this machine's name is unknown: 127.0.0.1 works on this machine only; set public_url)", addr)
		} else {
			host = name
			note = fmt.Sprintf(" (%s listens on every address: the machine's name %s is used; set public_url if browsers reach it by another name)", addr, name)
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port), note
}

func isWildcard(host string) bool {
	if host == "" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsUnspecified()
}

// publicURLMismatch warns when public_url cannot be where http.listen is
// reached and no proxy is declared (http.trusted_proxies) to bridge them:
// login forms, the OIDC issuer and the CAS and SAML URLs would then send
// browsers and relying parties to another port, or to a loopback address
// other machines cannot open.
func (c Config) publicURLMismatch() string {
	if len(c.HTTP.TrustedProxies) > 0 {
		return ""
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || u.Host == "" {
		return "" // Validate says so
	}
	lhost, lport, err := net.SplitHostPort(c.HTTP.Listen)
	if err != nil {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if port != lport {
		return fmt.Sprintf("public_url %s is on port %s but http.listen is %s and no proxy is declared (http.trusted_proxies): "+
			"pages, the OIDC issuer and the CAS and SAML URLs point at port %s", c.PublicURL, port, c.HTTP.Listen, port)
	}
	if isLoopback(lhost) && !isLoopback(u.Hostname()) {
		return fmt.Sprintf("public_url %s names %s but http.listen %s is a loopback address: other machines cannot reach it",
			c.PublicURL, u.Hostname(), c.HTTP.Listen)
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
