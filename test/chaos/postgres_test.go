package chaos

import (
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// attempt is one complete login of a load run.
type attempt struct {
	at   time.Time // when it started
	took time.Duration
	err  error
}

// loginLoad runs complete CAS logins on workers goroutines, each a fresh
// browser, until halt.
type loginLoad struct {
	mu       sync.Mutex
	attempts []attempt
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startLogins(workers int, hop hopper, service string, users []string) *loginLoad {
	l := &loginLoad{stop: make(chan struct{})}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := w; ; i += workers {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				_, err := casLogin(browser(15*time.Second), hop, localPassword, service, users[i%len(users)], guestPassword)
				l.mu.Lock()
				l.attempts = append(l.attempts, attempt{at: start, took: time.Since(start), err: err})
				l.mu.Unlock()
				if err != nil {
					time.Sleep(50 * time.Millisecond) // a refused request answers at once: do not spin
				}
			}
		}()
	}
	return l
}

// ok counts the complete logins so far.
func (l *loginLoad) ok() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.attempts {
		if a.err == nil {
			n++
		}
	}
	return n
}

func (l *loginLoad) halt() []attempt {
	close(l.stop)
	l.wg.Wait()
	return l.attempts
}

// PostgreSQL stopped while logins run: /readyz says so, every request gets
// a 5xx page at once (none hangs), logins work again within 5 s of
// PostgreSQL's return, and a session made before the outage still works.
func TestPostgresRestartDuringLogins(t *testing.T) {
	pg := newCluster(t)
	db := pg.createDB("enthub")
	migrate(t, db)
	users := seedGuests(t, db, 20)
	app := newCASApp(t)
	e := startEnthub(t, "enthub", "ENTHUB_DB="+db, "ENTHUB_SSO_SERVICES_FILE="+servicesFile(t, app))

	before := browser(10 * time.Second)
	if _, err := casLogin(before, one(e.base), localPassword, app.URL, users[0], guestPassword); err != nil {
		t.Fatalf("login before the outage: %v", err)
	}
	rounds, down := 1, 3*time.Second
	if long() {
		rounds, down = 5, 10*time.Second
	}
	for round := range rounds {
		load := startLogins(4, one(e.base), app.URL, users[1:])
		waitFor(30*time.Second, func() bool { return load.ok() >= 4 }) // logins under way (a loaded machine is slow)
		pg.stop("fast")
		stopped := time.Now()
		notReady := waitFor(10*time.Second, func() bool { return ready(e.base, 3*time.Second) == 503 })
		if notReady < 0 {
			t.Errorf("round %d: /readyz does not report 503 with PostgreSQL stopped", round)
		}
		time.Sleep(down)
		pg.start()
		back := time.Now()
		readyIn := waitFor(30*time.Second, func() bool { return ready(e.base, 3*time.Second) == 200 })
		time.Sleep(5 * time.Second)
		attempts := load.halt()

		var firstOK time.Duration = -1
		var failedDown, failedAfter, okBefore int
		var slowest time.Duration
		var other []error
		for _, a := range attempts {
			slowest = max(slowest, a.took)
			switch {
			case a.err == nil && a.at.Before(stopped):
				okBefore++
			case a.err == nil && a.at.After(back):
				if firstOK < 0 || a.at.Add(a.took).Sub(back) < firstOK {
					firstOK = a.at.Add(a.took).Sub(back)
				}
			case a.err != nil && a.at.After(back.Add(5*time.Second)):
				failedAfter++
				other = append(other, a.err)
			case a.err != nil:
				failedDown++
				var es *errStatus
				if !errors.As(a.err, &es) || !es.clean() {
					other = append(other, fmt.Errorf("during the outage, not a 5xx or CAS INTERNAL_ERROR: %w", a.err))
				}
			}
		}
		figure(t, "round %d: /readyz 503 %v after the stop; ready %v and first login %v after PostgreSQL's return; %d logins before, %d refused during, slowest request %v",
			round, notReady.Round(time.Millisecond), readyIn.Round(time.Millisecond), firstOK.Round(time.Millisecond), okBefore, failedDown, slowest.Round(time.Millisecond))
		if okBefore == 0 {
			t.Errorf("round %d: no login succeeded before the outage", round)
		}
		if readyIn < 0 || readyIn > 5*time.Second {
			t.Errorf("round %d: /readyz back to 200 after %v, want within 5 s", round, readyIn)
		}
		if firstOK < 0 || firstOK > 5*time.Second {
			t.Errorf("round %d: first complete login %v after PostgreSQL's return, want within 5 s", round, firstOK)
		}
		if slowest > 10*time.Second {
			t.Errorf("round %d: a login took %v: a request hung", round, slowest)
		}
		for i, err := range other {
			if i < 5 {
				t.Errorf("round %d: %v", round, err)
			}
		}
		if ok, err := sessionWorks(before, e.base, app.URL); !ok || err != nil {
			t.Errorf("round %d: the session made before the outage is lost (%v)", round, err)
		}
	}
}

// waitFor polls cond every 50 ms and returns how long it took to hold,
// or -1 after limit.
func waitFor(limit time.Duration, cond func() bool) time.Duration {
	start := time.Now()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return -1
}

// A streaming standby (pg_basebackup) promoted to primary after the
// primary died: enthub, given both hosts and target_session_attrs=read-write,
// follows it without a restart, and the sessions made before (replicated)
// still work.
func TestStandbyPromotedAndFollowed(t *testing.T) {
	primary := newCluster(t)
	primary.createDB("enthub")
	migrate(t, primary.url("enthub"))
	users := seedGuests(t, primary.url("enthub"), 10)
	standby := primary.standby()
	// The libpq multi-host form, as an operator writes it.
	both := fmt.Sprintf("postgres://postgres@%s,%s/enthub?sslmode=disable&target_session_attrs=read-write",
		primary.hostPort(), standby.hostPort())
	app := newCASApp(t)
	e := startEnthub(t, "enthub", "ENTHUB_DB="+both, "ENTHUB_SSO_SERVICES_FILE="+servicesFile(t, app))

	before := browser(10 * time.Second)
	if _, err := casLogin(before, one(e.base), localPassword, app.URL, users[0], guestPassword); err != nil {
		t.Fatalf("login on the primary: %v", err)
	}
	if caughtUp := waitFor(20*time.Second, func() bool { return replayed(primary, standby) }); caughtUp < 0 {
		t.Fatal("the standby does not catch up with the primary")
	}
	load := startLogins(4, one(e.base), app.URL, users[1:])
	waitFor(30*time.Second, func() bool { return load.ok() >= 4 })
	primary.stop("immediate") // the primary's machine dies
	standby.run("pg_ctl", "-D", standby.data(), "-w", "promote")
	promoted := time.Now()
	readyIn := waitFor(30*time.Second, func() bool { return ready(e.base, 3*time.Second) == 200 })
	time.Sleep(4 * time.Second)
	attempts := load.halt()
	var firstOK time.Duration = -1
	failedLate := 0
	for _, a := range attempts {
		if a.err == nil && a.at.After(promoted) && (firstOK < 0 || a.at.Add(a.took).Sub(promoted) < firstOK) {
			firstOK = a.at.Add(a.took).Sub(promoted)
		}
		if a.err != nil && a.at.After(promoted.Add(5*time.Second)) {
			failedLate++
			t.Errorf("login after the promotion: %v", a.err)
		}
	}
	figure(t, "standby promoted: enthub ready %v and first login %v after pg_ctl promote (target_session_attrs=read-write)",
		readyIn.Round(time.Millisecond), firstOK.Round(time.Millisecond))
	if readyIn < 0 || readyIn > 5*time.Second || firstOK < 0 || firstOK > 5*time.Second {
		t.Errorf("enthub did not follow the promoted standby within 5 s (ready %v, first login %v)", readyIn, firstOK)
	}
	if ok, err := sessionWorks(before, e.base, app.URL); !ok || err != nil {
		t.Errorf("the session made on the old primary is lost (%v)", err)
	}
}

// replayed says whether standby has replayed everything primary wrote.
func replayed(primary, standby *pgCluster) bool {
	p, err := sql.Open("postgres", primary.url("postgres"))
	if err != nil {
		return false
	}
	defer p.Close()
	s, err := sql.Open("postgres", standby.url("postgres"))
	if err != nil {
		return false
	}
	defer s.Close()
	var lsn string
	if err := p.QueryRow(`SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		return false
	}
	var done bool
	err = s.QueryRow(`SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, lsn).Scan(&done)
	return err == nil && done
}
