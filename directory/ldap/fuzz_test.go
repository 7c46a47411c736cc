package ldap

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/sqlstore"
	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

// discardConn is a net.Conn that swallows writes and has nothing to read.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (discardConn) Close() error                     { return nil }
func (discardConn) SetDeadline(time.Time) error      { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (discardConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }

var fuzzEnv struct {
	once sync.Once
	srv  *Server
}

// fuzzServer is a server over the small directory, with its model loaded,
// not listening: fuzz targets feed its connection handler directly.
func fuzzServer(t testing.TB) *Server {
	fuzzEnv.once.Do(func() {
		st := openStoreShared(t)
		fillSmall(t, st)
		srv, err := NewServer(testConfig(), st, WithClock(func() time.Time { return testNow }))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		fuzzEnv.srv = srv
	})
	return fuzzEnv.srv
}

// openStoreShared opens a store that outlives the calling test (fuzz
// workers share it); the temporary folder is left to the OS.
func openStoreShared(t testing.TB) *sqlstore.Store {
	dir, err := os.MkdirTemp("", "enthub-ldap-fuzz")
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(context.Background(), "sqlite:"+dir+"/db", sqlstore.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func seedMessages() [][]byte {
	enc := func(id int64, op *ber.Packet, ctls ...goldap.Control) []byte {
		p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "msg")
		p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "id"))
		p.AppendChild(op)
		if len(ctls) > 0 {
			cp := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "controls")
			for _, c := range ctls {
				cp.AppendChild(c.Encode())
			}
			p.AppendChild(cp)
		}
		return p.Bytes()
	}
	bind := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 0, nil, "bind")
	bind.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "v"))
	bind.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, readerDN, "dn"))
	bind.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, readerPW, "pw"))
	var out [][]byte
	out = append(out, enc(1, bind))
	for _, f := range []string{"(uid=eleve1)", "(&(objectClass=ENTPerson)(|(sn=C*)(!(mail=*))))", "(sn:dn:caseExactMatch:=x)",
		"(isMemberOf=cn=0290009C$TS2,ou=groups,dc=enthub)", "(sn>=a)", "(cn~=x)", "(sn=*a*b*c)"} {
		fp, err := goldap.CompileFilter(f)
		if err != nil {
			panic(err)
		}
		s := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 3, nil, "search")
		s.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, base, "base"))
		s.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 2, "scope"))
		s.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, "deref"))
		s.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, "size"))
		s.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, "time"))
		s.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, "types"))
		s.AppendChild(fp)
		attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attrs")
		attrs.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "*", "a"))
		attrs.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "+", "a"))
		s.AppendChild(attrs)
		out = append(out, enc(2, s), enc(3, s, goldap.NewControlPaging(2)))
	}
	cmp := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 14, nil, "compare")
	cmp.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "uid=eleve1,"+people, "dn"))
	ava := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "ava")
	ava.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "sn", "a"))
	ava.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "Colin", "v"))
	cmp.AppendChild(ava)
	out = append(out, enc(4, cmp))
	who := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 23, nil, "ext")
	who.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, oidWhoAmI, "name"))
	out = append(out, enc(5, who))
	return out
}

// FuzzMessage feeds arbitrary bytes to the message reader and handler: no
// input may panic, hang, or allocate beyond the message limit.
func FuzzMessage(f *testing.F) {
	for _, s := range seedMessages() {
		f.Add(s)
	}
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		srv := fuzzServer(t)
		c := srv.newConn(discardConn{}, false)
		defer c.close()
		r := bufio.NewReader(bytes.NewReader(data))
		for i := 0; i < 8; i++ {
			msg, err := readMessage(r, nil, 1<<16)
			if err != nil {
				return
			}
			quit, err := c.handle(context.Background(), msg)
			c.opsWG.Wait()
			if err != nil || quit {
				return
			}
		}
	})
}

// FuzzFilter decodes arbitrary bytes as a filter and evaluates it on every
// entry.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{"(uid=eleve1)", "(&(objectClass=*)(!(sn<=m)))", "(|(cn=*a*)(mail=*@*))",
		"(ENTPersonStructRattach=ENTStructureUAI=0290009C,ou=structures,dc=enthub)", "(:dn:2.5.13.2:=people)",
		"(createTimestamp>=20200101000000Z)", "(telephoneNumber=01 02)"} {
		p, err := goldap.CompileFilter(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		srv := fuzzServer(t)
		m := srv.cur.Load()
		v := &view{m: m, acc: srv.accessFor(&identity{svc: &srv.cfg.ServiceAccounts[0]}, m), now: testNow.Unix()}
		r := berReader{data}
		tag, content, err := r.next()
		if err != nil {
			return
		}
		d := filterDecoder{v: v, limits: filterLimits{maxDepth: 64, maxNodes: 10000}}
		flt, err := d.decode(tag, content, 0)
		if err != nil {
			return
		}
		var scratch []string
		for ord := uint32(0); ord < m.total; ord++ {
			v.eval(&flt, ord, &scratch)
		}
		v.eval(&flt, ordRootDSE, &scratch)
		v.plan(&flt)
	})
}
