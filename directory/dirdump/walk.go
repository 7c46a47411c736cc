package dirdump

import (
	"context"

	"github.com/enthub/enthub/directory"
)

// Kinds are the record kinds, in export order: what a record points to
// comes before it (an account after its person, a link after its account),
// so a reader can resolve references in one pass.
var Kinds = []string{"structure", "subject", "mef", "group", "person", "account", "persona", "membership",
	"relation", "external_link", "guest", "space", "space_member", "service", "news", "branding"}

// kindSince is the format version that introduced a record kind, for the
// kinds added after version 1: a file of an earlier version holding one
// was not written by enthub.
var kindSince = map[string]int{"guest": 2, "space": 3, "space_member": 3, "news": 3, "branding": 3}

// Counts is how many records of each kind an export wrote or an import
// read.
type Counts map[string]int

// walk streams every record of the directory to emit, kind by kind in the
// order of Kinds, each kind in its table's key order.
func walk(ctx context.Context, d directory.DumpReader, secrets bool, emit func(kind string, rec any) error) error {
	if err := d.DumpStructures(ctx, func(s directory.Structure) error { return emit("structure", fromStructure(s)) }); err != nil {
		return err
	}
	if err := d.DumpSubjects(ctx, func(s directory.Subject) error { return emit("subject", subjectRec(s)) }); err != nil {
		return err
	}
	if err := d.DumpMEFs(ctx, func(m directory.MEF) error { return emit("mef", mefRec(m)) }); err != nil {
		return err
	}
	if err := d.EachGroup(ctx, func(g directory.Group) error { return emit("group", fromGroup(g)) }); err != nil {
		return err
	}
	if err := d.DumpPersons(ctx, func(p directory.Person) error { return emit("person", fromPerson(p)) }); err != nil {
		return err
	}
	if err := d.DumpAccounts(ctx, func(a directory.Account) error { return emit("account", fromAccount(a, secrets)) }); err != nil {
		return err
	}
	if err := d.EachPersona(ctx, func(p directory.Persona) error { return emit("persona", fromPersona(p)) }); err != nil {
		return err
	}
	if err := d.EachMembership(ctx, func(m directory.Membership) error { return emit("membership", fromMembership(m)) }); err != nil {
		return err
	}
	if err := d.EachRelation(ctx, func(r directory.Relation) error { return emit("relation", fromRelation(r)) }); err != nil {
		return err
	}
	if err := d.DumpExternalLinks(ctx, func(l directory.ExternalLink) error { return emit("external_link", fromLink(l)) }); err != nil {
		return err
	}
	if err := d.DumpGuests(ctx, func(g directory.GuestRecord) error { return emit("guest", fromGuest(g)) }); err != nil {
		return err
	}
	if err := d.DumpSpaces(ctx, func(s directory.Space) error { return emit("space", fromSpace(s)) }); err != nil {
		return err
	}
	if err := d.DumpSpaceMembers(ctx, func(m directory.SpaceMember) error { return emit("space_member", fromSpaceMember(m)) }); err != nil {
		return err
	}
	if err := d.DumpServices(ctx, func(s directory.ServiceRecord) error {
		r, err := fromService(s)
		if err != nil {
			return err
		}
		return emit("service", r)
	}); err != nil {
		return err
	}
	return walkPortal(ctx, d, emit)
}
