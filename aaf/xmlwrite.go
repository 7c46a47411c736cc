package aaf

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// DTD is ficAlimMENESR.dtd as shipped with real exports (aaf.md §2.2). The
// generator copies it beside the files it writes.
const DTD = `<!ELEMENT ficAlimMENESR (addRequest|modifyRequest|deleteRequest)*>
<!ELEMENT addRequest (operationalAttributes, identifier, attributes)>
<!ELEMENT modifyRequest (operationalAttributes, identifier, modifications)>
<!ELEMENT deleteRequest (operationalAttributes, identifier)>
<!ELEMENT operationalAttributes (attr)> <!-- Pas de controle : l'attribut "name" de l'element "attr" doit etre egal a "categoriePersonne" ou "categorieStructure" -->
<!ELEMENT identifier (id)>
<!ELEMENT attributes (attr+)>
<!ELEMENT attr (value+)>
<!ELEMENT modifications (modification+)>
<!ELEMENT modification (value+)>
<!ELEMENT value (#PCDATA)>
<!ELEMENT id (#PCDATA)>
<!ATTLIST attr name CDATA #REQUIRED>
<!ATTLIST modification
	name CDATA #REQUIRED
	operation (replace) #REQUIRED>
`

// attrKV is one attribute in output order.
type attrKV struct {
	name string
	vals []string
}

// fileHeader is what each generated file starts with.
type fileHeader struct {
	versionAF, versionSDET, academie, degre, date string
}

// chunkWriter writes one family's records, starting a new file every
// `size` records, so a family of any size streams to disk.
type chunkWriter struct {
	dir, prefix, kind, date string
	fam                     Family
	size                    int
	latin9                  bool
	hdr                     fileHeader

	n, chunk int
	f        *os.File
	w        *bufio.Writer
	files    []string
	records  int
	ops      map[Op]int
}

func (cw *chunkWriter) fileName() string {
	return fmt.Sprintf("%s_%s_%s_%s_%04d.xml", cw.prefix, cw.kind, cw.date, cw.fam, cw.chunk)
}

func (cw *chunkWriter) openChunk() error {
	name := cw.fileName()
	f, err := os.Create(filepath.Join(cw.dir, name))
	if err != nil {
		return fmt.Errorf("aaf: generate: %w", err)
	}
	cw.f, cw.w = f, bufio.NewWriterSize(f, 256<<10)
	cw.files = append(cw.files, name)
	enc := "UTF-8"
	if cw.latin9 {
		enc = "ISO-8859-15"
	}
	fmt.Fprintf(cw.w, "<?xml version=\"1.0\" encoding=\"%s\"?>\n<!DOCTYPE ficAlimMENESR SYSTEM \"ficAlimMENESR.dtd\">\n<ficAlimMENESR>\n", enc)
	fmt.Fprintf(cw.w, "<!-- versionAF=%q -->\n<!-- versionSDET=%q -->\n<!-- codeAcademieExport=%q -->\n<!-- degre=%q -->\n<!-- dateGenerationExport=%q -->\n\n",
		cw.hdr.versionAF, cw.hdr.versionSDET, cw.hdr.academie, cw.hdr.degre, cw.hdr.date)
	return nil
}

func (cw *chunkWriter) closeChunk() error {
	if cw.f == nil {
		return nil
	}
	cw.w.WriteString("</ficAlimMENESR>\n")
	err := cw.w.Flush()
	if cerr := cw.f.Close(); err == nil {
		err = cerr
	}
	cw.f, cw.w = nil, nil
	cw.chunk++
	cw.n = 0
	if err != nil {
		return fmt.Errorf("aaf: generate: %w", err)
	}
	return nil
}

func (cw *chunkWriter) close() error { return cw.closeChunk() }

// write emits one request. attrs are ignored for deletes.
func (cw *chunkWriter) write(op Op, id string, attrs []attrKV) error {
	if cw.f == nil {
		if err := cw.openChunk(); err != nil {
			return err
		}
	}
	tag := map[Op]string{OpAdd: "addRequest", OpModify: "modifyRequest", OpDelete: "deleteRequest"}[op]
	w := cw.w
	w.WriteString("<" + tag + ">\n<operationalAttributes><attr name=\"" + cw.fam.CategoryAttr() + "\"><value>" + cw.fam.CategoryValues()[0] + "</value></attr></operationalAttributes>\n<identifier><id>")
	cw.text(id)
	w.WriteString("</id></identifier>\n")
	switch op {
	case OpAdd:
		w.WriteString("<attributes>\n")
		for _, a := range attrs {
			cw.attr("attr", "", a)
		}
		w.WriteString("</attributes>\n")
	case OpModify:
		w.WriteString("<modifications>\n")
		for _, a := range attrs {
			cw.attr("modification", ` operation="replace"`, a)
		}
		w.WriteString("</modifications>\n")
	}
	w.WriteString("</" + tag + ">\n")
	cw.records++
	if cw.ops == nil {
		cw.ops = map[Op]int{}
	}
	cw.ops[op]++
	cw.n++
	if cw.n >= cw.size {
		return cw.closeChunk()
	}
	return nil
}

func (cw *chunkWriter) attr(elem, extra string, a attrKV) {
	w := cw.w
	w.WriteString("<" + elem + " name=\"" + a.name + "\"" + extra + ">")
	empty := true
	for _, v := range a.vals {
		if v == "" {
			continue
		}
		empty = false
	}
	if empty {
		w.WriteString("<value/>")
	} else {
		for _, v := range a.vals {
			if v == "" {
				w.WriteString("<value/>")
				continue
			}
			w.WriteString("<value>")
			cw.text(v)
			w.WriteString("</value>")
		}
	}
	w.WriteString("</" + elem + ">\n")
}

// text escapes s the way real exports do (&apos; for apostrophes) and, for
// ISO-8859-15 files, encodes it, writing a character reference for any rune
// Latin-9 cannot hold.
func (cw *chunkWriter) text(s string) {
	w := cw.w
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '&':
				w.WriteString("&amp;")
			case '<':
				w.WriteString("&lt;")
			case '>':
				w.WriteString("&gt;")
			case '\'':
				w.WriteString("&apos;")
			case '"':
				w.WriteString("&quot;")
			default:
				w.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if !cw.latin9 {
			w.WriteRune(r)
			continue
		}
		if b, ok := charmap.ISO8859_15.EncodeRune(r); ok {
			w.WriteByte(b)
		} else {
			fmt.Fprintf(w, "&#%d;", r)
		}
	}
}
