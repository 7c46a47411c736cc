package config

import (
	"errors"
	"strings"
	"testing"
)

// The gar: section is checked only when id_ent enables it, and each
// problem names its key.
func TestGARSectionProblems(t *testing.T) {
	body := `gar:
  id_ent: ENT 45
  schools: []
  id_secret: short
  resp_aff_profiles: [parent]
  schedule: every night
  sftp:
    address: gar.example.fr
    attempts: 0
`
	_, err := Load(write(t, body), nil)
	var problems Problems
	if !errors.As(err, &problems) {
		t.Fatalf("Load = %v, want Problems", err)
	}
	got := problems.Error()
	for _, want := range []string{
		`gar.id_ent: "ENT 45": no slash or space`,
		`gar.id_secret: want base64 of 32 bytes`,
		`gar.schools: list the UAIs`,
		`gar.resp_aff_profiles[0]: "parent"`,
		`gar.schedule: "every night" is not a cron expression`,
		`gar.sftp.address`,
		`gar.sftp.user: is required`,
		`gar.sftp.key_file: is required`,
		`gar.sftp.known_hosts: is required`,
		`gar.sftp.attempts: 0: want 1 to 20`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	// Without id_ent the section is not read: the defaults pass.
	if _, err := Load(write(t, "gar:\n  schools: [0130000A]\n"), nil); err != nil {
		t.Fatalf("GAR disabled: %v", err)
	}
	// The secret is masked by config show.
	c := Default()
	c.GAR.IDSecret = "c2VjcmV0"
	if m := c.Masked(); m.GAR.IDSecret != masked {
		t.Fatalf("masked secret %q", m.GAR.IDSecret)
	}
}
