package dirdump

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/storetest"
)

// TestPersonAndAccountRecordsCarryEveryField fills every field of a
// directory.Person and Account and sends them through their records and
// JSON and back: a field added to the model but not to personRec or
// accountRec (and their converters) comes back zero, and fails here,
// instead of being silently lost by an export and its re-import.
// portal/mydata has the same check for what it shows (fields_test.go).
func TestPersonAndAccountRecordsCarryEveryField(t *testing.T) {
	var per directory.Person
	var acc directory.Account
	storetest.Fill(t, &per)
	storetest.Fill(t, &acc)

	var pr personRec
	throughJSON(t, fromPerson(per), &pr)
	if got := pr.domain(); !reflect.DeepEqual(got, per) {
		t.Errorf("person through its record:\n got %+v\nwant %+v", got, per)
	}
	var ar accountRec
	throughJSON(t, fromAccount(acc, true), &ar)
	if got := ar.domain(); !reflect.DeepEqual(got, acc) {
		t.Errorf("account through its record (with secrets):\n got %+v\nwant %+v", got, acc)
	}
	// Without secrets, the hash alone is left out.
	ar = accountRec{}
	throughJSON(t, fromAccount(acc, false), &ar)
	want := acc
	want.PasswordHash = ""
	if got := ar.domain(); !reflect.DeepEqual(got, want) {
		t.Errorf("account through its record (without secrets):\n got %+v\nwant %+v", got, want)
	}
}

func throughJSON(t *testing.T, rec, into any) {
	t.Helper()
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}
