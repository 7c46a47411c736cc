package aaf

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"regexp"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// Op is the request type of a record.
type Op string

// Request types (aaf.md §2.2).
const (
	OpAdd    Op = "add"
	OpModify Op = "modify"
	OpDelete Op = "delete"
)

// Record is one addRequest, modifyRequest or deleteRequest. It is what the
// apply step consumes; everything needed to name it in an error is on it.
type Record struct {
	Family Family
	Op     Op
	// ID is identifier/id, trimmed.
	ID string
	// CategoryAttr and Category are the operationalAttributes attr name and value
	// (categoriePersonne / Eleve…).
	CategoryAttr string
	Category     string
	// Attrs maps attribute names to trimmed values. For a modifyRequest it holds
	// the modifications, each replacing the whole value set of its attribute.
	// An attribute whose values are all empty (<value/>) maps to an empty,
	// non-nil slice: present, and for a modify "clear it". When at least one
	// value is non-empty, empty values are kept so that parallel lists
	// (ENTEleveEnseignements / ENTEleveCodeEnseignements) stay aligned.
	Attrs map[string][]string
	// File is the File.Name the record came from; Index its 1-based position in
	// the file; Line the line of its opening tag.
	File  string
	Index int
	Line  int
	// Repeated lists attribute names that appeared more than once (values were
	// appended); Check warns about them.
	Repeated []string

	sum string // the import's checksum of Attrs, when taken during the parse
}

// First returns the first value of attr, or "".
func (r *Record) First(attr string) string {
	if v := r.Attrs[attr]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Has reports whether attr is present with at least one non-empty value.
func (r *Record) Has(attr string) bool {
	for _, v := range r.Attrs[attr] {
		if v != "" {
			return true
		}
	}
	return false
}

// Header is what a file says about itself outside its records: the XML
// declaration's encoding, the DOCTYPE, and the header comments of newer
// exports (aaf.md §1.4). Comments are the only carrier, so they are read.
type Header struct {
	Encoding             string            `json:"encoding,omitempty"`
	Doctype              string            `json:"doctype,omitempty"`
	VersionAF            string            `json:"version_af,omitempty"`
	VersionSDET          string            `json:"version_sdet,omitempty"`
	CodeAcademieExport   string            `json:"code_academie_export,omitempty"`
	Degre                string            `json:"degre,omitempty"`
	DateGenerationExport string            `json:"date_generation_export,omitempty"`
	Other                map[string]string `json:"other,omitempty"`
}

// ParseOptions bounds what one file may cost and says how to treat the few
// points where real files are unclear. The zero value means the defaults.
type ParseOptions struct {
	// MaxValueBytes caps one value (default 64 KiB). The raw-byte guard in front
	// of encoding/xml allows 4× this plus 4 KiB for markup and escapes.
	MaxValueBytes int
	// MaxDepth caps element nesting (default 16; AAF needs 5).
	MaxDepth int
	// MaxAttrsPerRecord caps attr/modification elements per record (default 512).
	MaxAttrsPerRecord int
	// MaxValuesPerAttr caps value elements per attribute (default 20,000).
	MaxValuesPerAttr int
	// MaxRecordBytes caps the sum of a record's values (default 8 MiB).
	MaxRecordBytes int
	// NoDeclCharset is the charset of files without an XML declaration:
	// "" or "UTF-8" (the XML default, and what the 2013 set needs), or
	// "ISO-8859-15"/"ISO-8859-1"/"windows-1252" for exports that omit the
	// declaration but are not UTF-8. Unsure in the public notes; configurable.
	NoDeclCharset string
	// Workers > 1 lets Delivery.Walk/Records parse that many files at once
	// (records still arrive in order). Default 1. Check uses its own setting.
	Workers int
	// Reference forces the encoding/xml tokenizer. By default a byte-level
	// scanner (scan.go) tokenizes the regular AAF subset several times faster
	// and hands anything else to encoding/xml; both feed the same checks, so
	// records, problems and errors are the same. For differential tests and
	// as an escape hatch.
	Reference bool
	// prepare runs on the goroutine that parsed a record, before the record
	// is handed over, where parseAhead spreads it over its workers: the
	// import takes each addRequest's checksum there.
	prepare func(*Record)
	// Issue receives envelope problems (DTD violations) that leave the rest of
	// the file readable; parsing goes on. When nil, the first one is returned
	// as an error: callers that do not collect problems never see a record
	// built from a malformed envelope.
	Issue func(Problem)
}

func (o ParseOptions) withDefaults() ParseOptions {
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = 64 << 10
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 16
	}
	if o.MaxAttrsPerRecord <= 0 {
		o.MaxAttrsPerRecord = 512
	}
	if o.MaxValuesPerAttr <= 0 {
		o.MaxValuesPerAttr = 20000
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = 8 << 20
	}
	return o
}

// ParseError is a fatal problem in a file: it is not well-formed, it is
// truncated, or it hits a limit. The file cannot be read past it.
type ParseError struct {
	Problem
	Err error
}

func (e *ParseError) Error() string { return e.Problem.String() }
func (e *ParseError) Unwrap() error { return e.Err }

// ErrTruncated marks a file that ends before </ficAlimMENESR>.
var ErrTruncated = errors.New("truncated file")

// ErrEnvelope marks a DTD envelope violation returned as an error (Issue nil).
var ErrEnvelope = errors.New("envelope does not follow ficAlimMENESR.dtd")

// Walk parses every file of the delivery in canonical order and calls fn for
// each record, in order, from the calling goroutine. It stops at the first
// error (fn's, or a fatal parse error). Reading a file to its end records
// its SHA-256 (see ContentHash). With opts.Workers > 1, the next files are
// parsed ahead on other goroutines (parseAhead) while records, and problems
// given to opts.Issue, are still delivered strictly in order, from the
// calling goroutine.
func (d *Delivery) Walk(ctx context.Context, opts ParseOptions, fn func(*Record) error) error {
	if opts.Workers <= 1 || len(d.Files) < 2 {
		for _, f := range d.Files {
			if _, err := ParseFile(ctx, f, opts, fn); err != nil {
				return err
			}
		}
		d.finishHash()
		return nil
	}
	return d.walkParallel(ctx, opts, fn)
}

func (d *Delivery) walkParallel(ctx context.Context, opts ParseOptions, fn func(*Record) error) error {
	files, stop := d.parseAhead(ctx, opts, opts.Workers)
	defer stop()
	for _, ch := range files {
		_, err, stopped := eachEvent(ctx, ch, func(ev parseEvent) error {
			if ev.issue != nil {
				opts.Issue(*ev.issue)
				return nil
			}
			return fn(ev.rec)
		})
		if stopped != nil {
			return stopped
		}
		if err != nil {
			return err
		}
	}
	d.finishHash()
	return nil
}

// Records is Walk as an iterator. On error it yields (nil, err) once and stops.
func (d *Delivery) Records(ctx context.Context, opts ParseOptions) iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		stop := errors.New("stop")
		err := d.Walk(ctx, opts, func(r *Record) error {
			if !yield(r, nil) {
				return stop
			}
			return nil
		})
		if err != nil && !errors.Is(err, stop) {
			yield(nil, err)
		}
	}
}

// ParseFile parses one family file, hashing its bytes on the way unless
// they were hashed already (Import takes the delivery's ContentHash before
// it parses, to spot a delivery applied before): hashing 500 MB again cost
// the parser's goroutine, the slower one on a re-import, a third of a
// second.
func ParseFile(ctx context.Context, f *File, opts ParseOptions, fn func(*Record) error) (Header, error) {
	rc, err := f.Open()
	if err != nil {
		return Header{}, err
	}
	defer rc.Close()
	if f.sha256 != nil {
		return Parse(ctx, rc, f.Name, f.Family, opts, fn)
	}
	h := &countingHash{h: sha256.New()}
	hdr, err := Parse(ctx, io.TeeReader(rc, h), f.Name, f.Family, opts, fn)
	if err != nil {
		return hdr, err
	}
	// Drain what the decoder did not need (trailing whitespace) so the digest is of the whole file.
	if _, err := io.Copy(h, rc); err != nil {
		return hdr, &ParseError{Problem: Problem{Code: CodeRead, File: f.Name, Message: "read error: " + err.Error()}, Err: err}
	}
	f.sha256, f.Size = h.h.Sum(nil), h.n
	return hdr, nil
}

type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// Parse streams the records of one AAF XML document from r. name is used in
// messages; fam is the family the file name announced. Memory is bounded by
// opts whatever the size of r: one record at a time, capped values and depth.
func Parse(ctx context.Context, r io.Reader, name string, fam Family, opts ParseOptions, fn func(*Record) error) (Header, error) {
	opts = opts.withDefaults()
	p := &parser{ctx: ctx, name: name, fam: fam, opts: opts, fn: fn}
	err := p.run(r)
	return p.hdr, err
}

type parser struct {
	ctx   context.Context
	name  string
	fam   Family
	opts  ParseOptions
	fn    func(*Record) error
	hdr   Header
	guard *guardReader
	dec   *xml.Decoder
	scan  *scanner // the fast path's tokenizer, when it is the one reading

	stack    []string // open element names
	rootSeen bool
	rootDone bool
	index    int

	rec       *Record
	sections  []string // sections seen in the current request
	attrCount int      // attr elements in current section
	curName   string   // attr/modification name
	valCount  int
	text      []byte // character data of the current value / id
	inText    bool
	recBytes  int
	idCount   int
	catVals   []string
	skipDepth int // >0 while skipping an unexpected subtree
	attrHint  int // attributes of the last record: sizes the next map at once

	// vals holds the values of the current record, the current attribute's
	// from valStart on: one block per record instead of a slice per
	// attribute. Attributes get full slice expressions of it, so appending
	// to one can never overwrite its neighbour.
	vals     []string
	valStart int
	recVals  int // values the current record keeps
	valHint  int // values of the last record: sizes the next block
}

// Problem codes; stable, for machines and tests.
const (
	CodeMalformed       = "malformed"
	CodeTruncated       = "truncated"
	CodeLimit           = "limit"
	CodeRead            = "read_error"
	CodeEnvelope        = "envelope"
	CodeCategory        = "category_mismatch"
	CodeIDMismatch      = "id_jointure_mismatch"
	CodeMissingID       = "missing_id"
	CodeRequired        = "missing_required"
	CodeArity           = "composite_arity"
	CodeDate            = "invalid_date"
	CodeDuplicateID     = "duplicate_id"
	CodeDuplicateAttr   = "repeated_attribute"
	CodeChunkMissing    = "chunk_missing"
	CodeChunkDuplicate  = "chunk_duplicate"
	CodeKind            = "kind"
	CodeMixedKind       = "mixed_kind"
	CodeMixedDate       = "mixed_date"
	CodeOpNotAllowed    = "op_not_allowed"
	CodeUnresolved      = "unresolved_reference"
	CodeCrossFamilyID   = "id_in_two_families"
	CodeHeader          = "header"
	CodeVolumetry       = "volumetry"
	CodeFamilyMissing   = "family_missing"
	CodeTooManyProblems = "too_many_problems"
)

var encodingRe = regexp.MustCompile(`encoding\s*=\s*["']([^"']*)["']`)

var headerRe = regexp.MustCompile(`([A-Za-z][A-Za-z0-9_]*)\s*=\s*"([^"]*)"`)

func (p *parser) pos() int {
	if p.scan != nil {
		return p.scan.pos()
	}
	if p.dec == nil {
		return 0
	}
	line, _ := p.dec.InputPos()
	return line
}

func (p *parser) fatal(code string, err error, attr, format string, args ...any) error {
	pr := Problem{Code: code, File: p.name, Line: p.pos(), Attr: attr, Message: fmt.Sprintf(format, args...)}
	if p.rec != nil {
		pr.Record, pr.ID = p.rec.Index, p.rec.ID
	}
	return &ParseError{Problem: pr, Err: err}
}

func (p *parser) issue(attr, value, format string, args ...any) error {
	pr := Problem{Code: CodeEnvelope, File: p.name, Line: p.pos(), Attr: attr, Value: clip(value), Message: fmt.Sprintf(format, args...)}
	if p.rec != nil {
		pr.Record, pr.ID = p.rec.Index, p.rec.ID
	}
	if p.opts.Issue == nil {
		return &ParseError{Problem: pr, Err: ErrEnvelope}
	}
	p.opts.Issue(pr)
	return nil
}

func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return in, nil
	case "iso-8859-15", "iso8859-15", "latin-9", "latin9":
		return charmap.ISO8859_15.NewDecoder().Reader(in), nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "windows-1252", "cp1252":
		// Windows-1252 is a superset of ISO-8859-1 for printable text (it only
		// reassigns the C1 controls 0x80–0x9F, never legitimate in a name), and
		// files labelled ISO-8859-1 are often cp1252 in practice (€, œ).
		return charmap.Windows1252.NewDecoder().Reader(in), nil
	}
	return nil, fmt.Errorf("unsupported encoding %q (accepted: UTF-8, ISO-8859-1, ISO-8859-15, windows-1252)", label)
}

func (p *parser) run(r io.Reader) error {
	if !p.opts.Reference {
		return p.runScan(r)
	}
	return p.runXML(r)
}

// runXML is the reference path: encoding/xml behind the guard.
func (p *parser) runXML(r io.Reader) error {
	maxRun := 4*p.opts.MaxValueBytes + 4096
	br := bufio.NewReaderSize(r, 64<<10)
	// A UTF-8 byte-order mark is skipped; encoding/xml does not.
	if b, _ := br.Peek(3); bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	p.guard = newGuard(br, maxRun)
	var src io.Reader = p.guard
	head, _ := br.Peek(256)
	if !bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("<?xml")) && p.opts.NoDeclCharset != "" {
		cr, err := charsetReader(p.opts.NoDeclCharset, src)
		if err != nil {
			return p.fatal(CodeMalformed, err, "", "%v", err)
		}
		src = cr
		p.hdr.Encoding = p.opts.NoDeclCharset + " (assumed: no XML declaration)"
	}
	p.dec = xml.NewDecoder(bufio.NewReaderSize(src, 16<<10))
	p.dec.Strict = true
	p.dec.Entity = xml.HTMLEntity
	p.dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		p.hdr.Encoding = label
		return charsetReader(label, in)
	}
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := p.ctx.Err(); err != nil {
				return err
			}
		}
		tok, err := p.dec.RawToken()
		if err == io.EOF {
			return p.atEOF()
		}
		if err != nil {
			return p.tokenError(err)
		}
		if err := p.token(tok); err != nil {
			return err
		}
	}
}

func (p *parser) tokenError(err error) error {
	if errors.Is(err, ErrLimit) {
		return p.fatal(CodeLimit, err, p.curName, "refused: %v", err)
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) && strings.Contains(se.Msg, "unexpected EOF") {
		return p.fatal(CodeTruncated, errors.Join(ErrTruncated, err), p.curName, "file is truncated: it ends inside <%s> (%s)", p.open(), se.Msg)
	}
	if errors.As(err, &se) {
		return p.fatal(CodeMalformed, err, p.curName, "not well-formed XML: %s", se.Msg)
	}
	return p.fatal(CodeRead, err, p.curName, "read error: %v", err)
}

func (p *parser) open() string {
	if len(p.stack) == 0 {
		return "document"
	}
	return p.stack[len(p.stack)-1]
}

func (p *parser) atEOF() error {
	switch {
	case !p.rootSeen:
		return p.fatal(CodeTruncated, ErrTruncated, "", "file is empty or truncated: no <ficAlimMENESR> element")
	case len(p.stack) > 0:
		return p.fatal(CodeTruncated, ErrTruncated, "", "file is truncated: it ends inside <%s> after %d complete records (no closing </ficAlimMENESR>)", p.open(), p.index-boolInt(p.rec != nil))
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func attrValue(attrs []xml.Attr, name string) (string, bool) {
	for _, a := range attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func (p *parser) token(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.StartElement:
		return p.start(t.Name, t.Attr)
	case xml.EndElement:
		return p.end(t)
	case xml.CharData:
		return p.charData(t)
	case xml.Comment:
		if len(p.stack) <= 1 {
			p.comment(string(t))
		}
	case xml.ProcInst:
		if t.Target == "xml" {
			if m := encodingRe.FindSubmatch(t.Inst); m != nil {
				p.hdr.Encoding = string(m[1])
			}
		}
	case xml.Directive:
		d := strings.TrimSpace(string(t))
		if !strings.HasPrefix(d, "DOCTYPE") {
			return p.fatal(CodeLimit, ErrLimit, "", "refused: declaration <!%s>", clip(d))
		}
		p.hdr.Doctype = d
		if f := strings.Fields(d); len(f) < 2 || f[1] != "ficAlimMENESR" {
			return p.issue("", d, "DOCTYPE names another root than ficAlimMENESR")
		}
	}
	return nil
}

// charData takes the bytes of a CharData token; t is not retained.
func (p *parser) charData(t []byte) error {
	if p.skipDepth > 0 {
		return nil
	}
	if p.inText {
		if len(p.text)+len(t) > p.opts.MaxValueBytes {
			return p.fatal(CodeLimit, ErrLimit, p.curName, "refused: a value longer than %d bytes", p.opts.MaxValueBytes)
		}
		p.text = append(p.text, t...)
		return nil
	}
	if len(bytes.TrimSpace(t)) > 0 {
		return p.issue(p.curName, string(t), "text outside a <value> or <id> inside <%s>", p.open())
	}
	return nil
}

func (p *parser) comment(c string) {
	for _, m := range headerRe.FindAllStringSubmatch(c, 8) {
		k, v := m[1], strings.TrimSpace(m[2])
		switch k {
		case "versionAF":
			p.hdr.VersionAF = v
		case "versionSDET":
			p.hdr.VersionSDET = v
		case "codeAcademieExport":
			p.hdr.CodeAcademieExport = v
		case "degre":
			p.hdr.Degre = v
		case "dateGenerationExport":
			p.hdr.DateGenerationExport = v
		default:
			if p.hdr.Other == nil {
				p.hdr.Other = map[string]string{}
			}
			if len(p.hdr.Other) < 32 {
				p.hdr.Other[k] = clip(v)
			}
		}
	}
}

// start takes a StartElement's name and attributes apart: the scanner's
// attributes live on its stack, and only their values may be kept.
func (p *parser) start(en xml.Name, attrs []xml.Attr) error {
	if len(p.stack) >= p.opts.MaxDepth {
		return p.fatal(CodeLimit, ErrLimit, p.curName, "refused: elements nested deeper than %d levels", p.opts.MaxDepth)
	}
	name := en.Local
	if en.Space != "" {
		name = en.Space + ":" + name
	}
	p.stack = append(p.stack, name)
	if p.skipDepth > 0 {
		p.skipDepth++
		return nil
	}
	depth := len(p.stack)
	switch depth {
	case 1:
		if p.rootDone {
			return p.fatal(CodeMalformed, ErrEnvelope, "", "a second root element <%s> after </ficAlimMENESR> (concatenated files?)", name)
		}
		if name != "ficAlimMENESR" {
			return p.fatal(CodeMalformed, ErrEnvelope, "", "root element is <%s>, not <ficAlimMENESR>", name)
		}
		p.rootSeen = true
	case 2:
		op := requestOp(name)
		if op == "" {
			return p.skip(name, "<%s> is not a request (addRequest, modifyRequest or deleteRequest)", name)
		}
		p.index++
		p.rec = &Record{Family: p.fam, Op: op, Attrs: make(map[string][]string, max(8, p.attrHint)), File: p.name, Index: p.index, Line: p.pos()}
		p.sections, p.recBytes, p.catVals, p.idCount = p.sections[:0], 0, nil, 0
		p.vals, p.valStart, p.recVals = nil, 0, 0
	case 3:
		want := sectionsOf(p.rec.Op)
		i := len(p.sections)
		if i >= len(want) || want[i] != name {
			exp := "nothing more"
			if i < len(want) {
				exp = "<" + want[i] + ">"
			}
			return p.skip(name, "<%s> in %sRequest where the DTD expects %s", name, p.rec.Op, exp)
		}
		p.sections = append(p.sections, name)
		p.attrCount = 0
	case 4:
		section := p.stack[2]
		want := childOf(section)
		if name != want {
			return p.skip(name, "<%s> inside <%s> where the DTD expects <%s>", name, section, want)
		}
		p.attrCount++
		switch section {
		case "identifier":
			p.idCount++
			if p.idCount > 1 {
				return p.skip(name, "identifier holds more than one id")
			}
			p.inText, p.text = true, p.text[:0]
			p.curName = "id"
			return nil
		case "operationalAttributes":
			if p.attrCount > 1 {
				return p.skip(name, "operationalAttributes holds more than one attr")
			}
		}
		if p.attrCount > p.opts.MaxAttrsPerRecord {
			return p.fatal(CodeLimit, ErrLimit, "", "refused: more than %d attributes in one record", p.opts.MaxAttrsPerRecord)
		}
		attrName, ok := attrValue(attrs, "name")
		p.curName, p.valStart, p.valCount = attrName, len(p.vals), 0
		if !ok || attrName == "" {
			if err := p.issue("", "", "<%s> without a name", name); err != nil {
				return err
			}
		}
		if name == "modification" {
			if op, _ := attrValue(attrs, "operation"); op != "replace" {
				if err := p.issue(attrName, op, "modification operation is %q; the DTD allows only \"replace\"", op); err != nil {
					return err
				}
			}
		}
	case 5:
		if p.stack[3] == "id" {
			return p.skip(name, "<%s> inside <id>, which holds text only", name)
		}
		if name != "value" {
			return p.skip(name, "<%s> inside <%s> where the DTD expects <value>", name, p.stack[3])
		}
		p.valCount++
		if p.valCount > p.opts.MaxValuesPerAttr {
			return p.fatal(CodeLimit, ErrLimit, p.curName, "refused: more than %d values for one attribute", p.opts.MaxValuesPerAttr)
		}
		p.inText, p.text = true, p.text[:0]
	default:
		return p.skip(name, "<%s> nested inside <value>", name)
	}
	return nil
}

// skip reports an unexpected element and ignores its subtree.
func (p *parser) skip(name, format string, args ...any) error {
	p.skipDepth = 1
	return p.issue(p.curName, "", format, args...)
}

func (p *parser) end(ee xml.EndElement) error {
	name := ee.Name.Local
	if ee.Name.Space != "" {
		name = ee.Name.Space + ":" + name
	}
	if len(p.stack) == 0 {
		return p.fatal(CodeMalformed, ErrEnvelope, "", "closing </%s> without an opening tag", name)
	}
	if top := p.stack[len(p.stack)-1]; top != name {
		return p.fatal(CodeMalformed, ErrEnvelope, p.curName, "element <%s> closed by </%s>", top, name)
	}
	depth := len(p.stack)
	p.stack = p.stack[:depth-1]
	if p.skipDepth > 0 {
		p.skipDepth--
		return nil
	}
	switch depth {
	case 1:
		p.rootDone = true
	case 2:
		return p.endRecord()
	case 3:
		if p.attrCount == 0 {
			want := childOf(name)
			return p.issue("", "", "<%s> is empty; the DTD requires <%s>", name, want)
		}
	case 4:
		if name == "id" {
			p.inText = false
			p.rec.ID = strings.TrimSpace(string(p.text))
			p.curName = ""
			return nil
		}
		if p.valCount == 0 {
			if err := p.issue(p.curName, "", "<%s name=%q> has no <value>; the DTD requires at least one (<value/> when empty)", name, p.curName); err != nil {
				return err
			}
		}
		vals := p.attrValues()
		if p.stack[2] == "operationalAttributes" {
			p.rec.CategoryAttr = p.curName
			p.catVals = vals
			if len(vals) > 0 {
				p.rec.Category = vals[0]
			}
		} else if p.curName != "" {
			if old, dup := p.rec.Attrs[p.curName]; dup {
				p.rec.Repeated = append(p.rec.Repeated, p.curName)
				vals = append(old, vals...)
			}
			p.rec.Attrs[p.curName] = vals
		} else {
			p.dropValues()
		}
		p.curName = ""
	case 5:
		p.inText = false
		v := string(bytes.TrimSpace(p.text))
		p.recBytes += len(v)
		if p.recBytes > p.opts.MaxRecordBytes {
			return p.fatal(CodeLimit, ErrLimit, p.curName, "refused: record values exceed %d bytes", p.opts.MaxRecordBytes)
		}
		p.addValue(v)
	}
	return nil
}

func requestOp(name string) Op {
	switch name {
	case "addRequest":
		return OpAdd
	case "modifyRequest":
		return OpModify
	case "deleteRequest":
		return OpDelete
	}
	return ""
}

var (
	addSections    = [...]string{"operationalAttributes", "identifier", "attributes"}
	modifySections = [...]string{"operationalAttributes", "identifier", "modifications"}
)

// sectionsOf is the DTD content model of a request.
func sectionsOf(op Op) []string {
	switch op {
	case OpAdd:
		return addSections[:]
	case OpModify:
		return modifySections[:]
	}
	return addSections[:2]
}

// childOf is the element a request section holds.
func childOf(section string) string {
	switch section {
	case "operationalAttributes", "attributes":
		return "attr"
	case "identifier":
		return "id"
	case "modifications":
		return "modification"
	}
	return ""
}

// addValue appends a value of the current attribute to the record's block.
func (p *parser) addValue(v string) {
	if len(p.vals) == cap(p.vals) {
		// A new block: as large as the last record needed at the start of
		// a record, small for the few values a record has beyond that. The
		// attributes already stored keep the old one.
		cur := p.vals[p.valStart:]
		b := make([]string, len(cur), max(2*len(cur), p.valHint-p.recVals, 8))
		copy(b, cur)
		p.vals, p.valStart = b, 0
	}
	p.vals = append(p.vals, v)
	p.recVals++
}

// plainValue is start, charData(text) and end of a <value> element in one
// call, for the scanner: a value costs one step instead of three. It only
// acts where the three would neither report a problem nor hit a limit, and
// leaves the same state (p.text aside, which the next <value> or <id>
// resets); otherwise it does nothing, returns false, and the scanner feeds
// the tokens one by one.
func (p *parser) plainValue(text []byte) bool {
	if p.skipDepth != 0 || len(p.stack) != 4 || p.opts.MaxDepth <= 4 || p.stack[3] == "id" ||
		p.valCount >= p.opts.MaxValuesPerAttr || len(text) > p.opts.MaxValueBytes {
		return false
	}
	v := bytes.TrimSpace(text)
	if p.recBytes+len(v) > p.opts.MaxRecordBytes {
		return false
	}
	p.valCount++
	p.recBytes += len(v)
	p.addValue(string(v))
	return true
}

// attrValues returns the values of the attribute that ends; all-empty → [].
func (p *parser) attrValues() []string {
	vals := p.vals[p.valStart:len(p.vals):len(p.vals)]
	for _, v := range vals {
		if v != "" {
			return vals
		}
	}
	p.dropValues()
	return []string{}
}

// dropValues forgets the values of the attribute that ends.
func (p *parser) dropValues() {
	p.recVals -= len(p.vals) - p.valStart
	p.vals = p.vals[:p.valStart]
}

func (p *parser) endRecord() error {
	rec := p.rec
	want := sectionsOf(rec.Op)
	if len(p.sections) < len(want) {
		missing := want[len(p.sections):]
		if err := p.issue("", "", "%sRequest lacks <%s>", rec.Op, strings.Join(missing, ">, <")); err != nil {
			return err
		}
	}
	if len(p.catVals) > 1 {
		if err := p.issue(rec.CategoryAttr, strings.Join(p.catVals, "|"), "operationalAttributes holds %d values, expected one", len(p.catVals)); err != nil {
			return err
		}
	}
	p.attrHint = min(len(rec.Attrs), 256)
	p.valHint = min(p.recVals, 256)
	p.rec = nil
	if p.fn != nil {
		if err := p.fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// clip shortens a value for messages.
func clip(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes)", len(s))
}
