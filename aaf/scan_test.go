package aaf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/text/encoding/charmap"
)

// parseResult is everything a parse shows its caller.
type parseResult struct {
	recs     []*Record
	hdr      Header
	issues   []Problem
	err      error
	episodes int // fast path only: hand-overs to encoding/xml
}

// parseVia parses r with the fast scanner (reference=false) or encoding/xml.
// collect=false leaves Issue nil, so the first envelope problem is an error.
func parseVia(r io.Reader, reference, collect bool, opts ParseOptions) parseResult {
	var res parseResult
	opts.Reference = reference
	if collect {
		opts.Issue = func(p Problem) { res.issues = append(res.issues, p) }
	}
	p := &parser{ctx: context.Background(), name: "t.xml", fam: Eleve, opts: opts.withDefaults(), fn: func(r *Record) error {
		res.recs = append(res.recs, r)
		return nil
	}}
	res.err = p.run(r)
	res.hdr = p.hdr
	if p.scan != nil {
		res.episodes = p.scan.episodes
	}
	return res
}

// describeErr renders an error with what callers can test on it.
func describeErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		return "not a ParseError: " + err.Error()
	}
	inner := "<nil>"
	if pe.Err != nil {
		inner = pe.Err.Error()
	}
	return fmt.Sprintf("%+v | err=%s | truncated=%v limit=%v envelope=%v", pe.Problem, inner,
		errors.Is(err, ErrTruncated), errors.Is(err, ErrLimit), errors.Is(err, ErrEnvelope))
}

// diffResults returns "" when the two parses are indistinguishable.
func diffResults(fast, ref parseResult) string {
	var b strings.Builder
	if len(fast.recs) != len(ref.recs) {
		fmt.Fprintf(&b, "records: fast %d, reference %d\n", len(fast.recs), len(ref.recs))
	}
	for i := 0; i < len(fast.recs) && i < len(ref.recs); i++ {
		if !reflect.DeepEqual(fast.recs[i], ref.recs[i]) {
			fmt.Fprintf(&b, "record %d:\n fast %+v\n ref  %+v\n", i+1, *fast.recs[i], *ref.recs[i])
			break
		}
	}
	if !reflect.DeepEqual(fast.hdr, ref.hdr) {
		fmt.Fprintf(&b, "header:\n fast %+v\n ref  %+v\n", fast.hdr, ref.hdr)
	}
	if !reflect.DeepEqual(fast.issues, ref.issues) {
		fmt.Fprintf(&b, "issues:\n fast %+v\n ref  %+v\n", fast.issues, ref.issues)
	}
	if f, r := describeErr(fast.err), describeErr(ref.err); f != r {
		fmt.Fprintf(&b, "error:\n fast %s\n ref  %s\n", f, r)
	}
	return b.String()
}

// checkSame parses data both ways, with and without an Issue sink.
func checkSame(t testing.TB, label string, data []byte, opts ParseOptions) (fast parseResult) {
	t.Helper()
	for _, collect := range []bool{true, false} {
		f := parseVia(bytes.NewReader(data), false, collect, opts)
		r := parseVia(bytes.NewReader(data), true, collect, opts)
		if d := diffResults(f, r); d != "" {
			t.Fatalf("%s (collect=%v): fast and reference parsers differ:\n%s", label, collect, d)
		}
		if collect {
			fast = f
		}
	}
	return fast
}

// withBuf runs fn with the scanner's buffer shrunk to n bytes, so that
// tokens are cut by the buffer end at many positions (re-scan after a
// refill) and tokens larger than n go through encoding/xml episodes.
func withBuf(n int, fn func()) {
	old := scanBufSize
	scanBufSize = n
	defer func() { scanBufSize = old }()
	fn()
}

func sampleFiles(t testing.TB) []string {
	base := samplesDir(t)
	var files []string
	err := filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".xml") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no sample files")
	}
	return files
}

func TestScanMatchesXMLOnSamples(t *testing.T) {
	for _, path := range sampleFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			fast := checkSame(t, name, data, ParseOptions{})
			if fast.err != nil || len(fast.recs) == 0 {
				t.Fatalf("sample did not parse: %d records, %v", len(fast.recs), fast.err)
			}
			// The samples are plain AAF: the scanner must read them alone.
			if fast.episodes != 0 {
				t.Errorf("%d hand-overs to encoding/xml on a plain sample", fast.episodes)
			}
			// Readers that return a byte, or half a buffer, at a time cut
			// tokens at every position.
			if len(data) < 64<<10 {
				for _, wrap := range []func(io.Reader) io.Reader{iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader} {
					f := parseVia(wrap(bytes.NewReader(data)), false, true, ParseOptions{})
					if d := diffResults(f, fast); d != "" {
						t.Fatalf("short reads change the result:\n%s", d)
					}
				}
			}
			// Small buffers: a refill inside every few tokens.
			for _, size := range []int{512, 613} {
				withBuf(size, func() {
					f := parseVia(bytes.NewReader(data), false, true, ParseOptions{})
					if d := diffResults(f, fast); d != "" {
						t.Fatalf("buffer of %d bytes changes the result:\n%s", size, d)
					}
				})
			}
			// Truncated anywhere: same records, same truncation error.
			n := 40
			if len(data) > 64<<10 {
				n = 5 // the big 2013 files are alike; keep the suite quick
			}
			for _, cut := range cuts(len(data), n) {
				checkSame(t, fmt.Sprintf("%s cut at %d", name, cut), data[:cut], ParseOptions{})
			}
		})
	}
}

// cuts returns n positions spread over [0, size), plus the edges.
func cuts(size, n int) []int {
	out := []int{0, 1, size - 1}
	for i := 1; i < n; i++ {
		out = append(out, size*i/n)
	}
	return out
}

func TestScanMatchesXMLOnGenerated(t *testing.T) {
	ctx := context.Background()
	for _, g := range []GenerateOptions{
		{Students: 400, Seed: 1},
		{Students: 400, Seed: 2, ChunkSize: 150},
		{Students: 400, Seed: 1, Delta: true},
		{Students: 900, Seed: 7, Delta: true, DeltaRate: 0.2},
	} {
		dir := filepath.Join(t.TempDir(), "d")
		g.Out = dir
		if _, err := Generate(ctx, g); err != nil {
			t.Fatal(err)
		}
		d, err := Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range d.Files {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			label := fmt.Sprintf("seed %d delta %v %s", g.Seed, g.Delta, f.Name)
			fast := checkSame(t, label, data, ParseOptions{})
			if fast.err != nil || fast.episodes != 0 {
				t.Fatalf("%s: err %v, %d hand-overs", label, fast.err, fast.episodes)
			}
			// Tight limits make the limit paths fire on real data.
			checkSame(t, label+" tight limits", data, ParseOptions{MaxValueBytes: 20, MaxAttrsPerRecord: 10, MaxValuesPerAttr: 2, MaxRecordBytes: 300})
			checkSame(t, label+" cut", data[:len(data)*2/3], ParseOptions{})
			withBuf(512+int(g.Seed), func() {
				checkSame(t, label+" small buffer", data, ParseOptions{})
				checkSame(t, label+" small buffer tight limits", data, ParseOptions{MaxValueBytes: 20, MaxAttrsPerRecord: 10, MaxValuesPerAttr: 2, MaxRecordBytes: 300})
			})
		}
		d.Close()
	}
}

// scanCases are documents meant to hit each construct of the scanner, and
// each reason it has to hand over to encoding/xml.
func scanCases() map[string]string {
	op := `<operationalAttributes><attr name="categoriePersonne"><value>Eleve</value></attr></operationalAttributes>`
	rec := func(attrs string) string {
		return `<addRequest>` + op + `<identifier><id>1</id></identifier><attributes>` + attrs + `</attributes></addRequest>`
	}
	doc := func(body string) string { return eleveHead + body + "\n</ficAlimMENESR>\n" }
	sn := func(v string) string { return doc(rec(`<attr name="sn"><value>` + v + `</value></attr>`)) }
	return map[string]string{
		"plain":                 doc(rec(`<attr name="sn"><value>X</value></attr>`)),
		"declaration":           `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + sn("X"),
		"declaration single q":  `<?xml version='1.0' encoding='utf-8' standalone='yes'?>` + sn("X"),
		"declaration utf8":      `<?xml version="1.0" encoding="utf8"?>` + sn("X"),
		"declaration no space":  `<?xml?>` + sn("X"),
		"declaration version 2": `<?xml version="2.0"?>` + sn("X"),
		"declaration latin9":    "<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?>\n" + sn("L\xe9a \xa4 \xbcUVRE &eacute; <![CDATA[\xe9]]>") + "<!-- \xe9 -->",
		"declaration cp1252":    "<?xml version=\"1.0\" encoding=\"windows-1252\"?>\n" + sn("\x80\x81\x8d\x9f\xff"),
		"declaration ebcdic":    `<?xml version="1.0" encoding="EBCDIC"?>` + sn("X"),
		"declaration late":      "\n  " + `<?xml version="1.0" encoding="ISO-8859-1"?>` + sn("Fran\xe7ois"),
		"declaration twice":     `<?xml version="1.0" encoding="UTF-8"?>` + eleveHead + `<?xml version="1.0" encoding="ISO-8859-1"?>` + "<ficAlimMENESR>" + rec(`<attr name="sn"><value>Fran\xe7ois</value></attr>`) + "</ficAlimMENESR>",
		"bom":                   "\xef\xbb\xbf" + sn("Zoé"),
		"bom then declaration":  "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + sn("Zoé"),
		"pi":                    doc(`<?foo bar?>` + rec(`<attr name="sn"><?x y?><value>X</value></attr>`)),
		"entities":              sn("L&eacute;a &Eacute;lo&iuml;se &ccedil;a D&apos;ALMEIDA &amp; &#201;MILE &#xC9; &#x1F600; &lt;x&gt; &quot;"),
		"entity unknown":        sn("&nosuchentity;"),
		"entity no semicolon":   sn("&amp"),
		"entity bad numeric":    sn("&#xZZ;"),
		"entity empty numeric":  sn("&#;"),
		"entity huge":           sn("&#99999999999999999999;"),
		"entity surrogate":      sn("&#xD800;"),
		"entity nul":            sn("&#0;"),
		"entity X upper":        sn("&#X41;"),
		"entity leading zeros":  sn("&#0000065;&#x0041;"),
		"entity digit name":     sn("&1a;"),
		"entity underscore":     sn("&a_b;"),
		"cdata":                 sn("<![CDATA[A<B & ]] ]>]]>"),
		"cdata empty":           sn("<![CDATA[]]>"),
		"cdata first token":     "<![CDATA[]]>" + sn("x"),
		"cdata crlf":            sn("<![CDATA[a\r\nb\rc]]>"),
		"cdata unterminated":    eleveHead + `<ficAlimMENESR><![CDATA[abc`,
		"crlf":                  strings.ReplaceAll(sn("a\r\nb\rc\r\r\nd&amp;\r\n"), "\n", "\r\n"),
		"text ]]>":              sn("a]]>b"),
		"text ] ]>":             sn("a]&#93;]>b ]]&gt;"),
		"text >":                sn("a>b"),
		"control char":          sn("a\x01b"),
		"tab":                   sn("a\tb"),
		"invalid utf8":          sn("a\xffb"),
		"overlong utf8":         sn("a\xc0\xafb"),
		"utf8 surrogate":        sn("a\xed\xa0\x80b"),
		"utf8 fffe":             sn("a\xef\xbf\xbeb"),
		"utf8 4 bytes":          sn("a😀b"),
		"self closing":          doc(rec(`<attr name="sn"><value/></attr><attr name="g"><value /></attr>`)),
		"attr single quotes":    doc(rec(`<attr name='sn'><value>X</value></attr>`)),
		"attr no space":         doc(`<modifyRequest>` + op + `<identifier><id>1</id></identifier><modifications><modification name="sn"operation="replace"><value>X</value></modification></modifications></modifyRequest>`),
		"attr spaces":           doc(rec("<attr \n name \t=\r\n \"sn\" ><value>X</value></attr >")),
		"attr entities":         doc(rec(`<attr name="s&amp;n&#10;&lt;x"><value>X</value></attr>`)),
		"attr crlf":             doc(rec("<attr name=\"s\r\nn\"><value>X</value></attr>")),
		"attr lt":               doc(rec(`<attr name="s<n"><value>X</value></attr>`)),
		"attr gt":               doc(rec(`<attr name="s>n]]>"><value>X</value></attr>`)),
		"attr unquoted":         doc(rec(`<attr name=sn><value>X</value></attr>`)),
		"attr no value":         doc(rec(`<attr name><value>X</value></attr>`)),
		"attr duplicate":        doc(rec(`<attr name="sn" name="x"><value>X</value></attr>`)),
		"attr empty name":       doc(rec(`<attr name=""><value>X</value></attr>`)),
		"attr latin":            "<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?>" + doc(rec("<attr name=\"s\xe9\"><value>X</value></attr>")),
		"attr prefixed":         doc(rec(`<attr xml:lang="fr" name="sn"><value>X</value></attr>`)),
		"element prefixed":      doc(rec(`<a:attr name="sn"><value>X</value></a:attr>`)),
		"element non ascii":     doc(rec(`<attré name="sn"><value>X</value></attré>`)),
		"element digit":         doc(rec(`<1attr name="sn"><value>X</value></1attr>`)),
		"element dash dot":      doc(rec(`<at-t.r name="sn"><value>X</value></at-t.r>`)),
		"end tag space":         doc(rec(`<attr name="sn"><value>X</value  ></attr>`)),
		"end tag junk":          doc(rec(`<attr name="sn"><value>X</value x></attr>`)),
		"end tag empty":         doc(rec(`<attr name="sn"><value>X</ ></attr>`)),
		"tag slash junk":        doc(rec(`<attr name="sn"><value/ >X</attr>`)),
		"comments anywhere":     doc("<!-- a -->" + rec(`<!--b--><attr name="sn"><!----><value>X<!-- c -->Y</value></attr>`)),
		"comment header":        "<!-- versionAF=\"AAF-VE2407\" -->" + doc("<!-- degre=\"2D\" foo=\"bar\" -->"+rec(`<attr name="sn"><value>X</value></attr>`)),
		"comment --":            doc("<!-- a -- b -->"),
		"comment --->":          doc("<!-- a --->"),
		"comment <!--->":        doc("<!--->-->"),
		"comment unterminated":  eleveHead + "<ficAlimMENESR><!-- abc",
		"bang junk":             doc("<!-x>"),
		"bang bracket":          doc("<![FOO[x]]>"),
		"entity decl":           `<!ENTITY xxe SYSTEM "file:///etc/passwd"><ficAlimMENESR/>`,
		"doctype subset":        `<!DOCTYPE ficAlimMENESR [<!ENTITY a "b">]><ficAlimMENESR>&a;</ficAlimMENESR>`,
		"doctype quoted >":      `<!DOCTYPE ficAlimMENESR SYSTEM "a>b"><ficAlimMENESR></ficAlimMENESR>`,
		"doctype quoted [":      `<!DOCTYPE ficAlimMENESR SYSTEM "a[b"><ficAlimMENESR></ficAlimMENESR>`,
		"doctype other root":    `<!DOCTYPE foo SYSTEM "x.dtd"><ficAlimMENESR></ficAlimMENESR>`,
		"doctype nested":        `<!DOCTYPE ficAlimMENESR <x> ><ficAlimMENESR></ficAlimMENESR>`,
		"doctype twice":         eleveHead + `<!DOCTYPE other><ficAlimMENESR></ficAlimMENESR>`,
		"doctype comment":       `<!DOCTYPE ficAlimMENESR <!-- x > -->><ficAlimMENESR></ficAlimMENESR>`,
		"doctype lower":         `<!doctype ficAlimMENESR><ficAlimMENESR></ficAlimMENESR>`,
		"no root":               "<!-- only a comment -->\n",
		"empty":                 "",
		"whitespace":            " \n\t ",
		"text before root":      "hello" + sn("X"),
		"text after root":       sn("X") + "trailing",
		"two roots":             sn("X") + "<ficAlimMENESR></ficAlimMENESR>",
		"wrong root":            `<root></root>`,
		"root self closing":     `<ficAlimMENESR/>`,
		"mismatched":            eleveHead + `<addRequest></deleteRequest></ficAlimMENESR>`,
		"close without open":    `</ficAlimMENESR>`,
		"lt alone":              doc("< addRequest>"),
		"lt eof":                eleveHead + "<ficAlimMENESR><",
		"modify delete":         doc(`<modifyRequest>` + op + `<identifier><id>2</id></identifier><modifications><modification name="sn" operation="replace"><value/></modification><modification name="x" operation="add"><value>1</value></modification></modifications></modifyRequest><deleteRequest>` + op + `<identifier><id>3</id></identifier></deleteRequest>`),
		"repeated attr":         doc(rec(`<attr name="sn"><value>A</value></attr><attr name="sn"><value/><value>B</value></attr>`)),
		"value whitespace":      sn("\n   MARTIN \r\n "),
		"deep":                  doc(strings.Repeat("<a>", 20) + strings.Repeat("</a>", 20)),
		"nested value":          sn("<b>X</b>"),
		"unknown request":       doc(`<renameRequest><x>y</x></renameRequest>`),
		"two ids":               doc(`<addRequest>` + op + `<identifier><id>1</id><id>2</id></identifier><attributes><attr name="sn"><value>X</value></attr></attributes></addRequest>`),
		"id with element":       doc(`<addRequest>` + op + `<identifier><id>1<b/></id></identifier></addRequest>`),
		"stray text":            doc(rec(`stray<attr name="sn"><value>X</value></attr>`)),
		"long stray text":       doc(rec(strings.Repeat("stray text ", 30) + `<attr name="sn"><value>X</value></attr>`)),
		"many values":           doc(rec(`<attr name="sn">` + strings.Repeat("<value>v</value>", 70) + `</attr>`)),
		"many attrs":            doc(rec(strings.Repeat(`<attr name="a"><value>v</value></attr>`, 70))),
		"long value":            sn(strings.Repeat("é", 700)),
		"long name":             doc(rec(`<attr name="` + strings.Repeat("n", 100) + `"><value>X</value></attr>`)),
		"nul byte":              sn("a\x00b"),
	}
}

func TestScanMatchesXMLOnCases(t *testing.T) {
	tight := ParseOptions{MaxValueBytes: 1024, MaxDepth: 8, MaxAttrsPerRecord: 64, MaxValuesPerAttr: 64, MaxRecordBytes: 16 << 10}
	for name, doc := range scanCases() {
		t.Run(name, func(t *testing.T) {
			data := []byte(doc)
			checkSame(t, name, data, ParseOptions{})
			checkSame(t, name+" tight", data, tight)
			checkSame(t, name+" nodecl latin9", data, ParseOptions{NoDeclCharset: "ISO-8859-15"})
			// Longer documents: the case repeated inside a root, so that a
			// 512-byte buffer cuts it everywhere and its long tokens are
			// handed over and taken back.
			long := []byte(eleveHead + strings.Repeat(strings.TrimPrefix(doc, eleveHead), 7))
			for _, size := range []int{512, 519, 540} {
				withBuf(size, func() {
					checkSame(t, fmt.Sprintf("%s buffer %d", name, size), data, ParseOptions{})
					checkSame(t, fmt.Sprintf("%s x7 buffer %d", name, size), long, ParseOptions{})
					checkSame(t, fmt.Sprintf("%s x7 buffer %d tight", name, size), long, tight)
				})
			}
			for _, cut := range cuts(len(data), 15) {
				if cut >= 0 && cut <= len(data) {
					checkSame(t, fmt.Sprintf("%s cut at %d", name, cut), data[:cut], ParseOptions{})
				}
			}
		})
	}
}

// The scanner reads <value>text</value> and the line breaks between tags in
// one step where the parser would say nothing; at every limit's edge, and
// wherever a value is misplaced, it must fall back to the tokens one by one.
func TestScanValueStepMatchesXML(t *testing.T) {
	op := `<operationalAttributes><attr name="categoriePersonne"><value>Eleve</value></attr></operationalAttributes>`
	rec := func(id, attrs string) string {
		return "<addRequest>\n" + op + "\n<identifier>" + id + "</identifier>\n<attributes>\n" + attrs + "\n</attributes>\n</addRequest>\n"
	}
	doc := func(body string) string { return eleveHead + body + "</ficAlimMENESR>\n" }
	three := `<attr name="sn"><value>ab</value><value> cd </value><value/></attr>` + "\n \t" + `<attr name="g"><value>ef</value></attr>`
	docs := map[string]string{
		"values":           doc(rec("<id>1</id>", three)),
		"value in id":      doc(rec("<id><value>1</value></id>", three)),
		"id then value":    doc(rec("<id>1</id>\n<value>x</value>", three)),
		"value in section": doc(rec("<id>1</id>", "<value>x</value>"+three)),
		"value in request": doc("<addRequest><value>x</value></addRequest>"),
		"value in root":    doc("<value>x</value>\n<value/>"),
		"value in skipped": doc(rec("<id>1</id>", `<attr name="sn"><b><value>x</value></b></attr>`+three)),
		"value in value":   doc(rec("<id>1</id>", `<attr name="sn"><value><value>x</value></value></attr>`)),
		"value unclosed":   doc(rec("<id>1</id>", `<attr name="sn"><value>x</attr>`)),
		"value then text":  doc(rec("<id>1</id>", `<attr name="sn"><value>x</value>y</attr>`)),
		"text in section":  doc(rec("<id>1</id>", " x "+three)),
		"value of pieces":  doc(rec("<id>1<!--c--> <!--d-->2</id>", `<attr name="sn"><value>a<!--c--> <!--d-->b</value></attr>`)),
	}
	for name, d := range docs {
		for _, opts := range []ParseOptions{{},
			{MaxValuesPerAttr: 1}, {MaxValuesPerAttr: 2}, {MaxValuesPerAttr: 3},
			{MaxValueBytes: 1}, {MaxValueBytes: 2}, {MaxValueBytes: 3}, {MaxValueBytes: 4},
			{MaxRecordBytes: 6}, {MaxRecordBytes: 7}, {MaxRecordBytes: 8}, {MaxRecordBytes: 9},
			{MaxDepth: 3}, {MaxDepth: 4}, {MaxDepth: 5},
		} {
			checkSame(t, fmt.Sprintf("%s %+v", name, opts), []byte(d), opts)
		}
	}
}

// The plain inputs must stay on the fast path; the others may hand over.
func TestScanStaysFast(t *testing.T) {
	cases := scanCases()
	for _, name := range []string{"plain", "declaration", "declaration single q", "declaration latin9", "declaration cp1252",
		"bom then declaration", "entities", "cdata", "crlf", "self closing", "attr single quotes", "attr no space", "attr spaces",
		"attr entities", "comments anywhere", "comment header", "modify delete", "value whitespace", "text >", "utf8 4 bytes"} {
		res := parseVia(strings.NewReader(cases[name]), false, true, ParseOptions{})
		if res.err != nil || res.episodes != 0 {
			t.Errorf("%s: err %v, %d hand-overs", name, res.err, res.episodes)
		}
	}
	res := parseVia(strings.NewReader(cases["pi"]), false, true, ParseOptions{})
	if res.err != nil || res.episodes != 2 {
		t.Errorf("pi: err %v, %d hand-overs, want 2 (one per instruction, then back)", res.err, res.episodes)
	}
}

func TestScanEncodingsAndOptions(t *testing.T) {
	body := eleveHead + eleveAdd("1", "Gu\xe9rin \xa4 \x80") + "</ficAlimMENESR>"
	for _, label := range []string{"ISO-8859-15", "ISO-8859-1", "windows-1252", "latin1", "UTF-8", "utf8", "ascii", "EBCDIC", "  Latin9 "} {
		checkSame(t, "nodecl "+label, []byte(body), ParseOptions{NoDeclCharset: label})
		checkSame(t, "nodecl over a declaration "+label, []byte(`<?xml version="1.0" encoding="UTF-8"?>`+body), ParseOptions{NoDeclCharset: label})
		checkSame(t, "nodecl after whitespace "+label, []byte(strings.Repeat(" ", 300)+`<?xml version="1.0" encoding="ISO-8859-1"?>`+body), ParseOptions{NoDeclCharset: label})
		checkSame(t, "declared "+label, []byte(`<?xml version="1.0" encoding="`+label+`"?>`+body), ParseOptions{})
	}
}

// The byte tables are charsetReader's own decoding; check them against
// x/text directly as well.
func TestScanCharsetTables(t *testing.T) {
	for label, cm := range map[string]*charmap.Charmap{"ISO-8859-15": charmap.ISO8859_15, "windows-1252": charmap.Windows1252} {
		cs, ok := charsetFor(label)
		if !ok || cs == nil {
			t.Fatalf("%s: no table", label)
		}
		for i := 0; i < 256; i++ {
			if got, want := string(cs.utf8[i]), string(cm.DecodeByte(byte(i))); got != want {
				t.Errorf("%s byte %#x: %q, want %q", label, i, got, want)
			}
		}
	}
	if cs, ok := charsetFor("UTF-8"); !ok || cs != nil {
		t.Errorf("UTF-8 should pass through")
	}
	if _, ok := charsetFor("EBCDIC"); ok {
		t.Errorf("EBCDIC should be refused")
	}
}

// failingReader returns data, then err instead of io.EOF.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestScanReadErrors(t *testing.T) {
	doc := eleveHead + eleveAdd("1", "A") + eleveAdd("2", "B") + "</ficAlimMENESR>\n"
	boom := errors.New("disk on fire")
	for _, cut := range cuts(len(doc), 25) {
		mk := func() io.Reader { return &failingReader{r: strings.NewReader(doc[:cut]), err: boom} }
		f := parseVia(mk(), false, true, ParseOptions{})
		r := parseVia(mk(), true, true, ParseOptions{})
		if d := diffResults(f, r); d != "" {
			t.Fatalf("read error after %d bytes:\n%s", cut, d)
		}
		if !errors.Is(f.err, boom) {
			t.Fatalf("cut %d: err %v, want the read error", cut, f.err)
		}
	}
}

// TestScanHostileMatchesXML runs the hostile inputs of TestHostileInput
// (which already runs them on the fast path, the default) through both
// paths at a size where both finish quickly, and compares.
func TestScanHostileMatchesXML(t *testing.T) {
	valueHead := eleveHead + `<addRequest><operationalAttributes><attr name="categoriePersonne"><value>Eleve</value></attr></operationalAttributes><identifier><id>1</id></identifier><attributes><attr name="sn"><value>`
	valueTail := `</value></attr></attributes></addRequest></ficAlimMENESR>`
	opts := ParseOptions{MaxValueBytes: 1000}
	maxRun := 4*1000 + 4096
	docs := map[string]string{
		"billion laughs":     `<?xml version="1.0"?><!DOCTYPE ficAlimMENESR [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;">]><ficAlimMENESR>&lol1;</ficAlimMENESR>`,
		"entity outside":     `<!ENTITY xxe SYSTEM "file:///etc/passwd"><ficAlimMENESR/>`,
		"system doctype":     `<!DOCTYPE ficAlimMENESR SYSTEM "http://127.0.0.1:1/never-fetched.dtd"><ficAlimMENESR>` + eleveAdd("1", "X") + `</ficAlimMENESR>`,
		"nesting":            eleveHead + strings.Repeat("<a>", 100),
		"attrs":              valueHead + "x</value></attr>" + strings.Repeat(`<attr name="a"><value>x</value></attr>`, 600) + valueTail,
		"values":             valueHead + "x</value>" + strings.Repeat(`<value>x</value>`, 21000) + valueTail,
		"record bytes":       valueHead + "x</value>" + strings.Repeat(`<value>`+strings.Repeat("y", 900)+`</value>`, 10000) + valueTail,
		"mixed text chunks":  valueHead + strings.Repeat("ab<![CDATA[cd]]>", 300) + valueTail,
		"value at the cap":   valueHead + strings.Repeat("v", 1000) + valueTail,
		"value over the cap": valueHead + strings.Repeat("v", 1001) + valueTail,
		"entities over cap":  valueHead + strings.Repeat("&amp;", 1001) + valueTail,
	}
	// Runs around the guard's limit, in text, tags, comments, CDATA,
	// DOCTYPE and the declaration, each at the limit and one past it.
	for _, d := range []int{-2, -1, 0, 1} {
		n := maxRun + d
		docs[fmt.Sprintf("text run %+d", d)] = eleveHead + "<ficAlimMENESR>" + strings.Repeat(" ", n) + "</ficAlimMENESR>"
		docs[fmt.Sprintf("text run to eof %+d", d)] = eleveHead + "<ficAlimMENESR>" + strings.Repeat(" ", n)
		docs[fmt.Sprintf("value run %+d", d)] = valueHead + strings.Repeat("&amp;", n/5) + strings.Repeat("x", n%5) + valueTail
		docs[fmt.Sprintf("tag %+d", d)] = eleveHead + "<ficAlimMENESR><addRequest x=\"" + strings.Repeat("a", n-17) + "\"/></ficAlimMENESR>"
		docs[fmt.Sprintf("comment %+d", d)] = eleveHead + "<ficAlimMENESR><!--" + strings.Repeat("c", n-7) + "--></ficAlimMENESR>"
		docs[fmt.Sprintf("cdata %+d", d)] = valueHead + "<![CDATA[" + strings.Repeat("c", n-12) + "]]>" + valueTail
		docs[fmt.Sprintf("doctype %+d", d)] = "<!DOCTYPE ficAlimMENESR SYSTEM \"" + strings.Repeat("d", n-33) + "\"><ficAlimMENESR></ficAlimMENESR>"
		docs[fmt.Sprintf("declaration %+d", d)] = "<?xml version=\"1.0\" encoding=\"UTF-8\"" + strings.Repeat(" ", n-40) + "?>" + eleveHead + "<ficAlimMENESR></ficAlimMENESR>"
		docs[fmt.Sprintf("text then tag %+d", d)] = eleveHead + "<ficAlimMENESR>" + strings.Repeat(" ", n-1) + "<addRequest/></ficAlimMENESR>"
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			checkSame(t, name, []byte(doc), opts)
		})
	}
	// Bigger than the scanner's buffer: handed over, streamed, same result.
	big := ParseOptions{MaxValueBytes: 200 << 10}
	for name, doc := range map[string]string{
		"value over the buffer":   valueHead + strings.Repeat("v", scanBufSize+10) + valueTail,
		"value under the buffer":  valueHead + strings.Repeat("v", scanBufSize-10) + valueTail,
		"comment over the buffer": eleveHead + "<ficAlimMENESR><!--" + strings.Repeat("c", scanBufSize+10) + "--></ficAlimMENESR>",
	} {
		checkSame(t, name, []byte(doc), big)
		checkSame(t, name+" default limits", []byte(doc), ParseOptions{})
	}
}

func TestScanCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := Parse(ctx, repeatReader(eleveHead, eleveAdd("1", "X"), 50000, "</ficAlimMENESR>"), "x.xml", Eleve, ParseOptions{}, func(*Record) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n > 2000 {
		t.Fatalf("err = %v after %d records", err, n)
	}
}

// FuzzScanMatchesXML: whatever the bytes, the fast and the reference parser
// give the same records, header, problems and error. The first byte picks
// options (limits, Issue sink, charset for files without declaration).
func FuzzScanMatchesXML(f *testing.F) {
	for _, doc := range scanCases() {
		f.Add([]byte("\x00" + doc))
		f.Add([]byte("\x05" + doc))
		f.Add([]byte("\xc1" + eleveHead + strings.Repeat(strings.TrimPrefix(doc, eleveHead), 5)))
	}
	f.Add([]byte("\x00" + eleveHead + "<!-- versionAF=\"AAF-VE2407\" --><![CDATA[x]]>&eacute;</ficAlimMENESR>"))
	{
		dir := os.Getenv("ENTHUB_AAF_SAMPLES")
		if dir == "" {
			dir = filepath.Join("..", "..", "shared", "samples", "aaf")
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*", "*.xml"))
		more, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*.xml"))
		for _, p := range append(files, more...) {
			if st, err := os.Stat(p); err == nil && st.Size() < 64<<10 {
				b, _ := os.ReadFile(p)
				f.Add(append([]byte{0}, b...))
			} else if err == nil {
				b, _ := os.ReadFile(p)
				f.Add(append([]byte{1}, b[:32<<10]...))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		mode, doc := data[0], data[1:]
		var opts ParseOptions
		if mode&1 != 0 {
			opts = ParseOptions{MaxValueBytes: 64 + int(mode>>4)*7, MaxDepth: 6, MaxAttrsPerRecord: 8, MaxValuesPerAttr: 4, MaxRecordBytes: 200}
		}
		switch mode >> 1 & 3 {
		case 1:
			opts.NoDeclCharset = "ISO-8859-15"
		case 2:
			opts.NoDeclCharset = "windows-1252"
		}
		collect := mode&8 == 0
		if mode&0x80 != 0 {
			defer func(n int) { scanBufSize = n }(scanBufSize)
			scanBufSize = 512 + int(mode>>4&7)
		}
		fast := parseVia(bytes.NewReader(doc), false, collect, opts)
		ref := parseVia(bytes.NewReader(doc), true, collect, opts)
		if d := diffResults(fast, ref); d != "" {
			t.Fatalf("fast and reference parsers differ (mode %#x):\n%s", mode, d)
		}
		if mode&0x40 != 0 {
			short := parseVia(iotest.OneByteReader(bytes.NewReader(doc)), false, collect, opts)
			if d := diffResults(short, ref); d != "" {
				t.Fatalf("one-byte reads differ (mode %#x):\n%s", mode, d)
			}
		}
	})
}

// BenchmarkScan compares the fast path with the reference on the delivery
// of BenchmarkParse (10,000 students): "walk" is what an import does per
// pass (open, read, SHA-256, parse, one worker); "mem" parses bytes already
// in memory: the tokenizer and the checks alone.
func BenchmarkScan(b *testing.B) {
	dir := benchDelivery(b)
	ctx := context.Background()
	d, err := Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var size int64
	var files [][]byte
	for _, f := range d.Files {
		rc, err := f.Open()
		if err != nil {
			b.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, data)
		size += int64(len(data))
	}
	for _, path := range []struct {
		name string
		ref  bool
	}{{"fast", false}, {"xml", true}} {
		b.Run("walk/"+path.name, func(b *testing.B) {
			benchRecords(b, size, func(count func(*Record) error) error {
				return d.Walk(ctx, ParseOptions{Reference: path.ref}, count)
			})
		})
		b.Run("mem/"+path.name, func(b *testing.B) {
			benchRecords(b, size, func(count func(*Record) error) error {
				for i, data := range files {
					if _, err := Parse(ctx, bytes.NewReader(data), d.Files[i].Name, d.Files[i].Family, ParseOptions{Reference: path.ref}, count); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
}

// benchRecords runs pass in a benchmark loop and reports records/s and
// allocations per record next to ns/op and MB/s.
func benchRecords(b *testing.B, size int64, pass func(count func(*Record) error) error) {
	records := 0
	count := func(*Record) error { records++; return nil }
	b.SetBytes(size)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := processCPU()
	for b.Loop() {
		if err := pass(count); err != nil {
			b.Fatal(err)
		}
	}
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	if records > 0 {
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(records), "allocs/record")
	}
	if cpu > 0 {
		// Throughput per CPU-second (GC on the other core included).
		b.ReportMetric(float64(records)/cpu.Seconds(), "records/cpu-s")
		b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
	}
}

// A token larger than the buffer is handed over and the scanner takes back
// the rest: the small-buffer differential tests do exercise episodes.
func TestScanSmallBufferHandsOver(t *testing.T) {
	doc := eleveHead + strings.Repeat(eleveAdd("1", strings.Repeat("x", 700)), 3) + "</ficAlimMENESR>"
	withBuf(512, func() {
		res := parseVia(strings.NewReader(doc), false, true, ParseOptions{})
		if res.err != nil || len(res.recs) != 3 || res.episodes != 3 {
			t.Fatalf("err %v, %d records, %d hand-overs (want 3: one per long value)", res.err, len(res.recs), res.episodes)
		}
	})
}
