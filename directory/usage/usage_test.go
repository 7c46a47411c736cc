package usage

import (
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestRanges(t *testing.T) {
	for _, c := range []struct {
		from, to string
		want     []Range
	}{
		{"2025-09-01", "2025-09-02", []Range{{"2025-09-01", "2025-09-02"}}},
		{"2025-09-01", "2025-09-30", []Range{{"M2025-09", "M2025-09"}}},
		{"2025-09-01", "2026-08-31", []Range{{"M2025-09", "M2026-08"}}},
		{"2025-09-15", "2025-11-03", []Range{{"2025-09-15", "2025-09-30"}, {"M2025-10", "M2025-10"}, {"2025-11-01", "2025-11-03"}}},
		{"2025-09-15", "2025-10-03", []Range{{"2025-09-15", "2025-10-03"}}},
		{"2024-02-01", "2024-02-29", []Range{{"M2024-02", "M2024-02"}}},
		{"2025-12-31", "2026-02-28", []Range{{"2025-12-31", "2025-12-31"}, {"M2026-01", "M2026-02"}}},
	} {
		got := Filter{From: c.from, To: c.to}.Ranges()
		if !slices.Equal(got, c.want) {
			t.Errorf("Ranges(%s, %s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

func TestSetEncodings(t *testing.T) {
	for name, members := range map[string][]uint32{
		"empty":  nil,
		"sparse": {3, 70000, 70001, 299999},
		"dense": func() (m []uint32) {
			for i := range uint32(5000) {
				m = append(m, i*2)
			}
			return m
		}(),
	} {
		var s Set
		for _, m := range members {
			s.Add(m)
		}
		got, err := DecodeSet(s.Encode())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Len() != int64(len(members)) {
			t.Errorf("%s: %d members read back, want %d", name, got.Len(), len(members))
		}
		for _, m := range members {
			if !got.Has(m) {
				t.Errorf("%s: %d lost", name, m)
			}
		}
	}
	if _, err := DecodeSet([]byte{9, 1}); err == nil {
		t.Error("an unknown encoding was read")
	}
	if _, err := DecodeSet([]byte{encBitmap, 1, 2}); err == nil {
		t.Error("a truncated bitmap was read")
	}
}

// A login counts in its day, its month, its school and all schools; the
// day and hour are local.
func TestBatchLogin(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch(loc)
	b.Login(time.Date(2025, 9, 30, 22, 30, 0, 0, time.UTC), "a1", "S1", "eleve", "educonnect") // 00:30 on 1 October in Paris
	counts, users := b.Counts(), b.Users()
	for _, k := range []CountKey{{All, DimLogins, "2025-10-01", ""}, {"S1", DimLogins, "M2025-10", ""}, {All, DimHour, "2025-10-01", "00"},
		{All, DimSchool, "M2025-10", "S1"}, {"S1", DimUpstream, "2025-10-01", "educonnect"}} {
		if counts[k] != 1 {
			t.Errorf("count %v = %d, want 1", k, counts[k])
		}
	}
	if _, ok := counts[CountKey{"S1", DimSchool, "2025-10-01", "S1"}]; ok {
		t.Error("the school breakdown is kept per school too; only under all schools")
	}
	if users[SetKey{"S1", "eleve", "M2025-10"}].Len() != 1 || users[SetKey{All, All, "2025-10-01"}].Len() != 1 {
		t.Errorf("users not recorded: %v", users)
	}
}

// BenchmarkUnionYear is the in-memory part of a year's distinct users at
// the full scale of a 300,000-account département: 12 monthly sets of
// 250,000 users for all schools (bitmaps), and 12 × 150 school sets
// (deltas), decoded and unioned as Store.Users does for "" and "school".
func BenchmarkUnionYear(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	var all, schools [][]byte
	for range 12 {
		var s Set
		for range 250_000 {
			s.Add(uint32(rng.IntN(300_000)))
		}
		all = append(all, s.Encode())
		for k := range 150 {
			var sc Set
			for range 1_600 {
				sc.Add(uint32(rng.IntN(2_000)*150 + k))
			}
			schools = append(schools, sc.Encode())
		}
	}
	size := 0
	for _, e := range append(append([][]byte{}, all...), schools...) {
		size += len(e)
	}
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	for b.Loop() {
		var u Set
		for _, e := range all {
			if err := u.OrEncoded(e); err != nil {
				b.Fatal(err)
			}
		}
		per := map[int]*Set{}
		for i, e := range schools {
			s := per[i%150]
			if s == nil {
				s = &Set{}
				per[i%150] = s
			}
			if err := s.OrEncoded(e); err != nil {
				b.Fatal(err)
			}
		}
		if u.Len() == 0 || len(per) != 150 {
			b.Fatal("empty")
		}
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := (r1.Utime.Nano() + r1.Stime.Nano()) - (r0.Utime.Nano() + r0.Stime.Nano())
	b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(size)/1e6, "MB-decoded")
}
