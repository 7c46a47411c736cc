// Package link decides which directory account(s) an upstream identity is.
// The rules are data (a connector's configuration lists them), tried in
// order; the first rule that finds at least one active account decides, and
// the decision names that rule, for the audit log.
//
// The rules come from federation.md §1.3, §2 and §3 (what production ENTs
// do); where that practice is uncertain (the académie prefix of
// ENTPersonJointure, which families a rule may match) the rule is
// configurable rather than fixed.
package link

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/federation"
)

// Kind is what a rule matches on.
type Kind string

// The rule kinds.
const (
	// StoredLink: the (issuer, subject) link stored at an earlier login.
	StoredLink Kind = "stored_link"
	// AAFVector: EduConnect FrEduCtRefId values "{AAF}<académie>|<x>|<AAF
	// id>" → ENTPersonJointure, through the rule's key templates.
	AAFVector Kind = "aaf_vector"
	// Jointure: the attribute carries an ENTPersonJointure (agents portal,
	// an Entra ID extension attribute), through the key templates.
	Jointure Kind = "jointure"
	// INEUAI: the attribute carries a clear INE; the student must also have
	// a persona in the school of the UAI attribute.
	INEUAI Kind = "ine_uai"
	// Email: the attribute carries an e-mail address matched against the
	// AAF e-mail (academic address of PersEducNat).
	Email Kind = "email"
)

// Rule is one linking rule.
type Rule struct {
	// Name identifies the rule in audit events (default: the kind).
	Name string `yaml:"name"`
	Kind Kind   `yaml:"kind"`
	// Attributes are read in order; every value of every listed attribute
	// is tried (several FrEduCtRefId vectors give several accounts).
	Attributes []string `yaml:"attributes"`
	// Keys are the ENTPersonJointure forms tried for an AAF id, with
	// {id}, {academie} (name, e.g. AIX-MARSEILLE) and {code} (e.g. 02).
	// Default "{id}", the id as the AAF delivers it. entcore stores
	// "<ACADEMIE>-{id}", recia's LDAP "AC-<ACADEMIE>${id}"; private
	// schools are sometimes prefixed "P".
	Keys []string `yaml:"keys"`
	// Families restricts matches to these AAF families (Eleve,
	// PersRelEleve, PersEducNat); empty allows all.
	Families []string `yaml:"families"`
	// UAIAttribute (ine_uai) names the attribute with the school's UAI.
	UAIAttribute string `yaml:"uai_attribute"`
	// JIT configures a just_in_time rule (see JustInTime).
	JIT *JIT `yaml:"jit"`
}

// Config is a connector's linking configuration.
type Config struct {
	Rules []Rule `yaml:"rules"`
	// UAIAttribute names the attribute that says the person's school, shown
	// on the no-match page ("contact the secretariat of …"). A value in
	// the agents portal's "UAI$…" form gives its first field.
	UAIAttribute string `yaml:"uai_attribute"`
	// Academies maps académie codes to the names used in {academie}
	// (default: the national table, Academies).
	Academies map[string]string `yaml:"academies"`
}

// Validate checks the rules, each problem naming its field.
func (c Config) Validate(connector string) error {
	var errs []error
	if len(c.Rules) == 0 {
		errs = append(errs, fmt.Errorf("connector %q: link.rules: at least one rule is needed", connector))
	}
	for i, r := range c.Rules {
		at := fmt.Sprintf("connector %q: link.rules[%d]", connector, i)
		switch r.Kind {
		case StoredLink:
		case AAFVector, Jointure, Email:
			if len(r.Attributes) == 0 {
				errs = append(errs, fmt.Errorf("%s.attributes: needed for kind %s", at, r.Kind))
			}
		case INEUAI:
			if len(r.Attributes) == 0 || r.UAIAttribute == "" {
				errs = append(errs, fmt.Errorf("%s: kind ine_uai needs attributes and uai_attribute", at))
			}
		case JustInTime:
			errs = append(errs, r.JIT.validate(at)...)
		default:
			errs = append(errs, fmt.Errorf("%s.kind: %q is not stored_link, aaf_vector, jointure, ine_uai, email or just_in_time", at, r.Kind))
		}
		for j, k := range r.Keys {
			if !strings.Contains(k, "{id}") {
				errs = append(errs, fmt.Errorf("%s.keys[%d]: %q has no {id}", at, j, k))
			}
		}
	}
	return errors.Join(errs...)
}

// Store is what linking reads and writes.
type Store interface {
	directory.Store
	directory.FederationStore
}

// Candidate is one account the identity may be, with its personas.
type Candidate struct {
	Person   directory.Person
	Account  directory.Account
	Personas []directory.Persona
}

// Decision is the outcome of a successful linking.
type Decision struct {
	Connector string
	Rule      string // the rule that decided
	Kind      Kind
	Keys      []string // the values that matched (jointures, INE, address)
	// Candidates are the accounts found; more than one means the person
	// picks (a parent known in two académies, an agent with two records).
	Candidates []Candidate
	// Stored says the (issuer, subject) link was recorded by this login.
	Stored bool
	// Created says this login created the account (a just_in_time rule);
	// its audit event (federation.jit) was recorded with it.
	Created bool
}

// NoMatchError is the refusal when no rule finds an account. UAI is the
// person's school when the upstream said it, for the page that tells them
// whom to contact.
type NoMatchError struct {
	Connector string
	Subject   string
	Tried     []string // rule names
	UAI       string
}

func (e *NoMatchError) Error() string {
	return fmt.Sprintf("connector %s: no directory account for %s (rules tried: %s; UAI %q)", e.Connector, e.Subject, strings.Join(e.Tried, ", "), e.UAI)
}

// Linker applies rules.
type Linker struct {
	Store Store
	Now   func() time.Time
}

// Link finds the accounts of id under cfg. After a match by any rule other
// than stored_link that gives exactly one account, the (issuer, subject)
// link is stored, so that a later change of e-mail or vector does not
// break it; several accounts are not linked (the vectors decide again at
// each login).
func (l Linker) Link(ctx context.Context, cfg Config, id federation.Identity) (Decision, error) {
	var tried []string
	for _, r := range cfg.Rules {
		name := r.Name
		if name == "" {
			name = string(r.Kind)
		}
		tried = append(tried, name)
		if r.Kind == JustInTime {
			if r.JIT == nil {
				return Decision{}, fmt.Errorf("connector %s: rule %s: just_in_time without jit configuration", id.Connector, name)
			}
			cands, keys, created, err := l.jitCreate(ctx, r, name, id)
			if err != nil {
				return Decision{}, fmt.Errorf("connector %s: rule %s: %w", id.Connector, name, err)
			}
			if len(cands) > 0 {
				return Decision{Connector: id.Connector, Rule: name, Kind: r.Kind, Keys: keys, Candidates: cands, Stored: created != nil, Created: created != nil}, nil
			}
			continue
		}
		cands, keys, err := l.apply(ctx, cfg, r, id)
		if err != nil {
			return Decision{}, fmt.Errorf("connector %s: rule %s: %w", id.Connector, name, err)
		}
		if len(cands) == 0 {
			continue
		}
		d := Decision{Connector: id.Connector, Rule: name, Kind: r.Kind, Keys: keys, Candidates: cands}
		now := l.Now()
		switch {
		case r.Kind == StoredLink:
			if err := l.Store.TouchExternalLink(ctx, id.Issuer, id.Subject, now); err != nil && !errors.Is(err, directory.ErrNotFound) {
				return Decision{}, err
			}
		case len(cands) == 1:
			// Stored once: a login that finds the same link already
			// stored (the vector rules come before the stored link for
			// EduConnect) writes nothing.
			if cur, err := l.Store.ExternalLink(ctx, id.Issuer, id.Subject); err == nil && cur.AccountID == cands[0].Account.ID {
				break
			}
			err := l.Store.Update(ctx, func(tx directory.Tx) error {
				return tx.PutExternalLink(ctx, directory.ExternalLink{Issuer: id.Issuer, Subject: id.Subject, AccountID: cands[0].Account.ID, CreatedAt: now, LastUsedAt: &now})
			})
			if err != nil {
				return Decision{}, fmt.Errorf("connector %s: store link: %w", id.Connector, err)
			}
			d.Stored = true
		}
		return d, nil
	}
	return Decision{}, &NoMatchError{Connector: id.Connector, Subject: id.Subject, Tried: tried, UAI: uaiOf(id.Get(cfg.UAIAttribute))}
}

// uaiOf takes the UAI out of "0131234A" or "0131234A$UAJ$PU$…".
func uaiOf(v string) string {
	u, _, _ := strings.Cut(v, "$")
	return strings.ToUpper(strings.TrimSpace(u))
}

func values(id federation.Identity, attrs []string) []string {
	var out []string
	for _, a := range attrs {
		for _, v := range id.Attributes[a] {
			if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

func (l Linker) apply(ctx context.Context, cfg Config, r Rule, id federation.Identity) ([]Candidate, []string, error) {
	var persons []directory.Person
	var keys []string
	add := func(p directory.Person, key string) {
		for _, q := range persons {
			if q.ID == p.ID {
				return
			}
		}
		persons = append(persons, p)
		keys = append(keys, key)
	}
	byJointure := func(ids []aafID) error {
		for _, a := range ids {
			for _, k := range expandKeys(r.Keys, a, cfg.academies()) {
				p, err := l.Store.PersonByAAFID(ctx, k)
				if errors.Is(err, directory.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				add(p, k)
				break
			}
		}
		return nil
	}
	switch r.Kind {
	case StoredLink:
		link, err := l.Store.ExternalLink(ctx, id.Issuer, id.Subject)
		if errors.Is(err, directory.ErrNotFound) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		acc, err := l.Store.Account(ctx, link.AccountID)
		if err != nil {
			return nil, nil, err
		}
		p, err := l.Store.Person(ctx, acc.PersonID)
		if err != nil {
			return nil, nil, err
		}
		add(p, id.Subject)
	case AAFVector:
		var ids []aafID
		for _, v := range values(id, r.Attributes) {
			if a, ok := parseVector(v); ok {
				ids = append(ids, a)
			}
		}
		if err := byJointure(ids); err != nil {
			return nil, nil, err
		}
	case Jointure:
		var ids []aafID
		for _, v := range values(id, r.Attributes) {
			ids = append(ids, aafID{id: v})
		}
		if err := byJointure(ids); err != nil {
			return nil, nil, err
		}
	case INEUAI:
		uai := uaiOf(id.Get(r.UAIAttribute))
		for _, ine := range values(id, r.Attributes) {
			ps, err := l.Store.PersonsByINE(ctx, strings.ToUpper(ine))
			if err != nil {
				return nil, nil, err
			}
			for _, p := range ps {
				ok, err := l.inSchool(ctx, p.ID, uai)
				if err != nil {
					return nil, nil, err
				}
				if ok {
					add(p, ine)
				}
			}
		}
	case Email:
		for _, v := range values(id, r.Attributes) {
			addr, err := mail.ParseAddress(v)
			if err != nil || addr.Address != v {
				continue // not an address (entcore checks the same)
			}
			ps, err := l.Store.PersonsByEmail(ctx, v)
			if err != nil {
				return nil, nil, err
			}
			for _, p := range ps {
				add(p, v)
			}
		}
	}
	var out []Candidate
	var outKeys []string
	for i, p := range persons {
		if len(r.Families) > 0 && !slices.Contains(r.Families, p.AAFFamily) {
			continue
		}
		acc, err := l.Store.AccountByPerson(ctx, p.ID)
		if errors.Is(err, directory.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if acc.Status != directory.StatusActive {
			continue // a disabled account never logs in, whatever the upstream says
		}
		ps, err := l.Store.Personas(ctx, p.ID)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, Candidate{Person: p, Account: acc, Personas: ps})
		outKeys = append(outKeys, keys[i])
	}
	return out, outKeys, nil
}

// inSchool says whether the person has a persona in the school of uai.
func (l Linker) inSchool(ctx context.Context, personID, uai string) (bool, error) {
	if uai == "" {
		return false, nil
	}
	ps, err := l.Store.Personas(ctx, personID)
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		s, err := l.Store.Structure(ctx, p.StructureID)
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			return false, err
		}
		if strings.EqualFold(s.UAI, uai) {
			return true, nil
		}
	}
	return false, nil
}

// Event is the audit event of a decision (or of a refusal, with err).
func Event(id federation.Identity, d Decision, err error, at time.Time) directory.Event {
	e := directory.Event{Time: at, Type: "federation.link", Service: id.Connector, Outcome: "ok",
		Details: map[string]string{"connector": id.Connector, "issuer": id.Issuer, "subject": id.Subject}}
	if err != nil {
		e.Outcome, e.Reason = "refused", err.Error()
		var nm *NoMatchError
		if errors.As(err, &nm) {
			e.Details["rules_tried"] = strings.Join(nm.Tried, ",")
			e.Details["uai"] = nm.UAI
		}
		return e
	}
	e.Reason = "rule " + d.Rule
	e.Details["rule"] = d.Rule
	e.Details["keys"] = strings.Join(d.Keys, ",")
	e.Details["candidates"] = fmt.Sprint(len(d.Candidates))
	if len(d.Candidates) == 1 {
		e.AccountID = d.Candidates[0].Account.ID
	}
	if d.Stored {
		e.Details["link_stored"] = "true"
	}
	if d.Created {
		e.Details["account_created"] = "true"
	}
	return e
}
