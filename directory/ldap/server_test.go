package ldap

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

const (
	base   = "dc=enthub"
	people = "ou=people,dc=enthub"
	groups = "ou=groups,dc=enthub"
)

func personDN(id string) string { return "uid=" + id + "," + people }

func resultCode(err error) uint16 {
	var le *goldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	if err == nil {
		return 0
	}
	return 0xffff
}

func search(t *testing.T, c *goldap.Conn, baseDN string, scope int, filter string, attrs ...string) *goldap.SearchResult {
	t.Helper()
	res, err := c.Search(goldap.NewSearchRequest(baseDN, scope, goldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
	if err != nil {
		t.Fatalf("search %q under %q: %v", filter, baseDN, err)
	}
	return res
}

func dns(res *goldap.SearchResult) []string {
	var out []string
	for _, e := range res.Entries {
		out = append(out, e.DN)
	}
	sort.Strings(out)
	return out
}

func uids(res *goldap.SearchResult) []string {
	var out []string
	for _, e := range res.Entries {
		if u := e.GetAttributeValue("uid"); u != "" {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}

func TestBind(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, dn, pw string
		want         uint16
	}{
		{"service account, SSHA", readerDN, readerPW, goldap.LDAPResultSuccess},
		{"service account, argon2id", argonDN, argonPW, goldap.LDAPResultSuccess},
		{"service account DN case and spaces do not matter", "CN=Reader, OU=Services, DC=Enthub", readerPW, goldap.LDAPResultSuccess},
		{"wrong password", readerDN, "nope", goldap.LDAPResultInvalidCredentials},
		{"unknown DN", "cn=nobody,dc=enthub", "x", goldap.LDAPResultInvalidCredentials},
		{"guest with a local password", personDN("guest1"), guestPW, goldap.LDAPResultSuccess},
		{"guest, wrong password", personDN("guest1"), "bad", goldap.LDAPResultInvalidCredentials},
		{"AAF person has no local password", personDN("eleve1"), "anything", goldap.LDAPResultInvalidCredentials},
		{"guest past the end date", personDN("expired1"), guestPW, goldap.LDAPResultInvalidCredentials},
		{"DN without password is an unauthenticated bind", readerDN, "", goldap.LDAPResultUnwillingToPerform},
		{"not a DN", "not a dn", "x", goldap.LDAPResultInvalidDNSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.dial(t)
			var err error
			if tt.pw == "" {
				err = c.UnauthenticatedBind(tt.dn)
			} else {
				err = c.Bind(tt.dn, tt.pw)
			}
			if got := resultCode(err); got != tt.want {
				t.Fatalf("bind %q: result %d (%v), want %d", tt.dn, got, err, tt.want)
			}
		})
	}
	if n := f.audit.count("bind.failed"); n < 5 {
		t.Errorf("audited %d failed binds, want at least 5", n)
	}
	if n := f.audit.count("login"); n != 1 {
		t.Errorf("audited %d person logins, want 1 (guest1)", n)
	}
}

func TestWhoAmI(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	res, err := c.WhoAmI(nil)
	if err != nil || res.AuthzID != "" {
		t.Fatalf("anonymous whoami = %+v, %v; want empty", res, err)
	}
	if err := c.Bind(readerDN, readerPW); err != nil {
		t.Fatal(err)
	}
	res, err = c.WhoAmI(nil)
	if err != nil || res.AuthzID != "dn:"+readerDN {
		t.Fatalf("whoami = %+v, %v; want dn:%s", res, err, readerDN)
	}
}

func TestSearchScopes(t *testing.T) {
	f := newFixture(t)
	c := f.reader(t)
	tests := []struct {
		name   string
		base   string
		scope  int
		filter string
		want   []string
	}{
		{"base entry", base, goldap.ScopeBaseObject, "(objectClass=*)", []string{base}},
		{"one level under the base", base, goldap.ScopeSingleLevel, "(objectClass=*)",
			[]string{groups, people, "ou=structures,dc=enthub"}},
		{"one level under ou=structures", "ou=structures,dc=enthub", goldap.ScopeSingleLevel, "(objectClass=*)",
			[]string{"ENTStructureUAI=0290009C,ou=structures,dc=enthub", "ENTStructureUAI=0291595B,ou=structures,dc=enthub"}},
		{"subtree of ou=groups", groups, goldap.ScopeWholeSubtree, "(objectClass=ENTClasse)",
			[]string{"cn=0290009C$TS2,ou=groups,dc=enthub", "cn=0291595B$4EME6,ou=groups,dc=enthub"}},
		{"base of a person", personDN("eleve1"), goldap.ScopeBaseObject, "(objectClass=*)", []string{personDN("eleve1")}},
		{"one level under a leaf", personDN("eleve1"), goldap.ScopeSingleLevel, "(objectClass=*)", nil},
		{"subtree of everything counts all", base, goldap.ScopeWholeSubtree, "(uid=eleve2)", []string{personDN("eleve2")}},
		{"empty base, subtree, is the naming context", "", goldap.ScopeWholeSubtree, "(uid=eleve2)", []string{personDN("eleve2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dns(search(t, c, tt.base, tt.scope, tt.filter, "1.1"))
			want := slices.Clone(tt.want)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
	_, err := c.Search(goldap.NewSearchRequest("uid=nobody,"+people, goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", nil, nil))
	if resultCode(err) != goldap.LDAPResultNoSuchObject {
		t.Fatalf("missing base: %v, want noSuchObject", err)
	}
	var le *goldap.Error
	if errors.As(err, &le) && le.MatchedDN != people {
		t.Errorf("matchedDN = %q, want %q", le.MatchedDN, people)
	}
}

func TestFilters(t *testing.T) {
	f := newFixture(t)
	c := f.reader(t)
	all := []string{"dir1", "disabled1", "eleve1", "eleve2", "eleve3", "expired1", "guest1", "parent1", "prof1"}
	tests := []struct {
		filter string
		want   []string
	}{
		{"(uid=eleve1)", []string{"eleve1"}},
		{"(UID=ELEVE1)", []string{"eleve1"}},
		{"(ENTPersonLogin=Corentin.Colin)", []string{"eleve1"}},
		{"(ENTPersonJointure=AAF$1001)", []string{"eleve1"}},
		{"(mail=JEAN.DUPONT@ac-rennes.fr)", []string{"prof1"}},
		{"(sn=colin)", []string{"eleve1", "parent1"}},
		{"(sn=  Colin )", []string{"eleve1", "parent1"}},
		{"(givenName=Léa)", []string{"eleve2"}},
		{"(givenName=LÉA)", []string{"eleve2"}},
		{"(cn=Corentin Colin)", []string{"eleve1"}},
		{"(sn~=colin)", []string{"eleve1", "parent1"}},
		{"(sn=C*)", []string{"eleve1", "parent1"}},
		{"(sn=*o*i*)", []string{"dir1", "eleve1", "parent1"}},
		{"(sn=*in)", []string{"eleve1", "parent1", "eleve2"}},
		{"(ENTPersonLogin=*.c*n)", []string{"eleve1", "parent1"}},
		{"(sn>=P)", []string{"dir1", "disabled1", "guest1"}},
		{"(sn<=Colin)", []string{"eleve1", "parent1"}},
		{"(mail=*)", []string{"eleve1", "parent1", "prof1"}},
		{"(!(mail=*))", []string{"dir1", "disabled1", "eleve2", "eleve3", "expired1", "guest1"}},
		{"(&(sn=Colin)(givenName=Marie))", []string{"parent1"}},
		{"(|(uid=eleve1)(uid=eleve3)(uid=nobody))", []string{"eleve1", "eleve3"}},
		{"(&(objectClass=ENTEleve)(!(uid=eleve1)))", []string{"disabled1", "eleve2", "eleve3"}},
		{"(objectClass=ENTAuxEnseignant)", []string{"prof1"}},
		{"(objectClass=inetOrgPerson)", all},
		{"(objectClass=2.16.840.1.113730.3.2.2)", all},
		{"(ENTPersonProfils=National_TUT)", []string{"parent1"}},
		{"(ENTPersonProfils=national_dir)", []string{"dir1"}},
		{"(isMemberOf=cn=0290009C$TS2,ou=groups,dc=enthub)", []string{"eleve1", "eleve2", "prof1"}},
		{"(memberOf=CN=0290009C$TS2, OU=groups, DC=enthub)", []string{"eleve1", "eleve2", "prof1"}},
		{"(isMemberOf=cn=0290009C_ENS,ou=groups,dc=enthub)", []string{"prof1"}},
		{"(ENTPersonStructRattach=ENTStructureUAI=0291595B,ou=structures,dc=enthub)", []string{"eleve3"}},
		{"(ENTAuxPersRelEleveEleve=uid=eleve1,ou=people,dc=enthub)", []string{"parent1"}},
		{"(ENTEleveClasses=ENTStructureUAI=0290009C,ou=structures,dc=enthub$TS2)", []string{"eleve1", "eleve2"}},
		{"(ENTAuxEnsClassesMatieres=*$4EME6$062900)", []string{"prof1"}},
		{"(ENTAuxEnsClassesPrincipal=*TS2)", []string{"prof1"}},
		{"(createTimestamp>=20260101000000Z)", all},
		{"(modifyTimestamp<=20200101000000Z)", nil},
		{"(entryUUID=*)", all},
		{"(unknownAttribute=x)", nil},
		{"(!(unknownAttribute=x))", nil}, // NOT Undefined is Undefined
		{"(|(unknownAttribute=x)(uid=eleve2))", []string{"eleve2"}},
		{"(cn;lang-fr=x)", nil},
		{"(sn:caseExactMatch:=Colin)", []string{"eleve1", "parent1"}},
		{"(sn:caseExactMatch:=colin)", nil},
		{"(sn:2.5.13.2:=colin)", []string{"eleve1", "parent1"}},
		{"(:caseIgnoreMatch:=noe.durand)", []string{"eleve3"}},
		{"(ou:dn:=people)", all},
		{"(sn:1.2.3.4.5:=colin)", nil}, // unknown rule: Undefined
		{"(&)", all},
		{"(|)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got := uids(search(t, c, people, goldap.ScopeSingleLevel, tt.filter, "uid"))
			want := slices.Clone(tt.want)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: got %q, want %q", tt.filter, got, want)
			}
		})
	}
}

func TestGroupsAndStructures(t *testing.T) {
	f := newFixture(t)
	c := f.reader(t)
	tests := []struct {
		filter string
		want   []string
	}{
		{"(member=uid=eleve1,ou=people,dc=enthub)", []string{"cn=0290009C$GRP-ANG,ou=groups,dc=enthub",
			"cn=0290009C$TS2,ou=groups,dc=enthub", "cn=0290009C_ELV,ou=groups,dc=enthub"}},
		{"(&(objectClass=ENTClasse)(member=uid=prof1,ou=people,dc=enthub))", []string{"cn=0290009C$TS2,ou=groups,dc=enthub",
			"cn=0291595B$4EME6,ou=groups,dc=enthub"}},
		{"(objectClass=ENTGroupe)", []string{"cn=0290009C$GRP-ANG,ou=groups,dc=enthub"}},
		{"(&(objectClass=ENTProfil)(cn=0291595B_*))", []string{"cn=0291595B_ELV,ou=groups,dc=enthub", "cn=0291595B_ENS,ou=groups,dc=enthub"}},
		{"(ENTStructureUAI=0290009c)", []string{"ENTStructureUAI=0290009C,ou=structures,dc=enthub"}},
		{"(&(objectClass=ENTEtablissement)(ENTStructureNomCourant=*IROISE*))", []string{"ENTStructureUAI=0290009C,ou=structures,dc=enthub",
			"ENTStructureUAI=0291595B,ou=structures,dc=enthub"}},
		{"(ENTEtablissementStructRattachFctl=ENTStructureUAI=0290009C,ou=structures,dc=enthub)",
			[]string{"ENTStructureUAI=0291595B,ou=structures,dc=enthub"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got := dns(search(t, c, base, goldap.ScopeWholeSubtree, tt.filter, "1.1"))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	res := search(t, c, "cn=0290009C$TS2,"+groups, goldap.ScopeBaseObject, "(objectClass=*)")
	e := res.Entries[0]
	members := e.GetAttributeValues("member")
	sort.Strings(members)
	if want := []string{personDN("eleve1"), personDN("eleve2"), personDN("prof1")}; !slices.Equal(members, want) {
		t.Errorf("members of TS2 = %q, want %q", members, want)
	}
	if got := e.GetAttributeValues("objectClass"); !slices.Equal(got, []string{"top", "groupOfNames", "ENTClasse"}) {
		t.Errorf("objectClass = %q", got)
	}
	if got := e.GetAttributeValue("description"); got != "Terminale S 2" {
		t.Errorf("description = %q", got)
	}
	res = search(t, c, "ENTStructureUAI=0291595B,ou=structures,dc=enthub", goldap.ScopeBaseObject, "(objectClass=*)")
	s := res.Entries[0]
	for attr, want := range map[string]string{
		"ENTStructureUAI": uaiB, "ENTStructureNomCourant": "CLG-DE L'IROISE", "ENTStructureJointure": "AAF$3019",
		"ENTStructureTypeStruct": "COLLEGE", "ENTEtablissementContrat": "PU", "ENTStructureClasses": "4EME6$4e 6",
		"ENTEtablissementStructRattachFctl": "ENTStructureUAI=0290009C,ou=structures,dc=enthub",
	} {
		if got := s.GetAttributeValue(attr); got != want {
			t.Errorf("structure %s = %q, want %q", attr, got, want)
		}
	}
}

func TestPersonEntry(t *testing.T) {
	f := newFixture(t)
	c := f.reader(t)
	get := func(id string, attrs ...string) *goldap.Entry {
		t.Helper()
		res := search(t, c, personDN(id), goldap.ScopeBaseObject, "(objectClass=*)", attrs...)
		if len(res.Entries) != 1 {
			t.Fatalf("%s: %d entries", id, len(res.Entries))
		}
		return res.Entries[0]
	}
	const sa = "ENTStructureUAI=0290009C,ou=structures,dc=enthub"
	const sb = "ENTStructureUAI=0291595B,ou=structures,dc=enthub"
	tests := []struct {
		id, attr string
		want     []string
	}{
		{"eleve1", "objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson", "ENTPerson", "ENTEleve", "eduMember"}},
		{"eleve1", "uid", []string{"eleve1"}},
		{"eleve1", "cn", []string{"Corentin Colin"}},
		{"eleve1", "sn", []string{"Colin"}},
		{"eleve1", "givenName", []string{"Corentin"}},
		{"eleve1", "ENTPersonLogin", []string{"corentin.colin"}},
		{"eleve1", "ENTPersonJointure", []string{"AAF$1001"}},
		{"eleve1", "ENTPersonProfils", []string{"National_ELV"}},
		{"eleve1", "ENTPersonStructRattach", []string{sa}},
		{"eleve1", "ENTPersonDateNaissance", []string{"09/07/2008"}},
		{"eleve1", "ENTEleveClasses", []string{sa + "$TS2"}},
		{"eleve1", "ENTEleveGroupes", []string{sa + "$GRP-ANG"}},
		{"eleve1", "ENTEleveMEF", []string{"20211010110"}},
		{"eleve1", "ENTEleveLibelleMEF", []string{"TERMINALE GENERALE"}},
		{"eleve1", "ENTEleveMajeur", []string{"O"}},
		{"eleve1", "ENTEleveStatutEleve", []string{"SCOLAIRE"}},
		{"eleve1", "ENTPersonSexe", []string{"M"}},
		{"eleve1", "ENTElevePersRelEleve", []string{"2001$20$1$1$1$0"}},
		{"eleve1", "isMemberOf", []string{"cn=0290009C$GRP-ANG,ou=groups,dc=enthub", "cn=0290009C$TS2,ou=groups,dc=enthub", "cn=0290009C_ELV,ou=groups,dc=enthub"}},
		{"eleve2", "ENTEleveMajeur", []string{"O"}},
		{"parent1", "objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson", "ENTPerson", "ENTAuxPersRelEleve", "eduMember"}},
		{"parent1", "ENTPersonProfils", []string{"National_TUT"}},
		{"parent1", "ENTAuxPersRelEleveEleve", []string{personDN("eleve1")}},
		{"prof1", "ENTPersonProfils", []string{"National_ENS"}},
		{"prof1", "ENTPersonFonctions", []string{sa + "$ENS$ENSEIGNEMENT$L1600$SCIENCES DE LA VIE ET DE LA TERRE"}},
		{"prof1", "ENTAuxEnsClasses", []string{sa + "$TS2", sb + "$4EME6"}},
		{"prof1", "ENTAuxEnsClassesMatieres", []string{sa + "$TS2$030201", sb + "$4EME6$062900"}},
		{"prof1", "ENTAuxEnsClassesPrincipal", []string{sa + "$TS2"}},
		{"prof1", "ENTAuxEnsMatiereEnseignEtab", []string{sa + "$SCIENCES DE LA VIE ET DE LA TERRE"}},
		{"prof1", "mail", []string{"jean.dupont@ac-rennes.fr"}},
		{"dir1", "objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson", "ENTPerson", "ENTAuxNonEnsEtab", "eduMember"}},
		{"dir1", "ENTPersonProfils", []string{"National_DIR"}},
		{"guest1", "ENTPersonJointure", []string{"ENT$guest1"}},
		{"guest1", "ENTPersonProfils", nil},
	}
	for _, tt := range tests {
		t.Run(tt.id+"/"+tt.attr, func(t *testing.T) {
			got := get(tt.id, tt.attr).GetAttributeValues(tt.attr)
			if tt.attr != "objectClass" {
				sort.Strings(got)
			}
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("%s %s = %q, want %q", tt.id, tt.attr, got, tt.want)
			}
		})
	}
	e := get("eleve1", "+")
	for _, a := range []string{"entryUUID", "createTimestamp", "modifyTimestamp", "subschemaSubentry", "entryDN", "memberOf"} {
		if e.GetAttributeValue(a) == "" {
			t.Errorf("operational attribute %s missing from +", a)
		}
	}
	if e.GetAttributeValue("uid") != "" {
		t.Errorf("+ returned the user attribute uid")
	}
	if got := e.GetAttributeValue("createTimestamp"); got != "20261123100000Z" {
		t.Errorf("createTimestamp = %q", got)
	}
}

func TestAttributeSelection(t *testing.T) {
	f := newFixture(t)
	c := f.reader(t)
	names := func(attrs ...string) []string {
		res := search(t, c, personDN("eleve1"), goldap.ScopeBaseObject, "(objectClass=*)", attrs...)
		var out []string
		for _, a := range res.Entries[0].Attributes {
			out = append(out, a.Name)
		}
		return out
	}
	if got := names("1.1"); len(got) != 0 {
		t.Errorf("1.1 returned %q", got)
	}
	if got := names("mail", "CN"); !slices.Equal(got, []string{"mail", "CN"}) {
		t.Errorf("named selection returned %q, want the names as requested", got)
	}
	all := names()
	star := names("*")
	if !slices.Equal(all, star) || !slices.Contains(all, "ENTPersonLogin") || slices.Contains(all, "entryUUID") {
		t.Errorf("no attributes = %q, * = %q", all, star)
	}
	both := names("*", "+")
	if !slices.Contains(both, "entryUUID") || !slices.Contains(both, "ENTPersonLogin") {
		t.Errorf("* + = %q", both)
	}
	if got := names("entryUUID", "doesNotExist"); !slices.Equal(got, []string{"entryUUID"}) {
		t.Errorf("operational by name = %q", got)
	}
	res, err := c.Search(goldap.NewSearchRequest(personDN("eleve1"), goldap.ScopeBaseObject, 0, 0, 0, true, "(objectClass=*)", []string{"uid", "sn"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range res.Entries[0].Attributes {
		if len(a.Values) != 0 {
			t.Errorf("typesOnly returned values for %s", a.Name)
		}
	}
	if len(res.Entries[0].Attributes) != 2 {
		t.Errorf("typesOnly returned %d attributes", len(res.Entries[0].Attributes))
	}
}

func TestAccessControl(t *testing.T) {
	f := newFixture(t)

	t.Run("anonymous reads only the rootDSE and the schema", func(t *testing.T) {
		c := f.dial(t)
		_, err := c.Search(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 0, 0, false, "(uid=*)", nil, nil))
		if resultCode(err) != goldap.LDAPResultInsufficientAccessRights || !strings.Contains(err.Error(), "bind") {
			t.Fatalf("anonymous search: %v, want insufficientAccessRights telling to bind", err)
		}
		if res := search(t, c, "", goldap.ScopeBaseObject, "(objectClass=*)", "namingContexts"); res.Entries[0].GetAttributeValue("namingContexts") != base {
			t.Fatalf("rootDSE namingContexts = %q", res.Entries[0].GetAttributeValue("namingContexts"))
		}
	})

	t.Run("disabled and expired accounts are hidden unless allowed", func(t *testing.T) {
		c := f.dial(t)
		if err := c.Bind(argonDN, argonPW); err != nil {
			t.Fatal(err)
		}
		got := uids(search(t, c, people, goldap.ScopeSingleLevel, "(objectClass=ENTPerson)", "uid"))
		if slices.Contains(got, "disabled1") || slices.Contains(got, "expired1") || len(got) != 7 {
			t.Fatalf("argon (no SeeDisabled) sees %q", got)
		}
		res, err := c.Search(goldap.NewSearchRequest(personDN("disabled1"), goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", nil, nil))
		if resultCode(err) != goldap.LDAPResultNoSuchObject {
			t.Fatalf("base search on a hidden entry: %v %v, want noSuchObject", res, err)
		}
		r := f.reader(t)
		if got := uids(search(t, r, people, goldap.ScopeSingleLevel, "(uid=disabled1)", "uid")); len(got) != 1 {
			t.Fatalf("reader (SeeDisabled) sees %q", got)
		}
	})

	t.Run("structure and attribute restrictions", func(t *testing.T) {
		c := f.dial(t)
		if err := c.Bind(limitDN, limitPW); err != nil {
			t.Fatal(err)
		}
		got := dns(search(t, c, base, goldap.ScopeWholeSubtree, "(|(objectClass=ENTPerson)(objectClass=groupOfNames)(objectClass=ENTStructure))", "1.1"))
		want := []string{"ENTStructureUAI=0291595B,ou=structures,dc=enthub", "cn=0291595B$4EME6,ou=groups,dc=enthub",
			"cn=0291595B_ELV,ou=groups,dc=enthub", "cn=0291595B_ENS,ou=groups,dc=enthub", personDN("eleve3"), personDN("prof1")}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Fatalf("school B account sees %q, want %q", got, want)
		}
		e := search(t, c, personDN("prof1"), goldap.ScopeBaseObject, "(objectClass=*)", "*").Entries[0]
		if e.GetAttributeValue("mail") != "" || e.GetAttributeValue("ENTPersonLogin") != "jean.dupont" {
			t.Fatalf("attribute restriction: mail=%q login=%q", e.GetAttributeValue("mail"), e.GetAttributeValue("ENTPersonLogin"))
		}
		// A filter on an unreadable attribute must not reveal its values.
		if got := uids(search(t, c, people, goldap.ScopeSingleLevel, "(mail=jean.dupont@ac-rennes.fr)", "uid")); len(got) != 0 {
			t.Fatalf("filter on an unreadable attribute matched %q", got)
		}
		if ok, err := c.Compare(personDN("prof1"), "mail", "jean.dupont@ac-rennes.fr"); resultCode(err) != goldap.LDAPResultInsufficientAccessRights {
			t.Fatalf("compare on an unreadable attribute: %v %v", ok, err)
		}
	})

	t.Run("a guest reads their own entry only", func(t *testing.T) {
		c := f.dial(t)
		if err := c.Bind(personDN("guest1"), guestPW); err != nil {
			t.Fatal(err)
		}
		got := uids(search(t, c, people, goldap.ScopeSingleLevel, "(objectClass=*)", "uid"))
		if !slices.Equal(got, []string{"guest1"}) {
			t.Fatalf("guest sees %q", got)
		}
		res, err := c.WhoAmI(nil)
		if err != nil || res.AuthzID != "dn:"+personDN("guest1") {
			t.Fatalf("whoami %v %v", res, err)
		}
	})
}

func TestWritesAreRefused(t *testing.T) {
	f := newFixture(t)
	c := f.reader(t)
	check := func(name string, err error) {
		t.Helper()
		if resultCode(err) != goldap.LDAPResultUnwillingToPerform || !strings.Contains(err.Error(), "AAF") {
			t.Errorf("%s: %v, want unwillingToPerform mentioning the AAF", name, err)
		}
	}
	add := goldap.NewAddRequest("uid=new,"+people, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson"})
	check("add", c.Add(add))
	mod := goldap.NewModifyRequest(personDN("eleve1"), nil)
	mod.Replace("mail", []string{"x@example.org"})
	check("modify", c.Modify(mod))
	check("delete", c.Del(goldap.NewDelRequest(personDN("eleve1"), nil)))
	check("modrdn", c.ModifyDN(goldap.NewModifyDNRequest(personDN("eleve1"), "uid=other", true, "")))
	_, err := c.PasswordModify(goldap.NewPasswordModifyRequest("", "a", "b"))
	if resultCode(err) != goldap.LDAPResultProtocolError {
		t.Errorf("password modify: %v, want protocolError (unsupported extended operation)", err)
	}
}

func TestCompare(t *testing.T) {
	f := newFixture(t)
	c := f.reader(t)
	tests := []struct {
		dn, attr, val string
		want          bool
		code          uint16
	}{
		{personDN("eleve1"), "ENTPersonLogin", "CORENTIN.COLIN", true, 0},
		{personDN("eleve1"), "sn", "Dupont", false, 0},
		{personDN("eleve1"), "objectClass", "ENTEleve", true, 0},
		{personDN("eleve1"), "telephoneNumber", "1", false, goldap.LDAPResultNoSuchAttribute},
		{personDN("eleve1"), "bogus", "1", false, goldap.LDAPResultUndefinedAttributeType},
		{personDN("nobody"), "sn", "x", false, goldap.LDAPResultNoSuchObject},
		{"cn=0290009C$TS2," + groups, "member", "UID=eleve1, ou=people, dc=enthub", true, 0},
	}
	for _, tt := range tests {
		ok, err := c.Compare(tt.dn, tt.attr, tt.val)
		if tt.code != 0 {
			if resultCode(err) != tt.code {
				t.Errorf("compare %s %s: %v, want code %d", tt.dn, tt.attr, err, tt.code)
			}
			continue
		}
		if err != nil || ok != tt.want {
			t.Errorf("compare %s %s=%s: %v %v, want %v", tt.dn, tt.attr, tt.val, ok, err, tt.want)
		}
	}
}

func TestCriticalControl(t *testing.T) {
	f := newFixture(t)
	c := f.reader(t)
	unknown := goldap.NewControlString("1.2.3.4.5.6.7", true, "")
	_, err := c.Search(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 0, 0, false, "(uid=eleve1)", nil, []goldap.Control{unknown}))
	if resultCode(err) != goldap.LDAPResultUnavailableCriticalExtension {
		t.Fatalf("critical unknown control: %v, want unavailableCriticalExtension", err)
	}
	notCritical := goldap.NewControlString("1.2.3.4.5.6.7", false, "")
	res, err := c.Search(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 0, 0, false, "(uid=eleve1)", nil, []goldap.Control{notCritical}))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("non-critical unknown control: %v", err)
	}
	// The connection still works.
	if got := uids(search(t, c, people, goldap.ScopeSingleLevel, "(uid=eleve2)", "uid")); len(got) != 1 {
		t.Fatalf("after the refusal: %q", got)
	}
}

func TestSizeLimit(t *testing.T) {
	f := newFixture(t)
	c := f.reader(t)
	res, err := c.Search(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 3, 0, false, "(objectClass=*)", []string{"uid"}, nil))
	if resultCode(err) != goldap.LDAPResultSizeLimitExceeded {
		t.Fatalf("size limit 3: %v", err)
	}
	if res == nil || len(res.Entries) != 3 {
		t.Fatalf("size limit 3 returned %v entries", res)
	}
	// An exact fit is not an overflow.
	if _, err := c.Search(goldap.NewSearchRequest(people, goldap.ScopeSingleLevel, 0, 9, 0, false, "(objectClass=*)", []string{"uid"}, nil)); err != nil {
		t.Fatalf("size limit equal to the count: %v", err)
	}
}

func TestRootDSEAndSubschema(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	root := search(t, c, "", goldap.ScopeBaseObject, "(objectClass=*)", "*", "+").Entries[0]
	for attr, want := range map[string]string{
		"namingContexts": base, "supportedLDAPVersion": "3", "subschemaSubentry": "cn=subschema",
	} {
		if got := root.GetAttributeValue(attr); got != want {
			t.Errorf("rootDSE %s = %q, want %q", attr, got, want)
		}
	}
	if !slices.Contains(root.GetAttributeValues("supportedControl"), oidPaged) {
		t.Errorf("supportedControl = %q", root.GetAttributeValues("supportedControl"))
	}
	if !slices.Contains(root.GetAttributeValues("supportedExtension"), oidWhoAmI) {
		t.Errorf("supportedExtension = %q", root.GetAttributeValues("supportedExtension"))
	}
	sch := search(t, c, "cn=subschema", goldap.ScopeBaseObject, "(objectClass=subschema)", "attributeTypes", "objectClasses").Entries[0]
	at := strings.Join(sch.GetAttributeValues("attributeTypes"), "\n")
	oc := strings.Join(sch.GetAttributeValues("objectClasses"), "\n")
	for _, want := range []string{"NAME 'ENTPersonJointure'", Arc + ".1.1.1.111 ", "NAME 'ENTPersonLogin'", "NAME 'isMemberOf'"} {
		if !strings.Contains(at, want) {
			t.Errorf("attributeTypes lacks %q", want)
		}
	}
	for _, want := range []string{"NAME 'ENTPerson' DESC", Arc + ".1.1.2.1 ", "NAME 'ENTClasse'", "SUP inetOrgPerson STRUCTURAL"} {
		if !strings.Contains(oc, want) {
			t.Errorf("objectClasses lacks %q", want)
		}
	}
}
