package ldap

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

const subschemaDN = "cn=subschema"

// Special ordinals for the two entries outside the tree.
const (
	ordRootDSE   uint32 = 0xfffffff0
	ordSubschema uint32 = 0xfffffff1
)

const (
	scopeBase = 0
	scopeOne  = 1
	scopeSub  = 2
)

// attrSel is the attribute selection of a search.
type attrSel struct {
	allUser, allOp bool
	named          []selAttr
}

type selAttr struct {
	id attrID
	as string // the client's spelling, echoed back as slapd does
}

func parseAttrSel(r *berReader) (attrSel, error) {
	var sel attrSel
	seq, err := r.expect(tagSequence, "search attributes")
	if err != nil {
		return sel, err
	}
	ar := berReader{seq}
	n := 0
	var seen [numAttrs]bool
	for !ar.empty() {
		a, err := ar.expect(tagOctetString, "search attribute")
		if err != nil {
			return sel, err
		}
		n++
		switch s := string(a); s {
		case "*":
			sel.allUser = true
		case "+":
			sel.allOp = true
		case "1.1":
		default:
			if at := lookupAttr(s); at != nil && !seen[at.id] && strings.IndexByte(s, ';') < 0 {
				seen[at.id] = true
				sel.named = append(sel.named, selAttr{id: at.id, as: s})
			}
		}
	}
	if n == 0 {
		sel.allUser = true
	}
	return sel, nil
}

// cursor walks candidate ordinals: an index's list, or scope ranges.
type cursor struct {
	list    []uint32
	useList bool
	ranges  [][2]uint32
	i       int
	next    uint32
}

func (c *cursor) nextOrd() (uint32, bool) {
	if c.useList {
		if c.i >= len(c.list) {
			return 0, false
		}
		c.i++
		return c.list[c.i-1], true
	}
	for c.i < len(c.ranges) {
		r := c.ranges[c.i]
		if c.next < r[0] {
			c.next = r[0]
		}
		if c.next < r[1] {
			c.next++
			return c.next - 1, true
		}
		c.i++
	}
	return 0, false
}

// remaining returns an upper bound of the ordinals left (capped at 1<<30).
func (c *cursor) remaining() int {
	if c.useList {
		return len(c.list) - c.i
	}
	n := 0
	for i := c.i; i < len(c.ranges) && n < 1<<30; i++ {
		r := c.ranges[i]
		if lo := max(c.next, r[0]); lo < r[1] {
			n += int(r[1] - lo)
		}
	}
	return n
}

func (c *cursor) done() bool {
	if c.useList {
		return c.i >= len(c.list)
	}
	for c.i < len(c.ranges) {
		r := c.ranges[c.i]
		if max(c.next, r[0]) < r[1] {
			return false
		}
		c.i++
	}
	return true
}

// pageState is a paged search between two pages; it pins the model it
// started on, so pages are consistent even if the model is swapped.
type pageState struct {
	key       uint64
	v         view
	f         filter
	sel       attrSel
	typesOnly bool
	cur       cursor
	sent      int
	sizeLimit int
}

type searchReq struct {
	msgID     int64
	base      string
	scope     int64
	sizeLimit int64
	timeLimit int64
	typesOnly bool
	filterTag byte
	filterRaw []byte
	sel       attrSel
	key       uint64
	paged     bool
	pageSize  int
	cookie    string
}

func parseSearch(msgID int64, op []byte, ctls []control) (searchReq, error) {
	q := searchReq{msgID: msgID, key: fnv64a(op)}
	r := berReader{op}
	base, err := r.expect(tagOctetString, "search base")
	if err != nil {
		return q, err
	}
	q.base = string(base)
	ints := [...]*int64{&q.scope, nil, &q.sizeLimit, &q.timeLimit}
	tags := [...]byte{tagEnumerated, tagEnumerated, tagInteger, tagInteger}
	names := [...]string{"search scope", "search derefAliases", "search sizeLimit", "search timeLimit"}
	for i, p := range ints {
		b, err := r.expect(tags[i], names[i])
		if err != nil {
			return q, err
		}
		v, err := parseInt(b)
		if err != nil {
			return q, fmt.Errorf("%s: %w", names[i], err)
		}
		if p != nil {
			*p = v
		}
	}
	tb, err := r.expect(tagBoolean, "search typesOnly")
	if err != nil {
		return q, err
	}
	if q.typesOnly, err = parseBool(tb); err != nil {
		return q, err
	}
	ft, fc, err := r.next()
	if err != nil {
		return q, fmt.Errorf("search filter: %w", err)
	}
	q.filterTag, q.filterRaw = ft, fc
	if q.sel, err = parseAttrSel(&r); err != nil {
		return q, err
	}
	for _, c := range ctls {
		if c.oid != oidPaged {
			continue
		}
		cr := berReader{c.value}
		seq, err := cr.expect(tagSequence, "paged results control")
		if err != nil {
			return q, err
		}
		sr := berReader{seq}
		sb, err := sr.expect(tagInteger, "paged results size")
		if err != nil {
			return q, err
		}
		size, err := parseInt(sb)
		if err != nil {
			return q, err
		}
		ck, err := sr.expect(tagOctetString, "paged results cookie")
		if err != nil {
			return q, err
		}
		q.paged, q.pageSize, q.cookie = true, int(max(0, min(size, 1<<30))), string(ck)
	}
	return q, nil
}

// fnv64a is FNV-1a over b (hash/fnv without the allocation of a hasher).
func fnv64a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, x := range b {
		h ^= uint64(x)
		h *= 1099511628211
	}
	return h
}

// inlineCandidates is the number of candidate entries up to which a search
// runs on the connection's reading goroutine: an equality search on an
// indexed attribute, a base search, the members of a class. Such a search
// costs microseconds, less than starting a goroutine (whose stack would
// also have to grow for the encoder), and an abandon could not overtake it
// anyway. Larger searches run on their own goroutine, so that abandon and
// later requests are read meanwhile.
const inlineCandidates = 256

// search decodes a search on the reading goroutine, then runs it there when
// it is small (inlineCandidates) or on its own goroutine.
func (c *conn) search(ctx context.Context, msgID int64, op []byte, ctls []control) error {
	c.s.stats.searches.Add(1)
	start, async := time.Now(), false
	defer func() {
		if !async {
			c.s.observed("search", start)
		}
	}()
	q, err := parseSearch(msgID, op, ctls)
	if err != nil {
		return err
	}
	lim := c.s.cfg.Limits
	var st *pageState
	if q.paged && q.cookie != "" {
		c.mu.Lock()
		st = c.pages[q.cookie]
		delete(c.pages, q.cookie)
		c.mu.Unlock()
		if st == nil || st.key != q.key {
			return c.result(msgID, opSearchDone, resultUnwillingToPerform, "",
				"paged results cookie is unknown, expired, or belongs to another search", true)
		}
		if q.pageSize == 0 { // the client abandons the paged search
			return c.sendDone(msgID, resultSuccess, "", "", true, "")
		}
	} else {
		st, err = c.prepare(&q)
		if err != nil {
			return err
		}
		if st == nil {
			return nil // answered already
		}
		if q.paged && q.pageSize == 0 {
			return c.sendDone(msgID, resultSuccess, "", "", true, "")
		}
	}
	timeLimit := lim.TimeLimit
	if q.timeLimit > 0 {
		timeLimit = min(timeLimit, time.Duration(q.timeLimit)*time.Second)
	}
	if st.cur.remaining() <= inlineCandidates {
		if err := c.run(ctx, &q, st, timeLimit); err != nil {
			c.log.DebugContext(ctx, "ldap: search ended", "err", err)
			c.nc.Close()
		}
		return nil
	}
	opCtx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cancel()
		return nil
	}
	c.ops[msgID] = cancel
	c.opsWG.Add(1)
	c.mu.Unlock()
	select {
	case c.opSem <- struct{}{}:
	case <-ctx.Done():
		c.finishOp(msgID, cancel)
		return ctx.Err()
	}
	aq := q // only this copy goes to the heap, not the inline searches' q
	async = true
	go func() {
		defer func() { <-c.opSem }()
		defer c.finishOp(msgID, cancel)
		defer c.s.observed("search", start)
		if err := c.run(opCtx, &aq, st, timeLimit); err != nil {
			c.log.DebugContext(ctx, "ldap: search ended", "err", err)
			c.nc.Close()
		}
	}()
	return nil
}

func (c *conn) finishOp(msgID int64, cancel context.CancelFunc) {
	cancel()
	c.mu.Lock()
	delete(c.ops, msgID)
	c.mu.Unlock()
	c.opsWG.Done()
}

// entryFor resolves a parsed DN to an ordinal, including the rootDSE and
// the subschema entry.
func (v *view) entryFor(rdns []rdn) (uint32, bool) {
	if len(rdns) == 0 {
		return ordRootDSE, true
	}
	if len(rdns) == 1 && rdns[0].typ == "cn" && strings.EqualFold(rdns[0].val, "subschema") {
		return ordSubschema, true
	}
	ord, _, ok := v.m.resolve(rdns)
	return ord, ok
}

// prepare resolves the base, compiles the filter and plans the walk. It
// answers errors itself and then returns a nil state.
func (c *conn) prepare(q *searchReq) (*pageState, error) {
	st := &pageState{key: q.key, v: c.view(), sel: q.sel, typesOnly: q.typesOnly}
	v := &st.v
	d := filterDecoder{v: v, limits: filterLimits{maxDepth: c.s.cfg.Limits.MaxFilterDepth, maxNodes: c.s.cfg.Limits.MaxFilterItems}}
	f, err := d.decode(q.filterTag, q.filterRaw, 0)
	if err != nil {
		if isTooComplex(err) {
			return nil, c.result(q.msgID, opSearchDone, resultUnwillingToPerform, "", err.Error(), true)
		}
		return nil, err
	}
	st.f = f
	rdns, err := parseDN(q.base)
	if err != nil {
		return nil, c.result(q.msgID, opSearchDone, resultInvalidDNSyntax, "", fmt.Sprintf("search base %q: %v", q.base, err), true)
	}
	scope := q.scope
	if scope < scopeBase || scope > 3 {
		return nil, c.result(q.msgID, opSearchDone, resultProtocolError, "", "unknown search scope", true)
	}
	if scope == 3 { // subordinates (draft-sermersheim-ldap-subordinate-scope)
		scope = scopeSub
	}
	var root uint32
	switch {
	case len(rdns) == 0 && scope == scopeBase:
		st.cur = cursor{list: []uint32{ordRootDSE}, useList: true}
		return st, nil
	case len(rdns) == 0:
		// Like slapd's default search base: the naming context.
		root = 0
		if scope == scopeOne {
			scope = scopeBase
		}
	default:
		ord, ok := v.entryFor(rdns)
		if ok && ord == ordSubschema {
			st.cur = cursor{list: []uint32{ordSubschema}, useList: true}
			return st, nil
		}
		if !v.acc.read {
			return nil, c.result(q.msgID, opSearchDone, resultInsufficientAccess, "",
				"anonymous read is disabled: bind with a service account (the rootDSE and cn=subschema stay readable)", true)
		}
		if !ok || !v.visible(ord) {
			_, matched, _ := v.m.resolve(rdns)
			return nil, c.result(q.msgID, opSearchDone, resultNoSuchObject, matchedDN(rdns, matched), "", true)
		}
		root = ord
	}
	if !v.acc.read {
		return nil, c.result(q.msgID, opSearchDone, resultInsufficientAccess, "",
			"anonymous read is disabled: bind with a service account", true)
	}
	m := v.m
	var ranges [][2]uint32
	switch scope {
	case scopeBase:
		ranges = [][2]uint32{{root, root + 1}}
	case scopeOne:
		if root == 0 {
			ranges = [][2]uint32{{1, 2}, {m.ouGroups, m.ouGroups + 1}, {m.ouPeople, m.ouPeople + 1}}
		} else if end := m.subtreeEnd(root); end > root+1 {
			ranges = [][2]uint32{{root + 1, end}}
		}
	default:
		ranges = [][2]uint32{{root, m.subtreeEnd(root)}}
	}
	if v.acc.self >= 0 {
		// A person sees their own entry (and the containers above it).
		ranges = intersectRanges(ranges, [][2]uint32{{0, 1}, {1, 2}, {m.ouGroups, m.ouGroups + 1},
			{m.ouPeople, m.ouPeople + 1}, {uint32(v.acc.self), uint32(v.acc.self) + 1}})
	}
	if list, ok := v.plan(&f); ok {
		out := list[:0] // plan's slices belong to the caller
		for _, o := range list {
			for _, r := range ranges {
				if o >= r[0] && o < r[1] {
					out = append(out, o)
					break
				}
			}
		}
		st.cur = cursor{list: out, useList: true}
	} else {
		st.cur = cursor{ranges: ranges}
	}
	return st, nil
}

func isTooComplex(err error) bool {
	return err != nil && strings.Contains(err.Error(), errFilterTooComplex.Error())
}

func intersectRanges(a, b [][2]uint32) [][2]uint32 {
	var out [][2]uint32
	for _, x := range a {
		for _, y := range b {
			lo, hi := max(x[0], y[0]), min(x[1], y[1])
			if lo < hi {
				out = append(out, [2]uint32{lo, hi})
			}
		}
	}
	return out
}

// run streams the entries of one search (or one page) and its done message.
func (c *conn) run(ctx context.Context, q *searchReq, st *pageState, timeLimit time.Duration) error {
	lim := c.s.cfg.Limits
	v := &st.v
	sizeLimit := int(q.sizeLimit)
	pageSize := 0
	if q.paged {
		pageSize = min(q.pageSize, lim.MaxPageSize)
		if st.sizeLimit == 0 && sizeLimit > 0 {
			st.sizeLimit = sizeLimit
		}
		sizeLimit = st.sizeLimit
	} else if sizeLimit <= 0 || sizeLimit > lim.SizeLimit {
		sizeLimit = lim.SizeLimit
	}
	deadline := c.s.now().Add(timeLimit)
	eb := getEncBuf()
	defer putEncBuf(eb)
	w, scratch := &eb.w, &eb.scratch
	sentPage := 0
	n := 0
	for {
		if sizeLimit > 0 && st.sent >= sizeLimit {
			if !st.cur.done() && c.moreMatches(st, scratch) {
				return c.finish(w, q, resultSizeLimitExceeded, fmt.Sprintf("size limit of %d entries exceeded", sizeLimit), "")
			}
			return c.finish(w, q, resultSuccess, "", "")
		}
		if pageSize > 0 && sentPage >= pageSize {
			if st.cur.done() {
				return c.finish(w, q, resultSuccess, "", "")
			}
			return c.finish(w, q, resultSuccess, "", c.savePage(st))
		}
		ord, ok := st.cur.nextOrd()
		if !ok {
			return c.finish(w, q, resultSuccess, "", "")
		}
		n++
		if n&127 == 0 {
			if ctx.Err() != nil {
				return nil // abandoned: no response
			}
			if c.s.now().After(deadline) {
				return c.finish(w, q, resultTimeLimitExceeded, fmt.Sprintf("time limit of %s exceeded", timeLimit), "")
			}
		}
		if ord < ordRootDSE && !v.visible(ord) {
			continue
		}
		if v.eval(&st.f, ord, scratch) != tTrue {
			continue
		}
		v.encodeEntry(w, q.msgID, ord, &st.sel, st.typesOnly, scratch)
		st.sent++
		sentPage++
		if len(w.b) >= 32<<10 {
			if err := c.send(w.b, false); err != nil {
				return err
			}
			w.b = w.b[:0]
		}
	}
}

// encBuf is the encoding buffer of one running search, pooled: a search
// then allocates next to nothing, which keeps the garbage collector (whose
// every cycle marks the whole read model) mostly idle.
type encBuf struct {
	w       berWriter
	scratch []string
}

var encPool = sync.Pool{New: func() any {
	return &encBuf{w: berWriter{b: make([]byte, 0, 16<<10)}, scratch: make([]string, 0, 64)}
}}

func getEncBuf() *encBuf { return encPool.Get().(*encBuf) }

func putEncBuf(eb *encBuf) {
	if cap(eb.w.b) > 256<<10 || cap(eb.scratch) > 1<<16 {
		return // a rare huge entry: let it go
	}
	eb.w.b = eb.w.b[:0]
	clear(eb.scratch[:cap(eb.scratch)]) // no reference into an old model
	eb.scratch = eb.scratch[:0]
	encPool.Put(eb)
}

// moreMatches reports whether another entry would match (to tell a size
// limit hit from an exact fit); it advances a copy of the cursor.
func (c *conn) moreMatches(st *pageState, scratch *[]string) bool {
	cur := st.cur
	for i := 0; i < 1<<20; i++ {
		ord, ok := cur.nextOrd()
		if !ok {
			return false
		}
		if (ord >= ordRootDSE || st.v.visible(ord)) && st.v.eval(&st.f, ord, scratch) == tTrue {
			return true
		}
	}
	return true
}

func (c *conn) savePage(st *pageState) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pageN++
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], c.pageN)
	cookie := string(b[:])
	if len(c.pages) >= c.s.cfg.Limits.MaxPagedSearches {
		// Drop the oldest paged search.
		var oldest string
		for k := range c.pages {
			if oldest == "" || k < oldest {
				oldest = k
			}
		}
		delete(c.pages, oldest)
	}
	c.pages[cookie] = st
	return cookie
}

// finish appends the done message (with the paged control when paging) and
// flushes.
func (c *conn) finish(w *berWriter, q *searchReq, code int, diag, cookie string) error {
	encodeDone(w, q.msgID, code, "", diag, q.paged, cookie)
	return c.send(w.b, true)
}

func (c *conn) sendDone(msgID int64, code int, matched, diag string, paged bool, cookie string) error {
	w := berWriter{}
	encodeDone(&w, msgID, code, matched, diag, paged, cookie)
	return c.send(w.b, true)
}

func encodeDone(w *berWriter, msgID int64, code int, matched, diag string, paged bool, cookie string) {
	m := w.begin(tagSequence)
	w.integer(tagInteger, msgID)
	op := w.begin(opSearchDone)
	w.integer(tagEnumerated, int64(code))
	w.str(tagOctetString, matched)
	w.str(tagOctetString, diag)
	w.end(op)
	if paged {
		ctls := w.begin(ctxC0)
		ct := w.begin(tagSequence)
		w.str(tagOctetString, oidPaged)
		val := w.begin(tagOctetString)
		seq := w.begin(tagSequence)
		w.integer(tagInteger, 0) // size estimate: unknown
		w.str(tagOctetString, cookie)
		w.end(seq)
		w.end(val)
		w.end(ct)
		w.end(ctls)
	}
	w.end(m)
}

// encodeEntry appends a SearchResultEntry.
func (v *view) encodeEntry(w *berWriter, msgID int64, ord uint32, sel *attrSel, typesOnly bool, scratch *[]string) {
	m := w.begin(tagSequence)
	w.integer(tagInteger, msgID)
	e := w.begin(opSearchEntry)
	dn := w.begin(tagOctetString)
	w.b = v.appendEntryDN(w.b, ord)
	w.end(dn)
	attrs := w.begin(tagSequence)
	var done [numAttrs]bool
	special := ord >= ordRootDSE
	k, i := kNone, int32(0)
	if !special {
		k, i = v.m.locate(ord)
	}
	emit := func(id attrID, name string) {
		if done[id] || !v.acc.canReadAttr(id) && !special {
			return
		}
		done[id] = true
		if v.encodeDirect(w, k, i, id, name, typesOnly) {
			return
		}
		vals := v.values((*scratch)[:0], ord, id)
		*scratch = vals
		if len(vals) == 0 {
			return
		}
		a := w.begin(tagSequence)
		w.str(tagOctetString, name)
		set := w.begin(tagSet)
		if !typesOnly {
			for _, x := range vals {
				w.str(tagOctetString, x)
			}
		}
		w.end(set)
		w.end(a)
	}
	nameOf := func(id attrID) string {
		for _, n := range sel.named {
			if n.id == id {
				return n.as
			}
		}
		return attrTypes[id].name
	}
	if sel.allUser {
		for id := attrID(0); id < aEntryUUID; id++ {
			emit(id, nameOf(id))
		}
	}
	if sel.allOp || (special && sel.allUser) {
		for id := aEntryUUID; id < numAttrs; id++ {
			emit(id, nameOf(id))
		}
	}
	for _, n := range sel.named {
		emit(n.id, n.as)
	}
	w.end(attrs)
	w.end(e)
	w.end(m)
}

// encodeDirect encodes the attributes whose values would otherwise be
// built as new strings (DNs of persons, "Prénom Nom") straight into w;
// false leaves the attribute to the generic path. The values are the same
// as values() gives.
func (v *view) encodeDirect(w *berWriter, k kind, i int32, id attrID, name string, typesOnly bool) bool {
	m := v.m
	switch {
	case k == kGroup && id == aMember:
		if vals, ok := v.memberValues(i); ok {
			if len(vals) == 0 {
				return true
			}
			a := w.begin(tagSequence)
			w.str(tagOctetString, name)
			if typesOnly {
				w.header(tagSet, 0)
			} else {
				w.header(tagSet, len(vals))
				w.b = append(w.b, vals...)
			}
			w.end(a)
			return true
		}
		a := w.begin(tagSequence)
		w.str(tagOctetString, name)
		set := w.begin(tagSet)
		n := 0
		for _, pi := range m.groups[i].members {
			if !v.personVisible(pi) {
				continue
			}
			n++
			if typesOnly {
				break
			}
			x := w.begin(tagOctetString)
			w.b = m.appendPersonDN(w.b, pi)
			w.end(x)
		}
		if n == 0 {
			w.b = w.b[:a-2] // no value: no attribute (begin wrote a 2-octet header)
			return true
		}
		w.end(set)
		w.end(a)
		return true
	case k == kPerson && (id == aCN || id == aDisplayName):
		p := &m.persons[i]
		givenName, sn := m.str(p.givenName), m.str(p.sn)
		if givenName == "" || sn == "" {
			return false
		}
		a := w.begin(tagSequence)
		w.str(tagOctetString, name)
		set := w.begin(tagSet)
		if !typesOnly {
			w.header(tagOctetString, len(givenName)+1+len(sn))
			w.b = append(w.b, givenName...)
			w.b = append(w.b, ' ')
			w.b = append(w.b, sn...)
		}
		w.end(set)
		w.end(a)
		return true
	}
	return false
}

// memberValues returns the encoded member values of group gi (the
// content of the SET OF) when every member is visible to v without looking
// at each person: all of them, or the identity sees no disabled account
// and every member is active for good. ok=false: filter them one by one.
func (v *view) memberValues(gi int32) (vals []byte, ok bool) {
	g := &v.m.groups[gi]
	if v.acc.structs != nil || !v.acc.seeDisabled && !g.allActive {
		return nil, false
	}
	slot := &v.m.memberBER[gi]
	if p := slot.Load(); p != nil {
		return *p, true
	}
	var w berWriter
	for _, pi := range g.members {
		x := w.begin(tagOctetString)
		w.b = v.m.appendPersonDN(w.b, pi)
		w.end(x)
	}
	slot.Store(&w.b) // racing builders store equal values
	return w.b, true
}

// appendEntryDN appends the DN of an entry, the rootDSE and cn=subschema
// included.
func (v *view) appendEntryDN(b []byte, ord uint32) []byte {
	switch ord {
	case ordRootDSE:
		return b
	case ordSubschema:
		return append(b, subschemaDN...)
	}
	if k, i := v.m.locate(ord); k == kPerson {
		return v.m.appendPersonDN(b, i)
	}
	return append(b, v.dn(ord)...)
}

func (v *view) entryDN(ord uint32) string {
	switch ord {
	case ordRootDSE:
		return ""
	case ordSubschema:
		return subschemaDN
	}
	return v.dn(ord)
}

// specialValues serves the rootDSE and cn=subschema.
func (v *view) specialValues(dst []string, ord uint32, a attrID) []string {
	if ord == ordSubschema {
		switch a {
		case aObjectClass:
			return append(dst, "top", "subschema", "extensibleObject")
		case aCN:
			return append(dst, "subschema")
		case aAttributeTypes:
			return append(dst, subschema.attributeTypes...)
		case aObjectClasses:
			return append(dst, subschema.objectClasses...)
		case aLDAPSyntaxes:
			return append(dst, subschema.ldapSyntaxes...)
		case aMatchingRules:
			return append(dst, subschema.matchingRules...)
		case aEntryDN:
			return append(dst, subschemaDN)
		case aSubschemaSubentry:
			return append(dst, subschemaDN)
		case aStructuralObjectClass:
			return append(dst, "subentry")
		}
		return dst
	}
	switch a {
	case aObjectClass:
		return append(dst, "top", "extensibleObject")
	case aNamingContexts:
		return append(dst, v.m.base)
	case aSupportedLDAPVersion:
		return append(dst, "3")
	case aSupportedControl:
		return append(dst, oidPaged, oidManageDsaIT)
	case aSupportedExtension:
		dst = append(dst, oidWhoAmI)
		if v.startTLS {
			dst = append(dst, oidStartTLS)
		}
		return dst
	case aSupportedFeatures:
		// all operational attributes (+), absolute true/false filters
		return append(dst, "1.3.6.1.4.1.4203.1.5.1", "1.3.6.1.4.1.4203.1.5.3")
	case aVendorName:
		return append(dst, "enthub")
	case aVendorVersion:
		return append(dst, "enthub LDAP front (read model generation "+strconv.FormatInt(v.m.gen, 10)+")")
	case aSubschemaSubentry:
		return append(dst, subschemaDN)
	}
	return dst
}
