package usage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Row is one line of a breakdown: its key (a day, an hour, a profile
// code, a structure id, an upstream, a service id), a label to show, the
// logins (or visits, for services) and, where counted, distinct users.
type Row struct {
	Key      string `json:"key"`
	Label    string `json:"label,omitempty"`
	Logins   int64  `json:"logins"`
	Users    int64  `json:"users,omitempty"`
	HasUsers bool   `json:"-"`
}

// Avail is a day's availability: the minutes some instance was ready,
// of the minutes the day had (up to now; 1380 or 1500 on the days the
// clocks change).
type Avail struct {
	Day          string `json:"day"`
	ReadyMinutes int64  `json:"ready_minutes"`
	Minutes      int64  `json:"minutes"`
}

// Percent is the availability in percent.
func (a Avail) Percent() float64 {
	if a.Minutes == 0 {
		return 0
	}
	return 100 * float64(a.ReadyMinutes) / float64(a.Minutes)
}

// Report is every view of the console over one filter.
type Report struct {
	Filter       Filter  `json:"filter"`
	Logins       int64   `json:"logins"`
	Users        int64   `json:"users"`
	Failed       int64   `json:"failed"`
	Visits       int64   `json:"visits"`
	ByDay        []Row   `json:"by_day"`
	ByHour       []Row   `json:"by_hour"`
	ByProfile    []Row   `json:"by_profile"`
	BySchool     []Row   `json:"by_school"`
	ByUpstream   []Row   `json:"by_upstream"`
	ByService    []Row   `json:"by_service"`
	Availability []Avail `json:"availability"`
}

// Breakdowns names the views a report has, in the order pages show them.
var Breakdowns = []string{"day", "hour", "profile", "school", "upstream", "service"}

// By returns the breakdown named by (one of Breakdowns).
func (r *Report) By(by string) ([]Row, error) {
	switch by {
	case "day":
		return r.ByDay, nil
	case "hour":
		return r.ByHour, nil
	case "profile":
		return r.ByProfile, nil
	case "school":
		return r.BySchool, nil
	case "upstream":
		return r.ByUpstream, nil
	case "service":
		return r.ByService, nil
	}
	return nil, fmt.Errorf("by %q: want one of day, hour, profile, school, upstream, service", by)
}

// HealthStore is the availability side of the rollups.
type HealthStore interface {
	// HealthSince is when the first health record was written (zero when
	// none): days before it have no availability, rather than 0 %.
	HealthSince(ctx context.Context) (time.Time, error)
}

// Options are what Build needs beyond the filter.
type Options struct {
	Location *time.Location
	Now      time.Time
	// Names labels structures and services by id; a missing id shows as is.
	Names map[string]string
}

// Build reads every view of the report. It runs a dozen queries on the
// rollups, each over at most a row per day and key.
func Build(ctx context.Context, s interface {
	Store
	HealthStore
}, f Filter, o Options) (*Report, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	r := &Report{Filter: f}
	counts := func(dim string, byDay bool) (map[string]int64, error) {
		m, err := s.Counts(ctx, f, dim, byDay)
		if err != nil {
			return nil, fmt.Errorf("statistics by %s: %w", dim, err)
		}
		return m, nil
	}
	users := func(by string) (map[string]int64, error) {
		m, err := s.Users(ctx, f, by)
		if err != nil {
			return nil, fmt.Errorf("distinct users by %q: %w", by, err)
		}
		return m, nil
	}
	var err error
	var m, u map[string]int64
	if m, err = counts(DimLogins, true); err != nil {
		return nil, err
	}
	if u, err = users("day"); err != nil {
		return nil, err
	}
	r.ByDay = rows(m, u, true)
	slices.SortFunc(r.ByDay, func(a, b Row) int { return cmp.Compare(a.Key, b.Key) })
	for _, row := range r.ByDay {
		r.Logins += row.Logins
	}
	if u, err = users(""); err != nil {
		return nil, err
	}
	r.Users = u[""]
	if m, err = counts(DimFailed, false); err != nil {
		return nil, err
	}
	r.Failed = m[""]
	if m, err = counts(DimHour, false); err != nil {
		return nil, err
	}
	for h := range 24 { // every hour shown, empty ones too: the shape of the day is the point
		k := fmt.Sprintf("%02d", h)
		r.ByHour = append(r.ByHour, Row{Key: k, Label: k + " h", Logins: m[k]})
	}
	for _, v := range []struct {
		dim   string
		users string
		out   *[]Row
	}{{DimProfile, "profile", &r.ByProfile}, {DimSchool, "school", &r.BySchool}, {DimUpstream, "", &r.ByUpstream}, {DimService, "", &r.ByService}} {
		if v.dim == DimSchool && f.Structure != "" {
			m = map[string]int64{f.Structure: r.Logins}
		} else if m, err = counts(v.dim, false); err != nil {
			return nil, err
		}
		u = nil
		if v.users != "" {
			if u, err = users(v.users); err != nil {
				return nil, err
			}
		}
		*v.out = rows(m, u, v.users != "")
		sortByLogins(*v.out)
	}
	for _, row := range r.ByService {
		r.Visits += row.Logins
	}
	for _, list := range [][]Row{r.BySchool, r.ByService} {
		for i := range list {
			if n, ok := o.Names[list[i].Key]; ok {
				list[i].Label = n
			}
		}
	}
	if r.Availability, err = availability(ctx, s, f, o); err != nil {
		return nil, err
	}
	return r, nil
}

func rows(m, users map[string]int64, hasUsers bool) []Row {
	keys := make(map[string]bool, len(m)+len(users))
	for k := range m {
		keys[k] = true
	}
	for k := range users {
		keys[k] = true
	}
	out := make([]Row, 0, len(keys))
	for k := range keys {
		if m[k] == 0 {
			continue // users without logins: those a later persona choice moved (Batch.Settle)
		}
		out = append(out, Row{Key: k, Logins: m[k], Users: users[k], HasUsers: hasUsers})
	}
	return out
}

func sortByLogins(rs []Row) {
	slices.SortFunc(rs, func(a, b Row) int {
		if c := cmp.Compare(b.Logins, a.Logins); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
}

// availability gives each day of the filter from the first health record
// up to now its ready minutes out of the minutes it had.
func availability(ctx context.Context, s interface {
	Store
	HealthStore
}, f Filter, o Options) ([]Avail, error) {
	since, err := s.HealthSince(ctx)
	if err != nil {
		return nil, fmt.Errorf("availability: %w", err)
	}
	if since.IsZero() {
		return nil, nil
	}
	ready, err := s.Counts(ctx, Filter{From: f.From, To: f.To}, DimReady, true)
	if err != nil {
		return nil, fmt.Errorf("availability: %w", err)
	}
	from, _ := time.ParseInLocation(DayLayout, f.From, o.Location)
	to, _ := time.ParseInLocation(DayLayout, f.To, o.Location)
	start := since.In(o.Location).Truncate(time.Minute)
	var out []Avail
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		begin, end := d, d.AddDate(0, 0, 1)
		if begin.Before(start) {
			begin = start
		}
		if !o.Now.IsZero() && end.After(o.Now) {
			end = o.Now.In(o.Location).Truncate(time.Minute).Add(time.Minute) // the minute under way counts once recorded
		}
		if !end.After(begin) {
			continue
		}
		day := d.Format(DayLayout)
		out = append(out, Avail{Day: day, ReadyMinutes: min(ready[day], int64(end.Sub(begin)/time.Minute)),
			Minutes: int64(end.Sub(begin) / time.Minute)})
	}
	return out, nil
}
