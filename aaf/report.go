package aaf

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a delivery, located precisely enough for
// an operator to open the file at the right line: file, record, line,
// attribute and the offending value. Code is stable for machines.
type Problem struct {
	Code    string `json:"code"`
	File    string `json:"file,omitempty"`
	Record  int    `json:"record,omitempty"` // 1-based record number in File
	Line    int    `json:"line,omitempty"`
	ID      string `json:"id,omitempty"` // identifier/id of the record
	Attr    string `json:"attr,omitempty"`
	Value   string `json:"value,omitempty"`
	Message string `json:"message"`
}

// String renders "file:line: record 12 (id 2605692): ENTEleveClasses="x": message".
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Record > 0 {
		fmt.Fprintf(&b, "record %d", p.Record)
		if p.ID != "" {
			fmt.Fprintf(&b, " (id %s)", p.ID)
		}
		b.WriteString(": ")
	}
	if p.Attr != "" {
		b.WriteString(p.Attr)
		if p.Value != "" {
			fmt.Fprintf(&b, "=%q", p.Value)
		}
		b.WriteString(": ")
	} else if p.Value != "" {
		fmt.Fprintf(&b, "%q: ", p.Value)
	}
	b.WriteString(p.Message)
	return b.String()
}

// FamilyCounts counts one family's files and records by request type.
type FamilyCounts struct {
	Files   int   `json:"files"`
	Records int   `json:"records"`
	Add     int   `json:"add"`
	Modify  int   `json:"modify"`
	Delete  int   `json:"delete"`
	Bytes   int64 `json:"bytes"`
}

// FileReport describes one file as Check read it.
type FileReport struct {
	Name    string `json:"name"`
	Family  Family `json:"family"`
	Chunk   int    `json:"chunk"`
	Kind    Kind   `json:"kind,omitempty"`
	Date    string `json:"date,omitempty"`
	Records int    `json:"records"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256,omitempty"`
	Header  Header `json:"header"`
	// Complete is false when the file could not be read to its end.
	Complete bool `json:"complete"`
}

// Report is what `enthub aaf check` prints and `--json` marshals, and what
// the apply step starts from: what was found, what is wrong (errors refuse
// the delivery, warnings do not), per-family counts and the content hash.
type Report struct {
	OK          bool                     `json:"ok"`
	Kind        Kind                     `json:"kind"`
	Date        string                   `json:"date,omitempty"` // YYYY-MM-DD from the names
	ContentHash string                   `json:"content_hash,omitempty"`
	Sources     []string                 `json:"sources"`
	Files       []FileReport             `json:"files"`
	Families    map[Family]*FamilyCounts `json:"families"`
	Records     int                      `json:"records"`
	Checksums   []ChecksumResult         `json:"checksums,omitempty"`
	Ignored     []string                 `json:"ignored,omitempty"`
	Volumetry   *VolumetryReport         `json:"volumetry,omitempty"`
	Errors      []Problem                `json:"errors"`
	Warnings    []Problem                `json:"warnings"`
	// ErrorCount and WarningCount are totals; the lists stop at CheckOptions.MaxProblems.
	ErrorCount   int   `json:"error_count"`
	WarningCount int   `json:"warning_count"`
	DurationMS   int64 `json:"duration_ms"`

	maxProblems int
}

func (r *Report) add(sev Severity, p Problem) {
	if sev == SevError {
		r.ErrorCount++
		if len(r.Errors) < r.maxProblems {
			r.Errors = append(r.Errors, p)
		}
		return
	}
	r.WarningCount++
	if len(r.Warnings) < r.maxProblems {
		r.Warnings = append(r.Warnings, p)
	}
}

// Err returns nil when the delivery may be applied, else a *RefusedError.
func (r *Report) Err() error {
	if r.ErrorCount == 0 {
		return nil
	}
	return &RefusedError{Report: r}
}

// HasError reports whether an error with this code was recorded (within MaxProblems).
func (r *Report) HasError(code string) bool {
	for _, p := range r.Errors {
		if p.Code == code {
			return true
		}
	}
	return false
}

// RefusedError is returned by Check when the delivery must not be applied.
// errors.Is(err, ErrRefused) holds; Report has every reason.
type RefusedError struct{ Report *Report }

func (e *RefusedError) Error() string {
	r := e.Report
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %d error(s)", ErrRefused, r.ErrorCount)
	for i, p := range r.Errors {
		if i == 5 {
			fmt.Fprintf(&b, "; …")
			break
		}
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Unwrap() error { return ErrRefused }
