package ldap

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enthub/enthub/aaf"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/test/peer"
	goldap "github.com/go-ldap/ldap/v3"
)

// TestPush mirrors a generated directory into a real slapd (SDET schema)
// across a Complet, a Delta and a purge, and checks after each that the
// remote holds exactly what the front serves. It also cuts the connection
// in the middle of a push (the next sync resumes from what the remote
// holds), and checks that a sync with nothing new sends nothing, also from
// a new pusher (the full compare at start).
func TestPush(t *testing.T) {
	remote := peer.Slapd(t, peer.SlapdOptions{Suffix: "dc=enthub", Schemas: peer.SDETSchemas(t),
		Indexes: []string{"objectClass eq", "uid eq"}, DatabaseConfig: "dbnosync", LogLevel: "none"})
	// A sibling branch the push must leave alone.
	ldif := filepath.Join(t.TempDir(), "services.ldif")
	writeFile(t, ldif, "dn: ou=services,dc=enthub\nobjectClass: organizationalUnit\nou: services\n\n"+
		"dn: cn=grr,ou=services,dc=enthub\nobjectClass: applicationProcess\ncn: grr\n")
	remote.LDAPModify(ldif)

	ctx := context.Background()
	st := openStore(t)
	dir := t.TempDir()
	imp := func(delta bool) {
		t.Helper()
		out := filepath.Join(dir, fmt.Sprint(delta))
		if _, err := aaf.Generate(ctx, aaf.GenerateOptions{Out: out, Students: 700, Schools: 2, Seed: 3, Delta: delta}); err != nil {
			t.Fatal(err)
		}
		if _, err := aaf.Import(ctx, st, []string{out}, aaf.ImportOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	imp(false)
	srv, addr := startServer(t, st, testConfig(), WithClock(time.Now))
	proxy := newCutProxy(t, remote.URL)
	p, err := NewPusher(srv, PushConfig{URL: proxy.url, BindDN: remote.BindDN, Password: remote.BindPW, SeeDisabled: true})
	if err != nil {
		t.Fatal(err)
	}
	sync := func(wantErr bool) PushResult {
		t.Helper()
		res, err := p.Sync(ctx)
		t.Logf("sync: %+v err=%v", res, err)
		if (err != nil) != wantErr {
			t.Fatalf("sync: err = %v, want error: %v", err, wantErr)
		}
		return res
	}

	t.Run("Complet, cut in the middle, then resumed", func(t *testing.T) {
		proxy.cutAfter(40 << 10) // about a hundred adds
		res := sync(true)
		if res.Added == 0 || res.Added >= res.Entries {
			t.Fatalf("cut push added %d of %d entries, want some", res.Added, res.Entries)
		}
		proxy.cutAfter(-1)
		res = sync(false)
		if !res.FullCompare || res.Added == 0 || res.Failed != 0 {
			t.Fatalf("resumed push: %+v, want a full compare and the rest added", res)
		}
		sameTrees(t, addr, remote, p)
		res = sync(false)
		if res.Added+res.Modified+res.Deleted != 0 || res.Unchanged != res.Entries {
			t.Fatalf("second push of the same model sent changes: %+v", res)
		}
	})

	t.Run("Delta", func(t *testing.T) {
		imp(true)
		if err := srv.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		res := sync(false)
		if res.Modified == 0 || res.Added == 0 {
			t.Fatalf("Delta push: %+v, want adds and modifies", res)
		}
		sameTrees(t, addr, remote, p)
	})

	t.Run("purge", func(t *testing.T) {
		n, err := st.PurgeDisabled(ctx, time.Now().Add(time.Hour))
		if err != nil || n == 0 {
			t.Fatalf("PurgeDisabled: %d, %v; want some persons purged", n, err)
		}
		if err := srv.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		res := sync(false)
		if res.Deleted < n {
			t.Fatalf("purge push deleted %d entries, want at least the %d purged persons", res.Deleted, n)
		}
		sameTrees(t, addr, remote, p)
	})

	t.Run("Run follows the model swaps", func(t *testing.T) {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(rctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
		m := srv.cur.Load()
		id := m.str(m.persons[len(m.persons)/2].id)
		err := st.Update(ctx, func(tx directory.Tx) error {
			per, err := st.Person(ctx, id)
			if err != nil {
				return err
			}
			per.FirstName = "Renommé"
			return tx.PutPerson(ctx, &per)
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		want := srv.Generation()
		for deadline := time.Now().Add(20 * time.Second); p.Generation() != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("Run did not push generation %d (pushed %d)", want, p.Generation())
			}
		}
		sameTrees(t, addr, remote, p)
		r, err := remote.Conn().Search(goldap.NewSearchRequest(m.personDN(uidIndex(m, id)), goldap.ScopeBaseObject,
			0, 0, 0, false, "(objectClass=*)", []string{"givenName"}, nil))
		if err != nil || r.Entries[0].GetAttributeValue("givenName") != "Renommé" {
			t.Fatalf("the renamed person was not pushed: %v, %v", r, err)
		}
	})

	t.Run("a new pusher finds nothing to do", func(t *testing.T) {
		p2, err := NewPusher(srv, PushConfig{URL: remote.URL, BindDN: remote.BindDN, Password: remote.BindPW, SeeDisabled: true})
		if err != nil {
			t.Fatal(err)
		}
		res, err := p2.Sync(ctx)
		if err != nil || !res.FullCompare || res.Unchanged != res.Entries {
			t.Fatalf("restarted push: %+v, %v; want a full compare and nothing sent", res, err)
		}
		c := remote.Conn()
		r, err := c.Search(goldap.NewSearchRequest("ou=services,dc=enthub", goldap.ScopeWholeSubtree, 0, 0, 0, false,
			"(objectClass=*)", []string{"1.1"}, nil))
		if err != nil || len(r.Entries) != 2 {
			t.Fatalf("ou=services was touched: %v, %v", r, err)
		}
	})
}

// sameTrees compares, entry by entry, the tree the front serves (as the
// reader, who sees disabled accounts) with the remote's, on the attribute
// types p pushes.
func sameTrees(t *testing.T, addr string, remote *peer.SlapdServer, p *Pusher) {
	t.Helper()
	read := func(url, dn, pw string) map[string]string {
		c, err := goldap.DialURL(url)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Bind(dn, pw); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, b := range []string{"ou=structures,dc=enthub", "ou=groups,dc=enthub", "ou=people,dc=enthub"} {
			res, err := c.SearchWithPaging(goldap.NewSearchRequest(b, goldap.ScopeWholeSubtree, 0, 0, 0, false,
				"(objectClass=*)", p.attrNames(), nil), 500)
			if err != nil {
				t.Fatalf("%s: %v", url, err)
			}
			for _, e := range res.Entries {
				n, _ := normDN(e.DN)
				var lines []string
				for _, a := range p.remoteAttrs(e) {
					lines = append(lines, attrTypes[a.id].name+": "+strings.Join(canonValues(a.id, a.vals), " | "))
				}
				out[n] = strings.Join(lines, "\n")
			}
		}
		return out
	}
	ours := read("ldap://"+addr, readerDN, readerPW)
	theirs := read(remote.URL, remote.BindDN, remote.BindPW)
	var diffs []string
	for dn, e := range ours {
		switch r, ok := theirs[dn]; {
		case !ok:
			diffs = append(diffs, "missing on the remote: "+dn)
		case r != e:
			diffs = append(diffs, fmt.Sprintf("%s differs:\n  front:\n%s\n  remote:\n%s", dn, indent(e), indent(r)))
		}
	}
	for dn := range theirs {
		if _, ok := ours[dn]; !ok {
			diffs = append(diffs, "only on the remote: "+dn)
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Fatalf("%d differences (of %d entries), first ones:\n%s", len(diffs), len(ours), strings.Join(diffs[:min(5, len(diffs))], "\n"))
	}
	if len(ours) < 100 {
		t.Fatalf("only %d entries compared", len(ours))
	}
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

// cutProxy forwards TCP to an LDAP server and can cut every connection
// once the client has sent a number of bytes (the remote "goes down").
type cutProxy struct {
	url    string
	target string
	budget atomic.Int64 // bytes the client may still send; <0: unlimited
	mu     sync.Mutex
	conns  []net.Conn
}

func newCutProxy(t *testing.T, targetURL string) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	p := &cutProxy{url: "ldap://" + l.Addr().String(), target: strings.TrimPrefix(targetURL, "ldap://")}
	p.budget.Store(-1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cutProxy) cutAfter(n int64) { p.budget.Store(n) }

func (p *cutProxy) serve(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, s)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(c, s); c.Close() }()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if b := p.budget.Load(); b >= 0 {
				if int64(n) > b {
					p.cutAll()
					return
				}
				p.budget.Add(-int64(n))
			}
			if _, werr := s.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	s.Close()
	c.Close()
}

func (p *cutProxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = slices.Delete(p.conns, 0, len(p.conns))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
