package ldap

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/password"
	goldap "github.com/go-ldap/ldap/v3"
)

func TestPagingOverThousands(t *testing.T) {
	st := openStore(t)
	s := fillSynthetic(t, st, 1500, 1)
	_, addr := startServer(t, st, testConfig())
	c, err := goldap.DialURL("ldap://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(readerDN, readerPW); err != nil {
		t.Fatal(err)
	}
	res, err := c.SearchWithPaging(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 0, 0, false,
		"(objectClass=ENTPerson)", []string{"uid"}, nil), 500)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range res.Entries {
		if seen[e.DN] {
			t.Fatalf("entry %s returned twice", e.DN)
		}
		seen[e.DN] = true
	}
	if len(seen) != s.persons {
		t.Fatalf("paged search returned %d entries, want %d", len(seen), s.persons)
	}
	// Without paging, the server size limit (1000 in testConfig) applies.
	_, err = c.Search(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 0, 0, false, "(objectClass=ENTPerson)", []string{"1.1"}, nil))
	if resultCode(err) != goldap.LDAPResultSizeLimitExceeded {
		t.Fatalf("unpaged search of %d entries: %v, want sizeLimitExceeded", s.persons, err)
	}
	// A paged search of one school through the attachment index.
	school := "ENTStructureUAI=" + s.uais[1] + ",ou=structures,dc=enthub"
	res, err = c.SearchWithPaging(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 0, 0, false,
		"(ENTPersonStructRattach="+school+")", []string{"uid", "cn"}, nil), 100)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Entries); n < 1500 || n > 1700 {
		t.Fatalf("school 2 has %d persons, want about 1600 (600 students, 960 parents, 40 teachers)", n)
	}
	// Members of one class: 25 students and their teachers.
	res = search(t, c, people, goldap.ScopeSingleLevel, "(isMemberOf=cn="+s.classCN[3]+",ou=groups,dc=enthub)", "uid")
	if n := len(res.Entries); n < 26 || n > 30 {
		t.Fatalf("class %s has %d members", s.classCN[3], n)
	}
	// A cookie from another search is refused.
	pc := goldap.NewControlPaging(10)
	r1, err := c.Search(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, []goldap.Control{pc}))
	if err != nil {
		t.Fatal(err)
	}
	cookie := goldap.FindControl(r1.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging).Cookie
	if len(cookie) == 0 {
		t.Fatal("no cookie after the first page")
	}
	pc.SetCookie(cookie)
	_, err = c.Search(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 0, 0, false, "(uid=*)", []string{"1.1"}, []goldap.Control{pc}))
	if resultCode(err) != goldap.LDAPResultUnwillingToPerform {
		t.Fatalf("cookie of another search: %v", err)
	}
}

// selfSigned makes a certificate for 127.0.0.1.
func selfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "enthub test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

func TestTLS(t *testing.T) {
	st := openStore(t)
	fillSmall(t, st)
	srvTLS, pool := selfSigned(t)
	srv, addr := startServer(t, st, testConfig(), WithTLSConfig(srvTLS))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ctx, l) }()
	defer func() { cancel(); <-done }()
	clientTLS := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

	t.Run("LDAPS", func(t *testing.T) {
		c, err := goldap.DialURL("ldaps://"+l.Addr().String(), goldap.DialWithTLSConfig(clientTLS))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Bind(readerDN, readerPW); err != nil {
			t.Fatal(err)
		}
		if got := uids(search(t, c, people, goldap.ScopeSingleLevel, "(uid=eleve1)", "uid")); len(got) != 1 {
			t.Fatalf("over LDAPS: %q", got)
		}
	})
	t.Run("StartTLS", func(t *testing.T) {
		c, err := goldap.DialURL("ldap://" + addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		root := search(t, c, "", goldap.ScopeBaseObject, "(objectClass=*)", "supportedExtension").Entries[0]
		if !strings.Contains(strings.Join(root.GetAttributeValues("supportedExtension"), " "), oidStartTLS) {
			t.Errorf("rootDSE does not offer StartTLS: %q", root.GetAttributeValues("supportedExtension"))
		}
		if err := c.StartTLS(clientTLS); err != nil {
			t.Fatal(err)
		}
		if err := c.Bind(readerDN, readerPW); err != nil {
			t.Fatal(err)
		}
		if got := uids(search(t, c, people, goldap.ScopeSingleLevel, "(uid=eleve2)", "uid")); len(got) != 1 {
			t.Fatalf("after StartTLS: %q", got)
		}
		if err := c.StartTLS(clientTLS); err == nil {
			t.Fatal("a second StartTLS succeeded")
		}
	})
	t.Run("StartTLS without a certificate", func(t *testing.T) {
		st2 := openStore(t)
		fillSmall(t, st2)
		_, addr2 := startServer(t, st2, testConfig())
		c, err := goldap.DialURL("ldap://" + addr2)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.StartTLS(clientTLS); resultCode(err) != goldap.LDAPResultProtocolError {
			t.Fatalf("StartTLS on a server without TLS: %v", err)
		}
	})
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestBindThrottle(t *testing.T) {
	st := openStore(t)
	fillSmall(t, st)
	clock := &fakeClock{t: testNow}
	cfg := testConfig()
	cfg.Limits.FreeFailures = 2
	cfg.Limits.FreeFailuresPerSource = 100
	cfg.Limits.BindBackoff = 10 * time.Second
	a := &recAuditor{}
	_, addr := startServer(t, st, cfg, WithClock(clock.now), WithAuditor(a))
	c, err := goldap.DialURL("ldap://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 3; i++ {
		if err := c.Bind(readerDN, "wrong"); resultCode(err) != goldap.LDAPResultInvalidCredentials {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	err = c.Bind(readerDN, readerPW)
	if resultCode(err) != goldap.LDAPResultInvalidCredentials || !strings.Contains(err.Error(), "retry in") {
		t.Fatalf("right password while locked: %v, want a refusal saying when to retry", err)
	}
	// Another DN from the same address is not locked.
	if err := c.Bind(argonDN, argonPW); err != nil {
		t.Fatalf("other DN: %v", err)
	}
	clock.advance(11 * time.Second)
	if err := c.Bind(readerDN, readerPW); err != nil {
		t.Fatalf("after the backoff: %v", err)
	}
	if n := a.count("bind.failed"); n != 4 {
		t.Errorf("audited %d failed binds, want 4 (3 bad passwords, 1 throttled)", n)
	}
}

func TestReload(t *testing.T) {
	st := openStore(t)
	fillSmall(t, st)
	cfg := testConfig()
	cfg.ReloadInterval = 20 * time.Millisecond
	srv, addr := startServer(t, st, cfg)
	c, err := goldap.DialURL("ldap://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(readerDN, readerPW); err != nil {
		t.Fatal(err)
	}
	gen := srv.Generation()
	ctx := context.Background()
	err = st.Update(ctx, func(tx directory.Tx) error {
		if err := tx.PutPerson(ctx, &directory.Person{ID: "late1", FirstName: "Late", LastName: "Comer", Source: directory.SourceManual}); err != nil {
			return err
		}
		return tx.PutAccount(ctx, &directory.Account{PersonID: "late1", Login: "late.comer"})
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if len(uids(search(t, c, people, goldap.ScopeSingleLevel, "(ENTPersonLogin=late.comer)", "uid"))) == 1 {
			if srv.Generation() <= gen {
				t.Fatalf("generation %d did not move from %d", srv.Generation(), gen)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the new person never appeared")
}

// rawConn sends bytes on a plain TCP connection.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// closedSoon reports whether the server closes nc within d.
func closedSoon(nc net.Conn, d time.Duration) bool {
	_ = nc.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, nc)
	return err == nil // EOF: closed by the server
}

func TestRobustness(t *testing.T) {
	st := openStore(t)
	fillSmall(t, st)
	cfg := testConfig()
	cfg.Limits.MaxMessageSize = 4096
	cfg.Limits.MaxConnections = 20
	cfg.Limits.IdleTimeout = time.Second
	srv, addr := startServer(t, st, cfg, WithClock(time.Now))
	// openConns waits until the server holds n connections (their slots
	// are released asynchronously, after the client's close is read).
	openConns := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			srv.mu.Lock()
			got := len(srv.conns)
			srv.mu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server holds %d connections, want %d", got, n)
			}
		}
	}

	works := func() {
		t.Helper()
		c, err := goldap.DialURL("ldap://" + addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Bind(readerDN, readerPW); err != nil {
			t.Fatalf("server no longer answers: %v", err)
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\n\r\n")},
		{"truncated element inside a message", []byte{0x30, 0x05, 0x02, 0x01, 0x01, 0x63, 0x10}},
		{"indefinite length", []byte{0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00}},
		{"oversized message header", []byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}},
		{"length of 9 octets", []byte{0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"unknown operation", []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x7f, 0x01, 0x00}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc := rawConn(t, addr)
			if _, err := nc.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			if !closedSoon(nc, 2*time.Second) {
				t.Fatal("the connection was not closed")
			}
			works()
		})
	}

	t.Run("filter with thousands of clauses", func(t *testing.T) {
		c, err := goldap.DialURL("ldap://" + addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Bind(readerDN, readerPW); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString("(|")
		for i := 0; i < 3000; i++ {
			fmt.Fprintf(&b, "(uid=nobody%d)", i)
		}
		b.WriteString("(uid=eleve1))")
		cfg := testConfig()
		_ = cfg
		// 3,000 clauses do not fit in 4 KiB: refused as too large, connection closed.
		_, err = c.Search(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 0, 0, false, b.String(), []string{"uid"}, nil))
		if err == nil {
			t.Fatal("a 60 KB request passed a 4 KiB message limit")
		}
		works()
	})

	t.Run("idle connections are closed", func(t *testing.T) {
		nc := rawConn(t, addr)
		start := time.Now()
		if !closedSoon(nc, 3*time.Second) {
			t.Fatal("idle connection kept open")
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Fatalf("closed after %s, before the idle timeout", d)
		}
	})

	t.Run("connections beyond the maximum are refused", func(t *testing.T) {
		var conns []*goldap.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		openConns(0) // the earlier subtests' connections are gone
		for i := 0; i < 20; i++ {
			c, err := goldap.DialURL("ldap://" + addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		openConns(20)
		nc := rawConn(t, addr)
		r := bufio.NewReader(nc)
		_ = nc.SetReadDeadline(time.Now().Add(2 * time.Second))
		b, _ := io.ReadAll(r)
		if !strings.Contains(string(b), oidNotice) {
			t.Fatalf("21st connection got %q, want a notice of disconnection", b)
		}
	})
}

func TestBigFilters(t *testing.T) {
	f := newFixture(t)
	c := f.reader(t)
	clauses := func(n int) string {
		var b strings.Builder
		b.WriteString("(|")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "(uid=nobody%d)", i)
		}
		b.WriteString("(uid=eleve1))")
		return b.String()
	}
	start := time.Now()
	got := uids(search(t, c, people, goldap.ScopeSingleLevel, clauses(5000), "uid"))
	if len(got) != 1 || got[0] != "eleve1" {
		t.Fatalf("5,000-clause filter: %q", got)
	}
	if d := time.Since(start); d > 10*time.Second { // generous: CI machines are shared
		t.Errorf("5,000-clause filter took %s", d)
	}
	_, err := c.Search(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 0, 0, false, clauses(12000), []string{"uid"}, nil))
	if resultCode(err) != goldap.LDAPResultUnwillingToPerform || !strings.Contains(err.Error(), "too complex") {
		t.Fatalf("12,000-clause filter: %v, want unwillingToPerform (too complex)", err)
	}
	deep := strings.Repeat("(!", 100) + "(uid=eleve1)" + strings.Repeat(")", 100)
	_, err = c.Search(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 0, 0, false, deep, []string{"uid"}, nil))
	if resultCode(err) != goldap.LDAPResultUnwillingToPerform {
		t.Fatalf("100-deep filter: %v", err)
	}
	// The connection survived both refusals.
	if got := uids(search(t, c, people, goldap.ScopeSingleLevel, "(uid=eleve2)", "uid")); len(got) != 1 {
		t.Fatalf("after refusals: %q", got)
	}
}

func TestConfigValidate(t *testing.T) {
	good := testConfig()
	if err := good.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"bad base", func(c *Config) { c.BaseDN = "dc" }, "ldap.base_dn"},
		{"cert without key", func(c *Config) { c.TLSCertFile = "x.pem" }, "ldap.tls_cert"},
		{"empty service DN", func(c *Config) { c.ServiceAccounts[0].DN = "" }, "ldap.service_accounts[0].dn: is empty"},
		{"duplicate service DN", func(c *Config) { c.ServiceAccounts[1].DN = strings.ToUpper(readerDN) }, "ldap.service_accounts[1].dn"},
		{"service DN inside the tree", func(c *Config) { c.ServiceAccounts[0].DN = "uid=x,ou=people,dc=enthub" }, "collides"},
		{"plain password", func(c *Config) { c.ServiceAccounts[0].PasswordHash = "secret" }, "ldap.service_accounts[0].password_hash"},
		{"bad argon", func(c *Config) {
			c.ServiceAccounts[0].PasswordHash = "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
		}, "out of bounds"},
		{"subtree outside the base", func(c *Config) { c.ServiceAccounts[0].Subtrees = []string{"dc=other"} }, "subtrees[0]"},
		{"unknown attribute", func(c *Config) { c.ServiceAccounts[1].Attributes = []string{"uid", "shoeSize"} }, `attributes[1]: unknown attribute type "shoeSize"`},
		{"negative limit", func(c *Config) { c.Limits.SizeLimit = -1 }, "ldap.limits.size_limit"},
		{"jointure with $", func(c *Config) { c.JointureSource = "AC$X" }, "ldap.jointure_source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig()
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if err := password.Check(h); err != nil {
		t.Fatalf("password.Check(%q): %v", h, err)
	}
	for pw, want := range map[string]bool{"s3cret": true, "S3cret": false, "": false} {
		if ok, err := password.Verify(h, pw); ok != want || err != nil {
			t.Errorf("verify %q = %v, %v", pw, ok, err)
		}
	}
	if ok, _ := password.Verify("{ARGON2}"+cheapArgon("x"), "x"); !ok {
		t.Error("{ARGON2} prefix not accepted")
	}
}
