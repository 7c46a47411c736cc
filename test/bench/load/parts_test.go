package load

import (
	"math"
	"net/url"
	"os"
	"testing"
	"time"
)

// The forms a virtual user fills are read as a browser submits them: the
// hidden fields, the default radio choice, no unchecked checkbox, the
// action resolved against the page (LemonLDAP::NG posts to "#").
func TestParseFormSubmitsWhatABrowserWould(t *testing.T) {
	base, _ := url.Parse("http://localhost:8080/cas/login?service=x")
	for _, tc := range []struct {
		name, page, action string
		want               url.Values
		text               []string
	}{
		{"enthub login", `<form method="post" action="http://127.0.0.1:1/login" novalidate>
<input type="hidden" name="csrf" value="a&amp;b"><input type="hidden" name="req" value="R">
<input id="login" name="login" type="text" value="" autocomplete="username"><input id="password" name="password" type="password">
<button type="submit">Se connecter</button></form>`,
			"http://127.0.0.1:1/login", url.Values{"csrf": {"a&b"}, "req": {"R"}, "login": {""}, "password": {""}}, []string{"login"}},
		{"LemonLDAP::NG login", `<form id="lform" action="#" method="post"><input type="hidden" name="token" value="T" />
<input id="userfield" name="user" type="text" value="" /><input name="password" type="password" />
<input type="checkbox" id="checkLogins" name="checkLogins" /></form>`,
			"http://localhost:8080/cas/login?service=x", url.Values{"token": {"T"}, "user": {""}, "password": {""}}, []string{"user"}},
		{"persona choice", `<form method="post" action="/login/persona"><input type="radio" name="persona" value="p1">
<input type="radio" name="persona" value="p2" checked><input type="checkbox" name="remember" value="yes" checked></form>`,
			"http://localhost:8080/login/persona", url.Values{"persona": {"p2"}, "remember": {"yes"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := parseForm([]byte("<html><body>"+tc.page+"</body></html>"), base)
			if f == nil {
				t.Fatal("no form")
			}
			if f.action != tc.action {
				t.Errorf("action %q, want %q", f.action, tc.action)
			}
			if f.values.Encode() != tc.want.Encode() {
				t.Errorf("values %v, want %v", f.values, tc.want)
			}
			if len(f.text) != len(tc.text) || (len(tc.text) > 0 && f.text[0] != tc.text[0]) {
				t.Errorf("text fields %v, want %v", f.text, tc.text)
			}
		})
	}
	if parseForm([]byte("<p>no form</p>"), base) != nil {
		t.Error("a form found in a page without one")
	}
}

// The RSS slope leaves the warm-up out and reads a leak as one.
func TestRSSSlope(t *testing.T) {
	series := func(f func(min float64) float64) []ProcSample {
		var s []ProcSample
		for i := 0; i <= 100; i++ {
			at := time.Duration(i) * 6 * time.Second // 10 minutes
			s = append(s, ProcSample{At: at, RSSKB: int64(f(at.Minutes()) * 1024)})
		}
		return s
	}
	for _, tc := range []struct {
		name string
		rss  func(min float64) float64
		want float64
	}{
		{"flat after a warm-up", func(m float64) float64 { return 100 + 200*math.Min(m, 1.5)/1.5 }, 0},
		{"a leak of 5 MB a minute", func(m float64) float64 { return 300 + 5*m }, 5},
	} {
		got, n := rssSlope(series(tc.rss))
		if math.Abs(got-tc.want) > 0.01 || n != 81 {
			t.Errorf("%s: slope %.3f over %d samples, want %.1f over 81", tc.name, got, n, tc.want)
		}
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p := percentiles(d); p != (Percentiles{P50: 50, P95: 95, P99: 99, Max: 100}) {
		t.Errorf("percentiles of 1..100 ms = %+v", p)
	}
	if p := percentiles(nil); p != (Percentiles{}) {
		t.Errorf("percentiles of nothing = %+v", p)
	}
}

// The sampler reads this very process from /proc.
func TestReadProcOfThisProcess(t *testing.T) {
	cpu, rss, err := readTree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || cpu < 0 {
		t.Errorf("cpu %v, rss %d kB", cpu, rss)
	}
	if _, _, err := readTree(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

// Through the login chooser each journey takes its own way: the password
// journey the password form's method, the brokered one the upstream's,
// either of them the student profile first when the page is step 1.
func TestChooserLinksPickTheJourneysWay(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:1/login?req=R")
	step1 := []byte(`<a href="/login?profile=parent&amp;req=R">Parent</a><a href="/login?profile=eleve&amp;req=R">Élève</a>`)
	step2 := []byte(`<a href="/login/educonnect?req=R">EduConnect</a><a href="/login?method=invites&amp;req=R">Mot de passe</a>`)
	for _, tc := range []struct {
		name string
		pick func([]byte, *url.URL) string
		page []byte
		want string
	}{
		{"password, step 1", PasswordJourney{}.chooser, step1, "http://127.0.0.1:1/login?profile=eleve&req=R"},
		{"password, step 2", PasswordJourney{}.chooser, step2, "http://127.0.0.1:1/login?method=invites&req=R"},
		{"brokered, step 1", BrokeredJourney{}.chooser, step1, "http://127.0.0.1:1/login?profile=eleve&req=R"},
		{"brokered, step 2", BrokeredJourney{}.chooser, step2, "http://127.0.0.1:1/login/educonnect?req=R"},
		{"no chooser", BrokeredJourney{}.chooser, []byte(`<form action="/login"><input name="password"></form>`), ""},
	} {
		if got := tc.pick(tc.page, base); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
