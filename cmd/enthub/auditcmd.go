package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/spf13/cobra"
)

// auditEvent is one line of `enthub audit --json`: the stored event with
// the account's login beside its id.
type auditEvent struct {
	Time        time.Time         `json:"time"`
	Type        string            `json:"type"`
	Outcome     string            `json:"outcome"`
	AccountID   string            `json:"account_id,omitempty"`
	Login       string            `json:"login,omitempty"`
	StructureID string            `json:"structure_id,omitempty"`
	Profile     string            `json:"profile,omitempty"`
	Service     string            `json:"service,omitempty"`
	Reason      string            `json:"reason,omitempty"`
	Remote      string            `json:"remote,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
}

// auditCommand reads the audit trail (logins, tickets, binds…) without SQL.
func (a *app) auditCommand() *cobra.Command {
	var since, account, typ string
	var limit int
	var asJSON bool
	c := &cobra.Command{
		Use:   "audit",
		Short: "Print audit events (logins, tickets, binds), oldest first",
		Long: `audit prints the newest --limit audit events matching the filters, oldest first.
--since takes a duration back from now (90m, 24h, 7d) or a date (2025-09-01,
2025-09-01T08:00:00Z); --account a login or an account id.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := directory.EventFilter{Type: typ, Limit: limit}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return usageErr("--since: %w", err)
				}
				f.Since = t
			}
			if limit <= 0 {
				return usageErr("--limit %d: want a positive number", limit)
			}
			return a.withStore(cmd.Context(), func(_ config.Config, _ *slog.Logger, s *sqlstore.Store) error {
				ctx := cmd.Context()
				if account != "" {
					acc, err := findAccount(ctx, s, account)
					if err != nil {
						return &exitError{code: exitFailed, err: err}
					}
					f.AccountID = acc.ID
				}
				events, err := s.Events(ctx, f)
				if err != nil {
					return err
				}
				slices.Reverse(events)
				out, err := withLogins(ctx, s, events)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, out)
				}
				for _, e := range out {
					fmt.Fprintln(a.stdout, e.line())
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&since, "since", "", "only events from then on: a duration back from now (24h, 7d) or a date")
	c.Flags().StringVar(&account, "account", "", "only the events of this account (login or id)")
	c.Flags().StringVar(&typ, "type", "", "only events of this type (login, logout, ticket.issued, bind.failed…)")
	c.Flags().IntVar(&limit, "limit", 200, "at most this many events (the newest)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// parseSince reads --since: Go durations, whole days (7d), or a date or
// time in RFC 3339.
func parseSince(v string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want a duration such as 24h or 7d, or a date such as 2025-09-01", v)
}

// findAccount resolves a login or an account id.
func findAccount(ctx context.Context, s directory.Reader, v string) (directory.Account, error) {
	acc, err := s.AccountByLogin(ctx, v)
	if errors.Is(err, directory.ErrNotFound) {
		acc, err = s.Account(ctx, v)
	}
	if errors.Is(err, directory.ErrNotFound) {
		return acc, fmt.Errorf("--account: no account with login or id %q", v)
	}
	return acc, err
}

// withLogins adds each account's login, read once per account; a failed
// login of an unknown account keeps the login tried, from the details.
func withLogins(ctx context.Context, s directory.Reader, events []directory.Event) ([]auditEvent, error) {
	logins := map[string]string{}
	out := make([]auditEvent, 0, len(events))
	for _, e := range events {
		ae := auditEvent{Time: e.Time.UTC(), Type: e.Type, Outcome: e.Outcome, AccountID: e.AccountID, StructureID: e.StructureID,
			Profile: string(e.Profile), Service: e.Service, Reason: e.Reason, Remote: e.Remote, Details: e.Details}
		if e.AccountID != "" {
			login, ok := logins[e.AccountID]
			if !ok {
				acc, err := s.Account(ctx, e.AccountID)
				if err != nil && !errors.Is(err, directory.ErrNotFound) { // a purged account keeps its events
					return nil, err
				}
				login, logins[e.AccountID] = acc.Login, acc.Login
			}
			ae.Login = login
		}
		if ae.Login == "" {
			ae.Login = e.Details["login"]
		}
		out = append(out, ae)
	}
	return out, nil
}

func (e auditEvent) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", e.Time.Format(time.RFC3339), e.Type, e.Outcome)
	for _, kv := range [][2]string{{"login", e.Login}, {"account", e.AccountID}, {"service", e.Service},
		{"profile", e.Profile}, {"structure", e.StructureID}, {"reason", e.Reason}, {"remote", e.Remote}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], quoted(kv[1]))
		}
	}
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		if k != "login" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, quoted(e.Details[k]))
	}
	return b.String()
}

// quoted quotes a value only when it would not read as one word, as
// log/slog's text handler does.
func quoted(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\n\"=\\") || !strconv.CanBackquote(v) {
		return strconv.Quote(v)
	}
	return v
}
