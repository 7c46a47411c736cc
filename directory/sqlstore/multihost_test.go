package sqlstore

import (
	"strings"
	"testing"
)

func TestMultiHostURL(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "postgres://u:pw@db1:5433,db2:5434/enthub?sslmode=disable&target_session_attrs=read-write",
			want: "postgres://u:pw@/enthub?host=db1%2Cdb2&port=5433%2C5434&sslmode=disable&target_session_attrs=read-write"},
		{in: "postgres://u@db1,db2:6000/enthub", want: "postgres://u@/enthub?host=db1%2Cdb2&port=5432%2C6000"},
		{in: "postgres://u@db1:5433/enthub?sslmode=disable", want: "postgres://u@db1:5433/enthub?sslmode=disable"},
		{in: "postgres://u@db1,db2/enthub?host=db3", err: "hosts given both"},
		{in: "postgres://u@db1,:5432/enthub", err: "empty host"},
	} {
		got, err := multiHost(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("multiHost(%q) = %q, %v; want an error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("multiHost(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
