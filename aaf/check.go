package aaf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/enthub/enthub/internal/idmap"
)

// CheckOptions configures Check. The zero value applies the defaults
// documented on each field.
type CheckOptions struct {
	// Parse bounds each file (limits, charset of files without declaration).
	// Its Issue field is set by Check. Check parses Workers files at once
	// (default 2; see parseAhead) and reports in file order all the same.
	Parse ParseOptions
	// Composites is the "$"-arity table (nil = DefaultComposites()).
	Composites map[string]Arity
	// Requirements lists required attributes (nil = DefaultRequirements()).
	Requirements []Requirement
	// References lists the links whose ids must resolve (nil = DefaultReferences()).
	// An unresolved id is a warning: real exports have them (aaf.md §3.6).
	References []Reference
	// InvalidDateSeverity for dates inside values (default warning: one typo in
	// a birth date must not block the day's import; the apply step stores no
	// date). Dates in file names and header comments are always errors.
	InvalidDateSeverity Severity
	// AllowMissingChunks downgrades a gap in a family's chunk numbers to a
	// warning. Default false: a gap means records are missing, and a Complet
	// missing records would disable their accounts. The public 2013 sample
	// needs it (its Eleve_0000 chunk was not published).
	AllowMissingChunks bool
	// ReferencesInDelta also reports unresolved references in a Delta, where
	// most targets live in the directory rather than in the delivery (default off).
	ReferencesInDelta bool
	// Baseline enables the volumetry guard for Complet deliveries.
	Baseline  Baseline
	Volumetry VolumetryOptions
	// MaxProblems caps the errors and the warnings kept in the report
	// (default 1000 each); ErrorCount/WarningCount keep counting.
	MaxProblems int
	// Logger receives one debug line per file (nil = discard).
	Logger *slog.Logger
	// Now is the clock for DurationMS (nil = time.Now).
	Now func() time.Time
	// OnRecord, when set, receives every record right after it is checked,
	// as long as no error has been found: the import applies the delivery
	// (inside a transaction it rolls back on refusal) during the one parse
	// the check makes, instead of parsing everything twice. An error from it
	// stops the check and is returned.
	OnRecord func(*Record) error
}

// refLoc is where an id was first referenced.
type refLoc struct {
	file              int32 // index in checker.files
	record, ln, count int32
	attr, owner       string
}

type checker struct {
	opts       CheckOptions
	rep        *Report
	d          *Delivery
	ids        map[Family]*idmap.Map[struct{}]
	refs       map[Family]*idmap.Map[refLoc]
	files      []string
	present    map[Family]bool
	compKeys   []string
	dateKeys   []string
	dates      map[string]int
	reqs       map[Family][]Requirement
	refsByAttr map[Family][]Reference
	kind       Kind
	headerSeen map[string]string // header key → first value (consistency)
	headerFile map[string]string
	rules      map[Family]*attrRules
	found      []attrFound // scratch: the attributes of a record that rules read
}

// attrRules is what record checks in the attributes of one family. Several
// rules read the same attribute (ENTEleveClasses has an arity and a
// reference), so names lists each attribute once and the rules point at its
// slot: a record costs a lookup per attribute read, not per rule.
type attrRules struct {
	names []string
	reqs  []reqRule
	comps []compRule
	dates []dateRule
	refs  []refRule
}

type attrFound struct {
	vals []string
	ok   bool
}

type reqRule struct {
	req   Requirement
	slots []int // of req.AnyOf
}

type compRule struct {
	slot int
	name string
	ar   Arity
}

type dateRule struct {
	slot, field int
	name        string
}

type refRule struct {
	slot int
	ref  Reference
	ids  *idmap.Map[struct{}] // c.ids[ref.Target]
	refs *idmap.Map[refLoc]   // c.refs[ref.Target]
}

// rulesFor builds the rules of fam on its first record, once c.kind is known.
func (c *checker) rulesFor(fam Family) *attrRules {
	if ru := c.rules[fam]; ru != nil {
		return ru
	}
	ru := &attrRules{}
	slots := map[string]int{}
	slot := func(name string) int {
		i, ok := slots[name]
		if !ok {
			i = len(ru.names)
			slots[name] = i
			ru.names = append(ru.names, name)
		}
		return i
	}
	for _, req := range c.reqs[fam] {
		rr := reqRule{req: req}
		for _, a := range req.AnyOf {
			rr.slots = append(rr.slots, slot(a))
		}
		ru.reqs = append(ru.reqs, rr)
	}
	for _, name := range c.compKeys {
		ru.comps = append(ru.comps, compRule{slot: slot(name), name: name, ar: c.opts.Composites[name]})
	}
	for _, name := range c.dateKeys {
		ru.dates = append(ru.dates, dateRule{slot: slot(name), field: c.dates[name], name: name})
	}
	// References are collected only where they are resolved.
	if c.kind != Delta || c.opts.ReferencesInDelta {
		for _, ref := range c.refsByAttr[fam] {
			ru.refs = append(ru.refs, refRule{slot: slot(ref.Attr), ref: ref, ids: c.ids[ref.Target], refs: c.refs[ref.Target]})
		}
	}
	c.rules[fam] = ru
	return ru
}

// Check reads the whole delivery once and says whether it may be applied.
// It returns the report and, when at least one error was found, a
// *RefusedError (errors.Is(err, ErrRefused)). Other errors (a cancelled
// context, a baseline failure) are returned as they are, with a partial
// report. Nothing is written anywhere.
func Check(ctx context.Context, d *Delivery, opts CheckOptions) (*Report, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	if opts.MaxProblems <= 0 {
		opts.MaxProblems = 1000
	}
	if opts.Composites == nil {
		opts.Composites = DefaultComposites()
	}
	if opts.Requirements == nil {
		opts.Requirements = DefaultRequirements()
	}
	if opts.References == nil {
		opts.References = DefaultReferences()
	}
	if opts.InvalidDateSeverity == "" {
		opts.InvalidDateSeverity = SevWarning
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &checker{
		opts: opts, d: d,
		rep: &Report{
			Kind: d.Kind, Sources: d.Sources, Families: map[Family]*FamilyCounts{},
			Checksums: d.Checksums, Ignored: d.Ignored, Errors: []Problem{}, Warnings: []Problem{},
			maxProblems: opts.MaxProblems,
		},
		ids: map[Family]*idmap.Map[struct{}]{}, refs: map[Family]*idmap.Map[refLoc]{},
		present: map[Family]bool{}, dates: DateAttrs(), reqs: map[Family][]Requirement{},
		refsByAttr: map[Family][]Reference{}, headerSeen: map[string]string{}, headerFile: map[string]string{},
		rules: map[Family]*attrRules{},
	}
	for k := range opts.Composites {
		c.compKeys = append(c.compKeys, k)
	}
	sort.Strings(c.compKeys)
	for k := range c.dates {
		c.dateKeys = append(c.dateKeys, k)
	}
	sort.Strings(c.dateKeys)
	for _, r := range opts.Requirements {
		c.reqs[r.Family] = append(c.reqs[r.Family], r)
	}
	for _, f := range Families() {
		c.ids[f] = &idmap.Map[struct{}]{}
		c.refs[f] = &idmap.Map[refLoc]{}
		for _, r := range opts.References {
			if r.From == "" || r.From == f {
				c.refsByAttr[f] = append(c.refsByAttr[f], r)
			}
		}
	}
	if !d.Date.IsZero() {
		c.rep.Date = d.Date.Format("2006-01-02")
	}

	c.checkNames()
	c.kind = d.Kind
	// The volumetry baseline is read while the delivery is parsed: on an
	// unchanged re-import the parse is short, and reading 300,000 accounts
	// after it would add a tenth to it.
	type baselineRead struct {
		set *baselineSet
		err error
	}
	var baseline chan baselineRead
	if c.kind == Complet && opts.Baseline != nil {
		baseline = make(chan baselineRead, 1)
		bctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			set, err := readBaseline(bctx, opts.Baseline)
			baseline <- baselineRead{set, err}
		}()
	}

	po := opts.Parse
	po.Issue = func(Problem) {} // parseAhead hands problems over in order
	workers := opts.Parse.Workers
	if workers == 0 {
		workers = 2
	}
	files, stop := d.parseAhead(ctx, po, workers)
	defer stop()
	for i, f := range d.Files {
		if err := ctx.Err(); err != nil {
			return c.finish(start, now), err
		}
		c.present[f.Family] = true
		c.files = append(c.files, f.Name)
		fc := c.rep.Families[f.Family]
		if fc == nil {
			fc = &FamilyCounts{}
			c.rep.Families[f.Family] = fc
		}
		fc.Files++
		fr := FileReport{Name: f.Name, Family: f.Family, Chunk: f.Chunk, Kind: f.Kind, Date: f.DateText}
		hdr, err, stopped := eachEvent(ctx, files[i], func(ev parseEvent) error {
			if ev.issue != nil {
				c.rep.add(SevError, *ev.issue)
				return nil
			}
			r := ev.rec
			fr.Records++
			fc.Records++
			c.rep.Records++
			switch r.Op {
			case OpAdd:
				fc.Add++
			case OpModify:
				fc.Modify++
			case OpDelete:
				fc.Delete++
			}
			c.record(r)
			if opts.OnRecord != nil && c.rep.ErrorCount == 0 {
				return opts.OnRecord(r)
			}
			return nil
		})
		if stopped != nil {
			return c.finish(start, now), stopped
		}
		fr.Header = hdr
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				return c.finish(start, now), err
			}
			c.rep.add(SevError, pe.Problem)
		} else {
			fr.Complete = true
			fr.SHA256 = f.SHA256()
			fr.Bytes = f.Size
			fc.Bytes += f.Size
		}
		c.header(f, hdr)
		log.Debug("aaf: checked file", "file", f.Name, "records", fr.Records, "complete", fr.Complete)
		c.rep.Files = append(c.rep.Files, fr)
	}
	if h := d.finishHash(); h != "" {
		c.rep.ContentHash = h
	}
	c.resolve()
	if baseline != nil {
		present := func(id string) bool {
			for _, f := range []Family{Eleve, PersRelEleve, PersEducNat} {
				if c.ids[f].Has(id) {
					return true
				}
			}
			return false
		}
		b := <-baseline
		if b.err != nil {
			return c.finish(start, now), b.err
		}
		vr := b.set.evaluate(present, opts.Volumetry)
		c.rep.Volumetry = vr
		for _, reason := range vr.Reasons {
			p := Problem{Code: CodeVolumetry, Message: reason}
			if vr.Forced {
				p.Message += " (forced)"
				c.rep.add(SevWarning, p)
			} else {
				p.Message += "; refused (use --force to apply anyway)"
				c.rep.add(SevError, p)
			}
		}
	}
	rep := c.finish(start, now)
	log.Info("aaf: check done", "ok", rep.OK, "records", rep.Records, "errors", rep.ErrorCount, "warnings", rep.WarningCount)
	return rep, rep.Err()
}

func (c *checker) finish(start time.Time, now func() time.Time) *Report {
	c.rep.OK = c.rep.ErrorCount == 0
	c.rep.DurationMS = now().Sub(start).Milliseconds()
	return c.rep
}

// checkNames applies the delivery-level rules that need no parsing: one
// kind, one date, valid dates, contiguous chunks per prefix and family.
func (c *checker) checkNames() {
	d := c.d
	byKind := map[Kind][]string{}
	byDate := map[string][]string{}
	for _, f := range d.Files {
		byKind[f.Kind] = append(byKind[f.Kind], f.Name)
		byDate[f.DateText] = append(byDate[f.DateText], f.Name)
	}
	if names, ok := byKind[KindUnknown]; ok {
		c.rep.add(SevError, Problem{Code: CodeKind, File: names[0],
			Message: fmt.Sprintf("cannot tell Complet from Delta: %d file name(s) carry no _Complet_YYYYMMDD_ or _Delta_YYYYMMDD_ token, nor does the archive name", len(names))})
	}
	if len(byKind[Complet]) > 0 && len(byKind[Delta]) > 0 {
		c.rep.add(SevError, Problem{Code: CodeMixedKind, Message: fmt.Sprintf("one delivery mixes %d Complet file(s) (first %s) and %d Delta file(s) (first %s)",
			len(byKind[Complet]), byKind[Complet][0], len(byKind[Delta]), byKind[Delta][0])})
	}
	if len(byDate) > 1 {
		var parts []string
		for date, names := range byDate {
			if date == "" {
				date = "no date"
			}
			parts = append(parts, fmt.Sprintf("%s (%d files, first %s)", date, len(names), names[0]))
		}
		sort.Strings(parts)
		c.rep.add(SevError, Problem{Code: CodeMixedDate, Message: "one delivery mixes export dates: " + strings.Join(parts, ", ")})
	}
	for date, names := range byDate {
		if date == "" {
			continue
		}
		if _, err := parseNameDate(date); err != nil {
			c.rep.add(SevError, Problem{Code: CodeDate, File: names[0], Value: date, Message: "export date in the file name is not a valid YYYYMMDD date"})
		}
	}
	type series struct {
		prefix string
		fam    Family
	}
	chunks := map[series][]*File{}
	var order []series
	for _, f := range d.Files {
		s := series{f.Prefix, f.Family}
		if _, ok := chunks[s]; !ok {
			order = append(order, s)
		}
		chunks[s] = append(chunks[s], f)
	}
	for _, s := range order {
		files := chunks[s] // sorted by chunk (canonical order)
		next := 0
		for i, f := range files {
			if i > 0 && f.Chunk == files[i-1].Chunk {
				c.rep.add(SevError, Problem{Code: CodeChunkDuplicate, File: f.Name,
					Message: fmt.Sprintf("%s chunk %04d delivered twice (also %s)", s.fam, f.Chunk, files[i-1].Name)})
				continue
			}
			if f.Chunk > next {
				sev := SevError
				if c.opts.AllowMissingChunks {
					sev = SevWarning
				}
				missing := fmt.Sprintf("%04d", next)
				if f.Chunk-1 > next {
					missing += fmt.Sprintf("…%04d", f.Chunk-1)
				}
				c.rep.add(sev, Problem{Code: CodeChunkMissing, File: f.Name,
					Message: fmt.Sprintf("%s chunk(s) %s missing before %s (chunks must run from 0000 without gaps)", s.fam, missing, f.Base)})
			}
			next = f.Chunk + 1
		}
	}
}

func (c *checker) header(f *File, h Header) {
	if h.DateGenerationExport != "" {
		t, err := ParseAAFDate(h.DateGenerationExport)
		switch {
		case err != nil:
			c.rep.add(SevError, Problem{Code: CodeDate, File: f.Name, Attr: "dateGenerationExport", Value: h.DateGenerationExport, Message: "header date is not a valid dd/mm/yyyy date"})
		case f.DateText != "" && t.Format("20060102") != f.DateText:
			c.rep.add(SevWarning, Problem{Code: CodeHeader, File: f.Name, Attr: "dateGenerationExport", Value: h.DateGenerationExport,
				Message: fmt.Sprintf("header date differs from the file-name date %s", f.DateText)})
		}
	}
	for _, kv := range [][2]string{{"codeAcademieExport", h.CodeAcademieExport}, {"degre", h.Degre}, {"versionAF", h.VersionAF}} {
		if kv[1] == "" {
			continue
		}
		if first, ok := c.headerSeen[kv[0]]; ok && first != kv[1] {
			c.rep.add(SevWarning, Problem{Code: CodeHeader, File: f.Name, Attr: kv[0], Value: kv[1],
				Message: fmt.Sprintf("differs from %q in %s", first, c.headerFile[kv[0]])})
			continue
		}
		if _, ok := c.headerSeen[kv[0]]; !ok {
			c.headerSeen[kv[0]], c.headerFile[kv[0]] = kv[1], f.Name
		}
	}
}

func (c *checker) problem(r *Record, code, attr, value, format string, args ...any) Problem {
	return Problem{Code: code, File: r.File, Record: r.Index, Line: r.Line, ID: r.ID, Attr: attr, Value: clip(value), Message: fmt.Sprintf(format, args...)}
}

func (c *checker) record(r *Record) {
	fam := r.Family
	if c.kind == Complet && r.Op != OpAdd {
		c.rep.add(SevError, c.problem(r, CodeOpNotAllowed, "", "", "%sRequest in a Complet export (a full export only holds addRequest)", r.Op))
	}
	if r.CategoryAttr != "" || r.Category != "" {
		okName := r.CategoryAttr == fam.CategoryAttr()
		okVal := false
		for _, v := range fam.CategoryValues() {
			okVal = okVal || r.Category == v
		}
		if !okName || !okVal {
			c.rep.add(SevError, c.problem(r, CodeCategory, r.CategoryAttr, r.Category,
				"category does not match the file family %s (expected %s=%s)", fam, fam.CategoryAttr(), fam.CategoryValues()[0]))
		}
	}
	if r.ID == "" {
		c.rep.add(SevError, c.problem(r, CodeMissingID, "identifier", "", "record has no identifier/id"))
		return
	}
	jattr := fam.JointureAttr()
	jv, hasJ := r.Attrs[jattr]
	switch {
	case hasJ && (len(jv) != 1 || jv[0] != r.ID):
		c.rep.add(SevError, c.problem(r, CodeIDMismatch, jattr, strings.Join(jv, "|"), "identifier/id is %q but %s differs", r.ID, jattr))
	case !hasJ && r.Op == OpAdd:
		c.rep.add(SevError, c.problem(r, CodeIDMismatch, jattr, "", "identifier/id is %q but the record has no %s", r.ID, jattr))
	}
	// Duplicates within a family.
	if c.ids[fam].Has(r.ID) {
		sev := SevError
		msg := "id appears twice in %s (a Complet lists each object once)"
		if c.kind == Delta {
			sev, msg = SevWarning, "id appears twice in %s (operations apply in file order)"
		}
		c.rep.add(sev, c.problem(r, CodeDuplicateID, "identifier", r.ID, msg, fam))
	} else if r.Op != OpDelete {
		c.ids[fam].Set(r.ID, struct{}{})
		if fam.IsPerson() {
			for _, other := range []Family{Eleve, PersRelEleve, PersEducNat} {
				if other == fam {
					continue
				}
				if c.ids[other].Has(r.ID) {
					c.rep.add(SevWarning, c.problem(r, CodeCrossFamilyID, "identifier", r.ID, "the same person id is also a %s record", other))
				}
			}
		}
	}
	for _, name := range r.Repeated {
		c.rep.add(SevWarning, c.problem(r, CodeDuplicateAttr, name, "", "attribute appears more than once in the record (values were merged)"))
	}
	if r.Op == OpDelete {
		return
	}
	ru := c.rulesFor(fam)
	found := c.found[:0]
	for _, name := range ru.names {
		vals, ok := r.Attrs[name]
		found = append(found, attrFound{vals, ok})
	}
	c.found = found
	// Required attributes.
	for _, rr := range ru.reqs {
		present, any := false, false
		for _, i := range rr.slots {
			any = any || found[i].ok
			for _, v := range found[i].vals {
				present = present || v != ""
			}
		}
		switch {
		case present:
		case r.Op == OpAdd:
			c.rep.add(rr.req.Severity, c.problem(r, CodeRequired, strings.Join(rr.req.AnyOf, "|"), "", "required attribute missing or empty"))
		case any: // modify clearing it
			c.rep.add(rr.req.Severity, c.problem(r, CodeRequired, strings.Join(rr.req.AnyOf, "|"), "", "modifyRequest clears a required attribute"))
		}
	}
	// Composite arity.
	for _, cr := range ru.comps {
		for i, v := range found[cr.slot].vals {
			if v == "" {
				continue
			}
			if n := strings.Count(v, "$") + 1; !cr.ar.Allows(n) {
				c.rep.add(cr.ar.Severity, c.problem(r, CodeArity, cr.name, v, "value %d has %d $-separated fields, expected %s", i+1, n, cr.ar))
			}
		}
	}
	// Dates.
	for _, dr := range ru.dates {
		for _, v := range found[dr.slot].vals {
			if v == "" {
				continue
			}
			date, ok := compositeField(v, dr.field)
			if !ok {
				continue // arity already reported
			}
			if _, err := ParseAAFDate(date); err != nil {
				c.rep.add(c.opts.InvalidDateSeverity, c.problem(r, CodeDate, dr.name, v, "not a valid dd/mm/yyyy date"))
			}
		}
	}
	// References (ids collected, resolved at the end).
	for _, rr := range ru.refs {
		for _, v := range found[rr.slot].vals {
			if v == "" {
				continue
			}
			field, ok := compositeField(v, rr.ref.Field)
			if !ok {
				continue
			}
			id := strings.TrimSpace(field)
			if id == "" || id == "-" {
				continue
			}
			// Ids only ever join c.ids, so a target already read resolves
			// for good: no need to remember the reference (most point back
			// to families read earlier, see Families).
			if rr.ids.Has(id) {
				continue
			}
			if loc, ok := rr.refs.Get(id); ok {
				loc.count++
				rr.refs.Set(id, loc)
				continue
			}
			rr.refs.Set(id, refLoc{file: int32(len(c.files) - 1), record: int32(r.Index), ln: int32(r.Line), attr: rr.ref.Attr, owner: r.ID, count: 1})
		}
	}
}

// resolve turns references to ids no record of the delivery carries into
// warnings, once per target id, at its first reference.
func (c *checker) resolve() {
	if c.kind == Delta && !c.opts.ReferencesInDelta {
		return
	}
	for _, target := range Families() {
		refs := c.refs[target]
		if refs.Len() == 0 {
			continue
		}
		if !c.present[target] {
			c.rep.add(SevWarning, Problem{Code: CodeFamilyMissing, Attr: string(target),
				Message: fmt.Sprintf("the delivery has no %s file: %d referenced %s id(s) not checked", target, refs.Len(), target)})
			continue
		}
		var missing []refLoc
		var ids []string
		refs.Each(func(id string, loc refLoc) {
			if !c.ids[target].Has(id) {
				missing = append(missing, loc)
				ids = append(ids, id)
			}
		})
		idx := make([]int, len(missing))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool {
			x, y := missing[idx[a]], missing[idx[b]]
			if x.file != y.file {
				return x.file < y.file
			}
			if x.record != y.record {
				return x.record < y.record
			}
			return ids[idx[a]] < ids[idx[b]]
		})
		for _, i := range idx {
			loc := missing[i]
			c.rep.add(SevWarning, Problem{Code: CodeUnresolved, File: c.files[loc.file], Record: int(loc.record), Line: int(loc.ln), ID: loc.owner, Attr: loc.attr, Value: ids[i],
				Message: fmt.Sprintf("no %s record carries id %s (%d reference(s) in the delivery)", target, ids[i], loc.count)})
		}
	}
}
