package idp

import (
	"context"
	"crypto/rand"
	"net/url"
	"testing"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/password"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/directory/usage"
)

// A parent of two children logs in and is asked which child; choosing the
// second counts the login under that child's school and the parent
// profile in the statistics, though the login was audited before the
// choice. Another login of the same parent left on the persona page still
// counts, under no school.
func TestPersonaChoiceCountsLoginUnderChosenSchool(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	hash, err := password.Hash(testPassword, rand.Reader, password.Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16})
	if err != nil {
		t.Fatal(err)
	}
	parent := &directory.Person{LastName: "Moreau", FirstName: "Claire", Source: directory.SourceGuest}
	err = f.store.Update(ctx, func(tx directory.Tx) error {
		if err := tx.PutPerson(ctx, parent); err != nil {
			return err
		}
		if err := tx.PutAccount(ctx, &directory.Account{PersonID: parent.ID, Login: "claire.moreau", Source: directory.SourceGuest, PasswordHash: hash}); err != nil {
			return err
		}
		// The elder child at the lycée, the younger at the collège.
		return tx.SetPersonas(ctx, parent.ID, directory.SourceGuest, []directory.Persona{
			{StructureID: f.ids["lycee"], Profile: directory.ProfileParent}, {StructureID: f.ids["college"], Profile: directory.ProfileParent}})
	})
	if err != nil {
		t.Fatal(err)
	}
	personas, err := f.store.Personas(ctx, parent.ID)
	if err != nil {
		t.Fatal(err)
	}
	var second string
	for _, pa := range personas {
		if pa.StructureID == f.ids["college"] {
			second = pa.ID
		}
	}

	c := f.browser()
	_, page := f.get(c, f.base+"/login")
	resp, page := f.submitLogin(c, page, "claire.moreau", testPassword)
	if resp.Request.URL.Path != "/login/persona" {
		t.Fatalf("a parent of two children is not asked which: %s", resp.Request.URL)
	}
	resp, err = c.PostForm(f.base+"/login/persona", url.Values{"persona": {second}, "csrf": {csrfRE.FindStringSubmatch(page)[1]}})
	if err != nil {
		t.Fatal(err)
	}
	body(t, resp)
	if s := f.p.currentSession(reqWithCookies(f, c)); s == nil || s.StructureID != f.ids["college"] {
		t.Fatalf("second child not chosen: %+v", s)
	}
	abandoned := f.browser()
	_, page = f.get(abandoned, f.base+"/login")
	if resp, _ := f.submitLogin(abandoned, page, "claire.moreau", testPassword); resp.Request.URL.Path != "/login/persona" {
		t.Fatalf("second login: %s", resp.Request.URL)
	}
	f.p.FlushAudit()

	if _, err := f.store.FoldEvents(ctx, t0.Add(time.Hour), sqlstore.FoldOptions{}); err != nil {
		t.Fatal(err)
	}
	day := t0.UTC().Format(usage.DayLayout)
	all := usage.Filter{From: day, To: day}
	rep, err := usage.Build(ctx, f.store, all, usage.Options{Now: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int64{}
	for _, r := range rep.BySchool {
		got["school "+r.Key] = [2]int64{r.Logins, r.Users}
	}
	for _, r := range rep.ByProfile {
		got["profile "+r.Key] = [2]int64{r.Logins, r.Users}
	}
	want := map[string][2]int64{
		"school " + f.ids["college"]: {1, 1}, "school ": {1, 0},
		"profile parent": {1, 1}, "profile ": {1, 1},
	}
	if rep.Logins != 2 || len(got) != len(want) {
		t.Errorf("%d logins, by school and profile %v; want 2 and %v", rep.Logins, got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %v logins and users, want %v", k, got[k], w)
		}
	}
	college, err := usage.Build(ctx, f.store, usage.Filter{From: day, To: day, Structure: f.ids["college"]}, usage.Options{Now: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if college.Logins != 1 || college.Users != 1 || len(college.ByProfile) != 1 || college.ByProfile[0].Key != "parent" ||
		len(college.ByUpstream) != 1 || college.ByUpstream[0].Key != "local" {
		t.Errorf("the collège's report: %d logins, %d users, by profile %+v, by upstream %+v", college.Logins, college.Users, college.ByProfile, college.ByUpstream)
	}
}
