package aaf

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/internal/idmap"
)

// ApplyOptions configures how a checked delivery becomes directory data.
type ApplyOptions struct {
	// ParentRespLegal lists the respLegal values of ENTElevePersRelEleve that
	// give a related adult an account (default 1 and 2). The AAF's meaning of
	// 2 changed across versions (aaf.md §3.2), hence configurable.
	ParentRespLegal []int
	// LoginPattern builds new logins (default "{prenom}.{nom}").
	LoginPattern string
	// Now stamps the import (default time.Now).
	Now func() time.Time
	// Parse bounds the parser, as for Check.
	Parse ParseOptions
	// Progress, when set, is called after every record with the running count.
	Progress func(records int)
	// DryRun computes everything, the store's merge included, and rolls back.
	DryRun bool
}

// ApplyCounts is what an apply did to one family.
type ApplyCounts struct {
	Added     int `json:"added"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Disabled  int `json:"disabled"`
	Restored  int `json:"restored"`
	Deleted   int `json:"deleted"`
}

// ApplyResult is the outcome of Apply.
type ApplyResult struct {
	Families          map[Family]*ApplyCounts `json:"families"`
	AccountsCreated   int                     `json:"accounts_created"`
	DanglingRelations int                     `json:"dangling_relations"`
	Records           int                     `json:"records"`
}

// Apply writes a checked delivery into the store in one transaction: all of
// it, or — on any error, or with DryRun — nothing. Unchanged records (same
// checksum as stored) cost no write; a Complet disables the accounts of the
// delivered person families that it no longer carries. Import does the same
// during the check's own parse; Apply parses by itself.
func Apply(ctx context.Context, d *Delivery, bulk directory.Bulk, opts ApplyOptions) (*ApplyResult, error) {
	a, err := beginApply(ctx, bulk, d.Kind, opts)
	if err != nil {
		return nil, err
	}
	defer func() { a.drain(); a.itx.Rollback() }()
	err = d.Walk(ctx, a.opts.Parse, a.record)
	if werr := a.drain(); err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	return a.finish(ctx, d.Kind)
}

// beginApply opens the import transaction and, for a Complet, loads the
// stored checksums. A Delta skips them: it carries only what changed, and
// reading 300,000 checksums to apply 5,000 changes would cost more than the
// changes; its counts then follow the request types (add → added, modify →
// updated, delete → deleted).
func beginApply(ctx context.Context, bulk directory.Bulk, kind Kind, opts ApplyOptions) (*applier, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ParentRespLegal == nil {
		opts.ParentRespLegal = []int{1, 2}
	}
	if opts.Parse.Issue == nil {
		opts.Parse.Issue = func(Problem) {} // Check has reported these already
	}
	itx, err := bulk.BeginImport(ctx, directory.ImportOptions{Now: opts.Now(), LoginPattern: opts.LoginPattern,
		RelationAccountFamily: string(PersRelEleve), ParentRespLegal: opts.ParentRespLegal, Complet: kind == Complet})
	if err != nil {
		return nil, err
	}
	a := &applier{itx: itx, known: map[string]*idmap.Map[storedRecord]{"structure": {}, "person": {}}, families: map[string]bool{},
		famIDs: map[string]uint8{},
		res:    &ApplyResult{Families: map[Family]*ApplyCounts{}}, opts: opts, ctx: ctx,
		stored: map[string]map[string][]string{}, in: make(chan []applyItem, 4), done: make(chan struct{})}
	if kind == Delta {
		a.delta = true
	} else if err := itx.Checksums(ctx, func(s directory.StoredSum) {
		a.known[s.Kind].Set(s.AAFID, storedRecord{sum: sumKey(s.Checksum), family: a.familyID(s.Family), active: s.Active})
	}); err != nil {
		itx.Rollback()
		return nil, err
	}
	go a.work()
	return a, nil
}

// work applies the records the parser hands over, on its own goroutine:
// the parse and check (one core) and the apply — checksums, JSON, COPY
// encoding, which cost as much again — then overlap. The parser makes a
// fresh *Record per record and never touches it after the hand-over, so no
// copy is needed. The first error stops the work; record returns it to the
// parser, which stops too.
//
// Records come in batches (applyBatch): one channel hand-over per batch
// rather than per record, which cost the two goroutines a wake-up each
// time, and the stored attributes a batch's modifyRequests need come in one
// query rather than one per record (a Delta is mostly modifyRequests).
func (a *applier) work() {
	defer close(a.done)
	for batch := range a.in {
		if err := a.prefetch(batch); err != nil {
			a.err = err
			return
		}
		for _, it := range batch {
			if err := a.apply(a.ctx, it.r, it.sum); err != nil {
				a.err = fmt.Errorf("%s record %d (id %s): %w", it.r.File, it.r.Index, it.r.ID, err)
				return
			}
		}
	}
}

// prefetch loads the stored attributes of the persons and structures the
// batch's modifyRequests name and that no earlier record of the delivery
// has put (those are in a.stored already, newer than the store's).
func (a *applier) prefetch(batch []applyItem) error {
	want := map[string][]string{}
	for _, it := range batch {
		r := it.r
		if r.Op != OpModify || r.Family == MatiereEducNat || r.Family == MefEducNat {
			continue
		}
		kind := storeKind(r.Family)
		if _, ok := a.stored[kind+":"+r.ID]; !ok {
			want[kind] = append(want[kind], r.ID)
		}
	}
	for kind, ids := range want {
		got, err := a.itx.Stored(a.ctx, kind, ids)
		if err != nil {
			return err
		}
		for id, attrs := range got {
			a.stored[kind+":"+id] = attrs
		}
	}
	return nil
}

// storeKind is what the store keeps a record as, in the names its
// Checksums and Stored use: "structure" or "person".
func storeKind(f Family) string {
	if f == EtabEducNat {
		return "structure"
	}
	return "person"
}

// drain waits until every handed-over record is applied and returns the
// first error. It must be called once the parse is over, before finish or
// a rollback, so the transaction has one user at a time.
func (a *applier) drain() error {
	if !a.closed {
		a.closed = true
		if len(a.pending) > 0 {
			_ = a.send() // an error is work's, returned below
		}
		close(a.in)
	}
	<-a.done
	return a.err
}

// finish merges and commits. With DryRun it merges too, so that accounts
// created, disabled and restored are counted as the real import counts
// them, then rolls back. The caller has drained the applier.
func (a *applier) finish(ctx context.Context, kind Kind) (*ApplyResult, error) {
	res := a.res
	if kind == Complet {
		if err := a.absentees(ctx); err != nil {
			return nil, err
		}
	}
	// The merge makes the logins of every new account, in memory: let the
	// checksums (one per stored person) go first.
	a.known, a.stored = nil, nil
	counts, err := a.itx.Finish(ctx, directory.FinishOptions{Complet: kind == Complet, DryRun: a.opts.DryRun})
	if err != nil {
		return nil, err
	}
	for f, n := range counts.Disabled {
		res.family(Family(f)).Disabled += n
	}
	for f, n := range counts.Restored {
		res.family(Family(f)).Restored += n
	}
	res.AccountsCreated = counts.Accounts
	res.DanglingRelations = counts.DanglingRelations
	return res, nil
}

// absentees gives the store, as deleted, the stored persons of the
// families a Complet carries whose records it no longer has: a family the
// delivery lacks (a Complet of the staff only) loses nobody.
func (a *applier) absentees(ctx context.Context) error {
	var err error
	a.known["person"].Each(func(id string, s storedRecord) {
		if err == nil && !s.delivered && int(s.family) < len(a.famNames) && a.families[a.famNames[s.family]] {
			err = a.itx.Delete(ctx, id)
		}
	})
	return err
}

// count adds what the store says a Put did.
func (c *ApplyCounts) count(ch directory.Change, err error) error {
	if err != nil {
		return err
	}
	switch ch {
	case directory.Added:
		c.Added++
	case directory.Updated:
		c.Updated++
	default:
		c.Unchanged++
	}
	return nil
}

func (r *ApplyResult) family(f Family) *ApplyCounts {
	c := r.Families[f]
	if c == nil {
		c = &ApplyCounts{}
		r.Families[f] = c
	}
	return c
}

type applier struct {
	itx      directory.ImportTx
	known    map[string]*idmap.Map[storedRecord] // storeKind → id → what the store has
	stored   map[string]map[string][]string      // storeKind + ":" + id → attributes, for modifyRequests
	families map[string]bool                     // person families delivered
	famIDs   map[string]uint8                    // family → index in famNames, for storedRecord
	famNames []string
	res      *ApplyResult
	opts     ApplyOptions
	ctx      context.Context
	delta    bool // no stored checksums: every record is applied

	in      chan []applyItem // parser → work
	pending []applyItem      // records not handed over yet
	done    chan struct{}    // closed when work has returned
	err     error            // work's error, read after done
	closed  bool
}

// storedRecord is a stored record as the applier keeps it, 15 bytes: a
// large académie has two million.
type storedRecord struct {
	sum       [12]byte
	family    uint8 // persons: index in applier.famNames
	active    bool  // persons: their account is active
	delivered bool  // the delivery carries the record
}

// familyID gives a person family its index in famNames.
func (a *applier) familyID(f string) uint8 {
	id, ok := a.famIDs[f]
	if !ok && len(a.famNames) < 255 {
		id = uint8(len(a.famNames))
		a.famIDs[f] = id
		a.famNames = append(a.famNames, f)
	}
	return id
}

// applyItem is a record handed to the apply goroutine, with its checksum
// when the parser's goroutine could compute it.
type applyItem struct {
	r   *Record
	sum string
}

// record hands one record to the apply goroutine; it has the parser
// callback's shape. Import has the parse workers take addRequests'
// checksums (prepareSum). Otherwise (Apply), when the apply goroutine lags
// (its queue is more than half full: a first import, where each record is
// staged), the parser's goroutine computes an addRequest's checksum itself,
// a fifth of the apply work; when the parser is the slower one (a re-import
// of unchanged records, which cost the applier almost nothing) it leaves
// it. A modifyRequest's checksum needs the stored attributes, so it always
// waits.
func (a *applier) record(r *Record) error {
	it := applyItem{r: r, sum: r.sum}
	if it.sum == "" && len(a.in) > cap(a.in)/2 && checksummed(r) {
		it.sum = checksum(r.Attrs)
	}
	a.pending = append(a.pending, it)
	if len(a.pending) < applyBatch {
		return nil
	}
	return a.send()
}

// send hands the pending records over.
func (a *applier) send() error {
	select {
	case a.in <- a.pending:
		a.pending = make([]applyItem, 0, applyBatch)
		return nil
	case <-a.done:
		return a.err
	}
}

// applyBatch is how many records go to the apply goroutine at once; with
// the channel's 4 batches, at most 640 records wait.
const applyBatch = 128

func (a *applier) apply(ctx context.Context, r *Record, sum string) error {
	a.res.Records++
	if a.opts.Progress != nil {
		a.opts.Progress(a.res.Records)
	}
	if r.Family.IsPerson() {
		a.families[string(r.Family)] = true
	}
	counts := a.res.family(r.Family)
	kind := storeKind(r.Family)
	switch r.Op {
	case OpDelete:
		if r.Family.IsPerson() {
			counts.Deleted++
			return a.itx.Delete(ctx, r.ID)
		}
		return nil // structures and nomenclatures are never deleted by a Delta
	case OpModify:
		stored, ok := a.stored[kind+":"+r.ID]
		if !ok && r.Family != MatiereEducNat && r.Family != MefEducNat {
			return fmt.Errorf("modifyRequest for an unknown record: %w: %s with AAF id %s",
				directory.ErrNotFound, kind, r.ID)
		}
		merged := map[string][]string{}
		for k, v := range stored {
			merged[k] = v
		}
		for k, v := range r.Attrs {
			merged[k] = v // replace semantics: the whole value set
		}
		r.Attrs = merged
	}
	switch r.Family {
	case MatiereEducNat:
		return counts.count(a.itx.PutSubject(ctx, directory.Subject{Code: r.ID, Label: r.First("ENTLibelleMatiere")}))
	case MefEducNat:
		return counts.count(a.itx.PutMEF(ctx, directory.MEF{Code: r.ID, Label: r.First("ENTLibelleMef"),
			Rattach: r.First("ENTMEFRattach"), Stat11: r.First("ENTMEFSTAT11")}))
	}
	if sum == "" {
		sum = checksum(r.Attrs)
	}
	old, exists := a.known[kind].Get(r.ID)
	if exists && old.sum == sumKey(sum) {
		counts.Unchanged++
		if old.delivered {
			return nil // a record the delivery repeats, which the check refuses
		}
		old.delivered = true
		a.known[kind].Set(r.ID, old)
		if r.Family == EtabEducNat || old.active {
			return nil // nothing to do: most of a daily Complet
		}
		return a.itx.Seen(ctx, r.ID)
	}
	if exists || (a.delta && r.Op == OpModify) {
		counts.Updated++
	} else {
		counts.Added++
	}
	a.known[kind].Set(r.ID, storedRecord{sum: sumKey(sum), delivered: true}) // a record repeated in the delivery is applied once
	if r.Op != OpAdd || a.delta {
		a.stored[kind+":"+r.ID] = r.Attrs // what a later modifyRequest replaces into
	}
	if r.Family == EtabEducNat {
		return a.itx.PutStructure(ctx, directory.BulkStructure{Structure: structureOf(r, sum)})
	}
	b := a.personOf(r, sum)
	b.New = !exists && !a.delta // a Complet has read every stored id
	return a.itx.PutPerson(ctx, b)
}

// checksummed says whether a record's checksum can be taken from its own
// attributes: an addRequest of a structure or person (a modifyRequest's
// needs the stored attributes it replaces into).
func checksummed(r *Record) bool {
	return r.Op == OpAdd && r.Family != MatiereEducNat && r.Family != MefEducNat
}

// prepareSum takes a record's checksum on the parsing goroutine
// (ParseOptions.prepare).
func prepareSum(r *Record) {
	if checksummed(r) {
		r.sum = checksum(r.Attrs)
	}
}

// sumKey is a checksum as kept in memory: its 12 bytes rather than their
// 24 hex digits. A stored value that is not a checksum of this form gives
// zeros, which no record's checksum equals, so the record is rewritten.
func sumKey(sum string) [12]byte {
	var k [12]byte
	if len(sum) == 24 {
		if _, err := hex.Decode(k[:], []byte(sum)); err != nil {
			return [12]byte{}
		}
	}
	return k
}

// checksum is a digest of a record's attributes in a canonical order. It
// runs for every record of every import, so it hashes one buffer rather
// than writing each piece to a hash.Hash (each write of a string through
// the interface costs an allocation); the bytes hashed are unchanged.
func checksum(attrs map[string][]string) string {
	var keysBuf [32]string
	keys := keysBuf[:0]
	n := 0
	for k, vs := range attrs {
		keys = append(keys, k)
		n += len(k) + 2
		for _, v := range vs {
			n += len(v) + 1
		}
	}
	slices.Sort(keys)
	var bufArr [2048]byte
	buf := bufArr[:0]
	if n > len(bufArr) {
		buf = make([]byte, 0, n)
	}
	for _, k := range keys {
		buf = append(buf, k...)
		buf = append(buf, 0)
		for _, v := range attrs[k] {
			buf = append(buf, v...)
			buf = append(buf, 1)
		}
		buf = append(buf, 2)
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:12])
}

func structureOf(r *Record, sum string) directory.Structure {
	name := r.First("ENTStructureNomCourant")
	if parts := strings.Split(name, "$"); len(parts) == 3 {
		name = parts[1] // TYPE$NAME$CITY in recent exports
	}
	return directory.Structure{
		AAFID: r.ID, UAI: r.First("ENTStructureUAI"), Name: name,
		Type: r.First("ENTStructureTypeStruct"), TypeCode: r.First("ENTStructureCodeTypeStruct"),
		City: firstOf(r, "l", "ENTStructureVille"), PostalCode: firstOf(r, "postalCode", "ENTStructureCodePostal"),
		Contract: r.First("ENTEtablissementContrat"), Bassin: r.First("ENTEtablissementBassin"),
		Academie: r.First("ENTServAcAcademie"), AcademieCode: r.First("ENTServAcCodeAcademie"),
		Attached: nonEmpty(r.Attrs["ENTEtablissementStructRattachFctl"]),
		Source:   directory.SourceAAF, Checksum: sum, Extra: r.Attrs,
	}
}

func (a *applier) personOf(r *Record, sum string) directory.BulkPerson {
	p := directory.Person{
		AAFID: r.ID, AAFFamily: string(r.Family), Source: directory.SourceAAF, Checksum: sum, Extra: r.Attrs,
		LastName:   firstOf(r, "sn", "ENTPersonNom"),
		FirstName:  firstOf(r, "givenName", "ENTPersonPrenom"),
		BirthName:  r.First("ENTPersonNomPatro"),
		OtherNames: nonEmpty(r.Attrs["ENTPersonAutresPrenoms"]),
		Title:      firstOf(r, "personalTitle", "ENTPersonCivilite"),
		BirthDate:  isoDate(r.First("ENTPersonDateNaissance")),
		Email:      firstOf(r, "mail", "ENTPersonMail"),
		Phone:      firstOf(r, "homePhone", "telephoneNumber", "ENTPersonTelPerso"),
		Mobile:     firstOf(r, "mobile", "ENTPersonMobileSMS", "ENTPersRelEleveTelMobile"),
		Address:    strings.Join(nonEmpty(strings.Split(r.First("ENTPersonAdresse"), "$")), ", "),
		PostalCode: r.First("ENTPersonCodePostal"),
		City:       r.First("ENTPersonVille"),
		Country:    r.First("ENTPersonPays"),
	}
	b := directory.BulkPerson{Person: p, CreateAccount: true}
	switch r.Family {
	case Eleve:
		b.INE = r.First("ENTEleveINE")
		b.MEF = r.First("ENTEleveMEF")
		b.Subjects = nonEmpty(r.Attrs["ENTEleveCodeEnseignements"])
		structs := nonEmpty([]string{r.First("ENTPersonStructRattach")})
		add := func(kind directory.GroupKind, s, code string) {
			if s == "" || code == "" {
				return
			}
			b.Memberships = append(b.Memberships, directory.BulkMembership{StructureAAFID: s, Kind: kind, Code: code, Role: directory.RoleStudent})
			if !slices.Contains(structs, s) {
				structs = append(structs, s)
			}
		}
		for _, v := range r.Attrs["ENTEleveClasses"] {
			s, code, _ := strings.Cut(v, "$")
			add(directory.GroupClass, s, code)
		}
		for _, v := range r.Attrs["ENTEleveGroupes"] {
			s, code, _ := strings.Cut(v, "$")
			add(directory.GroupGroup, s, code)
		}
		for attr, kind := range map[string]directory.GroupKind{"ENTPersonClasses": directory.GroupClass, "ENTPersonGroupes": directory.GroupGroup} {
			for _, v := range r.Attrs[attr] { // 1D: struct$?$?$id$name
				if parts := strings.Split(v, "$"); len(parts) == 5 {
					add(kind, parts[0], parts[3])
				}
			}
		}
		for _, s := range structs {
			b.Personas = append(b.Personas, directory.BulkPersona{StructureAAFID: s, Profile: directory.ProfileEleve})
		}
		for _, v := range r.Attrs["ENTElevePersRelEleve"] {
			parts := strings.Split(v, "$")
			if len(parts) != 6 || parts[0] == "" {
				continue // Check reported the arity
			}
			legal, _ := strconv.Atoi(parts[3])
			b.Relations = append(b.Relations, directory.BulkRelation{ParentAAFID: parts[0], LienParente: parts[1],
				RespFinancier: parts[2] == "1", RespLegal: legal, Contact: parts[4] == "1", Paiement: parts[5] == "1"})
		}
	case PersEducNat:
		b.Personas, b.Memberships = staffPersonas(r)
	}
	return b
}

// staffPersonas gives staff one persona per structure, with the profile
// read from their functions there, and their classes and groups as a
// teacher. Function codes follow Laclasse's mapping (aaf.md §3.4).
func staffPersonas(r *Record) ([]directory.BulkPersona, []directory.BulkMembership) {
	type acc struct {
		fns     []directory.Function
		profile directory.Profile
	}
	by := map[string]*acc{}
	var order []string
	get := func(s string) *acc {
		if by[s] == nil {
			by[s] = &acc{}
			order = append(order, s)
		}
		return by[s]
	}
	for _, v := range r.Attrs["ENTPersonFonctions"] {
		parts := strings.Split(v, "$")
		if len(parts) < 2 || parts[0] == "" {
			continue
		}
		f := directory.Function{Code: parts[1]}
		if len(parts) > 2 {
			f.Label = parts[2]
		}
		if len(parts) > 4 {
			f.DisciplineCode, f.DisciplineLabel = parts[3], parts[4]
		}
		a := get(parts[0])
		a.fns = append(a.fns, f)
		if p := profileOfFunction(f.Code); rank(p) > rank(a.profile) {
			a.profile = p
		}
	}
	teacher := r.First("ENTPersonCategorieEnseignant") == "O" || r.First("PersEducNatPresenceDevantEleves") == "O"
	for _, s := range nonEmpty(r.Attrs["ENTPersonStructRattach"]) {
		get(s)
	}
	members := map[string]*directory.BulkMembership{}
	var memberOrder []string
	member := func(s string, kind directory.GroupKind, code string) *directory.BulkMembership {
		key := s + "$" + string(kind) + "$" + code
		if members[key] == nil {
			members[key] = &directory.BulkMembership{StructureAAFID: s, Kind: kind, Code: code, Role: directory.RoleTeacher}
			memberOrder = append(memberOrder, key)
			get(s)
		}
		return members[key]
	}
	for attr, kind := range map[string]directory.GroupKind{"ENTAuxEnsClassesMatieres": directory.GroupClass, "ENTAuxEnsGroupesMatieres": directory.GroupGroup} {
		for _, v := range r.Attrs[attr] {
			parts := strings.Split(v, "$")
			if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
				continue
			}
			m := member(parts[0], kind, parts[1])
			if len(parts) > 2 && parts[2] != "" && !slices.Contains(m.Subjects, parts[2]) {
				m.Subjects = append(m.Subjects, parts[2])
			}
		}
	}
	for _, v := range r.Attrs["ENTAuxEnsClassesPrincipal"] {
		if s, code, ok := strings.Cut(v, "$"); ok && s != "" && code != "" {
			member(s, directory.GroupClass, code).HeadTeacher = true
		}
	}
	var personas []directory.BulkPersona
	for _, s := range order {
		a := by[s]
		p := a.profile
		if p == "" {
			p = directory.ProfilePersonnel
			if teacher {
				p = directory.ProfileEnseignant
			}
		}
		personas = append(personas, directory.BulkPersona{StructureAAFID: s, Profile: p, Functions: a.fns})
	}
	sort.Strings(memberOrder)
	ms := make([]directory.BulkMembership, 0, len(memberOrder))
	for _, k := range memberOrder {
		sort.Strings(members[k].Subjects)
		ms = append(ms, *members[k])
	}
	return personas, ms
}

// profileOfFunction maps an ENTPersonFonctions code to a profile.
func profileOfFunction(code string) directory.Profile {
	switch code {
	case "ENS":
		return directory.ProfileEnseignant
	case "DOC":
		return directory.ProfileDocumentaliste
	case "DIR":
		return directory.ProfileDirection
	case "EDU", "AED", "SUR", "CPE":
		return directory.ProfileVieScolaire
	case "-", "", "SANS OBJET":
		return ""
	default:
		return directory.ProfilePersonnel
	}
}

// rank orders profiles when a person has several functions in one school:
// the persona carries the most specific one.
func rank(p directory.Profile) int {
	switch p {
	case directory.ProfileDirection:
		return 5
	case directory.ProfileEnseignant:
		return 4
	case directory.ProfileDocumentaliste:
		return 3
	case directory.ProfileVieScolaire:
		return 2
	case directory.ProfilePersonnel:
		return 1
	}
	return 0
}

func firstOf(r *Record, attrs ...string) string {
	for _, a := range attrs {
		if v := r.First(a); v != "" {
			return v
		}
	}
	return ""
}

func nonEmpty(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// isoDate turns dd/mm/yyyy into yyyy-mm-dd; anything else is dropped (Check
// warned about it).
func isoDate(s string) string {
	t, err := ParseAAFDate(s)
	if err != nil {
		return ""
	}
	return t.Format("2006-01-02")
}
