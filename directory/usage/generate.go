package usage

import (
	"fmt"
	"math/rand/v2"
	"slices"
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
	sc, p := g.accountOf(i)
	return fmt.Sprintf("gen-%07d", i), fmt.Sprintf("gen-school-%03d", sc), profileShares[p].profile
}

// accountOf is the school and the profile (index in profileShares) of
// account i.
func (g *Generator) accountOf(i int) (school, profile int) {
	f := float64(i) / float64(g.Accounts)
	profile = len(profileShares) - 1
	for k, ps := range profileShares {
		if f < ps.share {
			profile = k
			break
		}
		f -= ps.share
	}
	return i * 7919 % g.Schools, profile
}

// DayCount is the number of days Generate makes.
func (g *Generator) DayCount() int { g.defaults(); return g.Days }

// upstreams are the upstreams the generator uses.
var upstreams = []string{"educonnect", "agents", "entra", "local"}

// Day generates day i (0-based) into sink and returns the logins made.
func (g *Generator) Day(i int, sink Sink) int {
	g.defaults()
	ids := map[int][3]string{}
	return g.day(i, func(t time.Time, acc, _, _, up int) {
		a, ok := ids[acc]
		if !ok {
			id, school, p := g.Account(acc)
			a = [3]string{id, school, p}
			ids[acc] = a
		}
		sink.Login(t, a[0], a[1], a[2], upstreams[up])
	}, func(t time.Time, school, service int) {
		sink.Access(t, fmt.Sprintf("gen-school-%03d", school), generatedServices[service])
	})
}

// day generates day i as numbers: accounts, schools, profiles (index in
// profileShares), upstreams and services.
func (g *Generator) day(i int, login func(t time.Time, account, school, profile, upstream int), access func(t time.Time, school, service int)) int {
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
		school, profile := g.accountOf(acc)
		h, x := 0, rng.Float64()*hourSum
		for h = range hourWeights {
			if x < hourWeights[h] {
				break
			}
			x -= hourWeights[h]
		}
		t := day.Add(time.Duration(h)*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
		up := slices.Index(upstreams, ps.upstream)
		if up == 0 && rng.IntN(20) == 0 {
			up = 3 // the odd guest-style local password
		}
		login(t, acc, school, profile, up)
		for v := range 1 + rng.IntN(2) {
			access(t.Add(time.Duration(v+1)*time.Second), school, rng.IntN(len(generatedServices)))
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
	total, _, err := g.fill(apply, rawDays, raw, 0, nil)
	return total, err
}

// FillMonths is Fill without raw days, from day first (a month's first
// day, or 0) while more says so when a month begins: a generation
// spread over several runs. It returns the logins made and the day to
// start from next (DayCount when done).
func (g *Generator) FillMonths(apply func(*Batch) error, first int, more func() bool) (int, int, error) {
	return g.fill(apply, 0, nil, first, more)
}

func (g *Generator) fill(apply func(*Batch) error, rawDays int, raw func([]directory.Event) error, first int, more func() bool) (int, int, error) {
	g.defaults()
	total := 0
	var month *Batch
	var monthAgg *aggregate
	flush := func() error {
		if month == nil {
			return nil
		}
		err := apply(monthAgg.batch())
		month, monthAgg = nil, nil
		return err
	}
	for d := first; d < g.Days; d++ {
		day := g.Start.AddDate(0, 0, d)
		if raw != nil && d >= g.Days-rawDays {
			var sink EventSink
			total += g.Day(d, &sink)
			if err := raw(sink.Events); err != nil {
				return total, d, err
			}
			continue
		}
		if day.Day() == 1 {
			if err := flush(); err != nil {
				return total, d, err
			}
			if more != nil && !more() {
				return total, d, nil
			}
		}
		if month == nil {
			monthAgg = newAggregate(g, MonthKey(day), false)
			month = monthAgg.spill
		}
		daily := newAggregate(g, day.Format(DayLayout), true)
		total += g.day(d, func(t time.Time, account, school, profile, upstream int) {
			daily.login(t, account, school, profile, upstream)
			monthAgg.login(t, account, school, profile, upstream)
		}, func(t time.Time, school, service int) {
			daily.access(t, school, service)
			monthAgg.access(t, school, service)
		})
		if err := apply(daily.batch()); err != nil {
			return total, d, err
		}
	}
	return total, g.Days, flush()
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

// aggregate counts the generated activity of a day or a month in arrays
// indexed by the generator's numbers, and makes it a Batch at the end:
// what Batch does with strings for every event, at a tenth of the cost,
// so that a year of 20 million logins generates in a few minutes. An
// event outside the day (an access a second after a login at 23:59:59,
// or a login past midnight on the day the clocks go forward) goes to the
// spill batch, as Batch would count it.
type aggregate struct {
	g          *Generator
	key        string // the day's or month's row key
	daily      bool
	start, end time.Time // the day's or month's instants
	logins     []int64   // by scope: 0 all schools, 1+i school i
	hour       [][24]int64
	profile    [][]int64
	up         [][]int64
	service    [][]int64
	school     []int64  // under all schools, by school
	users      [][]*Set // by scope, then 0 all profiles, 1+k profile k; members are account numbers
	seen       Set      // the accounts in users
	spill      *Batch
}

func newAggregate(g *Generator, key string, daily bool) *aggregate {
	n := g.Schools + 1
	a := &aggregate{g: g, key: key, daily: daily, logins: make([]int64, n), hour: make([][24]int64, n),
		profile: make([][]int64, n), up: make([][]int64, n), service: make([][]int64, n), school: make([]int64, g.Schools),
		users: make([][]*Set, n), spill: newBatch(g.Location, daily, !daily)}
	if daily {
		a.start, _ = time.ParseInLocation(DayLayout, key, g.Location)
		a.end = a.start.AddDate(0, 0, 1)
	} else {
		a.start, _ = time.ParseInLocation("M2006-01", key, g.Location)
		a.end = a.start.AddDate(0, 1, 0)
	}
	for i := range n {
		a.profile[i] = make([]int64, len(profileShares))
		a.up[i] = make([]int64, len(upstreams))
		a.service[i] = make([]int64, len(generatedServices))
		a.users[i] = make([]*Set, 1+len(profileShares))
	}
	return a
}

// mine says whether t falls in the aggregate's day or month.
func (a *aggregate) mine(t time.Time) bool {
	return !t.Before(a.start) && t.Before(a.end)
}

func (a *aggregate) login(t time.Time, account, school, profile, upstream int) {
	if !a.mine(t) {
		id, st, p := a.g.Account(account)
		a.spill.Login(t, id, st, p, upstreams[upstream])
		return
	}
	h := t.In(a.g.Location).Hour()
	for _, s := range [2]int{0, 1 + school} {
		a.logins[s]++
		a.hour[s][h]++
		a.profile[s][profile]++
		a.up[s][upstream]++
		for _, k := range [2]int{0, 1 + profile} {
			set := a.users[s][k]
			if set == nil {
				set = &Set{}
				a.users[s][k] = set
			}
			set.Add(uint32(account))
		}
	}
	a.school[school]++
	a.seen.Add(uint32(account))
}

func (a *aggregate) access(t time.Time, school, service int) {
	if !a.mine(t) {
		a.spill.Access(t, fmt.Sprintf("gen-school-%03d", school), generatedServices[service])
		return
	}
	a.service[0][service]++
	a.service[1+school][service]++
}

// batch is the aggregate as a Batch (the spill batch, added to).
func (a *aggregate) batch() *Batch {
	b := a.spill
	b.lastYear = -1 // the spill's cached day no longer matters
	day := b.id(a.key)
	// Accounts numbered in the batch in the order of their numbers.
	local := map[uint32]uint32{}
	for acc := range a.seen.All() {
		id, _, _ := a.g.Account(int(acc))
		b.last = ""
		b.user(setKey{idEmpty, idEmpty, day}, id) // numbers the account; the empty key is dropped below
		local[acc] = b.lastAt
	}
	delete(b.users, setKey{idEmpty, idEmpty, day})
	add := func(k countKey, n int64) {
		if n != 0 {
			b.counts[k] += n
		}
	}
	for s := range a.logins {
		scope := idAll
		if s > 0 {
			scope = b.id(fmt.Sprintf("gen-school-%03d", s-1))
			add(countKey{idAll, idSchool, day, scope}, a.school[s-1])
		}
		add(countKey{scope, idLogins, day, idEmpty}, a.logins[s])
		for h, n := range a.hour[s] {
			add(countKey{scope, idHour, day, idHour00 + uint32(h)}, n)
		}
		for k, n := range a.profile[s] {
			add(countKey{scope, idProfile, day, b.id(profileShares[k].profile)}, n)
		}
		for u, n := range a.up[s] {
			add(countKey{scope, idUpstream, day, b.id(upstreams[u])}, n)
		}
		for v, n := range a.service[s] {
			add(countKey{scope, idService, day, b.id(generatedServices[v])}, n)
		}
		for k, set := range a.users[s] {
			if set == nil {
				continue
			}
			p := idAll
			if k > 0 {
				p = b.id(profileShares[k-1].profile)
			}
			to := b.users[setKey{scope, p, day}]
			if to == nil {
				to = &Set{}
				b.users[setKey{scope, p, day}] = to
			}
			for acc := range set.All() {
				to.Add(local[acc])
			}
		}
	}
	return b
}
