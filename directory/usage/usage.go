// Package usage is the département's usage statistics: logins per day and
// per hour of the day, distinct active users, by profile, school, upstream
// and service, and availability, read from rollups the store keeps beside
// the audit trail.
//
// # Design: rollups, maintained incrementally
//
// A year of a 300,000-account département is about 20 million login
// events; no query over them answers in a second on SQLite. So the store
// folds the audit events into two small tables as they arrive (Batch is
// the folding, in memory; the store applies a Batch in one transaction):
//
//   - counts per (school, dimension, local day, key): the dimensions are
//     logins (key ""), hour ("00"…"23"), profile, upstream, service
//     (service accesses: CAS tickets, SAML assertions, OIDC codes), failed
//     (refused logins) and, for all schools only, school and ready (minutes
//     some instance was ready). Each event adds to the row of its school
//     and to the row of all schools ("*"), so every view reads a few
//     hundred to a hundred thousand rows whatever the number of events;
//   - distinct users per (school, profile, local day) as an exact set of
//     account ordinals (Set), with "*" rows for all schools and all
//     profiles. Distinct users over a period are the union of the daily
//     sets: exact, not estimated. A year of the département's daily sets
//     is about 365 bitmaps of 37.5 KB.
//
// Every row is kept per local day and per month ("M2025-09"): a period
// reads its whole months from the monthly rows and only the days at its
// edges from the daily ones (Filter.Ranges), so a year is a dozen rows
// per key, and its distinct users the union of 12 monthly sets.
//
// The store folds events older than a short lag (so that the audit
// writer's batches are in) from a time watermark, under an advisory lock
// on PostgreSQL: one instance folds each event once. An event stamped
// before the watermark when it is written (a restore of old events) is
// not counted; `enthub stats rebuild` starts again from the raw events.
// A fold more than two days behind (the first after an upgrade, or after
// a backfill) folds a day per transaction rather than an hour.
//
// A person with several personas (a parent of children in two schools, a
// teacher in two schools) logs in before choosing one: the login event
// has no school or profile, and the persona event of the first choice
// (details settles=login) moves that login under the chosen ones
// (Batch.Settle). Whoever leaves the persona page stays counted, under no
// school: the login is not lost, nor counted twice.
//
// Days and hours are local to the configured time zone (Europe/Paris by
// default): the morning peak is at 8 h, not at 7 h UTC.
//
// # Measured
//
// BenchmarkUsageReport (directory/sqlstore, ENTHUB_STATS_BENCH=1) builds
// the whole report (a dozen queries: every breakdown, distinct users,
// availability) over a generated year (Generator: 300,000 accounts, 150
// schools, 365 days, 19,999,746 logins and about 30 million service
// visits) written into the rollups as folding the same activity as audit
// events would (TestGeneratedRollupsMatchFolding). On the project's shared
// 2-core machine (load average 7 to 16, so the wall time is mostly
// waiting for a core; CPU is this process's, PostgreSQL's server apart),
// 5 runs of each view:
//
//	view                              SQLite wall / CPU   PostgreSQL wall / CPU
//	last 30 days (August)             215 ms / 99 ms      202 ms / 74 ms
//	last 30 days, one school            8 ms /  9 ms       33 ms /  7 ms
//	30 school days (5 March–3 April)  219 ms / 157 ms     457 ms / 171 ms
//	30 school days, one school          9 ms /  9 ms       12 ms /  5 ms
//	March                              48 ms / 43 ms      184 ms / 48 ms
//	the year                          235 ms / 155 ms     257 ms / 112 ms
//	the year, one school              103 ms / 23 ms       73 ms /  9 ms
//	the year less 10 days each end    403–922 ms / 205–376 ms   425 ms / 171 ms
//
// The slowest query of every view is the distinct users by school, the
// union of a set per school and day (or month): 7,650 sets for the year
// not aligned on months. The rollups hold 2,390,549 count rows and
// 445,347 user sets (102 MB of sets); with a week of raw events the SQLite
// file is 720 MB, the PostgreSQL database 946 MB (counts 459 MB, sets
// 189 MB, 1.25 million events 253 MB).
//
// Generating the year into the rollups took 6 min 42 s of CPU (15 min
// wall) on SQLite and 19 min wall on PostgreSQL, in runs of a few months.
// A week of raw audit events at the year's intensity (500,874 logins,
// 1,252,151 events) was written in 44 s on SQLite (28,000 events/s) and
// 35 s on PostgreSQL (COPY, 36,000 events/s), and folded in 66 s on
// SQLite (19,000 events/s) and 99 s on PostgreSQL (12,700 events/s): a
// year of events folds once, after an upgrade or a backfill, in about an
// hour on that machine; a morning peak writes fewer than 500 a second.
package usage

import (
	"context"
	"fmt"
	"time"

	"github.com/enthub/enthub/directory"
)

// All is the structure and profile of the rows that count every school
// or every profile.
const All = "*"

// The dimensions of the counts.
const (
	DimLogins   = "logins"
	DimHour     = "hour"
	DimProfile  = "profile"
	DimSchool   = "school"
	DimUpstream = "upstream"
	DimService  = "service"
	DimFailed   = "failed"
	DimReady    = "ready"
)

// DayLayout is how days are keyed.
const DayLayout = "2006-01-02"

// monthLayout keys the monthly rows. Its "M" sorts after every digit, so
// a month row never falls inside a range of days.
const monthLayout = "M2006-01"

// MonthKey is the key of the monthly rows of t's month.
func MonthKey(t time.Time) string { return t.Format(monthLayout) }

// Range is one range of row keys a query reads: days, or whole months.
type Range struct{ From, To string }

// Ranges splits the filter's days into what the rollups hold: the whole
// months inside it as monthly rows, the days before and after as daily
// rows. A year is then 12 rows per key rather than 365.
func (f Filter) Ranges() []Range {
	from, err1 := time.Parse(DayLayout, f.From)
	to, err2 := time.Parse(DayLayout, f.To)
	if err1 != nil || err2 != nil || to.Before(from) {
		return []Range{{f.From, f.To}}
	}
	firstMonth := from
	if from.Day() != 1 {
		firstMonth = time.Date(from.Year(), from.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	}
	endMonth := time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC) // exclusive, unless to is a month's last day
	if to.AddDate(0, 0, 1).Day() == 1 {
		endMonth = to.AddDate(0, 0, 1)
	}
	if !firstMonth.Before(endMonth) {
		return []Range{{f.From, f.To}}
	}
	var out []Range
	if from.Before(firstMonth) {
		out = append(out, Range{f.From, firstMonth.AddDate(0, 0, -1).Format(DayLayout)})
	}
	out = append(out, Range{MonthKey(firstMonth), MonthKey(endMonth.AddDate(0, -1, 0))})
	if endMonth.Before(to) || endMonth.Equal(to) {
		out = append(out, Range{endMonth.Format(DayLayout), f.To})
	}
	return out
}

// Filter selects the days (inclusive, local) and the school ("" = all).
type Filter struct {
	From, To  string // YYYY-MM-DD
	Structure string // structure id, "" for all
}

// Validate checks the days.
func (f Filter) Validate() error {
	from, err := time.Parse(DayLayout, f.From)
	if err != nil {
		return fmt.Errorf("from %q: want a date such as 2025-09-01", f.From)
	}
	to, err := time.Parse(DayLayout, f.To)
	if err != nil {
		return fmt.Errorf("to %q: want a date such as 2026-06-30", f.To)
	}
	if to.Before(from) {
		return fmt.Errorf("to %s is before from %s", f.To, f.From)
	}
	return nil
}

// StructureKey is the structure column the filter reads.
func (f Filter) StructureKey() string {
	if f.Structure == "" {
		return All
	}
	return f.Structure
}

// Store reads the rollups.
type Store interface {
	// Counts sums a dimension's counts over the days by key; DimLogins
	// by day gives the key as the day.
	Counts(ctx context.Context, f Filter, dim string, byDay bool) (map[string]int64, error)
	// Users counts distinct users over the period: by "" (one key ""),
	// by day (distinct each day), by profile or by school (exact).
	Users(ctx context.Context, f Filter, by string) (map[string]int64, error)
}

// serviceTypes are the events that count as reaching a service.
var serviceTypes = map[string]bool{
	"cas.ticket.issued":     true,
	"saml.assertion.issued": true,
	"oidc.code.issued":      true,
}

// CountKey names one row of counts.
type CountKey struct {
	Structure, Dim, Day, Key string
}

// SetKey names one daily set of users.
type SetKey struct {
	Structure, Profile, Day string
}

// Batch is events folded in memory, ready for the store to add to its
// rollups in one transaction.
//
// Inside, every string (school, dimension, day, key) is numbered once
// per event and the counts and sets are keyed by those numbers: hashing
// four strings per count was most of the cost of folding a year.
type Batch struct {
	loc *time.Location

	ids    map[string]uint32
	names  []string
	counts map[countKey]int64
	users  map[setKey]*Set

	// The sets' members index accounts: an account is looked up once per
	// event, not once per set it joins.
	accounts []string
	index    map[string]uint32
	last     string // the last account, and its index
	lastAt   uint32

	two  [2]uint32 // scopes' answer, without an allocation per event
	keys []uint32  // periods' answer, likewise

	daily, monthly bool // which rows the batch folds into

	// The keys of the last event's day, which the next event most likely
	// shares: formatting them is most of the rest.
	lastYear, lastYearDay int
	lastDay, lastMonth    uint32
}

type countKey struct{ structure, dim, day, key uint32 }

type setKey struct{ structure, profile, day uint32 }

// The numbers newBatch gives the strings every batch uses.
const (
	idEmpty uint32 = iota
	idAll
	idLogins
	idHour
	idProfile
	idSchool
	idUpstream
	idService
	idFailed
	idHour00 // then the other hours
)

// NewBatch starts an empty batch whose days are local to loc; it folds
// into the daily and the monthly rows.
func NewBatch(loc *time.Location) *Batch { return newBatch(loc, true, true) }

func newBatch(loc *time.Location, daily, monthly bool) *Batch {
	if loc == nil {
		loc = time.UTC
	}
	b := &Batch{loc: loc, ids: map[string]uint32{}, counts: map[countKey]int64{}, users: map[setKey]*Set{}, index: map[string]uint32{},
		daily: daily, monthly: monthly, lastYear: -1}
	for _, s := range append([]string{"", All, DimLogins, DimHour, DimProfile, DimSchool, DimUpstream, DimService, DimFailed}, hours[:]...) {
		b.id(s)
	}
	b.two[0] = idAll
	return b
}

// id numbers s.
func (b *Batch) id(s string) uint32 {
	i, ok := b.ids[s]
	if !ok {
		i = uint32(len(b.names))
		b.ids[s] = i
		b.names = append(b.names, s)
	}
	return i
}

// Counts are the batch's counts by row.
func (b *Batch) Counts() map[CountKey]int64 {
	out := make(map[CountKey]int64, len(b.counts))
	for k, n := range b.counts {
		out[CountKey{b.names[k.structure], b.names[k.dim], b.names[k.day], b.names[k.key]}] = n
	}
	return out
}

// Users are the batch's sets of users by row; their members index
// Accounts.
func (b *Batch) Users() map[SetKey]*Set {
	out := make(map[SetKey]*Set, len(b.users))
	for k, set := range b.users {
		out[SetKey{b.names[k.structure], b.names[k.profile], b.names[k.day]}] = set
	}
	return out
}

// Accounts are the account ids the members of Users index.
func (b *Batch) Accounts() []string { return b.accounts }

// periods are the keys of the rows t counts in.
func (b *Batch) periods(t time.Time) []uint32 {
	lt := t.In(b.loc)
	if y, yd := lt.Year(), lt.YearDay(); y != b.lastYear || yd != b.lastYearDay {
		b.lastYear, b.lastYearDay, b.lastDay, b.lastMonth = y, yd, b.id(lt.Format(DayLayout)), b.id(MonthKey(lt))
	}
	b.keys = b.keys[:0]
	if b.daily {
		b.keys = append(b.keys, b.lastDay)
	}
	if b.monthly {
		b.keys = append(b.keys, b.lastMonth)
	}
	return b.keys
}

// Len is the number of rows the batch touches.
func (b *Batch) Len() int { return len(b.counts) + len(b.users) }

// Add folds one audit event; events that are neither logins, nor persona
// choices that settle a login, nor service accesses are ignored.
func (b *Batch) Add(e directory.Event) {
	switch {
	case e.Type == "login" && e.Outcome != "ok":
		b.count(e.Time, e.StructureID, idFailed, idEmpty)
	case e.Type == "login":
		up := e.Details["upstream"]
		if up == "" {
			up = e.Service // an LDAP bind names its front there
		}
		b.Login(e.Time, e.AccountID, e.StructureID, string(e.Profile), up)
		if e.Service != "" {
			b.Access(e.Time, e.StructureID, e.Service)
		}
	case e.Type == "persona.chosen" && e.Outcome == "ok" && e.Details["settles"] == "login":
		at, err := time.Parse(time.RFC3339Nano, e.Details["login_at"])
		if err != nil {
			at = e.Time
		}
		b.Settle(at, e.AccountID, e.StructureID, string(e.Profile), e.Details["upstream"])
	case serviceTypes[e.Type] && e.Outcome == "ok" && e.Details["kind"] != "PT":
		b.Access(e.Time, e.StructureID, e.Service) // a proxy ticket is a back-end's, not a user's visit
	}
}

// Login folds one successful login.
func (b *Batch) Login(t time.Time, account, structure, profile, upstream string) {
	hour := idHour00 + uint32(t.In(b.loc).Hour())
	st, pr, up := b.id(structure), b.id(profile), b.id(upstream)
	for _, day := range b.periods(t) {
		for _, s := range b.scopes(st) {
			b.countLogin(s, day, hour, pr, up)
		}
		b.counts[countKey{idAll, idSchool, day, st}]++
		if account == "" {
			continue
		}
		for _, s := range b.scopes(st) {
			b.user(setKey{s, idAll, day}, account)
			b.user(setKey{s, pr, day}, account)
		}
	}
}

// countLogin counts one login in scope s (a school, or everything): in
// the day's total, its hour, its profile and its upstream.
func (b *Batch) countLogin(s, day, hour, profile, upstream uint32) {
	b.counts[countKey{s, idLogins, day, idEmpty}]++
	b.counts[countKey{s, idHour, day, hour}]++
	b.counts[countKey{s, idProfile, day, profile}]++
	b.counts[countKey{s, idUpstream, day, upstream}]++
}

// Settle moves a login counted without a school or profile (a person
// with several personas logs in, then chooses one: the identity provider
// audits the login before the choice) under the school and profile
// chosen, at the login's time t. Whoever leaves without choosing stays
// counted, under no school and no profile. The user sets cannot forget a
// member, so the person also stays among the distinct users of "no
// profile" on that day; Build shows no row without logins.
func (b *Batch) Settle(t time.Time, account, structure, profile, upstream string) {
	hour := idHour00 + uint32(t.In(b.loc).Hour())
	st, pr, up := b.id(structure), b.id(profile), b.id(upstream)
	own := st != idEmpty && st != idAll
	for _, day := range b.periods(t) {
		b.counts[countKey{idAll, idProfile, day, idEmpty}]--
		b.counts[countKey{idAll, idProfile, day, pr}]++
		b.counts[countKey{idAll, idSchool, day, idEmpty}]--
		b.counts[countKey{idAll, idSchool, day, st}]++
		if own {
			b.countLogin(st, day, hour, pr, up)
		}
		if account == "" {
			continue
		}
		b.user(setKey{idAll, pr, day}, account)
		if own {
			b.user(setKey{st, idAll, day}, account)
			b.user(setKey{st, pr, day}, account)
		}
	}
}

// hours are the keys of the hours of the day.
var hours = func() (h [24]string) {
	for i := range h {
		h[i] = fmt.Sprintf("%02d", i)
	}
	return h
}()

// Access folds one visit to a service.
func (b *Batch) Access(t time.Time, structure, service string) {
	b.count(t, structure, idService, b.id(service))
}

func (b *Batch) count(t time.Time, structure string, dim, key uint32) {
	st := b.id(structure)
	for _, day := range b.periods(t) {
		for _, s := range b.scopes(st) {
			b.counts[countKey{s, dim, day, key}]++
		}
	}
}

func (b *Batch) user(k setKey, account string) {
	if account != b.last || len(b.accounts) == 0 {
		i, ok := b.index[account]
		if !ok {
			i = uint32(len(b.accounts))
			b.index[account] = i
			b.accounts = append(b.accounts, account)
		}
		b.last, b.lastAt = account, i
	}
	set := b.users[k]
	if set == nil {
		set = &Set{}
		b.users[k] = set
	}
	set.Add(b.lastAt)
}

// scopes are the structures an event counts under: all, and its own.
func (b *Batch) scopes(structure uint32) []uint32 {
	if structure == idEmpty || structure == idAll {
		return b.two[:1]
	}
	b.two[1] = structure
	return b.two[:]
}
