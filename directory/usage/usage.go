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
//
// Days and hours are local to the configured time zone (Europe/Paris by
// default): the morning peak is at 8 h, not at 7 h UTC.
//
// # Measured
//
// BenchmarkUsageReport (directory/sqlstore, ENTHUB_STATS_BENCH=1) builds
// the whole report (a dozen queries: every breakdown, distinct users,
// availability) over a generated year (Generator: 300,000 accounts, 150
// schools, 365 days) written into the rollups through Batch, as folding
// the same activity as audit events would (a test checks they agree).
// On the project's shared 2-core machine (load average about 20, so the
// wall times are mostly waiting for a core), with 2 million logins, not
// 20: generating 20 million costs about 11 CPU-minutes on SQLite (a
// profile of 4 full-size days), hours of wall time on that machine. What
// the tenfold changes is said below the table:
//
//	view                         SQLite wall / CPU     PostgreSQL wall
//	a year, all schools          177–327 ms / 85 ms    299 ms
//	the last 30 days             30–41 ms / 33 ms      179 ms
//	a year, one school           28–52 ms / 15 ms      45 ms
//
// A year reads 12 monthly rows per key whatever the number of logins;
// what grows with them is the size of the user sets. At 2 million logins
// 285,638 distinct users over the year (of 300,000) are already in the
// monthly sets; BenchmarkUnionYear decodes and unions the sets of a
// full-scale year (12 département bitmaps of 250,000 users, 12 × 150
// school sets, 4.4 MB) in about 21 ms of CPU. Folding raw audit events
// runs at about 3,350 events/s on SQLite and on PostgreSQL on that loaded
// machine (a morning peak writes fewer than 500 a second). Generating the
// 2 million logins into the rollups took about 10 minutes on SQLite and
// 14 on PostgreSQL there.
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
type Batch struct {
	loc    *time.Location
	Counts map[CountKey]int64
	Users  map[SetKey]map[string]struct{} // account ids

	all, two [2]string // scopes' answers, without an allocation per event
	keys     []string  // periods' answer, likewise

	daily, monthly bool // which rows the batch folds into

	// The keys of the last event's day, which the next event most likely
	// shares: formatting them is most of folding an event otherwise.
	lastYear, lastYearDay int
	lastDay, lastMonth    string
}

// NewBatch starts an empty batch whose days are local to loc; it folds
// into the daily and the monthly rows.
func NewBatch(loc *time.Location) *Batch { return newBatch(loc, true, true) }

func newBatch(loc *time.Location, daily, monthly bool) *Batch {
	if loc == nil {
		loc = time.UTC
	}
	return &Batch{loc: loc, Counts: map[CountKey]int64{}, Users: map[SetKey]map[string]struct{}{}, all: [2]string{All}, two: [2]string{All},
		daily: daily, monthly: monthly}
}

// periods are the keys of the rows t counts in.
func (b *Batch) periods(t time.Time) []string {
	lt := t.In(b.loc)
	if y, yd := lt.Year(), lt.YearDay(); y != b.lastYear || yd != b.lastYearDay || b.lastDay == "" {
		b.lastYear, b.lastYearDay, b.lastDay, b.lastMonth = y, yd, lt.Format(DayLayout), MonthKey(lt)
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
func (b *Batch) Len() int { return len(b.Counts) + len(b.Users) }

// Add folds one audit event; events that are neither logins, nor persona
// choices that settle a login, nor service accesses are ignored.
func (b *Batch) Add(e directory.Event) {
	switch {
	case e.Type == "login" && e.Outcome != "ok":
		b.count(e.Time, e.StructureID, DimFailed, "", 1)
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
	hour := hours[t.In(b.loc).Hour()]
	for _, day := range b.periods(t) {
		for _, s := range b.scopes(structure) {
			b.Counts[CountKey{s, DimLogins, day, ""}]++
			b.Counts[CountKey{s, DimHour, day, hour}]++
			b.Counts[CountKey{s, DimProfile, day, profile}]++
			b.Counts[CountKey{s, DimUpstream, day, upstream}]++
		}
		b.Counts[CountKey{All, DimSchool, day, structure}]++
		if account == "" {
			continue
		}
		for _, s := range b.scopes(structure) {
			b.user(SetKey{s, All, day}, account)
			b.user(SetKey{s, profile, day}, account)
		}
	}
}

// Settle moves a login counted without a school or profile (a person
// with several personas logs in, then chooses one: the identity provider
// audits the login before the choice) under the school and profile
// chosen, at the login's time t. Whoever leaves without choosing stays
// counted, under no school and no profile. The user sets cannot forget a
// member, so the person also stays among the distinct users of "no
// profile" on that day; Build shows no row without logins.
func (b *Batch) Settle(t time.Time, account, structure, profile, upstream string) {
	hour := hours[t.In(b.loc).Hour()]
	for _, day := range b.periods(t) {
		b.Counts[CountKey{All, DimProfile, day, ""}]--
		b.Counts[CountKey{All, DimProfile, day, profile}]++
		b.Counts[CountKey{All, DimSchool, day, ""}]--
		b.Counts[CountKey{All, DimSchool, day, structure}]++
		if structure != "" && structure != All {
			b.Counts[CountKey{structure, DimLogins, day, ""}]++
			b.Counts[CountKey{structure, DimHour, day, hour}]++
			b.Counts[CountKey{structure, DimProfile, day, profile}]++
			b.Counts[CountKey{structure, DimUpstream, day, upstream}]++
		}
		if account == "" {
			continue
		}
		b.user(SetKey{All, profile, day}, account)
		if structure != "" && structure != All {
			b.user(SetKey{structure, All, day}, account)
			b.user(SetKey{structure, profile, day}, account)
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
	b.count(t, structure, DimService, service, 1)
}

func (b *Batch) count(t time.Time, structure, dim, key string, n int64) {
	for _, day := range b.periods(t) {
		for _, s := range b.scopes(structure) {
			b.Counts[CountKey{s, dim, day, key}] += n
		}
	}
}

func (b *Batch) user(k SetKey, account string) {
	m := b.Users[k]
	if m == nil {
		m = map[string]struct{}{}
		b.Users[k] = m
	}
	m[account] = struct{}{}
}

// scopes are the structures an event counts under: all, and its own.
func (b *Batch) scopes(structure string) []string {
	if structure == "" || structure == All {
		return b.all[:1]
	}
	b.two[1] = structure
	return b.two[:]
}
