// Command ldapbench is the LDAP load client of test/bench/ldap.sh: the same
// go-ldap client, the same queries and the same keys against any LDAPv3
// server (enthub's LDAP front, OpenLDAP slapd), so that the figures compare.
//
//	ldapbench -url ldap://127.0.0.1:3389 -bind cn=reader,dc=enthub -pw demo -base dc=enthub \
//	    -mode uid -keys uids.txt -workers 1,16,50 -n 20000
//
// Each worker owns one bound connection and runs one operation at a time.
// Modes (the -keys file holds one key a line, used in a fixed shuffled order):
//
//	uid       subtree search under -base for (uid=KEY), returning uid cn mail; exactly 1 entry
//	jointure  subtree search under -base for (ENTPersonJointure=KEY), same attributes; exactly 1 entry
//	class     base search on the class DN KEY for (objectClass=*), returning member; 1 entry with members
//	members   one-level search under ou=people,-base for (isMemberOf=KEY) returning uid cn sn givenName
//	paged     paged search (-page, default 500) one level under ou=people,-base for
//	          (ENTPersonStructRattach=KEY) returning uid cn sn givenName mail ENTPersonLogin
//	          ENTPersonProfils: a whole school, all pages count as one operation
//
// Output: one line per mode and worker count,
//
//	RESULT <label> <mode> <workers> <ops> <ops/s> <p50 ms> <p99 ms> <entries/op> <load1> <server µs/op> <client µs/op>
//
// load1 is the 1-minute load average read right after the run; server µs/op
// is the CPU time (user+system) the -pid process spent per operation during
// the run ("-" without -pid), client µs/op the same for ldapbench itself:
// on a shared machine they tell who the throughput is bound by.
//
// With -write-keys DIR, ldapbench instead reads the tree once (paged) and
// writes the key files of every mode into DIR: uid.txt, jointure.txt,
// class.txt (classes with members; also the keys of "members") and
// paged.txt (structures that persons are attached to).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func main() {
	url := flag.String("url", "ldap://127.0.0.1:3389", "server URL")
	bind := flag.String("bind", "", "bind DN (empty: anonymous)")
	pw := flag.String("pw", "", "bind password")
	base := flag.String("base", "dc=enthub", "base DN of the tree")
	workers := flag.String("workers", "1,16,50", "comma-separated concurrent connection counts, one run each")
	n := flag.Int("n", 20000, "operations per run")
	warmup := flag.Int("warmup", -1, "operations before each run, not measured (default n/10)")
	mode := flag.String("mode", "uid", "uid, jointure, class, members or paged (comma-separated for several)")
	keysPath := flag.String("keys", "", "file with one key a line (uids, jointures, class or school DNs)")
	page := flag.Int("page", 500, "page size of the paged mode")
	label := flag.String("label", "server", "name printed on each RESULT line")
	pid := flag.Int("pid", 0, "server process id, to report its CPU time per operation")
	writeKeys := flag.String("write-keys", "", "read the tree and write the key files into this folder, then exit")
	flag.Parse()

	if *writeKeys != "" {
		if err := dumpKeys(*url, *bind, *pw, *base, *writeKeys); err != nil {
			fatalf("%v", err)
		}
		return
	}

	if *keysPath == "" {
		fatalf("-keys is required")
	}
	keys, err := readKeys(*keysPath)
	if err != nil {
		fatalf("%v", err)
	}
	var counts []int
	for _, s := range strings.Split(*workers, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || w < 1 {
			fatalf("-workers: %q is not a positive integer", s)
		}
		counts = append(counts, w)
	}
	for _, md := range strings.Split(*mode, ",") {
		op, err := newOp(strings.TrimSpace(md), *base, *page)
		if err != nil {
			fatalf("%v", err)
		}
		for _, w := range counts {
			b := bench{url: *url, bind: *bind, pw: *pw, workers: w, keys: keys, op: op}
			wu := *warmup
			if wu < 0 {
				wu = *n / 10
			}
			if wu > 0 {
				if _, err := b.run(wu, 0); err != nil {
					fatalf("%s %s warm-up, %d workers: %v", *label, md, w, err)
				}
			}
			srv0, cli0 := procCPU(*pid), procCPU(os.Getpid())
			r, err := b.run(*n, wu)
			if err != nil {
				fatalf("%s %s, %d workers: %v", *label, md, w, err)
			}
			srv1, cli1 := procCPU(*pid), procCPU(os.Getpid())
			srvCPU := "-"
			if *pid > 0 && srv0 >= 0 && srv1 >= 0 {
				srvCPU = fmt.Sprintf("%.0f", float64((srv1-srv0).Microseconds())/float64(r.ops))
			}
			fmt.Printf("RESULT %s %s %d %d %.0f %.3f %.3f %.1f %s %s %.0f\n", *label, md, w, r.ops, r.rate, ms(r.p50), ms(r.p99),
				float64(r.entries)/float64(r.ops), load1(), srvCPU, float64((cli1-cli0).Microseconds())/float64(r.ops))
		}
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ldapbench: "+format+"\n", args...)
	os.Exit(1)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func load1() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// procCPU returns the user+system CPU time of process pid from
// /proc/PID/stat, or -1.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name (field 2) may hold spaces: fields count from after ")".
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(ut+st) * time.Second / clkTck
}

// clkTck is USER_HZ, 100 on every Linux this runs on.
const clkTck = 100

// readKeys reads the non-empty lines of path and shuffles them with a fixed
// seed: every server sees the same keys in the same order.
func readKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if k := strings.TrimSpace(sc.Text()); k != "" {
			keys = append(keys, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no keys", path)
	}
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return keys, nil
}

// op runs one operation for key on c and returns how many entries came back.
type op func(c *ldap.Conn, key string) (int, error)

func newOp(mode, base string, page int) (op, error) {
	people := "ou=people," + base
	one := func(filterAttr string) op {
		attrs := []string{"uid", "cn", "mail"}
		return func(c *ldap.Conn, key string) (int, error) {
			res, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
				"("+filterAttr+"="+ldap.EscapeFilter(key)+")", attrs, nil))
			if err != nil {
				return 0, err
			}
			if len(res.Entries) != 1 {
				return 0, fmt.Errorf("(%s=%s): %d entries, want 1", filterAttr, key, len(res.Entries))
			}
			return 1, nil
		}
	}
	switch mode {
	case "uid":
		return one("uid"), nil
	case "jointure":
		return one("ENTPersonJointure"), nil
	case "class":
		return func(c *ldap.Conn, key string) (int, error) {
			res, err := c.Search(ldap.NewSearchRequest(key, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
				"(objectClass=*)", []string{"member"}, nil))
			if err != nil {
				return 0, err
			}
			if len(res.Entries) != 1 {
				return 0, fmt.Errorf("base %s: %d entries, want 1", key, len(res.Entries))
			}
			m := res.Entries[0].GetAttributeValues("member")
			if len(m) == 0 {
				return 0, fmt.Errorf("base %s: no member", key)
			}
			return len(m), nil
		}, nil
	case "members":
		return func(c *ldap.Conn, key string) (int, error) {
			res, err := c.Search(ldap.NewSearchRequest(people, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
				"(isMemberOf="+ldap.EscapeFilter(key)+")", []string{"uid", "cn", "sn", "givenName"}, nil))
			if err != nil {
				return 0, err
			}
			if len(res.Entries) == 0 {
				return 0, fmt.Errorf("(isMemberOf=%s): no entry", key)
			}
			return len(res.Entries), nil
		}, nil
	case "paged":
		attrs := []string{"uid", "cn", "sn", "givenName", "mail", "ENTPersonLogin", "ENTPersonProfils"}
		return func(c *ldap.Conn, key string) (int, error) {
			res, err := c.SearchWithPaging(ldap.NewSearchRequest(people, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
				"(ENTPersonStructRattach="+ldap.EscapeFilter(key)+")", attrs, nil), uint32(page))
			if err != nil {
				return 0, err
			}
			if len(res.Entries) == 0 {
				return 0, fmt.Errorf("(ENTPersonStructRattach=%s): no entry", key)
			}
			return len(res.Entries), nil
		}, nil
	}
	return nil, fmt.Errorf("-mode %q: want uid, jointure, class, members or paged", mode)
}

type bench struct {
	url, bind, pw string
	workers       int
	keys          []string
	op            op
}

type result struct {
	ops      int
	entries  int64
	rate     float64
	p50, p99 time.Duration
}

// run spreads n operations over the workers; keys are taken from offset on.
func (b *bench) run(n, offset int) (result, error) {
	conns := make([]*ldap.Conn, b.workers)
	for i := range conns {
		c, err := ldap.DialURL(b.url)
		if err != nil {
			return result{}, err
		}
		defer c.Close()
		if b.bind != "" {
			if err := c.Bind(b.bind, b.pw); err != nil {
				return result{}, fmt.Errorf("bind %s: %w", b.bind, err)
			}
		}
		conns[i] = c
	}
	var next atomic.Int64
	var entries atomic.Int64
	lat := make([][]time.Duration, b.workers)
	errs := make([]error, b.workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := make([]time.Duration, 0, n/b.workers+1)
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					break
				}
				key := b.keys[(offset+i)%len(b.keys)]
				t0 := time.Now()
				k, err := b.op(conns[w], key)
				if err != nil {
					errs[w] = err
					next.Store(int64(n)) // stop the others
					break
				}
				l = append(l, time.Since(t0))
				entries.Add(int64(k))
			}
			lat[w] = l
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return result{}, err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := result{ops: len(all), entries: entries.Load(), rate: float64(len(all)) / elapsed.Seconds()}
	if len(all) > 0 {
		r.p50 = all[len(all)/2]
		r.p99 = all[min(len(all)-1, len(all)*99/100)]
	}
	return r, nil
}

// dumpKeys writes the key files of every mode from the server's tree.
func dumpKeys(url, bind, pw, base, dir string) error {
	c, err := ldap.DialURL(url)
	if err != nil {
		return err
	}
	defer c.Close()
	if bind != "" {
		if err := c.Bind(bind, pw); err != nil {
			return fmt.Errorf("bind %s: %w", bind, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	people, err := c.SearchWithPaging(ldap.NewSearchRequest("ou=people,"+base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"uid", "ENTPersonJointure", "ENTPersonStructRattach"}, nil), 1000)
	if err != nil {
		return fmt.Errorf("people: %w", err)
	}
	var uids, jointures []string
	schools := map[string]int{}
	for _, e := range people.Entries {
		if u := e.GetAttributeValue("uid"); u != "" {
			uids = append(uids, u)
		}
		if j := e.GetAttributeValue("ENTPersonJointure"); j != "" {
			jointures = append(jointures, j)
		}
		if s := e.GetAttributeValue("ENTPersonStructRattach"); s != "" {
			schools[s]++
		}
	}
	groups, err := c.SearchWithPaging(ldap.NewSearchRequest("ou=groups,"+base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=ENTClasse)", []string{"member"}, nil), 1000)
	if err != nil {
		return fmt.Errorf("classes: %w", err)
	}
	var classes []string
	for _, e := range groups.Entries {
		if len(e.GetAttributeValues("member")) > 0 {
			classes = append(classes, e.DN)
		}
	}
	var structs []string
	for s := range schools {
		structs = append(structs, s)
	}
	slices.Sort(structs)
	for name, list := range map[string][]string{"uid": uids, "jointure": jointures, "class": classes, "paged": structs} {
		if len(list) == 0 {
			return fmt.Errorf("no keys for %s", name)
		}
		if err := os.WriteFile(dir+"/"+name+".txt", []byte(strings.Join(list, "\n")+"\n"), 0o644); err != nil {
			return err
		}
		fmt.Printf("%s.txt: %d keys\n", name, len(list))
	}
	return nil
}
