package gar

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unicode/utf8"
)

// schema is one of the GAR's two schemas: its namespace and file name.
type schema struct {
	ns, xsd string
	prefix  string // "" for second degree, "1D_" for first degree, in file names
}

var (
	schema2D = schema{ns: "http://data.education.fr/ns/gar", xsd: "GAR-ENT.xsd"}
	schema1D = schema{ns: "http://data.education.fr/ns/gar/1d", xsd: "GAR-ENT-1D.xsd", prefix: "1D_"}
)

// frag builds one element of the export with encoding/xml's token writer.
// Fragments carry no newline (the encoder escapes those in values), which is
// what lets the spools keep one per line.
type frag struct {
	buf bytes.Buffer
	enc *xml.Encoder
	err error
}

func newFrag() *frag {
	f := &frag{}
	f.enc = xml.NewEncoder(&f.buf)
	return f
}

func (f *frag) reset() { f.buf.Reset() }

func (f *frag) start(name string) {
	if f.err == nil {
		f.err = f.enc.EncodeToken(xml.StartElement{Name: xml.Name{Local: name}})
	}
}

func (f *frag) end(name string) {
	if f.err == nil {
		f.err = f.enc.EncodeToken(xml.EndElement{Name: xml.Name{Local: name}})
	}
}

// leaf writes <name>value</name>, the value cut to max characters (the
// schema's maxLength) and cleaned of characters XML 1.0 cannot carry.
func (f *frag) leaf(name, value string, max int) {
	f.start(name)
	if f.err == nil {
		f.err = f.enc.EncodeToken(xml.CharData(clip(value, max)))
	}
	f.end(name)
}

// opt writes the leaf only when the value is not empty.
func (f *frag) opt(name, value string, max int) {
	if value != "" {
		f.leaf(name, value, max)
	}
}

// bytes flushes the encoder and returns the fragment.
func (f *frag) bytes() ([]byte, error) {
	if f.err == nil {
		f.err = f.enc.Flush()
	}
	return f.buf.Bytes(), f.err
}

// clip keeps at most max characters of s, dropping the control characters
// XML 1.0 forbids (an AAF value with one would make the file unreadable).
func clip(s string, max int) string {
	clean := true
	for _, r := range s {
		if !xmlChar(r) {
			clean = false
			break
		}
	}
	if !clean {
		b := make([]rune, 0, len(s))
		for _, r := range s {
			if xmlChar(r) {
				b = append(b, r)
			}
		}
		s = string(b)
	}
	if max > 0 && utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max])
	}
	return s
}

func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// fileSet writes the files of one kind (Eleve, Groupe…) of one schema: the
// root element GAR-ENT-<kind>, at most max elements a file. The schema fixes
// the order of element types inside the root (GAREleve, then GARPersonMEF,
// then GAREleveEnseignement); the export meets them mixed, person by person,
// so every section but the first is spooled to a temporary file, one
// fragment a line, and copied after it. Memory holds one fragment.
type fileSet struct {
	dir, base, kind string // base: <idENT>_GAR-ENT_Complet_<yyyyMMdd_HHmmss>_
	sch             schema
	max             int

	spools []*spool // by section; nil for section 0, written directly
	f      *os.File
	w      *bufio.Writer
	n      int // elements in the open file
	files  []string
	total  int
}

type spool struct {
	f *os.File
	w *bufio.Writer
}

func newFileSet(dir, base, kind string, sch schema, max, sections int) *fileSet {
	return &fileSet{dir: dir, base: base, kind: kind, sch: sch, max: max, spools: make([]*spool, sections)}
}

// add writes one element of the given section.
func (fs *fileSet) add(section int, b []byte) error {
	if section == 0 {
		return fs.write(b)
	}
	sp := fs.spools[section]
	if sp == nil {
		f, err := os.CreateTemp(fs.dir, ".gar-spool-*")
		if err != nil {
			return fmt.Errorf("gar export: spool: %w", err)
		}
		sp = &spool{f: f, w: bufio.NewWriterSize(f, 64<<10)}
		fs.spools[section] = sp
	}
	sp.w.Write(b)
	return sp.w.WriteByte('\n')
}

func (fs *fileSet) write(b []byte) error {
	if fs.f == nil || fs.n == fs.max {
		if err := fs.rotate(); err != nil {
			return err
		}
	}
	fs.n++
	fs.total++
	fs.w.Write(b)
	return fs.w.WriteByte('\n')
}

func (fs *fileSet) root() string { return "GAR-ENT-" + fs.kind }

// rotate closes the open file and opens the next one.
func (fs *fileSet) rotate() error {
	if err := fs.closeFile(); err != nil {
		return err
	}
	name := fmt.Sprintf("%s%s%s_%04d.xml", fs.base, fs.sch.prefix, fs.kind, len(fs.files))
	path := filepath.Join(fs.dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("gar export: %w", err)
	}
	fs.f, fs.w, fs.n = f, bufio.NewWriterSize(f, 256<<10), 0
	fs.files = append(fs.files, path)
	fmt.Fprintf(fs.w, "%s<men:%s xmlns:men=%q xmlns=%q xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"%s %s\" Version=\"1.0\">\n",
		xml.Header, fs.root(), fs.sch.ns, fs.sch.ns, fs.sch.ns, fs.sch.xsd)
	return nil
}

func (fs *fileSet) closeFile() error {
	if fs.f == nil {
		return nil
	}
	fmt.Fprintf(fs.w, "</men:%s>\n", fs.root())
	err := fs.w.Flush()
	if cerr := fs.f.Close(); err == nil {
		err = cerr
	}
	fs.f, fs.w = nil, nil
	if err != nil {
		return fmt.Errorf("gar export: %s: %w", fs.files[len(fs.files)-1], err)
	}
	return nil
}

// finish copies the spooled sections in order and closes the last file. A
// kind with no element still gets one (empty) file: the GAR reads an absent
// file as a missing delivery, an empty one as "none".
func (fs *fileSet) finish() error {
	for _, sp := range fs.spools {
		if sp == nil {
			continue
		}
		if err := fs.replay(sp); err != nil {
			return err
		}
	}
	if fs.f == nil && len(fs.files) == 0 {
		if err := fs.rotate(); err != nil {
			return err
		}
	}
	return fs.closeFile()
}

func (fs *fileSet) replay(sp *spool) error {
	defer func() { sp.f.Close(); os.Remove(sp.f.Name()) }()
	if err := sp.w.Flush(); err != nil {
		return fmt.Errorf("gar export: spool: %w", err)
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("gar export: spool: %w", err)
	}
	r := bufio.NewReaderSize(sp.f, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A fragment longer than the buffer: rare (a teacher in
			// hundreds of schools); read the rest of it.
			rest, err2 := r.ReadBytes('\n')
			line = append(append([]byte{}, line...), rest...)
			err = err2
		}
		if len(line) > 1 {
			if werr := fs.write(line[:len(line)-1]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("gar export: spool: %w", err)
		}
	}
}

// abort closes and removes everything written.
func (fs *fileSet) abort() {
	if fs.f != nil {
		fs.f.Close()
		fs.f = nil
	}
	for _, sp := range fs.spools {
		if sp != nil {
			sp.f.Close()
			os.Remove(sp.f.Name())
		}
	}
	for _, p := range fs.files {
		os.Remove(p)
	}
}
