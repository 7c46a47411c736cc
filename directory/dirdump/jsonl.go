package dirdump

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
)

// FormatName and FormatVersion identify the JSON export. The version goes
// up when a change would make an older enthub misread or refuse a file (a
// field renamed or given a new meaning, a new record kind: an import
// refuses kinds it does not know); new optional fields do not change it.
// Version 2 added the guest records, version 3 the profile spaces and
// their members and the launcher's news and brandings; an import reads
// versions 1 to 3.
const (
	FormatName    = "enthub-directory"
	FormatVersion = 3
)

// minVersion is the oldest format version an import reads.
const minVersion = 1

// JSONFile is the name of the JSON export inside its folder.
const JSONFile = "directory.jsonl"

// maxLine bounds one record: a person with every AAF attribute is a few
// kilobytes, and a bound keeps a corrupt file from taking the memory.
const maxLine = 16 << 20

// header is the first line of the JSON export.
type header struct {
	Format      string    `json:"format"`
	Version     int       `json:"version"`
	ExportedAt  time.Time `json:"exported_at"`
	WithSecrets bool      `json:"with_secrets"`
}

// end is the last line: the counts let an import tell a complete file from
// a truncated one.
type end struct {
	Counts Counts `json:"counts"`
}

// line is one JSON Lines record: an object with exactly one key, the kind.
type line struct {
	Header       *header         `json:"header,omitempty"`
	Structure    *structureRec   `json:"structure,omitempty"`
	Subject      *subjectRec     `json:"subject,omitempty"`
	MEF          *mefRec         `json:"mef,omitempty"`
	Group        *groupRec       `json:"group,omitempty"`
	Person       *personRec      `json:"person,omitempty"`
	Account      *accountRec     `json:"account,omitempty"`
	Persona      *personaRec     `json:"persona,omitempty"`
	Membership   *membershipRec  `json:"membership,omitempty"`
	Relation     *relationRec    `json:"relation,omitempty"`
	ExternalLink *linkRec        `json:"external_link,omitempty"`
	Guest        *guestRec       `json:"guest,omitempty"`
	Space        *spaceRec       `json:"space,omitempty"`
	SpaceMember  *spaceMemberRec `json:"space_member,omitempty"`
	Service      *serviceRec     `json:"service,omitempty"`
	News         *newsRec        `json:"news,omitempty"`
	Branding     *brandingRec    `json:"branding,omitempty"`
	End          *end            `json:"end,omitempty"`
}

// WriteJSON streams the directory as JSON Lines to w: a header line, one
// line per record, an end line with the counts. Memory does not grow with
// the directory: each record is encoded and written as it is read.
func WriteJSON(ctx context.Context, d directory.DumpReader, w io.Writer, o Options) (Counts, error) {
	o = o.withDefaults()
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	put := func(kind string, v any) error {
		buf.Reset()
		buf.WriteString(`{"`)
		buf.WriteString(kind)
		buf.WriteString(`":`)
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		buf.WriteString("}\n")
		_, err := bw.Write(buf.Bytes())
		return err
	}
	if err := put("header", header{Format: FormatName, Version: FormatVersion, ExportedAt: o.Now().UTC(),
		WithSecrets: o.WithSecrets}); err != nil {
		return nil, err
	}
	counts := Counts{}
	if err := walk(ctx, d, o.WithSecrets, func(kind string, rec any) error {
		counts[kind]++
		return put(kind, rec)
	}); err != nil {
		return counts, err
	}
	if err := put("end", end{Counts: counts}); err != nil {
		return counts, err
	}
	return counts, bw.Flush()
}

// RecordError is a refused record of an import: the file, its line (1 for
// the header), the record kind and the field when one is at fault.
type RecordError struct {
	File  string
	Line  int
	Kind  string
	Field string
	Err   error
}

func (e *RecordError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d", e.File, e.Line)
	if e.Kind != "" {
		b.WriteString(": " + e.Kind)
	}
	if e.Field != "" {
		b.WriteString(": field " + e.Field)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

func (e *RecordError) Unwrap() error { return e.Err }

var errMissing = errors.New("missing or empty")

// ErrFormat is wrapped by every error about the file's content (as opposed
// to the store refusing a record).
var ErrFormat = errors.New("not a valid enthub directory export")

// decoder reads a JSON export record by record.
type decoder struct {
	name   string
	r      *bufio.Reader
	line   int
	header header
	counts Counts
	ended  bool
}

func newDecoder(r io.Reader, name string) *decoder {
	return &decoder{name: name, r: bufio.NewReaderSize(r, 64<<10), counts: Counts{}}
}

func (d *decoder) fail(kind, field string, err error) error {
	return &RecordError{File: d.name, Line: d.line, Kind: kind, Field: field, Err: fmt.Errorf("%w (%w)", err, ErrFormat)}
}

// readLine returns the next line without its newline; io.EOF at the end.
func (d *decoder) readLine() ([]byte, error) {
	var long []byte
	for {
		frag, err := d.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(long)+len(frag) > maxLine {
				d.line++
				return nil, d.fail("", "", fmt.Errorf("line longer than %d bytes", maxLine))
			}
			long = append(long, frag...)
			continue
		}
		if len(frag) == 0 && long == nil && err != nil {
			return nil, err
		}
		d.line++
		if err != nil && err != io.EOF {
			return nil, &RecordError{File: d.name, Line: d.line, Err: err}
		}
		if long != nil {
			frag = append(long, frag...)
		}
		return bytes.TrimSuffix(bytes.TrimSuffix(frag, []byte("\n")), []byte("\r")), nil
	}
}

// readHeader reads and checks the first line.
func (d *decoder) readHeader() error {
	b, err := d.readLine()
	if err == io.EOF {
		return &RecordError{File: d.name, Line: 1, Err: fmt.Errorf("empty file (%w)", ErrFormat)}
	}
	if err != nil {
		return err
	}
	var l line
	if err := strictDecode(b, &l); err != nil || l.Header == nil {
		return d.fail("header", "", errors.New(`the first line must be {"header":{"format":"`+FormatName+`",…}}`))
	}
	h := *l.Header
	switch {
	case h.Format != FormatName:
		return d.fail("header", "format", fmt.Errorf("%q, want %q", h.Format, FormatName))
	case h.Version < minVersion || h.Version > FormatVersion:
		return d.fail("header", "version", fmt.Errorf("format version %d is not supported: this enthub reads versions %d to %d", h.Version, minVersion, FormatVersion))
	}
	d.header = h
	return nil
}

// next returns the next record's kind and value (a *…Rec); io.EOF after
// the end line, which must be the last.
func (d *decoder) next() (string, any, error) {
	for {
		b, err := d.readLine()
		if err == io.EOF {
			if !d.ended {
				return "", nil, &RecordError{File: d.name, Line: d.line, Err: fmt.Errorf(`the file ends without its {"end":…} line: truncated? (%w)`, ErrFormat)}
			}
			return "", nil, io.EOF
		}
		if err != nil {
			return "", nil, err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue // a trailing blank line is harmless
		}
		if d.ended {
			return "", nil, d.fail("", "", errors.New(`a record after the {"end":…} line`))
		}
		var l line
		if err := strictDecode(b, &l); err != nil {
			kind, field, why := explain(b, err)
			return "", nil, d.fail(kind, field, why)
		}
		kind, rec, n := l.record()
		switch {
		case n != 1:
			return "", nil, d.fail("", "", fmt.Errorf("a record is an object with exactly one key (its kind), this one has %d", n))
		case kind == "header":
			return "", nil, d.fail("header", "", errors.New("a second header"))
		case kind == "end":
			d.ended = true
			for _, k := range Kinds {
				if l.End.Counts[k] != d.counts[k] {
					return "", nil, d.fail("end", "counts."+k, fmt.Errorf("says %d records, the file has %d", l.End.Counts[k], d.counts[k]))
				}
			}
			continue
		}
		if v := kindSince[kind]; v > d.header.Version {
			return "", nil, d.fail(kind, "", fmt.Errorf("record kind %q appeared in format version %d, the header says version %d", kind, v, d.header.Version))
		}
		if field, err := validate(rec); err != nil {
			return "", nil, d.fail(kind, field, err)
		}
		d.counts[kind]++
		return kind, rec, nil
	}
}

// record returns the one set kind of l, its value and how many are set.
func (l *line) record() (kind string, rec any, n int) {
	v := reflect.ValueOf(l).Elem()
	t := v.Type()
	for i := range t.NumField() {
		if f := v.Field(i); !f.IsNil() {
			n++
			kind, rec = jsonName(t.Field(i)), f.Interface()
		}
	}
	return kind, rec, n
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("text after the record")
	}
	return nil
}

// explain finds which field of a refused line is at fault, decoding the
// line again field by field: the fast path decodes whole lines, and only a
// refused line pays for this.
func explain(b []byte, err error) (kind, field string, why error) {
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil || len(top) != 1 {
		return "", "", fmt.Errorf("not a JSON object with one key: %w", err)
	}
	for k, raw := range top {
		kind = k
		ft, ok := fieldType(reflect.TypeOf(line{}), k)
		if !ok {
			return "", "", fmt.Errorf("unknown record kind %q", k)
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil {
			return kind, "", fmt.Errorf("not a JSON object: %w", err)
		}
		// The first faulty field in name order, so the message is stable.
		for _, name := range slices.Sorted(maps.Keys(fields)) {
			t, ok := fieldType(ft.Elem(), name)
			if !ok {
				return kind, name, errors.New("unknown field")
			}
			if e := json.Unmarshal(fields[name], reflect.New(t).Interface()); e != nil {
				return kind, name, e
			}
		}
	}
	return kind, "", err
}

func fieldType(t reflect.Type, name string) (reflect.Type, bool) {
	for i := range t.NumField() {
		if jsonName(t.Field(i)) == name {
			return t.Field(i).Type, true
		}
	}
	return nil, false
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// validate checks what the types cannot: required fields and the domain's
// enumerations. It returns the faulty field.
func validate(rec any) (string, error) {
	missing := ""
	need := func(name string, ok bool) {
		if !ok && missing == "" {
			missing = name
		}
	}
	switch r := rec.(type) {
	case *structureRec:
		need("id", r.ID != "")
		need("source", r.Source != "")
		need("created_at", !r.CreatedAt.IsZero())
	case *personRec:
		need("id", r.ID != "")
		need("source", r.Source != "")
		need("created_at", !r.CreatedAt.IsZero())
	case *accountRec:
		need("id", r.ID != "")
		need("person_id", r.PersonID != "")
		need("login", r.Login != "")
		need("status", r.Status != "")
		need("source", r.Source != "")
		need("created_at", !r.CreatedAt.IsZero())
	case *personaRec:
		need("id", r.ID != "")
		need("person_id", r.PersonID != "")
		need("structure_id", r.StructureID != "")
		need("source", r.Source != "")
		if missing == "" && !r.Profile.Valid() {
			return "profile", fmt.Errorf("unknown profile %q", r.Profile)
		}
	case *groupRec:
		need("id", r.ID != "")
		need("structure_id", r.StructureID != "")
		need("code", r.Code != "")
		need("source", r.Source != "")
		if missing == "" && r.Kind != directory.GroupClass && r.Kind != directory.GroupGroup {
			return "kind", fmt.Errorf("%q, want %q or %q", r.Kind, directory.GroupClass, directory.GroupGroup)
		}
	case *membershipRec:
		need("group_id", r.GroupID != "")
		need("person_id", r.PersonID != "")
		if missing == "" && r.Role != directory.RoleStudent && r.Role != directory.RoleTeacher {
			return "role", fmt.Errorf("%q, want %q or %q", r.Role, directory.RoleStudent, directory.RoleTeacher)
		}
	case *relationRec:
		need("parent_id", r.ParentID != "")
		need("child_id", r.ChildID != "")
		if missing == "" && (r.RespLegal < 0 || r.RespLegal > 2) {
			return "resp_legal", fmt.Errorf("%d, want 0, 1 or 2", r.RespLegal)
		}
	case *subjectRec:
		need("code", r.Code != "")
	case *mefRec:
		need("code", r.Code != "")
	case *linkRec:
		need("issuer", r.Issuer != "")
		need("subject", r.Subject != "")
		need("account_id", r.AccountID != "")
		need("created_at", !r.CreatedAt.IsZero())
	case *guestRec:
		need("account_id", r.AccountID != "")
		need("structure_id", r.StructureID != "")
		need("created_at", !r.CreatedAt.IsZero())
	case *spaceRec:
		need("id", r.ID != "")
		need("name", r.Name != "")
		need("created_at", !r.CreatedAt.IsZero())
	case *spaceMemberRec:
		need("space_id", r.SpaceID != "")
		need("account_id", r.AccountID != "")
		need("added_at", !r.AddedAt.IsZero())
	case *newsRec, *brandingRec:
		return validatePortal(rec)
	case *serviceRec:
		need("id", r.ID != "")
		need("updated_at", !r.UpdatedAt.IsZero())
		if missing == "" && (len(r.Definition) == 0 || r.Definition[0] != '{') {
			return "definition", errors.New("want a JSON object")
		}
	}
	if missing != "" {
		return missing, errMissing
	}
	return "", nil
}

// restore hands one decoded record to the store.
func restore(ctx context.Context, tx directory.RestoreTx, rec any) error {
	switch r := rec.(type) {
	case *structureRec:
		return tx.RestoreStructure(ctx, r.domain())
	case *subjectRec:
		return tx.RestoreSubject(ctx, directory.Subject(*r))
	case *mefRec:
		return tx.RestoreMEF(ctx, directory.MEF(*r))
	case *groupRec:
		return tx.RestoreGroup(ctx, r.domain())
	case *personRec:
		return tx.RestorePerson(ctx, r.domain())
	case *accountRec:
		return tx.RestoreAccount(ctx, r.domain())
	case *personaRec:
		return tx.RestorePersona(ctx, r.domain())
	case *membershipRec:
		return tx.RestoreMembership(ctx, r.domain())
	case *relationRec:
		return tx.RestoreRelation(ctx, r.domain())
	case *linkRec:
		return tx.RestoreExternalLink(ctx, r.domain())
	case *guestRec:
		return tx.RestoreGuest(ctx, r.domain())
	case *spaceRec:
		return tx.RestoreSpace(ctx, r.domain())
	case *spaceMemberRec:
		return tx.RestoreSpaceMember(ctx, r.domain())
	case *serviceRec:
		return tx.RestoreService(ctx, r.domain())
	case *newsRec, *brandingRec:
		return restorePortal(ctx, tx, rec)
	}
	return fmt.Errorf("record of type %T", rec)
}
