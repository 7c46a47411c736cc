package aaf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// The fast path.
//
// encoding/xml reads one byte at a time through an interface, copies every
// token into fresh memory and checks names against Unicode tables: most of
// the import time went there. The scanner below is a byte-level tokenizer
// for the regular subset of XML that AAF files use (declaration, DOCTYPE,
// comments, CDATA, tags with quoted attributes, text with the predefined,
// numeric and HTML entities). It feeds exactly the tokens encoding/xml's
// RawToken would produce into the same semantic layer (parser.start, end,
// charData, token), so records, envelope problems and limits come from one
// piece of code whichever path tokenized the bytes.
//
// Correctness never depends on the scanner understanding a construct. When
// it meets anything it is not certain about (an error, a processing
// instruction, a name with a colon or non-ASCII letters, an internal DTD
// subset, an unknown entity, a token larger than its buffer, a run that
// approaches the guard's limit…) it hands the bytes from that token on to an
// encoding/xml Decoder — the reference tokenizer, behind the same guard, with
// the same options — for one "episode", and takes over again at the next
// clean token boundary. The guard and the decoder see the same bytes as on
// the reference path and start each episode in the state they would be in
// there (the guard in text state with the same run length and line; the
// decoder between tokens), so the episode produces what the reference would
// have, errors included. If the decoder switches to a charset reader (an
// encoding declared anywhere but in a leading declaration the scanner read
// itself), its read-ahead makes resuming impossible and the episode lasts to
// the end of the file.

// scanBufSize bounds the scanner's memory: a token must fit in the buffer to
// be scanned; a larger one (a value over ~256 KiB, which the default limits
// refuse anyway) goes through an episode, which streams. A variable so that
// tests can shrink it and cut tokens at every position; never below 512, as
// the head of the file (BOM + 256 bytes) must fit.
var scanBufSize = 256 << 10

type scanner struct {
	p    *parser
	src  io.Reader
	buf  []byte
	r, w int // buf[r:w] is read but not consumed
	eof  bool
	rerr error // a read error, surfaced when the bytes before it are consumed

	// latin maps bytes ≥ 0x80 to UTF-8 when the file is in a single-byte
	// charset (declared, or NoDeclCharset); nil for UTF-8.
	latin *byteCharset

	// Lines are counted lazily: lines newlines lie in the bytes consumed
	// before buf[linePos].
	lines   int
	linePos int

	// run mirrors guardReader.run while in text: bytes since the end of the
	// last markup. maxRun is the guard's limit.
	run    int
	maxRun int

	atStart bool // no token consumed yet (an XML declaration may be read here)

	out    []byte // scratch for character data that needs rewriting
	intern map[string]string
	cache  [509]string // see str

	// Episode state (see above).
	guard     *guardReader
	dec       *xml.Decoder
	inEpisode bool
	epLine    int // line where the current episode started
	epDecLine int // decoder line at that point
	switched  bool
	last2     [2]byte // last two raw bytes handed to the decoder
	pend      []byte  // transcoded bytes of the last raw byte not yet handed over
	episodes  int     // for tests and benchmarks
}

// scanBufs recycles scanner buffers between files. Nothing a parse returns
// points into them: records, problems and headers hold copies.
var scanBufs sync.Pool

func (p *parser) runScan(r io.Reader) error {
	size := max(scanBufSize, 512)
	buf, _ := scanBufs.Get().(*[]byte)
	if buf == nil || len(*buf) != size {
		b := make([]byte, size)
		buf = &b
	}
	defer scanBufs.Put(buf)
	s := &scanner{p: p, src: r, buf: *buf, maxRun: 4*p.opts.MaxValueBytes + 4096, atStart: true,
		intern: make(map[string]string, 128)}
	p.scan = s
	if err := p.ctx.Err(); err != nil {
		return err
	}
	s.fill()
	// A UTF-8 byte-order mark is skipped, as on the reference path: the
	// guard and the decoder never see it.
	if bytes.HasPrefix(s.buf[:s.w], []byte{0xEF, 0xBB, 0xBF}) {
		s.r, s.linePos = 3, 3
	}
	head := s.buf[s.r:min(s.r+256, s.w)]
	if !bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("<?xml")) && p.opts.NoDeclCharset != "" {
		cs, ok := charsetFor(p.opts.NoDeclCharset)
		if !ok {
			// Unknown or multi-byte charset: let the reference path decide
			// (it reports the unsupported charset), from the first byte.
			p.scan = nil
			return p.runXML(io.MultiReader(bytes.NewReader(s.buf[:s.w]), s.rest()))
		}
		s.latin = cs
		p.hdr.Encoding = p.opts.NoDeclCharset + " (assumed: no XML declaration)"
	}
	s.guard = newGuard(nil, s.maxRun)
	return s.loop()
}

// rest is the unread remainder of the input, read errors included.
func (s *scanner) rest() io.Reader {
	if s.rerr != nil {
		return &errReader{s.rerr}
	}
	return s.src
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

// fill reads until the buffer is full, the input ends or fails. Filling
// completely keeps re-scanning of a token cut by the buffer end rare, even
// with readers that return a few bytes at a time.
func (s *scanner) fill() {
	empty := 0
	for s.w < len(s.buf) && !s.eof && s.rerr == nil {
		n, err := s.src.Read(s.buf[s.w:])
		s.w += n
		switch {
		case err == io.EOF:
			s.eof = true
		case err != nil:
			s.rerr = err
		case n == 0:
			if empty++; empty >= 100 {
				s.rerr = io.ErrNoProgress
			}
		}
	}
}

// more makes room and reads; false when nothing more can come (end of input,
// read error, or a token that fills the whole buffer).
func (s *scanner) more() bool {
	if s.eof || s.rerr != nil {
		return false
	}
	if s.r > 0 {
		s.countLines()
		n := copy(s.buf, s.buf[s.r:s.w])
		s.w, s.r, s.linePos = n, 0, 0
	}
	if s.w == len(s.buf) {
		return false
	}
	before := s.w
	s.fill()
	return s.w > before
}

func (s *scanner) countLines() {
	if s.linePos < s.r {
		s.lines += bytes.Count(s.buf[s.linePos:s.r], nl)
		s.linePos = s.r
	}
}

var nl = []byte{'\n'}

// line is encoding/xml's InputPos line at the current position.
func (s *scanner) line() int {
	s.countLines()
	return s.lines + 1
}

func (s *scanner) pos() int {
	if s.inEpisode {
		l, _ := s.dec.InputPos()
		return s.epLine + l - s.epDecLine
	}
	return s.line()
}

func (s *scanner) loop() error {
	p := s.p
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := p.ctx.Err(); err != nil {
				return err
			}
		}
		if s.r >= s.w && !s.more() {
			if s.rerr != nil {
				// Let the decoder meet the read error where the reference would.
				if err := s.episode(); err != nil {
					return err
				}
				continue
			}
			return p.atEOF()
		}
		var ok bool
		var err error
		if s.buf[s.r] != '<' {
			ok, err = s.text()
		} else {
			ok, err = s.markup()
		}
		if err != nil {
			return err
		}
		if !ok {
			if err := s.episode(); err != nil {
				return err
			}
		}
	}
}

// text scans a run of character data up to the next '<'.
func (s *scanner) text() (bool, error) {
	// Most text is the line break between two tags, which the parser
	// ignores outside a value (charData): step over it at once.
	if !s.p.inText {
		j := s.r
		for j < s.w && (s.buf[j] == '\n' || s.buf[j] == ' ' || s.buf[j] == '\t') {
			j++
		}
		if j < s.w && s.buf[j] == '<' && s.run+j-s.r+1 <= s.maxRun {
			s.run += j - s.r
			s.r = j
			s.atStart = false
			return true, nil
		}
	}
	for {
		i := bytes.IndexByte(s.buf[s.r:s.w], '<')
		if i < 0 {
			if s.more() {
				continue
			}
			if !s.eof || s.rerr != nil {
				return false, nil
			}
			i = s.w - s.r // the text runs to the end of the input
			if s.run+i > s.maxRun {
				return false, nil
			}
		} else if s.run+i+1 > s.maxRun { // the guard counts the '<' too
			return false, nil
		}
		out, ok := s.chars(s.buf[s.r:s.r+i], kindText)
		if !ok {
			return false, nil
		}
		s.r += i
		s.run += i
		s.atStart = false
		return true, s.p.charData(out)
	}
}

// markup scans one construct starting with '<'.
func (s *scanner) markup() (bool, error) {
	if s.run+1 > s.maxRun {
		return false, nil
	}
	for {
		st, err := s.markup1()
		if st == needMore {
			if s.more() {
				continue
			}
			return false, nil // cut by the end of input or of the buffer: the decoder says how
		}
		return st == done, err
	}
}

type scanStatus uint8

const (
	done     scanStatus = iota
	needMore            // the construct continues past buf[w]
	unsure              // hand over to the decoder
)

// nameByte classifies bytes for nameEnd: 1 may start a name, 2 may follow,
// 3 makes the scanner unsure (':' splits prefixed names, non-ASCII bytes
// are checked against Unicode tables by encoding/xml), 0 ends the name.
var nameByte = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = 1, 1
	}
	t['_'] = 1
	for c := '0'; c <= '9'; c++ {
		t[c] = 2
	}
	t['-'], t['.'] = 2, 2
	t[':'] = 3
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = 3
	}
	return t
}()

// nameEnd returns the end of an element or attribute name starting at b[j].
// Only ASCII names without a colon are scanned.
func nameEnd(b []byte, j int) (int, scanStatus) {
	if j >= len(b) {
		return j, needMore
	}
	if nameByte[b[j]] != 1 {
		return j, unsure
	}
	for j++; j < len(b); j++ {
		switch nameByte[b[j]] {
		case 1, 2:
			continue
		case 3:
			return j, unsure
		}
		return j, done
	}
	return j, needMore
}

// skipSpace is encoding/xml's Decoder.space.
func skipSpace(b []byte, j int) int {
	for j < len(b) && (b[j] == ' ' || b[j] == '\n' || b[j] == '\t' || b[j] == '\r') {
		j++
	}
	return j
}

func (s *scanner) markup1() (scanStatus, error) {
	b := s.buf[s.r:s.w]
	if len(b) < 2 {
		return needMore, nil
	}
	if b[1] == 'v' && s.plainValue(b) {
		return done, nil
	}
	switch b[1] {
	case '/':
		j, st := nameEnd(b, 2)
		if st != done {
			return st, nil
		}
		name := b[2:j]
		j = skipSpace(b, j)
		if j >= len(b) {
			return needMore, nil
		}
		if b[j] != '>' {
			return unsure, nil
		}
		if st := s.consume(j + 1); st != done {
			return st, nil
		}
		n := s.name(name)
		return done, s.p.end(xml.EndElement{Name: xml.Name{Local: n}})
	case '!':
		return s.bang(b)
	case '?':
		return s.decl(b)
	}
	j, st := nameEnd(b, 1)
	if st != done {
		return st, nil
	}
	name := b[1:j]
	// On the stack: filling a slice kept in the scanner cost a GC write
	// barrier per attribute, which the import pays while the GC marks.
	var buf [4]xml.Attr
	attrs := buf[:0]
	empty := false
	for {
		j = skipSpace(b, j)
		if j >= len(b) {
			return needMore, nil
		}
		if b[j] == '>' {
			j++
			break
		}
		if b[j] == '/' {
			if j+1 >= len(b) {
				return needMore, nil
			}
			if b[j+1] != '>' {
				return unsure, nil
			}
			j += 2
			empty = true
			break
		}
		k, st := nameEnd(b, j)
		if st != done {
			return st, nil
		}
		an := b[j:k]
		j = skipSpace(b, k)
		if j >= len(b) {
			return needMore, nil
		}
		if b[j] != '=' {
			return unsure, nil
		}
		j = skipSpace(b, j+1)
		if j >= len(b) {
			return needMore, nil
		}
		q := b[j]
		if q != '"' && q != '\'' {
			return unsure, nil
		}
		k = bytes.IndexByte(b[j+1:], q)
		if k < 0 {
			return needMore, nil
		}
		v, ok := s.chars(b[j+1:j+1+k], kindAttr)
		if !ok {
			return unsure, nil
		}
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: s.name(an)}, Value: s.str(v)})
		j += k + 2
	}
	if st := s.consume(j); st != done {
		return st, nil
	}
	n := s.name(name)
	if err := s.p.start(xml.Name{Local: n}, attrs); err != nil {
		return done, err
	}
	if empty {
		return done, s.p.end(xml.EndElement{Name: xml.Name{Local: n}})
	}
	return done, nil
}

var (
	valueOpen  = []byte("<value>")
	valueClose = []byte("</value>")
	valueEmpty = []byte("<value/>")
)

// plainValue reads a whole <value>text</value> or <value/> at buf[r] when
// it is in the buffer in this exact form and the parser takes it in one
// step (parser.plainValue): most of an export is values. False leaves
// everything as it was, for markup1 to read the tags one by one.
func (s *scanner) plainValue(b []byte) bool {
	n := len(valueEmpty)
	var text []byte
	if !bytes.HasPrefix(b, valueEmpty) {
		if !bytes.HasPrefix(b, valueOpen) {
			return false
		}
		t := b[len(valueOpen):]
		i := bytes.IndexByte(t, '<')
		// The guard's run limit, as text() checks it.
		if i < 0 || i+1 > s.maxRun || !bytes.HasPrefix(t[i:], valueClose) {
			return false
		}
		var ok bool
		if text, ok = s.chars(t[:i], kindText); !ok {
			return false
		}
		n = len(valueOpen) + i + len(valueClose)
	}
	if !s.p.plainValue(text) {
		return false
	}
	s.r += n
	s.run = 0
	s.atStart = false
	return true
}

// consume ends a markup construct of n bytes at buf[r]; unsure when the
// guard would refuse its length.
func (s *scanner) consume(n int) scanStatus {
	if n > s.maxRun {
		return unsure
	}
	s.r += n
	s.run = 0
	s.atStart = false
	return done
}

var (
	commentOpen = []byte("<!--")
	commentEnd  = []byte("--")
	cdataOpen   = []byte("<![CDATA[")
	cdataEnd    = []byte("]]>")
	doctypeOpen = []byte("<!DOCTYPE")
	declOpen    = []byte("<?xml")
	piEnd       = []byte("?>")
)

// bang scans comments, CDATA sections and a plain DOCTYPE.
func (s *scanner) bang(b []byte) (scanStatus, error) {
	switch {
	case len(b) < len(cdataOpen):
		return needMore, nil
	case bytes.HasPrefix(b, commentOpen):
		k := bytes.Index(b[4:], commentEnd)
		if k < 0 || 4+k+2 >= len(b) {
			return needMore, nil
		}
		if b[4+k+2] != '>' {
			return unsure, nil // "--" inside a comment: an error
		}
		if st := s.consume(4 + k + 3); st != done {
			return st, nil
		}
		if len(s.p.stack) <= 1 { // the only comments the parser reads
			return done, s.p.token(xml.Comment(s.raw(b[4 : 4+k])))
		}
		return done, nil
	case bytes.HasPrefix(b, cdataOpen):
		k := bytes.Index(b[9:], cdataEnd)
		if k < 0 {
			return needMore, nil
		}
		out, ok := s.chars(b[9:9+k], kindCDATA)
		if !ok {
			return unsure, nil
		}
		if st := s.consume(9 + k + 3); st != done {
			return st, nil
		}
		return done, s.p.charData(out)
	case bytes.HasPrefix(b, doctypeOpen):
		// Only a DOCTYPE without internal subset, nested markup or
		// non-ASCII bytes; the guard and encoding/xml agree on its end
		// (the first '>' outside quotes).
		var quote byte
		for j := len(doctypeOpen); j < len(b); j++ {
			c := b[j]
			switch {
			case c == '<' || c == '[' || c >= utf8.RuneSelf:
				return unsure, nil
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '>':
				if st := s.consume(j + 1); st != done {
					return st, nil
				}
				return done, s.p.token(xml.Directive(b[2:j]))
			}
		}
		return needMore, nil
	}
	return unsure, nil
}

// decl scans the XML declaration when it opens the file; any other
// processing instruction goes to the decoder.
func (s *scanner) decl(b []byte) (scanStatus, error) {
	if !s.atStart {
		return unsure, nil
	}
	if len(b) < len(declOpen)+1 {
		return needMore, nil
	}
	if !bytes.HasPrefix(b, declOpen) {
		return unsure, nil
	}
	if c := b[5]; c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '?' {
		return unsure, nil // another target, or a name encoding/xml reads further
	}
	cs := skipSpace(b, 5)
	k := bytes.Index(b[cs:], piEnd)
	if k < 0 {
		return needMore, nil
	}
	inst := b[cs : cs+k]
	content := string(inst)
	if ver := procInst("version", content); ver != "" && ver != "1.0" {
		return unsure, nil
	}
	enc := procInst("encoding", content)
	var cs8 *byteCharset
	if enc != "" && !strings.EqualFold(enc, "utf-8") {
		var ok bool
		if cs8, ok = charsetFor(enc); !ok {
			return unsure, nil // the decoder reports it, or switches for good
		}
	}
	if st := s.consume(cs + k + 2); st != done {
		return st, nil
	}
	if enc != "" && !strings.EqualFold(enc, "utf-8") {
		s.p.hdr.Encoding = enc // what the decoder's CharsetReader hook records
		s.latin = cs8
	}
	return done, s.p.token(xml.ProcInst{Target: "xml", Inst: inst})
}

// procInst is encoding/xml's parser for pseudo-attributes of the XML
// declaration, copied so the scanner reads the version and encoding exactly
// as the decoder does (quirks included).
func procInst(param, s string) string {
	param = param + "="
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || lenp+k >= len(sub) {
			return ""
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}

type charKind uint8

const (
	kindText  charKind = iota // between tags: entities; "]]>" is an error
	kindAttr                  // a quoted attribute value: entities; '<' is an error
	kindCDATA                 // inside <![CDATA[ ]]>: no entities
)

// plainByte marks bytes that encoding/xml copies as they are in every kind
// of character data.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = true
	}
	t['\t'], t['\n'] = true, true
	t['&'], t['<'], t['>'] = false, false, false
	return t
}()

// chars returns the character data encoding/xml would return for raw:
// entities resolved, CR and CRLF turned into LF, Latin bytes transcoded;
// ok is false whenever the decoder would report an error (invalid UTF-8, a
// character outside the XML range, an unknown or malformed entity, "]]>" in
// text, '<' in an attribute value). The result aliases raw when nothing
// needs rewriting, else s.out.
func (s *scanner) chars(raw []byte, kind charKind) ([]byte, bool) {
	rewrite := false
	i := 0
	for i < len(raw) && plainByte[raw[i]] {
		i++
	}
	if i == len(raw) {
		return raw, true
	}
	for i < len(raw) {
		c := raw[i]
		if plainByte[c] {
			i++
			continue
		}
		switch {
		case c >= utf8.RuneSelf:
			if s.latin != nil {
				rewrite = true
				i++
				continue
			}
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 || !isInCharacterRange(r) {
				return nil, false
			}
			i += n
		case c == '\r':
			rewrite = true
			i++
		case c == '&':
			rewrite = rewrite || kind != kindCDATA
			i++
		case c == '<':
			if kind == kindAttr {
				return nil, false
			}
			i++
		case c == '>':
			if kind == kindText && i >= 2 && raw[i-1] == ']' && raw[i-2] == ']' {
				return nil, false
			}
			i++
		default: // a control character
			return nil, false
		}
	}
	if !rewrite {
		return raw, true
	}
	out := s.out[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\r':
			out = append(out, '\n')
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
		case c == '&' && kind != kindCDATA:
			var n int
			var ok bool
			if out, n, ok = appendEntity(out, raw[i:]); !ok {
				return nil, false
			}
			i += n - 1
		case c >= utf8.RuneSelf && s.latin != nil:
			out = append(out, s.latin.utf8[c]...)
		default:
			out = append(out, c)
		}
	}
	s.out = out
	return out, true
}

// raw returns markup content (comments) as the decoder would: bytes as they
// are, transcoded when the file is in a single-byte charset.
func (s *scanner) raw(b []byte) []byte {
	if s.latin == nil {
		return b
	}
	out := s.out[:0]
	for _, c := range b {
		if c >= utf8.RuneSelf {
			out = append(out, s.latin.utf8[c]...)
		} else {
			out = append(out, c)
		}
	}
	s.out = out
	return out
}

// entities is what encoding/xml resolves with Entity = xml.HTMLEntity: the
// five predefined entities first, then the HTML ones. Values outside the XML
// character range (none today) are left out so that the decoder reports them.
var entities = func() map[string]string {
	m := make(map[string]string, len(xml.HTMLEntity)+5)
	for k, v := range xml.HTMLEntity {
		m[k] = v
	}
	for k, v := range map[string]string{"lt": "<", "gt": ">", "amp": "&", "apos": "'", "quot": `"`} {
		m[k] = v
	}
	for k, v := range m {
		for _, r := range v {
			if r == utf8.RuneError || !isInCharacterRange(r) {
				delete(m, k)
				break
			}
		}
	}
	return m
}()

// appendEntity resolves the reference at b[0] == '&' the way encoding/xml's
// Decoder.text does in strict mode; n is its length including ';'.
func appendEntity(out, b []byte) (_ []byte, n int, ok bool) {
	if len(b) < 3 {
		return out, 0, false
	}
	if b[1] == '#' {
		j, base := 2, rune(10)
		if b[j] == 'x' {
			j, base = 3, 16
		}
		start := j
		var v rune
		for ; j < len(b); j++ {
			c := b[j]
			var d rune
			switch {
			case '0' <= c && c <= '9':
				d = rune(c - '0')
			case base == 16 && 'a' <= c && c <= 'f':
				d = rune(c-'a') + 10
			case base == 16 && 'A' <= c && c <= 'F':
				d = rune(c-'A') + 10
			default:
				d = -1
			}
			if d < 0 {
				break
			}
			if v <= utf8.MaxRune {
				v = v*base + d
			}
		}
		if j == start || j >= len(b) || b[j] != ';' || v > utf8.MaxRune {
			return out, 0, false
		}
		r := v
		if 0xD800 <= r && r <= 0xDFFF {
			r = utf8.RuneError // string(rune(n)) for a surrogate
		}
		if !isInCharacterRange(r) {
			return out, 0, false
		}
		return utf8.AppendRune(out, r), j + 1, true
	}
	j := 1
	for j < len(b) && j < 40 && ('a' <= b[j] && b[j] <= 'z' || 'A' <= b[j] && b[j] <= 'Z' || j > 1 && '0' <= b[j] && b[j] <= '9') {
		j++
	}
	if j == 1 || j >= len(b) || b[j] != ';' {
		return out, 0, false
	}
	v, ok := entities[string(b[1:j])]
	if !ok {
		return out, 0, false
	}
	return append(out, v...), j + 1, true
}

// isInCharacterRange is encoding/xml's test of the XML Char production.
func isInCharacterRange(r rune) bool {
	return r == 0x09 ||
		r == 0x0A ||
		r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// name returns an element or XML-attribute name as a string; the names of
// ficAlimMENESR.dtd are constants, so they cost neither a copy nor a hash.
func (s *scanner) name(b []byte) string {
	switch string(b) {
	case "value":
		return "value"
	case "attr":
		return "attr"
	case "name":
		return "name"
	case "id":
		return "id"
	case "identifier":
		return "identifier"
	case "attributes":
		return "attributes"
	case "operationalAttributes":
		return "operationalAttributes"
	case "addRequest":
		return "addRequest"
	case "modifyRequest":
		return "modifyRequest"
	case "deleteRequest":
		return "deleteRequest"
	case "modifications":
		return "modifications"
	case "modification":
		return "modification"
	case "operation":
		return "operation"
	case "ficAlimMENESR":
		return "ficAlimMENESR"
	}
	return s.str(b)
}

// str interns short strings, in practice the AAF attribute names (a few
// dozen) and "replace": record keys then share one string each instead of
// costing an allocation per attribute. A direct-mapped cache answers most
// lookups with one comparison; the map behind it is bounded.
func (s *scanner) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h := (uint(len(b))*0x9E37 ^ uint(b[0])*0x85EB ^ uint(b[len(b)-1])*0xC2B2 ^ uint(b[len(b)/2])*0x27D4) % uint(len(s.cache))
	if v := s.cache[h]; v == string(b) {
		return v
	}
	v, ok := s.intern[string(b)]
	if !ok {
		v = string(b)
		if len(b) > 64 {
			return v
		}
		if len(s.intern) < 4096 {
			s.intern[v] = v
		}
	}
	s.cache[h] = v
	return v
}

// byteCharset is a single-byte charset as charsetReader decodes it.
type byteCharset struct {
	utf8 [256][]byte
}

var charsets sync.Map // lower-cased label → *byteCharset (nil: UTF-8 pass-through) or errNotSingleByte

var errNotSingleByte = errors.New("not a single-byte charset")

// charsetFor derives the byte table of a label from charsetReader itself —
// by decoding the 256 byte values — so the two paths cannot disagree on a
// mapping. ok is false for labels charsetReader refuses and for charsets
// that are not a 1:1 byte→rune mapping with ASCII unchanged; nil means the
// bytes pass through (UTF-8).
func charsetFor(label string) (*byteCharset, bool) {
	if v, ok := charsets.Load(label); ok {
		cs, _ := v.(*byteCharset)
		return cs, v != errNotSingleByte
	}
	cs, err := buildCharset(label)
	if err != nil {
		charsets.Store(label, errNotSingleByte)
		return nil, false
	}
	if cs == nil {
		charsets.Store(label, (*byteCharset)(nil))
	} else {
		charsets.Store(label, cs)
	}
	return cs, true
}

func buildCharset(label string) (*byteCharset, error) {
	var all [256]byte
	for i := range all {
		all[i] = byte(i)
	}
	r, err := charsetReader(label, bytes.NewReader(all[:]))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(out, all[:]) {
		return nil, nil
	}
	cs := &byteCharset{}
	for i := 0; i < 256; i++ {
		c, n := utf8.DecodeRune(out)
		if n == 0 || (c == utf8.RuneError && n == 1) || (i < utf8.RuneSelf && c != rune(i)) || !isInCharacterRange(c) && i >= utf8.RuneSelf {
			return nil, errNotSingleByte
		}
		cs.utf8[i] = out[:n:n]
		out = out[n:]
	}
	if len(out) != 0 {
		return nil, errNotSingleByte
	}
	return cs, nil
}

// episode hands the input, from the current token on, to an encoding/xml
// Decoder behind the guard, until a clean token boundary (see the comment at
// the top of this file).
func (s *scanner) episode() error {
	p := s.p
	s.episodes++
	g := s.guard
	g.state, g.run, g.line, g.quote, g.tail, g.look, g.err = gText, s.run, s.line(), 0, [2]byte{}, g.look[:0], nil
	if s.dec == nil {
		s.dec = xml.NewDecoder(scanTap{s})
		s.dec.Strict = true
		s.dec.Entity = xml.HTMLEntity
		s.dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
			p.hdr.Encoding = label
			s.switched = true
			return charsetReader(label, in)
		}
	}
	s.inEpisode = true
	s.epLine = s.line()
	s.epDecLine, _ = s.dec.InputPos()
	s.atStart = false
	for n := 1; ; n++ {
		if n&1023 == 0 {
			if err := p.ctx.Err(); err != nil {
				return err
			}
		}
		tok, err := s.dec.RawToken()
		if err == io.EOF {
			return p.atEOF()
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				// Report the line in the file, not in the episode.
				err = &xml.SyntaxError{Msg: se.Msg, Line: s.epLine + se.Line - s.epDecLine}
			}
			return p.tokenError(err)
		}
		if err := p.token(tok); err != nil {
			return err
		}
		// Resume only between tokens: not after text (the decoder holds the
		// '<' it peeked at), not between the halves of <x/>, not with the
		// guard inside markup, never once the decoder reads through a
		// charset reader.
		if s.switched || g.state != gText || len(s.pend) > 0 {
			continue
		}
		switch tok.(type) {
		case xml.CharData:
			continue
		case xml.StartElement:
			if s.last2 == [2]byte{'/', '>'} {
				continue
			}
		}
		s.run = g.run
		s.inEpisode = false
		return nil
	}
}

// scanTap is what the episode decoder reads: the scanner's bytes, through
// the guard (byte by byte, so that it never runs ahead of the decoder), then
// transcoded when the file is in a single-byte charset.
type scanTap struct{ s *scanner }

func (t scanTap) ReadByte() (byte, error) {
	s := t.s
	if len(s.pend) > 0 {
		c := s.pend[0]
		s.pend = s.pend[1:]
		return c, nil
	}
	if s.guard.err != nil {
		return 0, s.guard.err
	}
	if s.r >= s.w && !s.more() {
		if s.rerr != nil {
			return 0, s.rerr
		}
		return 0, io.EOF
	}
	c := s.buf[s.r]
	if err := s.guard.step(c); err != nil {
		return 0, err
	}
	s.r++
	s.last2 = [2]byte{s.last2[1], c}
	if c >= utf8.RuneSelf && s.latin != nil {
		enc := s.latin.utf8[c]
		s.pend = enc[1:]
		return enc[0], nil
	}
	return c, nil
}

// Read serves a charset reader the decoder may wrap around the tap.
func (t scanTap) Read(b []byte) (int, error) {
	for i := range b {
		c, err := t.ReadByte()
		if err != nil {
			if i > 0 {
				return i, nil
			}
			return 0, err
		}
		b[i] = c
	}
	return len(b), nil
}
