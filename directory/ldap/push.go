package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// Push mode mirrors the served tree into an external LDAP server (OpenLDAP,
// 389-DS) for sites whose applications already read one. After each model
// swap (an import, a local change) the Pusher renders every entry as the
// front serves it, compares it with what it last pushed (a 128-bit hash of
// the entry's pushed attributes, per DN, in memory) and sends only the
// difference: adds (parents first), modifies (the changed attribute types,
// computed against the remote entry as it is), deletes (children first).
//
// It is idempotent (an add that finds the entry modifies it, a delete that
// finds nothing is done) and resumable: the state only records what the
// remote acknowledged, and the first sync — and the first after any
// connection failure, since the remote may have been restored meanwhile —
// starts by reading the remote tree (paged) to rebuild the state, so the
// push continues from what the remote really holds.
//
// The remote tree uses the same DNs (Config.BaseDN). Only the entries the
// front serves are managed: the base entry is created when missing but never
// changed; entries the front does not serve under ou=structures, ou=groups
// and ou=people are deleted; anything else (ou=services, admin entries) is
// left alone. The remote needs the SDET schema (the RECIA files of
// shared/reference/sdet-ldap are enough).

// PushConfig configures the mirror.
type PushConfig struct {
	// URL is the remote server, ldap://host:389 or ldaps://host:636.
	URL string
	// BindDN and Password: an identity that may write the tree.
	BindDN   string
	Password string
	// StartTLS upgrades an ldap:// connection.
	StartTLS bool
	// TLS is used for ldaps:// and StartTLS (nil: the system roots).
	TLS *tls.Config
	// Attributes limits the attribute types pushed (objectClass always
	// is); empty: every user attribute the front serves.
	Attributes []string
	// SeeDisabled also pushes disabled, expired and pending-purge accounts,
	// which the front hides from identities that do not see them.
	SeeDisabled bool
	// RetryInterval is the wait after a failed sync, doubling up to 10
	// minutes (default 30s).
	RetryInterval time.Duration
	// Timeout bounds each LDAP operation (default 30s).
	Timeout time.Duration
}

// PushResult says what one sync did.
type PushResult struct {
	Generation  int64 // of the model pushed
	FullCompare bool  // the remote tree was read first
	Entries     int   // entries of the mirrored tree
	Added       int
	Modified    int
	Deleted     int
	Unchanged   int
	Failed      int // entries the remote refused; retried at the next sync
	Took        time.Duration
}

// Pusher keeps an external LDAP server equal to the served tree.
type Pusher struct {
	srv   *Server
	cfg   PushConfig
	log   *slog.Logger
	attrs []attrID // pushed attribute types, objectClass first

	mu    sync.Mutex        // one sync at a time
	state map[string]pushed // normalised DN → what the remote holds; nil: unknown
	mark  uint32
	last  atomic.Int64 // generation last pushed without failure
}

type pushed struct {
	hash [16]byte
	mark uint32 // the sync that saw the entry in the tree
}

// NewPusher checks cfg and prepares a pusher of srv's tree. Nothing is sent
// before Sync or Run.
func NewPusher(srv *Server, cfg PushConfig) (*Pusher, error) {
	var errs []error
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		errs = append(errs, errors.New("ldap.push.url is empty"))
	case err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "":
		errs = append(errs, fmt.Errorf("ldap.push.url %q: want ldap://host:port or ldaps://host:port", cfg.URL))
	case cfg.StartTLS && u.Scheme == "ldaps":
		errs = append(errs, errors.New("ldap.push.start_tls: the URL is ldaps:// already"))
	}
	if _, ok := normDN(cfg.BindDN); !ok || cfg.BindDN == "" {
		errs = append(errs, fmt.Errorf("ldap.push.bind_dn %q is not a DN", cfg.BindDN))
	}
	p := &Pusher{srv: srv, cfg: cfg, log: srv.log.With("component", "ldap-push")}
	p.last.Store(-1)
	var pick [numAttrs]bool
	pick[aObjectClass] = true
	if len(cfg.Attributes) == 0 {
		for id := attrID(0); id < aEntryUUID; id++ {
			pick[id] = true
		}
	}
	for i, n := range cfg.Attributes {
		at := lookupAttr(n)
		if at == nil || at.operational {
			errs = append(errs, fmt.Errorf("ldap.push.attributes[%d]: %q is not a user attribute the front serves", i, n))
			continue
		}
		pick[at.id] = true
	}
	for id := attrID(0); id < numAttrs; id++ {
		if pick[id] {
			p.attrs = append(p.attrs, id)
		}
	}
	if p.cfg.RetryInterval <= 0 {
		p.cfg.RetryInterval = 30 * time.Second
	}
	if p.cfg.Timeout <= 0 {
		p.cfg.Timeout = 30 * time.Second
	}
	return p, errors.Join(errs...)
}

// Generation returns the generation last pushed without failure (-1: none).
func (p *Pusher) Generation() int64 { return p.last.Load() }

// Run pushes the tree now and after every model swap until ctx ends or the
// server is closed; a failed sync is retried with backoff. It starts the
// server's generation polling, so a push-only setup (no listener) follows
// the store too.
func (p *Pusher) Run(ctx context.Context) error {
	if err := p.srv.ensureLoaded(ctx); err != nil {
		return err
	}
	p.srv.startPolling(ctx)
	backoff := p.cfg.RetryInterval
	for {
		swapped := p.srv.modelSwapped()
		if m := p.srv.cur.Load(); m.gen != p.last.Load() {
			res, err := p.Sync(ctx)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				p.log.WarnContext(ctx, "ldap push failed; retrying", "err", err, "retry_in", backoff, "result", res)
				select {
				case <-ctx.Done():
					return nil
				case <-p.srv.done:
					return nil
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 10*time.Minute)
				continue
			}
			backoff = p.cfg.RetryInterval
			p.log.InfoContext(ctx, "ldap push done", "generation", res.Generation, "added", res.Added,
				"modified", res.Modified, "deleted", res.Deleted, "unchanged", res.Unchanged,
				"full_compare", res.FullCompare, "took", res.Took.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.srv.done:
			return nil
		case <-swapped:
		}
	}
}

// errPushRefused wraps the entries a remote refused.
var errPushRefused = errors.New("the remote refused some entries")

// Sync pushes the served model once. A connection failure ends it early and
// makes the next sync start with a full compare; entries the remote refuses
// (schema, access) are logged, counted in Failed and retried next time.
func (p *Pusher) Sync(ctx context.Context) (res PushResult, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	defer func() { res.Took = time.Since(start) }()
	if err := p.srv.ensureLoaded(ctx); err != nil {
		return res, err
	}
	m := p.srv.cur.Load()
	res.Generation = m.gen
	c, err := p.dial()
	if err != nil {
		p.state = nil
		return res, err
	}
	defer c.Close()
	if p.state == nil {
		st, err := p.readRemote(c, m)
		if err != nil {
			return res, fmt.Errorf("ldap push: reading the remote tree: %w", err)
		}
		p.state, res.FullCompare = st, true
	}
	p.mark++
	v := &view{m: m, now: p.srv.now().Unix(),
		acc: &access{read: true, self: -1, seeDisabled: p.cfg.SeeDisabled, model: m, name: "push"}}
	baseNorm, _ := normDN(m.base)
	var scratch pushEntry
	for ord := uint32(0); ord < m.total; ord++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if !v.visible(ord) {
			continue
		}
		e := &scratch
		p.render(v, ord, e)
		res.Entries++
		st, known := p.state[e.norm]
		if known && (st.hash == e.hash || e.norm == baseNorm) { // the base entry is never modified
			p.state[e.norm] = pushed{hash: st.hash, mark: p.mark}
			res.Unchanged++
			continue
		}
		op, err := p.apply(c, e, known)
		if err != nil {
			if fatalLDAP(c, err) {
				p.state = nil
				return res, fmt.Errorf("ldap push: %s: %w", e.dn, err)
			}
			res.Failed++
			p.log.WarnContext(ctx, "ldap push: the remote refused an entry", "dn", e.dn, "err", err)
			if known { // not gone: keep it out of the deletes
				p.state[e.norm] = pushed{hash: st.hash, mark: p.mark}
			}
			continue
		}
		switch op {
		case opAdded:
			res.Added++
		case opModified:
			res.Modified++
		default:
			res.Unchanged++
		}
		p.state[e.norm] = pushed{hash: e.hash, mark: p.mark}
	}
	// Deletes, children first.
	type gone struct {
		dn    string
		depth int
	}
	var del []gone
	for dn, st := range p.state {
		if st.mark != p.mark && dn != baseNorm {
			del = append(del, gone{dn, strings.Count(dn, ",")})
		}
	}
	slices.SortFunc(del, func(a, b gone) int {
		if a.depth != b.depth {
			return b.depth - a.depth
		}
		return strings.Compare(a.dn, b.dn)
	})
	for _, g := range del {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		err := c.Del(goldap.NewDelRequest(g.dn, nil))
		switch {
		case err == nil:
			res.Deleted++
			delete(p.state, g.dn)
		case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject):
			delete(p.state, g.dn)
		case fatalLDAP(c, err):
			p.state = nil
			return res, fmt.Errorf("ldap push: delete %s: %w", g.dn, err)
		default:
			res.Failed++
			p.log.WarnContext(ctx, "ldap push: the remote refused a delete", "dn", g.dn, "err", err)
		}
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("ldap push: %w: %d (see the log)", errPushRefused, res.Failed)
	}
	p.last.Store(m.gen)
	return res, nil
}

// fatalLDAP reports whether err means the connection is unusable (the
// remote went away, a timeout) rather than a refusal of one operation.
func fatalLDAP(c *goldap.Conn, err error) bool {
	var le *goldap.Error
	return c.IsClosing() || !errors.As(err, &le) || le.ResultCode == goldap.ErrorNetwork ||
		le.ResultCode == goldap.LDAPResultBusy || le.ResultCode == goldap.LDAPResultUnavailable
}

func (p *Pusher) dial() (*goldap.Conn, error) {
	cfg := p.cfg.TLS
	if cfg == nil {
		u, _ := url.Parse(p.cfg.URL)
		cfg = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	}
	c, err := goldap.DialURL(p.cfg.URL, goldap.DialWithTLSConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("ldap push: %w", err)
	}
	c.SetTimeout(p.cfg.Timeout)
	if p.cfg.StartTLS {
		if err := c.StartTLS(cfg); err != nil {
			c.Close()
			return nil, fmt.Errorf("ldap push: StartTLS: %w", err)
		}
	}
	if err := c.Bind(p.cfg.BindDN, p.cfg.Password); err != nil {
		c.Close()
		return nil, fmt.Errorf("ldap push: bind as %s: %w", p.cfg.BindDN, err)
	}
	return c, nil
}

// pushEntry is one entry as pushed.
type pushEntry struct {
	dn, norm string
	attrs    []pushAttr // by attrID
	hash     [16]byte
}

type pushAttr struct {
	id   attrID
	vals []string
}

func (e *pushEntry) values(id attrID) []string {
	for _, a := range e.attrs {
		if a.id == id {
			return a.vals
		}
	}
	return nil
}

// render fills e with entry ord as the front serves it.
func (p *Pusher) render(v *view, ord uint32, e *pushEntry) {
	e.dn = v.entryDN(ord)
	e.norm, _ = normDN(e.dn)
	e.attrs = e.attrs[:0]
	for _, id := range p.attrs {
		if vals := v.values(nil, ord, id); len(vals) > 0 {
			e.attrs = append(e.attrs, pushAttr{id, vals})
		}
	}
	e.hash = hashAttrs(e.attrs)
}

// hashAttrs hashes attributes sorted by type, each with its values
// compared as the remote would return them: as a set, DNs normalised.
func hashAttrs(attrs []pushAttr) [16]byte {
	h := fnv.New128a()
	var n [4]byte
	put := func(s string) {
		n[0], n[1], n[2], n[3] = byte(len(s)>>24), byte(len(s)>>16), byte(len(s)>>8), byte(len(s))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, a := range attrs {
		h.Write([]byte{byte(a.id)})
		for _, x := range canonValues(a.id, a.vals) {
			put(x)
		}
		h.Write([]byte{0xff})
	}
	var out [16]byte
	h.Sum(out[:0])
	return out
}

// canonValues returns the values of attribute id sorted, DNs normalised.
func canonValues(id attrID, vals []string) []string {
	if attrTypes[id].match != mDN && len(vals) < 2 {
		return vals
	}
	out := make([]string, len(vals))
	for i, x := range vals {
		if attrTypes[id].match == mDN {
			if n, ok := normDN(x); ok {
				x = n
			}
		}
		out[i] = x
	}
	slices.Sort(out)
	return out
}

func sameValues(id attrID, a, b []string) bool {
	return len(a) == len(b) && slices.Equal(canonValues(id, a), canonValues(id, b))
}

// remoteAttrs converts a remote entry's attributes to pushAttrs (pushed
// types only, sorted by type).
func (p *Pusher) remoteAttrs(e *goldap.Entry) []pushAttr {
	var out []pushAttr
	for _, a := range e.Attributes {
		at := lookupAttr(a.Name)
		if at == nil || !slices.Contains(p.attrs, at.id) || len(a.Values) == 0 {
			continue
		}
		i := slices.IndexFunc(out, func(x pushAttr) bool { return x.id == at.id })
		if i < 0 {
			out = append(out, pushAttr{id: at.id})
			i = len(out) - 1
		}
		out[i].vals = append(out[i].vals, a.Values...)
	}
	slices.SortFunc(out, func(a, b pushAttr) int { return int(a.id) - int(b.id) })
	return out
}

func (p *Pusher) attrNames() []string {
	names := make([]string, len(p.attrs))
	for i, id := range p.attrs {
		names[i] = attrTypes[id].name
	}
	return names
}

// readRemote reads the remote tree under the base and returns the state of
// the entries a push manages: the base, the three containers and the
// entries right below them.
func (p *Pusher) readRemote(c *goldap.Conn, m *model) (map[string]pushed, error) {
	st := map[string]pushed{}
	// Page by page (not SearchWithPaging, which would hold the whole
	// remote tree, gigabytes for 300,000 entries).
	paging := goldap.NewControlPaging(1000)
	req := goldap.NewSearchRequest(m.base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", p.attrNames(), []goldap.Control{paging})
	for {
		res, err := c.Search(req)
		if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
			return st, nil // an empty remote: everything is to add
		}
		if err != nil {
			return nil, err
		}
		for _, e := range res.Entries {
			rdns, err := parseDN(e.DN)
			if err != nil || !managedDN(m, rdns) {
				continue
			}
			norm, _ := normDN(e.DN)
			st[norm] = pushed{hash: hashAttrs(p.remoteAttrs(e))}
		}
		ctl, _ := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging)
		if ctl == nil || len(ctl.Cookie) == 0 {
			return st, nil
		}
		paging.SetCookie(ctl.Cookie)
	}
}

// managedDN reports whether a remote DN is one a push manages.
func managedDN(m *model, rdns []rdn) bool {
	nb := len(m.baseRDNs)
	if len(rdns) < nb || len(rdns) > nb+2 {
		return false
	}
	off := len(rdns) - nb
	for i, b := range m.baseRDNs {
		r := rdns[off+i]
		if r.multi || r.typ != b.typ || !strings.EqualFold(r.val, b.val) {
			return false
		}
	}
	if off == 0 {
		return true
	}
	ou := rdns[off-1]
	if ou.multi || ou.typ != "ou" {
		return false
	}
	for _, n := range ouNames {
		if strings.EqualFold(ou.val, n) {
			return true
		}
	}
	return false
}

const (
	opNone = iota
	opAdded
	opModified
)

// apply makes the remote entry equal to e: an add when it is not known to
// exist, else a modify of the attribute types that differ from what the
// remote holds now (an add, a modify, or a delete and an add when the
// structural class changed).
func (p *Pusher) apply(c *goldap.Conn, e *pushEntry, known bool) (int, error) {
	if !known {
		err := c.Add(p.addRequest(e))
		if err == nil || !goldap.IsErrorWithCode(err, goldap.LDAPResultEntryAlreadyExists) {
			return opAdded, err
		}
	}
	res, err := c.Search(goldap.NewSearchRequest(e.dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", p.attrNames(), nil))
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return opAdded, c.Add(p.addRequest(e))
	}
	if err != nil {
		return opNone, err
	}
	if len(res.Entries) != 1 {
		return opNone, fmt.Errorf("base search of %s returned %d entries", e.dn, len(res.Entries))
	}
	have := p.remoteAttrs(res.Entries[0])
	mod := goldap.NewModifyRequest(e.dn, nil)
	for _, id := range p.attrs {
		want := e.values(id)
		var got []string
		for _, a := range have {
			if a.id == id {
				got = a.vals
			}
		}
		switch {
		case sameValues(id, want, got):
		case len(want) == 0:
			mod.Delete(attrTypes[id].name, nil)
		default:
			mod.Replace(attrTypes[id].name, want)
		}
	}
	if len(mod.Changes) == 0 {
		return opNone, nil
	}
	err = c.Modify(mod)
	if goldap.IsErrorAnyOf(err, goldap.LDAPResultObjectClassViolation, goldap.LDAPResultObjectClassModsProhibited) {
		// The structural class changed (a person became a student):
		// only a new entry can have it.
		if err := c.Del(goldap.NewDelRequest(e.dn, nil)); err != nil {
			return opNone, err
		}
		return opModified, c.Add(p.addRequest(e))
	}
	return opModified, err
}

func (p *Pusher) addRequest(e *pushEntry) *goldap.AddRequest {
	req := goldap.NewAddRequest(e.dn, nil)
	for _, a := range e.attrs {
		req.Attribute(attrTypes[a.id].name, slices.Clone(a.vals))
	}
	return req
}
