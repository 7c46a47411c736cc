package idp

import (
	"context"
	"sync"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/idp/sso"
)

// protocolOf names the front a login was made for: the kind of the parked
// request (cas, oidc, saml…), "portal" for a login without one. It labels
// the login metrics, so it only takes these few values.
func protocolOf(pend *sso.Pending) string {
	if pend == nil {
		return "portal"
	}
	return pend.Kind
}

// maxLogins bounds the login cache: past it, the cache starts again empty.
const maxLogins = 50_000

// loginCache remembers the login of the accounts seen in audit events,
// so that log lines name an account by login as well as by id (an id
// alone sends the operator to SQL) without a lookup per event: the login
// event carries the login and primes it for the tickets that follow.
type loginCache struct {
	dir directory.Reader

	mu     sync.Mutex
	logins map[string]string // account id → login
}

// of returns the login of the event: from its details (a failed login
// names what was typed) or the account's, "" when there is no account.
func (c *loginCache) of(ctx context.Context, e directory.Event) string {
	l := e.Details["login"]
	if c == nil {
		return l
	}
	if l != "" {
		if e.AccountID != "" && e.Outcome == "ok" { // a refused one is as typed
			c.remember(e.AccountID, l)
		}
		return l
	}
	if e.AccountID == "" || c.dir == nil {
		return ""
	}
	c.mu.Lock()
	l, ok := c.logins[e.AccountID]
	c.mu.Unlock()
	if ok {
		return l
	}
	acc, err := c.dir.Account(context.WithoutCancel(ctx), e.AccountID)
	if err != nil {
		return "" // the log line still has the id
	}
	c.remember(e.AccountID, acc.Login)
	return acc.Login
}

func (c *loginCache) remember(id, login string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logins == nil || len(c.logins) >= maxLogins {
		c.logins = map[string]string{}
	}
	c.logins[id] = login
}
