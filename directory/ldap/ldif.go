package ldap

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	"github.com/enthub/enthub/directory"
)

// WriteLDIF writes the tree the front serves as LDIF content records (RFC
// 2849), for the reversibility export and for loading a stock OpenLDAP with
// the SDET schema (slapadd): the same entries, DNs and user attributes a
// search for "*" returns to an identity that reads everything, disabled
// accounts included, built by the same code as the served entries. Entries
// come parents first, as slapadd needs. Operational attributes (entryUUID,
// timestamps, memberOf) are left to the server that loads the file.
//
// The read model is built in memory first, as the server does: the memory
// is the server's (see BenchmarkModelBuild), not the store's size.
func WriteLDIF(ctx context.Context, w io.Writer, r directory.Reader, cfg Config, now time.Time) (int, error) {
	cfg = cfg.withDefaults()
	m, err := buildModel(ctx, r, buildOptions{base: cfg.BaseDN, jointure: cfg.JointureSource,
		legacy: cfg.LegacyProfileCodes, now: now})
	if err != nil {
		return 0, err
	}
	v := &view{m: m, now: now.Unix(), acc: &access{read: true, self: -1, seeDisabled: true, model: m, name: "ldif"}}
	bw := bufio.NewWriterSize(w, 64<<10)
	var vals []string
	n := 0
	for ord := uint32(0); ord < m.total; ord++ {
		if ord%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
		if !v.visible(ord) {
			continue
		}
		if n > 0 {
			bw.WriteByte('\n')
		}
		ldifLine(bw, "dn", v.entryDN(ord))
		for id := attrID(0); id < aEntryUUID; id++ {
			vals = v.values(vals[:0], ord, id)
			for _, x := range vals {
				ldifLine(bw, attrTypes[id].name, x)
			}
		}
		n++
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write LDIF: %w", err)
	}
	return n, nil
}

// ldifLine writes "name: value", or "name:: base64" when the value is not
// an RFC 2849 SAFE-STRING (non-ASCII, control characters, a leading space,
// colon or "<", a trailing space). Lines are not folded: RFC 2849 allows
// any length, and unfolded lines can be grepped.
func ldifLine(w *bufio.Writer, name, value string) {
	w.WriteString(name)
	if ldifSafe(value) {
		w.WriteString(": ")
		w.WriteString(value)
	} else {
		w.WriteString(":: ")
		w.WriteString(base64.StdEncoding.EncodeToString([]byte(value)))
	}
	w.WriteByte('\n')
}

func ldifSafe(s string) bool {
	if s == "" {
		return true
	}
	if c := s[0]; c == ' ' || c == ':' || c == '<' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c == '\n' || c == '\r' || c >= 0x80 {
			return false
		}
	}
	return true
}
