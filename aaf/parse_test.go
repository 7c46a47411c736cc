package aaf

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// samplesDir is the project's shared AAF samples (../../shared/samples/aaf
// from this package), overridable with ENTHUB_AAF_SAMPLES.
func samplesDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("ENTHUB_AAF_SAMPLES")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "samples", "aaf")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("AAF samples not found at %s (set ENTHUB_AAF_SAMPLES): %v", dir, err)
	}
	return dir
}

func TestParseFileName(t *testing.T) {
	tests := []struct {
		name   string
		ok     bool
		fam    Family
		chunk  int
		kind   Kind
		date   string
		prefix string
	}{
		{"FULL_ENTTSSERVICES_Complet_20130117_Eleve_0001.xml", true, Eleve, 1, Complet, "20130117", "FULL_ENTTSSERVICES"},
		{"clean-FULL_ENTTSSERVICES_Complet_20130117_PersRelEleve_0039.xml", true, PersRelEleve, 39, Complet, "20130117", "clean-FULL_ENTTSSERVICES"},
		{"ENT2DVA-ENT16_Complet_20240916_PersEducNat_0000.xml", true, PersEducNat, 0, Complet, "20240916", "ENT2DVA-ENT16"},
		{"ENT_0123456A_Delta_20240917_EtabEducNat_0002.xml", true, EtabEducNat, 2, Delta, "20240917", "ENT_0123456A"},
		{"ENT_Complet_20200101_MatiereEducNat_0000.xml", true, MatiereEducNat, 0, Complet, "20200101", "ENT"},
		{"X_Complet_20200101_MefEducNat_0000.xml", true, MefEducNat, 0, Complet, "20200101", "X"},
		// No kind/date in the name: found by family, kind unknown (Check refuses unless the archive name says).
		{"Eleve_0000.xml", true, Eleve, 0, KindUnknown, "", ""},
		// "_Eleve_" must not match inside PersRelEleve.
		{"ENT_Complet_20200101_PersRelEleve_0003.xml", true, PersRelEleve, 3, Complet, "20200101", "ENT"},
		{"ENT_Complet_20200101_RelEleve_0003.xml", false, "", 0, "", "", ""},
		{"ficAlimMENESR.dtd", false, "", 0, "", "", ""},
		{"ENT_Complet_20200101_Eleve_0000.xml.md5", false, "", 0, "", "", ""},
		{"ENT_Complet_20200101_Eleve.xml", false, "", 0, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn, ok := ParseFileName(tt.name)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if fn.Family != tt.fam || fn.Chunk != tt.chunk || fn.Kind != tt.kind || fn.DateText != tt.date || fn.Prefix != tt.prefix {
				t.Errorf("got family=%s chunk=%d kind=%q date=%q prefix=%q; want %s %d %q %q %q",
					fn.Family, fn.Chunk, fn.Kind, fn.DateText, fn.Prefix, tt.fam, tt.chunk, tt.kind, tt.date, tt.prefix)
			}
		})
	}
}

// The record counts below were counted independently with
// `grep -c '<addRequest>'` over each sample file.
func TestSamplesParseWithRightCounts(t *testing.T) {
	base := samplesDir(t)
	tests := []struct {
		dir  string
		want map[Family]int
	}{
		{"entcore-aaf-test-2013", map[Family]int{Eleve: 642, EtabEducNat: 10, MatiereEducNat: 718, MefEducNat: 2504, PersEducNat: 701, PersRelEleve: 9975}},
		{"entcore-aaf-minimal-2020", map[Family]int{Eleve: 1, EtabEducNat: 1}},
		{"entcore-positions-2024/before", map[Family]int{EtabEducNat: 1, PersEducNat: 2}},
		{"entcore-positions-2024/after", map[Family]int{PersEducNat: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			ctx := context.Background()
			d, err := Open(ctx, filepath.Join(base, tt.dir))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			got := map[Family]int{}
			for r, err := range d.Records(ctx, ParseOptions{}) {
				if err != nil {
					t.Fatal(err)
				}
				got[r.Family]++
				if r.ID == "" || r.ID != r.First(r.Family.JointureAttr()) {
					t.Fatalf("%s record %d: id %q vs jointure %q", r.File, r.Index, r.ID, r.First(r.Family.JointureAttr()))
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("families = %v, want %v", got, tt.want)
			}
			for f, n := range tt.want {
				if got[f] != n {
					t.Errorf("%s: %d records, want %d", f, got[f], n)
				}
			}
			if d.Kind != Complet {
				t.Errorf("kind = %q, want Complet", d.Kind)
			}
		})
	}
}

func findRecord(t *testing.T, d *Delivery, id string) *Record {
	t.Helper()
	for r, err := range d.Records(context.Background(), ParseOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no record %s", id)
	return nil
}

func TestSampleValues(t *testing.T) {
	base := samplesDir(t)
	ctx := context.Background()

	// ISO-8859-15 file with &apos;.
	d, err := Open(ctx, filepath.Join(base, "entcore-aaf-minimal-2020"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	etab := findRecord(t, d, "1")
	if got := etab.First("ENTEtablissementMinistereTutelle"); got != "MINISTERE DE L'EDUCATION NATIONALE" {
		t.Errorf("&apos; not decoded: %q", got)
	}
	if v, ok := etab.Attrs["postOfficeBox"]; !ok || len(v) != 0 || v == nil {
		t.Errorf("empty <value></value> should be present and empty, got %#v (present %v)", v, ok)
	}
	st := findRecord(t, d, "2000000")
	if got := st.Attrs["ENTElevePersRelEleve"]; len(got) != 2 || got[1] != "3000000$20$0$1$0$0" {
		t.Errorf("ENTElevePersRelEleve = %q", got)
	}

	// 2024: header comments, multi-line values trimmed, UTF-8 accents.
	d2, err := Open(ctx, filepath.Join(base, "entcore-positions-2024", "before"))
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	var hdr Header
	for _, f := range d2.Files {
		if f.Family == PersEducNat {
			hdr, err = ParseFile(ctx, f, ParseOptions{}, func(r *Record) error {
				if r.ID == "314159" {
					fn := r.Attrs["ENTPersonFonctions"]
					if len(fn) != 2 || fn[0] != "43$DIR$DIRECTION$D0011$CHEF D'ETABLISSEMENT ADJOINT" {
						t.Errorf("ENTPersonFonctions not trimmed/decoded: %q", fn)
					}
					if r.First("givenName") != "Prénom AAAA" {
						t.Errorf("givenName = %q", r.First("givenName"))
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	want := Header{Encoding: "UTF-8", Doctype: `DOCTYPE ficAlimMENESR SYSTEM "ficAlimMENESR.dtd"`, VersionAF: "AAF-VE2407", VersionSDET: "Annexe 4bis version 6.4",
		CodeAcademieExport: "13", Degre: "2D", DateGenerationExport: "16/09/2024"}
	if hdr.VersionAF != want.VersionAF || hdr.VersionSDET != want.VersionSDET || hdr.CodeAcademieExport != want.CodeAcademieExport ||
		hdr.Degre != want.Degre || hdr.DateGenerationExport != want.DateGenerationExport || hdr.Doctype != want.Doctype {
		t.Errorf("header = %+v, want %+v", hdr, want)
	}
}

func parseString(t *testing.T, doc string, opts ParseOptions) ([]*Record, Header, error) {
	t.Helper()
	var recs []*Record
	hdr, err := Parse(context.Background(), strings.NewReader(doc), "test.xml", Eleve, opts, func(r *Record) error {
		recs = append(recs, r)
		return nil
	})
	return recs, hdr, err
}

const eleveHead = `<!DOCTYPE ficAlimMENESR SYSTEM "ficAlimMENESR.dtd">
<ficAlimMENESR>
`

func eleveAdd(id, sn string) string {
	return `<addRequest><operationalAttributes><attr name="categoriePersonne"><value>Eleve</value></attr></operationalAttributes>
<identifier><id>` + id + `</id></identifier><attributes>
<attr name="ENTPersonJointure"><value>` + id + `</value></attr>
<attr name="sn"><value>` + sn + `</value></attr>
</attributes></addRequest>
`
}

func TestEncodingsAndEntities(t *testing.T) {
	latin9 := "<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?>\n" + eleveHead + eleveAdd("1", "L\xe9a \xa4 \xbcUVRE") + "</ficAlimMENESR>"
	latin1 := "<?xml version='1.0' encoding='iso-8859-1'?>\n" + eleveHead + eleveAdd("1", "Fran\xe7ois") + "</ficAlimMENESR>"
	noDecl := eleveHead + eleveAdd("1", "Gu\xe9rin") + "</ficAlimMENESR>"
	tests := []struct {
		name string
		doc  string
		opts ParseOptions
		want string
		enc  string
	}{
		{"ISO-8859-15 declared", latin9, ParseOptions{}, "Léa € ŒUVRE", "ISO-8859-15"},
		{"ISO-8859-1 declared", latin1, ParseOptions{}, "François", "iso-8859-1"},
		{"UTF-8 with BOM", "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + eleveHead + eleveAdd("1", "Zoé") + "</ficAlimMENESR>", ParseOptions{}, "Zoé", "UTF-8"},
		{"no declaration, DOCTYPE first", eleveHead + eleveAdd("1", "Noé") + "</ficAlimMENESR>", ParseOptions{}, "Noé", ""},
		{"no declaration, Latin-9 by option", noDecl, ParseOptions{NoDeclCharset: "ISO-8859-15"}, "Guérin", "ISO-8859-15 (assumed: no XML declaration)"},
		{"HTML named entities", eleveHead + eleveAdd("1", "L&eacute;a &Eacute;lo&iuml;se &ccedil;a D&apos;ALMEIDA &amp; &#201;MILE &lt;x&gt;") + "</ficAlimMENESR>", ParseOptions{}, "Léa Éloïse ça D'ALMEIDA & ÉMILE <x>", ""},
		{"values trimmed", eleveHead + eleveAdd("1", "\n   MARTIN \r\n ") + "</ficAlimMENESR>", ParseOptions{}, "MARTIN", ""},
		{"CDATA", eleveHead + eleveAdd("1", "<![CDATA[A<B]]>") + "</ficAlimMENESR>", ParseOptions{}, "A<B", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, hdr, err := parseString(t, tt.doc, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].First("sn") != tt.want {
				t.Fatalf("sn = %q, want %q", recs[0].First("sn"), tt.want)
			}
			if hdr.Encoding != tt.enc {
				t.Errorf("encoding = %q, want %q", hdr.Encoding, tt.enc)
			}
		})
	}
	t.Run("undeclared entity refused", func(t *testing.T) {
		_, _, err := parseString(t, eleveHead+eleveAdd("1", "&nosuchentity;")+"</ficAlimMENESR>", ParseOptions{})
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Code != CodeMalformed || !strings.Contains(pe.Message, "nosuchentity") {
			t.Fatalf("err = %v, want malformed naming the entity", err)
		}
	})
	t.Run("unknown encoding refused", func(t *testing.T) {
		_, _, err := parseString(t, "<?xml version=\"1.0\" encoding=\"EBCDIC\"?>"+eleveHead+"</ficAlimMENESR>", ParseOptions{})
		if err == nil || !strings.Contains(err.Error(), "EBCDIC") {
			t.Fatalf("err = %v, want unsupported encoding", err)
		}
	})
}

func TestModifyAndDelete(t *testing.T) {
	doc := eleveHead + `<modifyRequest>
  <operationalAttributes><attr name="categoriePersonne"><value>Eleve</value></attr></operationalAttributes>
  <identifier><id>2000000</id></identifier>
  <modifications>
    <modification name="ENTEleveClasses" operation="replace"><value>3000$2AQUA</value></modification>
    <modification name="ENTEleveGroupes" operation="replace"><value/></modification>
  </modifications>
</modifyRequest>
<deleteRequest>
  <operationalAttributes><attr name="categoriePersonne"><value>Eleve</value></attr></operationalAttributes>
  <identifier><id>2000001</id></identifier>
</deleteRequest>
</ficAlimMENESR>`
	recs, _, err := parseString(t, doc, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	m, del := recs[0], recs[1]
	if m.Op != OpModify || m.ID != "2000000" || m.First("ENTEleveClasses") != "3000$2AQUA" {
		t.Errorf("modify = %+v", m)
	}
	if g, ok := m.Attrs["ENTEleveGroupes"]; !ok || g == nil || len(g) != 0 {
		t.Errorf("a replace with <value/> must be present and empty (clear), got %#v", g)
	}
	if del.Op != OpDelete || del.ID != "2000001" || len(del.Attrs) != 0 || del.Index != 2 || del.Category != "Eleve" {
		t.Errorf("delete = %+v", del)
	}
}

func TestEnvelopeViolations(t *testing.T) {
	op := `<operationalAttributes><attr name="categoriePersonne"><value>Eleve</value></attr></operationalAttributes>`
	tests := []struct {
		name, body, want string
	}{
		{"missing identifier", `<addRequest>` + op + `<attributes><attr name="sn"><value>X</value></attr></attributes></addRequest>`, "where the DTD expects <identifier>"},
		{"attr without value", `<addRequest>` + op + `<identifier><id>1</id></identifier><attributes><attr name="sn"></attr></attributes></addRequest>`, "has no <value>"},
		{"operation not replace", `<modifyRequest>` + op + `<identifier><id>1</id></identifier><modifications><modification name="sn" operation="add"><value>X</value></modification></modifications></modifyRequest>`, `allows only "replace"`},
		{"unknown request", `<renameRequest/>`, "is not a request"},
		{"element inside value", `<addRequest>` + op + `<identifier><id>1</id></identifier><attributes><attr name="sn"><value><b>X</b></value></attr></attributes></addRequest>`, "nested inside <value>"},
		{"text outside value", `<addRequest>` + op + `<identifier><id>1</id></identifier><attributes>stray<attr name="sn"><value>X</value></attr></attributes></addRequest>`, "text outside"},
		{"delete with attributes", `<deleteRequest>` + op + `<identifier><id>1</id></identifier><attributes><attr name="sn"><value>X</value></attr></attributes></deleteRequest>`, "expects nothing more"},
		{"two ids", `<addRequest>` + op + `<identifier><id>1</id><id>2</id></identifier><attributes><attr name="sn"><value>X</value></attr></attributes></addRequest>`, "more than one id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := eleveHead + tt.body + "\n</ficAlimMENESR>"
			// Without an Issue sink: the first violation is an error.
			_, _, err := parseString(t, doc, ParseOptions{})
			if !errors.Is(err, ErrEnvelope) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want envelope error containing %q", err, tt.want)
			}
			// With a sink: reported, parsing goes on to the end.
			var issues []Problem
			recs, _, err := parseString(t, doc, ParseOptions{Issue: func(p Problem) { issues = append(issues, p) }})
			if err != nil {
				t.Fatalf("with a sink the file should be read to its end: %v", err)
			}
			if len(issues) == 0 || issues[0].File != "test.xml" || issues[0].Line == 0 {
				t.Fatalf("issues = %+v", issues)
			}
			_ = recs
		})
	}
}

func TestTruncatedAndMalformed(t *testing.T) {
	full := eleveHead + eleveAdd("1", "A") + eleveAdd("2", "B") + "</ficAlimMENESR>\n"
	tests := []struct {
		name, doc, code, want string
		records               int
	}{
		{"cut inside a value", full[:strings.Index(full, ">B<")+2], CodeTruncated, "truncated", 1},
		{"cut after a record", full[:strings.LastIndex(full, "</addRequest>")+len("</addRequest>")], CodeTruncated, "after 2 complete records", 2},
		{"empty file", "", CodeTruncated, "no <ficAlimMENESR>", 0},
		{"wrong root", `<root></root>`, CodeMalformed, "not <ficAlimMENESR>", 0},
		{"mismatched tags", eleveHead + `<addRequest></deleteRequest></ficAlimMENESR>`, CodeMalformed, "closed by </deleteRequest>", 0},
		{"two roots", full + "<ficAlimMENESR></ficAlimMENESR>", CodeMalformed, "second root", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _, err := parseString(t, tt.doc, ParseOptions{Issue: func(Problem) {}})
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Code != tt.code || !strings.Contains(pe.Message, tt.want) {
				t.Fatalf("err = %v, want %s containing %q", err, tt.code, tt.want)
			}
			if len(recs) != tt.records {
				t.Errorf("%d records before the error, want %d", len(recs), tt.records)
			}
		})
	}
}

// bigValueReader streams a document whose one value is n bytes of "A",
// without ever holding it.
type bigValueReader struct {
	head, tail string
	n          int64
	pos        int64
}

func (b *bigValueReader) Read(p []byte) (int, error) {
	total := int64(len(b.head)) + b.n + int64(len(b.tail))
	if b.pos >= total {
		return 0, io.EOF
	}
	i := 0
	for i < len(p) && b.pos < total {
		switch {
		case b.pos < int64(len(b.head)):
			p[i] = b.head[b.pos]
		case b.pos < int64(len(b.head))+b.n:
			p[i] = 'A'
		default:
			p[i] = b.tail[b.pos-int64(len(b.head))-b.n]
		}
		i++
		b.pos++
	}
	return i, nil
}

// repeatReader yields prefix, then s repeated n times, then suffix.
func repeatReader(prefix, s string, n int, suffix string) io.Reader {
	return io.MultiReader(strings.NewReader(prefix), &bigValueReaderRepeat{s: s, n: n}, strings.NewReader(suffix))
}

type bigValueReaderRepeat struct {
	s   string
	n   int
	off int
}

func (r *bigValueReaderRepeat) Read(p []byte) (int, error) {
	i := 0
	for i < len(p) && r.n > 0 {
		c := copy(p[i:], r.s[r.off:])
		i += c
		r.off += c
		if r.off == len(r.s) {
			r.off = 0
			r.n--
		}
	}
	if i == 0 {
		return 0, io.EOF
	}
	return i, nil
}

func TestHostileInput(t *testing.T) {
	const mb = 1 << 20
	valueHead := eleveHead + `<addRequest><operationalAttributes><attr name="categoriePersonne"><value>Eleve</value></attr></operationalAttributes><identifier><id>1</id></identifier><attributes><attr name="sn"><value>`
	valueTail := `</value></attr></attributes></addRequest></ficAlimMENESR>`
	tests := []struct {
		name string
		r    func() io.Reader
		want string
	}{
		{"billion laughs", func() io.Reader {
			return strings.NewReader(`<?xml version="1.0"?>
<!DOCTYPE ficAlimMENESR [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<ficAlimMENESR><addRequest><identifier><id>&lol9;</id></identifier></addRequest></ficAlimMENESR>`)
		}, "internal subset"},
		{"external entity", func() io.Reader {
			return strings.NewReader(`<?xml version="1.0"?>
<!DOCTYPE ficAlimMENESR [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<ficAlimMENESR><addRequest><identifier><id>&xxe;</id></identifier></addRequest></ficAlimMENESR>`)
		}, "internal subset"},
		{"entity declaration outside DOCTYPE", func() io.Reader {
			return strings.NewReader(`<!ENTITY xxe SYSTEM "file:///etc/passwd"><ficAlimMENESR/>`)
		}, "markup declaration"},
		{"100 MB value", func() io.Reader {
			return &bigValueReader{head: valueHead, tail: valueTail, n: 100 * mb}
		}, "longer than"},
		{"100 MB value in CDATA with markup inside", func() io.Reader {
			return repeatReader(valueHead+"<![CDATA[", "<a></a>"+strings.Repeat("x", 1000), 100*1000, "]]>"+valueTail)
		}, "longer than"},
		{"100 MB attribute in a tag", func() io.Reader {
			return &bigValueReader{head: eleveHead + `<addRequest x="`, tail: `"/></ficAlimMENESR>`, n: 100 * mb}
		}, "tag longer than"},
		{"100 MB comment", func() io.Reader {
			return &bigValueReader{head: eleveHead + `<!--`, tail: `--></ficAlimMENESR>`, n: 100 * mb}
		}, "comment longer than"},
		{"100k nesting", func() io.Reader {
			return repeatReader(eleveHead, "<a>", 100_000, "")
		}, "nested deeper than 16"},
		{"1M attributes in a record", func() io.Reader {
			return repeatReader(valueHead+"x</value></attr>", `<attr name="a"><value>x</value></attr>`, 1_000_000, valueTail)
		}, "more than 512 attributes"},
		{"1M values in an attribute", func() io.Reader {
			return repeatReader(valueHead+"x</value>", `<value>x</value>`, 1_000_000, valueTail)
		}, "more than 20000 values"},
		{"value just over the cap", func() io.Reader {
			return &bigValueReader{head: valueHead, tail: valueTail, n: 64<<10 + 1}
		}, "value longer than 65536"},
		{"whitespace flood between records", func() io.Reader {
			return &bigValueReader{head: eleveHead, tail: `</ficAlimMENESR>`, n: 100 * mb}
		}, "text longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Parse(context.Background(), tt.r(), "hostile.xml", Eleve, ParseOptions{Issue: func(Problem) {}}, func(*Record) error { return nil })
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want refusal containing %q", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "hostile.xml" {
				t.Errorf("error does not name the file: %v", err)
			}
			if elapsed > 3*time.Second {
				t.Errorf("refusal took %v", elapsed)
			}
			// Bounded memory: far below the size of the hostile payload.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64*mb {
				t.Errorf("allocated %d MiB to refuse it", alloc/mb)
			}
		})
	}
	t.Run("DTD-declared entities are not expanded even when referenced", func(t *testing.T) {
		// A plain DOCTYPE with a SYSTEM id (what real files carry) is accepted and never fetched.
		doc := `<!DOCTYPE ficAlimMENESR SYSTEM "http://127.0.0.1:1/never-fetched.dtd"><ficAlimMENESR>` + eleveAdd("1", "X") + `</ficAlimMENESR>`
		recs, _, err := parseString(t, doc, ParseOptions{})
		if err != nil || len(recs) != 1 {
			t.Fatalf("recs=%d err=%v", len(recs), err)
		}
	})
	t.Run("limits are configurable", func(t *testing.T) {
		doc := eleveHead + eleveAdd("1", strings.Repeat("N", 300)) + "</ficAlimMENESR>"
		_, _, err := parseString(t, doc, ParseOptions{MaxValueBytes: 100})
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "longer than 100") {
			t.Fatalf("err = %v", err)
		}
		if _, _, err := parseString(t, doc, ParseOptions{MaxValueBytes: 1000}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRecordsIteratorStopsEarly(t *testing.T) {
	base := samplesDir(t)
	d, err := Open(context.Background(), filepath.Join(base, "entcore-aaf-test-2013"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	n := 0
	for r, err := range d.Records(context.Background(), ParseOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && r.Family != EtabEducNat {
			t.Errorf("first record is %s; structures come first", r.Family)
		}
		n++
		if n == 15 {
			break
		}
	}
	if n != 15 {
		t.Fatalf("n = %d", n)
	}
}

func TestParseCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Parse(ctx, repeatReader(eleveHead, eleveAdd("1", "X"), 5000, "</ficAlimMENESR>"), "x.xml", Eleve, ParseOptions{Issue: func(Problem) {}}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// FuzzParse feeds arbitrary bytes to the parser: it must never panic, never
// loop, and any record it yields must respect the limits.
func FuzzParse(f *testing.F) {
	f.Add([]byte(eleveHead + eleveAdd("1", "X") + "</ficAlimMENESR>"))
	f.Add([]byte("<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?>" + eleveHead + eleveAdd("1", "L\xe9a") + "</ficAlimMENESR>"))
	f.Add([]byte(eleveHead + `<modifyRequest><operationalAttributes><attr name="categoriePersonne"><value>Eleve</value></attr></operationalAttributes><identifier><id>1</id></identifier><modifications><modification name="sn" operation="replace"><value/></modification></modifications></modifyRequest><deleteRequest><operationalAttributes><attr name="categoriePersonne"><value>Eleve</value></attr></operationalAttributes><identifier><id>2</id></identifier></deleteRequest></ficAlimMENESR>`))
	f.Add([]byte(`<!DOCTYPE ficAlimMENESR [<!ENTITY a "b">]><ficAlimMENESR>&a;</ficAlimMENESR>`))
	f.Add([]byte(eleveHead + "<!-- versionAF=\"AAF-VE2407\" --><![CDATA[x]]>&eacute;</ficAlimMENESR>"))
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
				f.Add(b)
			}
		}
	}
	opts := ParseOptions{MaxValueBytes: 1024, MaxDepth: 8, MaxAttrsPerRecord: 64, MaxValuesPerAttr: 64, MaxRecordBytes: 16 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		issues := 0
		o := opts
		o.Issue = func(p Problem) {
			issues++
			if p.Code == "" || p.Message == "" {
				t.Fatalf("problem without code or message: %+v", p)
			}
		}
		_, err := Parse(context.Background(), bytes.NewReader(data), "fuzz.xml", Eleve, o, func(r *Record) error {
			if len(r.Attrs) > o.MaxAttrsPerRecord {
				t.Fatalf("%d attrs", len(r.Attrs))
			}
			total := 0
			for _, vs := range r.Attrs {
				if len(vs) > o.MaxValuesPerAttr*o.MaxAttrsPerRecord {
					t.Fatalf("%d values", len(vs))
				}
				for _, v := range vs {
					if len(v) > o.MaxValueBytes {
						t.Fatalf("value of %d bytes", len(v))
					}
					if v != strings.TrimSpace(v) {
						t.Fatalf("untrimmed value %q", v)
					}
					total += len(v)
				}
			}
			if total > o.MaxRecordBytes {
				t.Fatalf("record of %d bytes", total)
			}
			return nil
		})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a *ParseError: %v", err)
			}
			if pe.File != "fuzz.xml" || pe.Code == "" {
				t.Fatalf("error lacks location: %+v", pe)
			}
		}
	})
}

func TestWalkParallelSameOrder(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "d")
	if _, err := Generate(ctx, GenerateOptions{Out: dir, Students: 3000, Seed: 3, ChunkSize: 500}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var serial []string
	if err := d.Walk(ctx, ParseOptions{}, func(r *Record) error { serial = append(serial, r.File+"#"+r.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	h1, _ := d.ContentHash(ctx)
	d.contentHash = ""
	for _, f := range d.Files {
		f.sha256 = nil
	}
	var par []string
	if err := d.Walk(ctx, ParseOptions{Workers: 3}, func(r *Record) error { par = append(par, r.File+"#"+r.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(serial, ",") != strings.Join(par, ",") {
		t.Fatalf("parallel walk changed the order or the records (%d vs %d)", len(serial), len(par))
	}
	if h2, _ := d.ContentHash(ctx); h1 != h2 || h1 == "" {
		t.Errorf("hash %s vs %s", h1, h2)
	}
	// An error from fn stops everything without leaking goroutines.
	stop := errors.New("stop")
	n := 0
	err = d.Walk(ctx, ParseOptions{Workers: 2}, func(*Record) error {
		n++
		if n == 700 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 700 {
		t.Fatalf("err %v n %d", err, n)
	}
	// A broken file in the middle surfaces as its parse error.
	edit(t, fileOf(t, dir, PersRelEleve, 1), func(s string) string { return s[:len(s)-40] })
	d2, _ := Open(ctx, dir)
	defer d2.Close()
	err = d2.Walk(ctx, ParseOptions{Workers: 2}, func(*Record) error { return nil })
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Code != CodeTruncated || !strings.Contains(pe.File, "PersRelEleve_0001") {
		t.Fatalf("err = %v", err)
	}
}
