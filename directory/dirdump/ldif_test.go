package dirdump_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enthub/enthub/directory/dirdump"
	"github.com/enthub/enthub/directory/ldap"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/test/peer"
)

// The LDIF export loads into a stock OpenLDAP carrying only the SDET
// schema files of shared/reference/sdet-ldap (slapadd checks every entry
// against the schema), and slapcat gives back as many entries as were
// written, the students as ENTEleve.
func TestLDIFLoadsIntoOpenLDAP(t *testing.T) {
	for _, name := range []string{"small", "generated", "sample2013"} {
		t.Run(name, func(t *testing.T) {
			var src *sqlstore.Store
			switch name {
			case "small":
				src = smallDirectory(t)
			case "generated":
				src = backends(t)["sqlite"](t)
				fill(t, src, 300)
			default:
				src = backends(t)["sqlite"](t)
				importSample(t, src)
			}
			dir := t.TempDir()
			res, err := dirdump.Export(context.Background(), src, dirdump.FormatLDIF, dir,
				dirdump.Options{Now: fixedNow, LDAP: ldap.Config{BaseDN: "dc=enthub"}})
			if err != nil {
				t.Fatal(err)
			}
			ldif := filepath.Join(dir, dirdump.LDIFFile)
			if res.Counts["entry"] < 10 {
				t.Fatalf("only %d entries", res.Counts["entry"])
			}
			s := peer.Slapd(t, peer.SlapdOptions{Suffix: "dc=enthub", Schemas: peer.SDETSchemas(t), NoBaseEntry: true,
				Indexes: []string{"objectClass eq", "uid eq"}, LogLevel: "none"})
			s.Slapadd(ldif)

			slapcat := peer.RequireBinary(t, "slapcat")
			out, err := exec.Command(slapcat, "-F", filepath.Join(s.Dir, "slapd.d"), "-b", "dc=enthub", "-o", "ldif-wrap=no").Output()
			if err != nil {
				t.Fatalf("slapcat: %v", err)
			}
			if n := countDN(out); n != res.Counts["entry"] {
				t.Errorf("slapcat lists %d entries, the export wrote %d", n, res.Counts["entry"])
			}
			// Through the protocol too, with the real client.
			ldapsearch := peer.RequireBinary(t, "ldapsearch")
			out, err = exec.Command(ldapsearch, "-x", "-LLL", "-o", "ldif-wrap=no", "-H", s.URL, "-D", s.BindDN, "-w", s.BindPW,
				"-b", "ou=people,dc=enthub", "(objectClass=ENTEleve)", "ENTPersonLogin").CombinedOutput()
			if err != nil {
				t.Fatalf("ldapsearch: %v\n%s", err, out)
			}
			exported, _ := os.ReadFile(ldif)
			if n, want := countDN(out), bytes.Count(exported, []byte("\nobjectClass: ENTEleve\n")); n == 0 || n != want {
				t.Errorf("ldapsearch finds %d students, the export has %d", n, want)
			}
		})
	}
}

func countDN(ldif []byte) int {
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(ldif))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "dn:") {
			n++
		}
	}
	return n
}
