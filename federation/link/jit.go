package link

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/federation"
)

// JustInTime creates a collectivité account at the first login: the only
// case where a login creates an account (federation.md §3: the
// département's and communes' staff — ATI, ATC, kitchen — have no AAF
// record). It is a rule like the others, placed last, after the stored link
// and the matching rules, so that a person the directory knows is never
// duplicated; it matches only a login from a listed tenant by a member of a
// listed group, and creates one account attached to one structure.
const JustInTime Kind = "just_in_time"

// JIT configures a just_in_time rule. Every field of the decision comes
// from here or from the claims named here.
type JIT struct {
	// Tenants are the Entra ID tenants (tid) allowed; at least one.
	Tenants []string `yaml:"tenants"`
	// Groups are the groups (object ids or names, as the token carries
	// them) whose members get an account; at least one. A token with
	// groups overage (groups_overage) names no groups and does not match.
	Groups []string `yaml:"groups"`
	// GroupsAttribute is the claim with the groups (default "groups").
	GroupsAttribute string `yaml:"groups_attribute"`
	// StructureAttribute is a claim naming the UAI of the school the person
	// works in (a directory extension attribute of the tenant); when it is
	// absent, or names no structure of the directory, Structure is used.
	StructureAttribute string `yaml:"structure_attribute"`
	// Structure is the UAI of the structure the account is attached to by
	// default (the département's own structure, or a school).
	Structure string `yaml:"structure"`
	// Profile of the persona (default collectivite).
	Profile directory.Profile `yaml:"profile"`
	// LoginAttributes give the login, the first non-empty one, lower case
	// (default upn, email, preferred_username); without any, the login is
	// "entra-" and the subject.
	LoginAttributes []string `yaml:"login_attributes"`
}

func (j *JIT) defaults() {
	if j.GroupsAttribute == "" {
		j.GroupsAttribute = "groups"
	}
	if j.Profile == "" {
		j.Profile = directory.ProfileCollectivite
	}
	if len(j.LoginAttributes) == 0 {
		j.LoginAttributes = []string{"upn", "email", "preferred_username"}
	}
}

func (j *JIT) validate(at string) []error {
	var errs []error
	if j == nil {
		return []error{fmt.Errorf("%s.jit: needed for kind just_in_time (tenants, groups, structure)", at)}
	}
	j.defaults()
	if len(j.Tenants) == 0 {
		errs = append(errs, fmt.Errorf("%s.jit.tenants: at least one tenant (a login never creates accounts for any tenant)", at))
	}
	if len(j.Groups) == 0 {
		errs = append(errs, fmt.Errorf("%s.jit.groups: at least one group", at))
	}
	if j.Structure == "" && j.StructureAttribute == "" {
		errs = append(errs, fmt.Errorf("%s.jit: structure or structure_attribute is needed (where the account is attached)", at))
	}
	if !j.Profile.Valid() {
		errs = append(errs, fmt.Errorf("%s.jit.profile: %q is not a profile", at, j.Profile))
	}
	return errs
}

// jitCreate creates the account of id under rule r when r allows it: nil
// candidates when it does not (another tenant, no listed group, no known
// structure).
func (l Linker) jitCreate(ctx context.Context, r Rule, name string, id federation.Identity) ([]Candidate, []string, map[string]string, error) {
	j := *r.JIT
	j.defaults()
	tid := id.Get("tid")
	if !slices.Contains(j.Tenants, tid) {
		return nil, nil, nil, nil
	}
	var matched []string
	for _, g := range id.Attributes[j.GroupsAttribute] {
		if slices.Contains(j.Groups, g) {
			matched = append(matched, g)
		}
	}
	if len(matched) == 0 {
		return nil, nil, nil, nil
	}
	var st directory.Structure
	found := false
	var uais []string
	if j.StructureAttribute != "" {
		uais = append(uais, uaiOf(id.Get(j.StructureAttribute)))
	}
	for _, uai := range append(uais, uaiOf(j.Structure)) {
		if uai == "" {
			continue
		}
		s, err := l.Store.StructureByUAI(ctx, uai)
		if errors.Is(err, directory.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, nil, err
		}
		st, found = s, true
		break
	}
	if !found {
		return nil, nil, nil, nil
	}
	login := ""
	for _, a := range j.LoginAttributes {
		if v := strings.ToLower(strings.TrimSpace(id.Get(a))); v != "" {
			login = v
			break
		}
	}
	if login == "" {
		login = "entra-" + strings.ToLower(id.Subject)
	}
	now := l.Now()
	p := &directory.Person{Source: directory.SourceCollectivite, LastName: first(id.Get("family_name"), id.Get("name"), login),
		FirstName: id.Get("given_name"), Email: id.Get("email")}
	a := &directory.Account{Login: login, Source: directory.SourceCollectivite, Status: directory.StatusActive}
	ps := []directory.Persona{{StructureID: st.ID, Profile: j.Profile, Source: directory.SourceCollectivite}}
	details := map[string]string{"connector": id.Connector, "issuer": id.Issuer, "subject": id.Subject, "rule": name,
		"tenant": tid, "groups": strings.Join(matched, ","), "structure": st.UAI, "profile": string(j.Profile), "login": login}
	ev := directory.Event{Time: now, Type: "federation.jit", Service: id.Connector, Outcome: "ok", Reason: "rule " + name, Details: details}
	err := l.Store.CreateLinkedAccount(ctx, p, a, ps, directory.ExternalLink{Issuer: id.Issuer, Subject: id.Subject, CreatedAt: now, LastUsedAt: &now}, ev)
	if errors.Is(err, directory.ErrConflict) {
		// Another instance created this person's account a moment ago (the
		// link is taken): use it. A login taken by someone else is an
		// error for an administrator, not a second account.
		if link, lerr := l.Store.ExternalLink(ctx, id.Issuer, id.Subject); lerr == nil {
			cands, err := l.candidatesOfAccount(ctx, link.AccountID)
			return cands, []string{login}, nil, err
		}
		return nil, nil, nil, fmt.Errorf("just-in-time account %s: %w", login, err)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("just-in-time account %s: %w", login, err)
	}
	return []Candidate{{Person: *p, Account: *a, Personas: ps}}, []string{login}, details, nil
}

func (l Linker) candidatesOfAccount(ctx context.Context, accountID string) ([]Candidate, error) {
	acc, err := l.Store.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	p, err := l.Store.Person(ctx, acc.PersonID)
	if err != nil {
		return nil, err
	}
	ps, err := l.Store.Personas(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	return []Candidate{{Person: p, Account: acc, Personas: ps}}, nil
}

func first(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
