package server

import (
	"net"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// FuzzClientAddr: X-Forwarded-For is written by whoever sends the request.
// Behind a trusted proxy the address kept is always a valid IP (what rate
// limits and the audit log key on), never a trusted proxy's unless the
// chain holds nothing else.
func FuzzClientAddr(f *testing.F) {
	s := New(Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}})
	f.Add("203.0.113.7", "127.0.0.1:5000")
	f.Add("203.0.113.7, 10.1.2.3", "127.0.0.1:5000")
	f.Add("::ffff:10.0.0.1,2001:db8::1", "10.9.9.9:1")
	f.Add("not-an-ip", "127.0.0.1:1")
	f.Add("", "198.51.100.1:80")
	f.Fuzz(func(t *testing.T, xff, remote string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := s.clientAddr(r)
		if got == remote {
			return
		}
		host, _, err := net.SplitHostPort(got)
		if err != nil {
			t.Fatalf("clientAddr(%q via %q) = %q: not host:port", xff, remote, got)
		}
		if _, err := netip.ParseAddr(host); err != nil {
			t.Fatalf("clientAddr(%q via %q) = %q: not an IP", xff, remote, got)
		}
	})
}
