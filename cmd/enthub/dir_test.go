package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
)

// `enthub dir show --json` is a contract with operators: the fields read by
// acceptance checks, for a real student of the 2013 export and the parent
// the export names first.
func TestDirShowJSONContract(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "e.db")
	sample := filepath.Join("..", "..", "..", "shared", "samples", "aaf", "entcore-aaf-test-2013")
	if code, out, errs := enthub(t, nil, "aaf", "import", sample, "--allow-missing-chunks", "--db", db); code != 0 {
		t.Fatalf("import = %d %s %s", code, out, errs)
	}
	var student struct {
		AAFID      string   `json:"aaf_id"`
		Login      string   `json:"login"`
		Status     string   `json:"status"`
		Profiles   []string `json:"profiles"`
		Structures []string `json:"structures"`
		Classes    []string `json:"classes"`
		Groups     []string `json:"groups"`
		Parents    []string `json:"parents"`
		Children   []string `json:"children"`
		Functions  []string `json:"functions"`
	}
	code, out, errs := enthub(t, nil, "dir", "show", "2605692", "--json", "--db", db)
	if code != 0 || json.Unmarshal([]byte(out), &student) != nil {
		t.Fatalf("dir show = %d %s %s", code, out, errs)
	}
	if student.AAFID != "2605692" || student.Login != "ku.long" || student.Status != "active" ||
		!slices.Equal(student.Profiles, []string{"eleve"}) || !slices.Equal(student.Structures, []string{"52006"}) ||
		!slices.Equal(student.Classes, []string{"52006$RUS1TERM"}) || !slices.Equal(student.Groups, []string{"52006$206"}) ||
		!slices.Equal(student.Parents, []string{"2867253", "2867254"}) || len(student.Children) != 0 {
		t.Errorf("student = %+v", student)
	}
	// The same person by login, and the parent side of the link.
	if code, out, _ := enthub(t, nil, "dir", "show", "ku.long", "--json", "--db", db); code != 0 || !json.Valid([]byte(out)) {
		t.Errorf("dir show by login = %d", code)
	}
	var parent struct {
		Profiles   []string `json:"profiles"`
		Structures []string `json:"structures"`
		Children   []string `json:"children"`
	}
	code, out, _ = enthub(t, nil, "dir", "show", "2867253", "--json", "--db", db)
	if code != 0 || json.Unmarshal([]byte(out), &parent) != nil || !slices.Contains(parent.Children, "2605692") ||
		!slices.Equal(parent.Profiles, []string{"parent"}) || !slices.Contains(parent.Structures, "52006") {
		t.Errorf("parent = %d %+v", code, parent)
	}
}
