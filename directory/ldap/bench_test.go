package ldap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

// Benchmarks run over a generated directory of ENTHUB_LDAP_BENCH_STUDENTS
// students (default 3,000, i.e. about 8,000 accounts; 110,000 students make
// the 300,000-account département of the issue). Generating is slow on
// SQLite, so ENTHUB_LDAP_BENCH_DB=PATH keeps the database between runs:
//
//	ENTHUB_LDAP_BENCH_STUDENTS=110000 ENTHUB_LDAP_BENCH_DB=/tmp/bench300k.db \
//	  go test ./directory/ldap -run '^$' -bench . -benchtime 20000x
//
// Each benchmark reports searches/s and the p99 latency seen by go-ldap
// clients over TCP, on 1, 16 and 50 connections.

var benchEnv struct {
	once  sync.Once
	store *sqlstore.Store
	err   error
	dir   string
}

func benchStore(b *testing.B) *sqlstore.Store {
	b.Helper()
	benchEnv.once.Do(func() {
		n := 3000
		if v := os.Getenv("ENTHUB_LDAP_BENCH_STUDENTS"); v != "" {
			n, benchEnv.err = strconv.Atoi(v)
			if benchEnv.err != nil {
				return
			}
		}
		path := os.Getenv("ENTHUB_LDAP_BENCH_DB")
		if path == "" {
			benchEnv.dir, benchEnv.err = os.MkdirTemp("", "enthub-ldap-bench")
			if benchEnv.err != nil {
				return
			}
			path = filepath.Join(benchEnv.dir, "db")
		}
		ctx := context.Background()
		st, err := sqlstore.Open(ctx, "sqlite:"+path, sqlstore.Options{})
		if err != nil {
			benchEnv.err = err
			return
		}
		benchEnv.store = st
		stats, err := st.Stats(ctx)
		if err != nil {
			benchEnv.err = err
			return
		}
		if stats.Structures == 0 {
			start := time.Now()
			s := fillSynthetic(b, st, n, 42)
			fmt.Fprintf(os.Stderr, "generated %d persons (%d students) in %s\n", s.persons, n, time.Since(start).Round(time.Second))
		}
	})
	if benchEnv.err != nil {
		b.Fatal(benchEnv.err)
	}
	return benchEnv.store
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchEnv.store != nil {
		benchEnv.store.Close()
	}
	if benchEnv.dir != "" {
		os.RemoveAll(benchEnv.dir)
	}
	os.Exit(code)
}

var benchServer struct {
	once sync.Once
	srv  *Server
	addr string
}

func startBenchServer(b *testing.B) (*Server, string) {
	st := benchStore(b)
	benchServer.once.Do(func() {
		cfg := testConfig()
		cfg.Limits.MaxPageSize = 1000
		srv, err := NewServer(cfg, st)
		if err != nil {
			b.Fatal(err)
		}
		ln, err := netListen()
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = srv.Serve(context.Background(), ln) }()
		for srv.Generation() < 0 {
			time.Sleep(10 * time.Millisecond)
		}
		benchServer.srv, benchServer.addr = srv, ln.Addr().String()
	})
	return benchServer.srv, benchServer.addr
}

// runClients spreads b.N operations over conns bound connections and
// reports throughput and latency percentiles.
func runClients(b *testing.B, addr string, conns int, op func(c *goldap.Conn, i int) error) {
	b.Helper()
	cs := make([]*goldap.Conn, conns)
	for i := range cs {
		c, err := goldap.DialURL("ldap://" + addr)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Bind(readerDN, readerPW); err != nil {
			b.Fatal(err)
		}
		cs[i] = c
		defer c.Close()
	}
	lat := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += conns {
				t0 := time.Now()
				if err := op(cs[w], i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "searches/s")
		b.ReportMetric(float64(all[len(all)*50/100].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[min(len(all)-1, len(all)*99/100)].Microseconds())/1000, "p99-ms")
	}
}

func benchConns(b *testing.B, op func(m *model) func(c *goldap.Conn, i int) error) {
	srv, addr := startBenchServer(b)
	m := srv.cur.Load()
	for _, n := range []int{1, 16, 50} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			runClients(b, addr, n, op(m))
		})
	}
}

func expectEntries(res *goldap.SearchResult, err error, min int) error {
	if err != nil {
		return err
	}
	if len(res.Entries) < min {
		return fmt.Errorf("%d entries, want at least %d", len(res.Entries), min)
	}
	return nil
}

func BenchmarkSearchUID(b *testing.B) {
	benchConns(b, func(m *model) func(c *goldap.Conn, i int) error {
		return func(c *goldap.Conn, i int) error {
			p := &m.persons[(i*7919)%len(m.persons)]
			res, err := c.Search(goldap.NewSearchRequest(people, goldap.ScopeWholeSubtree, 0, 0, 0, false,
				"(uid="+m.str(p.id)+")", []string{"uid", "cn", "mail"}, nil))
			return expectEntries(res, err, 1)
		}
	})
}

func BenchmarkSearchJointure(b *testing.B) {
	benchConns(b, func(m *model) func(c *goldap.Conn, i int) error {
		return func(c *goldap.Conn, i int) error {
			p := &m.persons[(i*7919)%len(m.persons)]
			res, err := c.Search(goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, 0, 0, 0, false,
				"(ENTPersonJointure="+m.jointureOf(p)+")", []string{"uid", "cn", "mail"}, nil))
			return expectEntries(res, err, 1)
		}
	})
}

func BenchmarkClassMembers(b *testing.B) {
	benchConns(b, func(m *model) func(c *goldap.Conn, i int) error {
		var classes []*group
		for gi := range m.groups {
			if m.groups[gi].kind == groupClass {
				classes = append(classes, &m.groups[gi])
			}
		}
		return func(c *goldap.Conn, i int) error {
			g := classes[(i*31)%len(classes)]
			res, err := c.Search(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 0, 0, false,
				"(isMemberOf="+g.dn+")", []string{"uid", "cn", "sn", "givenName"}, nil))
			return expectEntries(res, err, 20)
		}
	})
}

func BenchmarkPagedSchool(b *testing.B) {
	srv, addr := startBenchServer(b)
	m := srv.cur.Load()
	b.Run("conns=1", func(b *testing.B) {
		runClients(b, addr, 1, func(c *goldap.Conn, i int) error {
			s := &m.structs[i%len(m.structs)]
			res, err := c.SearchWithPaging(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 0, 0, false,
				"(ENTPersonStructRattach="+s.dn+")", []string{"uid", "cn", "sn", "givenName", "mail", "ENTPersonLogin", "ENTPersonProfils"}, nil), 500)
			return expectEntries(res, err, 100)
		})
	})
}

// BenchmarkModelBuild reports the heap a read model takes (bytes/person
// and MB) and how long building it takes.
func BenchmarkModelBuild(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	var m *model
	var before, after runtime.MemStats
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		m = nil
		runtime.GC()
		runtime.ReadMemStats(&before)
		var err error
		m, err = buildModel(ctx, st, buildOptions{base: "dc=enthub", jointure: "AAF", now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
	}
	b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "build-s")
	heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	b.ReportMetric(heap/float64(len(m.persons)), "heap-B/person")
	b.ReportMetric(heap/1e6, "heap-MB")
	b.ReportMetric(float64(len(m.persons)), "persons")
	b.ReportMetric(float64(after.HeapObjects)-float64(before.HeapObjects), "heap-objects")
	runtime.KeepAlive(m)
}

// BenchmarkModelGC measures one forced collection with a read model live:
// the collector marks everything the model points to on every cycle, so
// this is what the model costs a process that allocates (logins hash
// passwords, searches encode replies). It also reports the scannable heap
// (/gc/scan/heap:bytes: the bytes of objects that hold pointers) the
// model adds.
func BenchmarkModelGC(b *testing.B) {
	st := benchStore(b)
	gcModel.once.Do(func() {
		// Built once per process: a large model takes minutes, and the
		// benchmark function runs several times (b.N ramp-up, -count).
		scan := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}}
		runtime.GC()
		metrics.Read(scan)
		before := scan[0].Value.Uint64()
		gcModel.m, gcModel.err = buildModel(context.Background(), st, buildOptions{base: "dc=enthub", jointure: "AAF", now: time.Now()})
		runtime.GC()
		metrics.Read(scan)
		gcModel.scanMB = (float64(scan[0].Value.Uint64()) - float64(before)) / 1e6
	})
	if gcModel.err != nil {
		b.Fatal(gcModel.err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC()
	}
	b.StopTimer()
	b.ReportMetric(gcModel.scanMB, "scan-MB")
	b.ReportMetric(float64(len(gcModel.m.persons)), "persons")
}

var gcModel struct {
	once   sync.Once
	m      *model
	err    error
	scanMB float64
}

var _ directory.Reader = (*sqlstore.Store)(nil)

// BenchmarkServerSide measures what the server alone spends on one search
// (decode, plan, encode, write to a connection that discards), without a
// client or the network: ns/op and allocs/op are then not blurred by the
// client's CPU or by other work on the machine, unlike the benchmarks
// above and test/bench/ldap.sh.
func BenchmarkServerSide(b *testing.B) {
	srv, _ := startBenchServer(b)
	m := srv.cur.Load()
	var classes []int32
	var school int32 = -1
	for gi := range m.groups {
		if m.groups[gi].kind == groupClass && len(m.groups[gi].members) > 0 {
			classes = append(classes, int32(gi))
		}
	}
	for si := range m.structs {
		if len(m.structs[si].rattached) > 0 {
			school = int32(si)
			break
		}
	}
	search := func(id int64, baseDN string, scope int64, filter string, attrs ...string) []byte {
		fp, err := goldap.CompileFilter(filter)
		if err != nil {
			b.Fatal(err)
		}
		s := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 3, nil, "search")
		s.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, baseDN, "base"))
		s.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, scope, "scope"))
		s.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, "deref"))
		s.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, "size"))
		s.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, "time"))
		s.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, "types"))
		s.AppendChild(fp)
		as := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attrs")
		for _, a := range attrs {
			as.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, "a"))
		}
		s.AppendChild(as)
		p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "msg")
		p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "id"))
		p.AppendChild(s)
		r := berReader{p.Bytes()}
		content, err := r.expect(tagSequence, "message") // handle takes what readMessage returns
		if err != nil {
			b.Fatal(err)
		}
		return content
	}
	const n = 512
	cases := []struct {
		name string
		msg  func(i int) []byte
	}{
		{"uid", func(i int) []byte {
			return search(int64(i+1), base, 2, "(uid="+m.str(m.persons[(i*7919)%len(m.persons)].id)+")", "uid", "cn", "mail")
		}},
		{"jointure", func(i int) []byte {
			return search(int64(i+1), base, 2, "(ENTPersonJointure="+m.jointureOf(&m.persons[(i*7919)%len(m.persons)])+")",
				"uid", "cn", "mail")
		}},
		{"class-member", func(i int) []byte {
			return search(int64(i+1), m.groups[classes[(i*31)%len(classes)]].dn, 0, "(objectClass=*)", "member")
		}},
		{"isMemberOf", func(i int) []byte {
			return search(int64(i+1), people, 1, "(isMemberOf="+m.groups[classes[(i*31)%len(classes)]].dn+")",
				"uid", "cn", "sn", "givenName")
		}},
		{"school", func(i int) []byte {
			return search(int64(i+1), people, 1, "(ENTPersonStructRattach="+m.structs[school].dn+")",
				"uid", "cn", "sn", "givenName", "mail", "ENTPersonLogin", "ENTPersonProfils")
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			msgs := make([][]byte, n)
			for i := range msgs {
				msgs[i] = tc.msg(i)
			}
			c := srv.newConn(discardConn{}, false)
			defer c.close()
			c.setIdentity(&identity{dn: readerDN, svc: &srv.cfg.ServiceAccounts[0], display: readerDN})
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.handle(ctx, msgs[i%n]); err != nil {
					b.Fatal(err)
				}
				c.opsWG.Wait()
			}
		})
	}
}
