package mydata

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/storetest"
)

// notShown are the fields of directory.Person and Account that "my data"
// leaves out of its document, and why. Every other field must reach the
// document: a field added to the model fails TestEveryFieldShownOrListed
// until it is shown (identityOf, accountOf) or listed here.
var notShown = map[string]string{
	"Person.AAFFamily":     "which AAF file the record came from: the import's bookkeeping; the profiles say the same to a person",
	"Person.Checksum":      "a hash of the AAF record, to skip unchanged ones on import: nothing about the person",
	"Account.PersonID":     "the same id as the identity's id",
	"Account.PasswordHash": "never given out; has_local_password says whether there is one",
}

// TestEveryFieldShownOrListed fills every field of a person and an account
// with a value of its own and checks that each value is in the document
// the ZIP gives (identite.json, compte.json) — or, for a field listed in
// notShown, that it is not.
func TestEveryFieldShownOrListed(t *testing.T) {
	var per directory.Person
	var acc directory.Account
	storetest.Fill(t, &per)
	storetest.Fill(t, &acc)
	for _, c := range []struct {
		model any
		doc   any
	}{{per, identityOf(per)}, {acc, accountOf(acc)}} {
		doc, err := json.Marshal(c.doc)
		if err != nil {
			t.Fatal(err)
		}
		v := reflect.ValueOf(c.model)
		for i := range v.NumField() {
			name := v.Type().Name() + "." + v.Type().Field(i).Name
			val, err := json.Marshal(v.Field(i).Interface())
			if err != nil {
				t.Fatal(err)
			}
			shown := strings.Contains(string(doc), string(val))
			_, listed := notShown[name]
			switch {
			case !shown && !listed:
				t.Errorf("%s is neither in the document nor in notShown: show it in identityOf/accountOf, or list it with why", name)
			case shown && listed:
				t.Errorf("%s is in the document but listed in notShown: remove it from the list", name)
			}
		}
	}
	for name := range notShown {
		typ, field, _ := strings.Cut(name, ".")
		model := map[string]reflect.Type{"Person": reflect.TypeFor[directory.Person](), "Account": reflect.TypeFor[directory.Account]()}[typ]
		if _, ok := model.FieldByName(field); !ok {
			t.Errorf("notShown names %s, which directory.%s no longer has", name, typ)
		}
	}
	if a := accountOf(acc); !a.HasPassword {
		t.Errorf("an account with a password hash shows has_local_password false")
	}
}
