package usage

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/enthub/enthub/directory"
)

// Sink receives generated activity: a Batch folds it, EventSink turns it
// into raw audit events.
type Sink interface {
	Login(t time.Time, account, structure, profile, upstream string)
	Access(t time.Time, structure, service string)
}

// Generator makes a plausible year of a département's logins for the
// benchmark and the demo: school days busy (Wednesday half), weekends and
// holidays quiet, a morning peak at 8 h and an evening one for parents,
// accounts spread over the schools by profile, one or two service visits
// per login. It is deterministic for a seed.
type Generator struct {
	Accounts int       // default 300,000
	Schools  int       // default 150 (a département's collèges)
	Logins   int       // over the whole period; default 20,000,000
	Days     int       // default 365
	Start    time.Time // the first day (its date in Location); default 2025-09-01
	Location *time.Location
	Seed     uint64
}

// profileShares is the mix of a département's accounts.
var profileShares = []struct {
	profile  string
	share    float64 // of accounts
	activity float64 // logins per account relative to a student's
	upstream string
}{
	{"eleve", 0.30, 1, "educonnect"},
	{"parent", 0.50, 0.25, "educonnect"},
	{"enseignant", 0.12, 1.6, "agents"},
	{"vie_scolaire", 0.02, 1.6, "agents"},
	{"direction", 0.01, 2, "agents"},
	{"personnel", 0.04, 0.8, "entra"},
	{"collectivite", 0.01, 0.8, "entra"},
}

var generatedServices = []string{"pronote", "gar", "moodle", "messagerie", "cdt", "grr", "pmb", "spip", "chamilo", "agenda"}

func (g *Generator) defaults() {
	if g.Accounts <= 0 {
		g.Accounts = 300_000
	}
	if g.Schools <= 0 {
		g.Schools = 150
	}
	if g.Logins <= 0 {
		g.Logins = 20_000_000
	}
	if g.Days <= 0 {
		g.Days = 365
	}
	if g.Location == nil {
		g.Location = time.UTC
	}
	if g.Start.IsZero() {
		g.Start = time.Date(2025, 9, 1, 0, 0, 0, 0, g.Location)
	}
	y, m, d := g.Start.In(g.Location).Date()
	g.Start = time.Date(y, m, d, 0, 0, 0, 0, g.Location)
}

// dayWeight is how busy a day is: holidays are approximated by the
// French school calendar's long breaks (late October, Christmas, February,
// April, summer).
func dayWeight(t time.Time) float64 {
	_, w := t.ISOWeek()
	if t.Month() == time.July || t.Month() == time.August || w == 44 || w == 52 || w == 1 || w == 8 || w == 16 {
		return 0.08
	}
	switch t.Weekday() {
	case time.Saturday:
		return 0.15
	case time.Sunday:
		return 0.1
	case time.Wednesday:
		return 0.6
	}
	return 1
}

// hourWeights is the shape of a school day, from 0 h to 23 h.
var hourWeights = [24]float64{0.1, 0.05, 0.02, 0.02, 0.02, 0.1, 0.5, 4, 9, 5, 3, 3, 3, 4, 3, 2.5, 3, 4, 5, 5, 4, 2.5, 1, 0.4}

// Account returns the id, school and profile of account i.
func (g *Generator) Account(i int) (id, school, profile string) {
	g.defaults()
	f := float64(i) / float64(g.Accounts)
	p := profileShares[len(profileShares)-1].profile
	for _, ps := range profileShares {
		if f < ps.share {
			p = ps.profile
			break
		}
		f -= ps.share
	}
	return fmt.Sprintf("gen-%07d", i), fmt.Sprintf("gen-school-%03d", i*7919%g.Schools), p
}

// DayCount is the number of days Generate makes.
func (g *Generator) DayCount() int { g.defaults(); return g.Days }

// Day generates day i (0-based) into sink and returns the logins made.
func (g *Generator) Day(i int, sink Sink) int {
	g.defaults()
	day := g.Start.AddDate(0, 0, i)
	var total float64
	for d := range g.Days {
		total += dayWeight(g.Start.AddDate(0, 0, d))
	}
	n := int(float64(g.Logins) * dayWeight(day) / total)
	rng := rand.New(rand.NewPCG(g.Seed, uint64(i)))
	var hourSum float64
	for _, w := range hourWeights {
		hourSum += w
	}
	// Accounts are drawn weighted by their profile's activity: pick a
	// profile by its share of logins, then an account of it.
	var actSum float64
	for _, ps := range profileShares {
		actSum += ps.share * ps.activity
	}
	ids := map[int][3]string{}
	for range n {
		r := rng.Float64() * actSum
		lo, k := 0.0, 0
		for k = range profileShares {
			w := profileShares[k].share * profileShares[k].activity
			if r < w {
				break
			}
			r -= w
			lo += profileShares[k].share
		}
		ps := profileShares[k]
		acc := int((lo + rng.Float64()*ps.share) * float64(g.Accounts))
		acc = min(acc, g.Accounts-1)
		a, ok := ids[acc]
		if !ok {
			id, school, p := g.Account(acc)
			a = [3]string{id, school, p}
			ids[acc] = a
		}
		h, x := 0, rng.Float64()*hourSum
		for h = range hourWeights {
			if x < hourWeights[h] {
				break
			}
			x -= hourWeights[h]
		}
		t := day.Add(time.Duration(h)*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
		up := ps.upstream
		if up == "educonnect" && rng.IntN(20) == 0 {
			up = "local" // the odd guest-style local password
		}
		sink.Login(t, a[0], a[1], a[2], up)
		for v := range 1 + rng.IntN(2) {
			sink.Access(t.Add(time.Duration(v+1)*time.Second), a[1], generatedServices[rng.IntN(len(generatedServices))])
		}
	}
	return n
}

// Fill generates every day and hands apply one batch of daily rows per
// day and one of monthly rows per month (a month's sets are then written
// once, and held in memory as one set each, not thirty); it returns the
// logins made. The last rawDays days go to raw instead, as audit events,
// when raw is not nil.
func (g *Generator) Fill(apply func(*Batch) error, rawDays int, raw func([]directory.Event) error) (int, error) {
	g.defaults()
	total := 0
	var month *Batch
	flush := func() error {
		if month == nil {
			return nil
		}
		err := apply(month)
		month = nil
		return err
	}
	for d := range g.Days {
		day := g.Start.AddDate(0, 0, d)
		if raw != nil && d >= g.Days-rawDays {
			var sink EventSink
			total += g.Day(d, &sink)
			if err := raw(sink.Events); err != nil {
				return total, err
			}
			continue
		}
		if day.Day() == 1 {
			if err := flush(); err != nil {
				return total, err
			}
		}
		if month == nil {
			month = newBatch(g.Location, false, true)
		}
		daily := newBatch(g.Location, true, false)
		total += g.Day(d, tee{daily, month})
		if err := apply(daily); err != nil {
			return total, err
		}
	}
	return total, flush()
}

// tee hands activity to two sinks.
type tee [2]Sink

func (t tee) Login(at time.Time, account, structure, profile, upstream string) {
	t[0].Login(at, account, structure, profile, upstream)
	t[1].Login(at, account, structure, profile, upstream)
}

func (t tee) Access(at time.Time, structure, service string) {
	t[0].Access(at, structure, service)
	t[1].Access(at, structure, service)
}

// EventSink collects generated activity as raw audit events, as the
// identity provider writes them.
type EventSink struct {
	Events []directory.Event
}

// Login records a login event.
func (s *EventSink) Login(t time.Time, account, structure, profile, upstream string) {
	s.Events = append(s.Events, directory.Event{Time: t.UTC(), Type: "login", AccountID: account, StructureID: structure,
		Profile: directory.Profile(profile), Outcome: "ok", Details: map[string]string{"upstream": upstream, "protocol": "portal"}})
}

// Access records a CAS ticket.
func (s *EventSink) Access(t time.Time, structure, service string) {
	s.Events = append(s.Events, directory.Event{Time: t.UTC(), Type: "cas.ticket.issued", StructureID: structure,
		Service: service, Outcome: "ok"})
}
