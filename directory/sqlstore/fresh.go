package sqlstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/internal/idmap"
)

// freshImport is the state of a first import: a Complet into a directory
// that holds no person, account, group or link. Every row the import writes
// is then its own, so what the merge resolves by joining AAF ids to stored
// rows is known here, in memory: each structure, person and group gets its
// id at its first mention, and personas, memberships and relations are
// written once, straight into their tables, while the delivery is parsed.
// Finish is left with what needs the whole delivery: references that never
// resolved, the parent personas, the accounts and the index builds. On a
// 100,000-student delivery that takes the merge from about 8 s of
// PostgreSQL joins to the index builds.
//
// References resolve in any order (a parent may be named by a child before
// the parent's record comes); one that never does is dropped at Finish,
// as the merge's joins drop it, so both paths give the same directory.
type freshImport struct {
	// base + 12 hex digits of a number is a row id (idBase): one counter
	// numbers persons, personas and groups, so a person's number is its id.
	base string
	next uint64

	structs     idmap.Map[int] // structure AAF id → index in structIDs
	structIDs   []string
	structKnown []bool // stored before the import, or put by it

	persons  idmap.Map[uint32] // person AAF id → number
	put      bits              // numbers of the persons put
	early    []uint32          // numbers given at a mention before the person's put
	relation bits              // put persons of the relation-account family
	create   bits              // put persons of the other families who get an account
	legal    bits              // persons a relation names with a respLegal that gives an account

	groups map[groupKey]string // (structure, kind, code) → group id
	// parents holds a (parent number, structure index) pair per relation
	// and class of the child's: the parent personas, built at Finish from
	// the pairs whose parent and structure resolved.
	parents []uint64
}

type groupKey struct {
	structure int
	kind      directory.GroupKind
	code      string
}

// bits is a growable bit set over person numbers.
type bits []uint64

func (b *bits) set(n uint32) {
	for int(n/64) >= len(*b) {
		*b = append(*b, 0)
	}
	(*b)[n/64] |= 1 << (n % 64)
}

func (b bits) has(n uint32) bool {
	return int(n/64) < len(b) && b[n/64]&(1<<(n%64)) != 0
}

// freshTables are the tables that must be empty for the first-import path.
// Structures may exist (a delivery's are upserted as usual).
var freshTables = []string{"persons", "accounts", "personas", "groups", "memberships", "relations"}

// startFresh returns the first-import state when the directory is empty,
// nil otherwise. On PostgreSQL it first drops the indexes of the tables the
// parse writes into, to build each once at Finish: inserting 700,000 rows
// into random-order indexes (memberships by group, relations by parent)
// costs more than the builds. The drops lock those tables until commit,
// which on an empty directory blocks nobody who had anything to read; the
// emptiness is checked again under the locks, as a guest account created
// meanwhile would make the first check stale. SQLite cannot drop the
// indexes of its UNIQUE and PRIMARY KEY constraints; there the path saves
// the joins but not the index updates, and a first import of 100,000
// students takes about as long as through the merge (25 s).
func (t *importTx) startFresh(ctx context.Context) (*freshImport, error) {
	empty, err := t.emptyDirectory(ctx)
	if err != nil || !empty {
		return nil, err
	}
	if t.s.d.name == "postgres" {
		for _, table := range []string{"persons", "personas", "memberships", "relations"} {
			// Persons and personas are numbered in the order they are
			// written, so their primary keys only ever append.
			primary := table == "memberships" || table == "relations"
			if err := t.deferIndexes(ctx, table, false, primary); err != nil {
				return nil, err
			}
		}
		if empty, err = t.emptyDirectory(ctx); err != nil {
			return nil, err
		}
		if !empty {
			for _, table := range []string{"persons", "personas", "memberships", "relations"} {
				if err := t.rebuildIndexes(ctx, table); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}
	}
	f := &freshImport{base: t.idBase(), groups: map[groupKey]string{}}
	rows, err := t.tx.QueryContext(ctx, `SELECT aaf_id, id FROM structures WHERE aaf_id IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("begin import: structures: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var aafID, id string
		if err := rows.Scan(&aafID, &id); err != nil {
			return nil, fmt.Errorf("begin import: structures: %w", err)
		}
		f.structs.Set(aafID, len(f.structIDs))
		f.structIDs = append(f.structIDs, id)
		f.structKnown = append(f.structKnown, true)
	}
	return f, rows.Err()
}

func (t *importTx) emptyDirectory(ctx context.Context) (bool, error) {
	q := make([]string, len(freshTables))
	for i, table := range freshTables {
		q[i] = `NOT EXISTS (SELECT 1 FROM ` + table + `)`
	}
	var empty bool
	if err := t.tx.QueryRowContext(ctx, `SELECT `+strings.Join(q, " AND ")).Scan(&empty); err != nil {
		return false, fmt.Errorf("begin import: is the directory empty: %w", err)
	}
	return empty, nil
}

// id formats a row id from its number.
func (f *freshImport) id(n uint64) string {
	var hex [12]byte
	for i := len(hex) - 1; i >= 0; i-- {
		hex[i] = "0123456789abcdef"[n&15]
		n >>= 4
	}
	return f.base + string(hex[:])
}

// number is the inverse of id, for the rows this import wrote.
func (f *freshImport) number(id string) (uint32, bool) {
	if !strings.HasPrefix(id, f.base) {
		return 0, false
	}
	n, err := strconv.ParseUint(id[len(f.base):], 16, 32)
	return uint32(n), err == nil
}

func (f *freshImport) newNumber() uint64 {
	f.next++
	return f.next
}

// structure returns the index of a structure AAF id, giving it an id at its
// first mention.
func (f *freshImport) structure(aafID string) int {
	if i, ok := f.structs.Get(aafID); ok {
		return i
	}
	i := len(f.structIDs)
	f.structs.Set(aafID, i)
	f.structIDs = append(f.structIDs, f.id(f.newNumber()))
	f.structKnown = append(f.structKnown, false)
	return i
}

// person returns the number of a person AAF id, giving one at its first
// mention; early says the mention is not the person's own record.
func (f *freshImport) person(aafID string, early bool) uint32 {
	if n, ok := f.persons.Get(aafID); ok {
		return n
	}
	n := uint32(f.newNumber())
	f.persons.Set(aafID, n)
	if early {
		f.early = append(f.early, n)
	}
	return n
}

func (f *freshImport) group(structure int, kind directory.GroupKind, code string) string {
	k := groupKey{structure, kind, code}
	id, ok := f.groups[k]
	if !ok {
		id = f.id(f.newNumber())
		f.groups[k] = id
	}
	return id
}

func (f *freshImport) putStructure(ctx context.Context, t *importTx, s directory.Structure) error {
	i := f.structure(s.AAFID)
	f.structKnown[i] = true
	return t.stageStructure(ctx, f.structIDs[i], s)
}

// putPerson writes a person and their links. Duplicates inside the record
// (a class listed twice) are written once, as the merge's ON CONFLICT
// would keep one.
func (f *freshImport) putPerson(ctx context.Context, t *importTx, b directory.BulkPerson) error {
	p := b.Person
	num := f.person(p.AAFID, false)
	if !b.New || f.put.has(num) {
		// Only a record the delivery repeats gets here, and the check
		// refuses such a delivery: its Finish never comes.
		return nil
	}
	f.put.set(num)
	if p.AAFFamily == t.opts.RelationAccountFamily {
		f.relation.set(num)
	} else if b.CreateAccount {
		f.create.set(num)
	}
	id := f.id(uint64(num))
	if err := t.writePerson(ctx, id, p); err != nil {
		return err
	}
	type personaKey struct {
		structure int
		profile   directory.Profile
	}
	var personas []personaKey
	var classes []int // structures of the student's personas
	for _, ps := range b.Personas {
		if !ps.Profile.Valid() {
			return fmt.Errorf("person %s: unknown profile %q", p.AAFID, ps.Profile)
		}
		k := personaKey{f.structure(ps.StructureAAFID), ps.Profile}
		if slices.Contains(personas, k) {
			continue
		}
		personas = append(personas, k)
		if ps.Profile == directory.ProfileEleve {
			classes = append(classes, k.structure)
		}
		if err := t.stage(ctx, "personas", f.id(f.newNumber()), id, f.structIDs[k.structure], string(ps.Profile),
			marshalCol(nonNil(ps.Functions)), string(directory.SourceAAF)); err != nil {
			return err
		}
	}
	type memberKey struct {
		group string
		role  directory.MemberRole
	}
	var members []memberKey
	for _, m := range b.Memberships {
		k := memberKey{f.group(f.structure(m.StructureAAFID), m.Kind, m.Code), m.Role}
		if slices.Contains(members, k) {
			continue
		}
		members = append(members, k)
		if err := t.stage(ctx, "memberships", k.group, id, string(m.Role), marshalCol(nonNil(m.Subjects)),
			m.HeadTeacher); err != nil {
			return err
		}
	}
	var parents []uint32
	for _, r := range b.Relations {
		pn := f.person(r.ParentAAFID, true)
		if slices.Contains(parents, pn) {
			continue
		}
		parents = append(parents, pn)
		if r.RespLegal != 0 && slices.Contains(t.opts.ParentRespLegal, r.RespLegal) {
			f.legal.set(pn)
		}
		for _, s := range classes {
			f.parents = append(f.parents, uint64(pn)<<32|uint64(s))
		}
		if err := t.stage(ctx, "relations", f.id(uint64(pn)), id, r.LienParente, r.RespFinancier, r.RespLegal,
			r.Contact, r.Paiement); err != nil {
			return err
		}
	}
	return nil
}

// finish writes what needed the whole delivery; the caller has flushed the
// staged rows and merged the structures.
func (f *freshImport) finish(ctx context.Context, t *importTx, counts *directory.BulkCounts) error {
	// References that never resolved: the merge's joins would have dropped
	// them, and so does this.
	var lostStructs, lostGroups, lostParents []string
	for i, known := range f.structKnown {
		if !known {
			lostStructs = append(lostStructs, f.structIDs[i])
		}
	}
	for k, id := range f.groups {
		if !f.structKnown[k.structure] {
			lostGroups = append(lostGroups, id)
		}
	}
	for _, n := range f.early {
		if !f.put.has(n) {
			lostParents = append(lostParents, f.id(uint64(n)))
		}
	}
	if _, err := t.execIn(ctx, "personas of unknown structures", `DELETE FROM personas WHERE structure_id IN `, lostStructs); err != nil {
		return err
	}
	if _, err := t.execIn(ctx, "memberships of unknown structures", `DELETE FROM memberships WHERE group_id IN `, lostGroups); err != nil {
		return err
	}
	dangling, err := t.execIn(ctx, "dangling relations", `DELETE FROM relations WHERE parent_id IN `, lostParents)
	if err != nil {
		return err
	}
	counts.DanglingRelations = int(dangling)
	began := time.Now()
	for _, k := range slices.SortedFunc(maps.Keys(f.groups), func(a, b groupKey) int {
		return strings.Compare(f.groups[a], f.groups[b])
	}) {
		if !f.structKnown[k.structure] {
			continue
		}
		if err := t.stage(ctx, "groups", f.groups[k], f.structIDs[k.structure], string(k.kind), k.code, k.code,
			string(directory.SourceAAF)); err != nil {
			return err
		}
	}
	if err := t.flush(ctx, "groups"); err != nil {
		return err
	}
	slices.Sort(f.parents)
	f.parents = slices.Compact(f.parents)
	for _, pair := range f.parents {
		pn, s := uint32(pair>>32), int(uint32(pair))
		if !f.put.has(pn) || !f.structKnown[s] {
			continue
		}
		if err := t.stage(ctx, "personas", f.id(f.newNumber()), f.id(uint64(pn)), f.structIDs[s],
			string(directory.ProfileParent), "[]", string(directory.SourceAAF)); err != nil {
			return err
		}
	}
	if err := t.flush(ctx, "personas"); err != nil {
		return err
	}
	f.parents = nil
	t.s.opts.Logger.Debug("import merge step", "step", "groups and parent personas", "duration", time.Since(began))
	// Who gets an account: the relation-account family by their relations,
	// the others by their record. Logins are made in AAF id order, as the
	// merge makes them, so both paths name namesakes alike.
	todo, err := t.newAccounts(ctx, `SELECT id, first_name, last_name FROM persons ORDER BY aaf_id`, func(id string) bool {
		n, ok := f.number(id)
		return ok && (f.create.has(n) || f.relation.has(n) && f.legal.has(n))
	})
	if err != nil {
		return err
	}
	began = time.Now()
	counts.Accounts, err = t.createAccounts(ctx, todo)
	t.s.opts.Logger.Debug("import merge step", "step", "accounts", "duration", time.Since(began))
	return err
}

// execIn runs q, which ends in "IN ", over ids, and returns the rows it
// affected.
func (t *importTx) execIn(ctx context.Context, what, q string, ids []string) (int64, error) {
	var total int64
	err := inChunks(ids, func(list string, args []any) error {
		res, err := t.tx.ExecContext(ctx, q+list, args...)
		if err != nil {
			return fmt.Errorf("import merge: %s: %w", what, err)
		}
		n, _ := res.RowsAffected()
		total += n
		return nil
	})
	return total, err
}

// inChunks calls fn with "($1, …, $n)" and its arguments for each chunk of
// ids: 500 placeholders a query, well under both backends' limits.
func inChunks(ids []string, fn func(list string, args []any) error) error {
	for len(ids) > 0 {
		chunk := ids[:min(500, len(ids))]
		ids = ids[len(chunk):]
		ph := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, id := range chunk {
			ph[i] = fmt.Sprintf("$%d", i+1)
			args[i] = id
		}
		if err := fn("("+strings.Join(ph, ", ")+")", args); err != nil {
			return err
		}
	}
	return nil
}
