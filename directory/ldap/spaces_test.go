package ldap

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/enthub/enthub/directory/spaces"
)

// A profile space is served under ou=groups as a groupOfNames with its
// members' DNs, and its members carry it in memberOf/isMemberOf: what
// ldapsearch, the OpenLDAP client school applications use, shows.
func TestSpacesWithLDAPSearch(t *testing.T) {
	st := openStore(t)
	fillSmall(t, st)
	ctx := context.Background()
	svc := &spaces.Service{Store: st, Now: func() time.Time { return testNow }}
	admin := spaces.Actor{ID: "cli:test"}
	if _, err := svc.Create(ctx, admin, "espace-ati", "Espace ATI", "Techniciens informatiques"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, admin, "espace-cuisine", "Espace Cuisine", ""); err != nil {
		t.Fatal(err)
	}
	// A teacher of both schools and the principal of one: members across
	// schools.
	for _, login := range []string{"anne.proviseur", "jean.dupont"} {
		acc, err := st.AccountByLogin(ctx, login)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.AddMember(ctx, admin, "espace-ati", acc.ID); err != nil {
			t.Fatal(err)
		}
	}
	srv, addr := startServer(t, st, testConfig())
	uri := "ldap://" + addr
	space := "cn=espace-ati,ou=groups," + base
	search := func(dn, pw, b string, args ...string) string {
		t.Helper()
		out, code := runTool(t, "ldapsearch", append([]string{"-x", "-LLL", "-o", "ldif-wrap=no", "-H", uri, "-D", dn, "-w", pw, "-b", b}, args...)...)
		if code != 0 {
			t.Fatalf("ldapsearch %v exited %d:\n%s", args, code, out)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		out     string
		want    []string
		notWant []string
	}{
		{"the space entry", search(readerDN, readerPW, "ou=groups,"+base, "(cn=espace-ati)", "objectClass", "cn", "description", "member", "ou"),
			[]string{"dn: " + space, "objectClass: groupOfNames", "cn: espace-ati", "description: Espace ATI",
				"member: uid=dir1,ou=people," + base, "member: uid=prof1,ou=people," + base},
			[]string{"ou:", "ENTProfil"}},
		{"the members by memberOf", search(readerDN, readerPW, people, "(memberOf="+space+")", "1.1"),
			[]string{"dn: uid=dir1,", "dn: uid=prof1,"}, []string{"dn: uid=eleve1,"}},
		{"a member's isMemberOf", search(readerDN, readerPW, people, "(uid=dir1)", "isMemberOf"),
			[]string{"isMemberOf: " + space, "isMemberOf: cn=" + uaiA + "_DIR,ou=groups," + base}, []string{"espace-cuisine"}},
		// groupOfNames requires a member: an empty space is not served.
		{"an empty space", search(readerDN, readerPW, base, "(cn=espace-*)", "1.1"),
			[]string{"dn: " + space}, []string{"espace-cuisine"}},
		// A space belongs to no school: an identity limited to schools
		// does not see it, though it sees the member of its school.
		{"limited to a school", search(limitDN, limitPW, base, "(|(cn=espace-ati)(uid=prof1))", "isMemberOf"),
			[]string{"dn: uid=prof1,"}, []string{"dn: " + space}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range tc.want {
				if !strings.Contains(tc.out, w) {
					t.Errorf("output lacks %q:\n%s", w, tc.out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(tc.out, w) {
					t.Errorf("output has %q:\n%s", w, tc.out)
				}
			}
		})
	}

	// A member removed is out of the entry once the model is rebuilt
	// (the space write moved the generation the front polls).
	acc, _ := st.AccountByLogin(ctx, "jean.dupont")
	if err := svc.RemoveMember(ctx, admin, "espace-ati", acc.ID); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	out := search(readerDN, readerPW, base, "(cn=espace-ati)", "member")
	if strings.Contains(out, "uid=prof1,") || !strings.Contains(out, "uid=dir1,") {
		t.Errorf("after removing jean.dupont:\n%s", out)
	}
}
