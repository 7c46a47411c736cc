package main

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/ldap"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
)

// opsMetrics are the series an operator alerts on, beyond the HTTP ones of
// portal/server: logins by upstream and protocol, live SSO sessions, the
// last AAF import, LDAP operations.
type opsMetrics struct {
	// upstreams are the configured connector ids (and "local"): the only
	// values the login counter's upstream label takes.
	upstreams map[string]bool
	logins    *prometheus.CounterVec
	ldapOp    *prometheus.HistogramVec
}

// upstreamLabel and protocolLabel bound the values of the login counter's
// labels: the upstream is a configured connector id, anything else counts
// as "other", so that a forged value cannot grow the series without bound.
func (m *opsMetrics) upstreamLabel(v string) string {
	switch {
	case m.upstreams[v]:
		return v
	case v == "":
		return "none"
	}
	return "other"
}

func protocolLabel(v string) string {
	switch v {
	case "portal", "cas", "oidc", "saml":
		return v
	case "":
		return "none"
	}
	return "other"
}

// newOpsMetrics registers the series on reg. The gauges read the store
// at each scrape (two small queries), so every instance reports the
// shared state: alert on max(), not sum().
func newOpsMetrics(reg prometheus.Registerer, cfg config.Config, store *sqlstore.Store, log *slog.Logger) *opsMetrics {
	m := &opsMetrics{
		upstreams: map[string]bool{"local": true},
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enthub_sso_logins_total",
			Help: "SSO logins by upstream (the connector id: local, educonnect…), protocol of the request (portal, cas, oidc, saml) and outcome (ok, refused).",
		}, []string{"upstream", "protocol", "outcome"}),
		ldapOp: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "enthub_ldap_operation_duration_seconds",
			Help:    "LDAP operations answered, by operation (bind, search, compare, extended, write), and their duration.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op"}),
	}
	// read runs one store read for a gauge; NaN says "unknown" rather than
	// a plausible 0 when the store does not answer.
	read := func(what string, fn func(ctx context.Context) (float64, error)) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			v, err := fn(ctx)
			if err != nil {
				log.Warn("metric not read", "metric", what, "err", err)
				return math.NaN()
			}
			return v
		}
	}
	lastImport := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "enthub_aaf_last_import_timestamp_seconds",
		Help: "Unix time the last applied AAF delivery finished, from the import journal (0: none yet).",
	}, read("enthub_aaf_last_import_timestamp_seconds", func(ctx context.Context) (float64, error) {
		t, err := store.LastImport(ctx, "applied")
		if err != nil || t.IsZero() {
			return 0, err
		}
		return float64(t.UnixMilli()) / 1000, nil
	}))
	sessions := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "enthub_sso_sessions",
		Help: "Live SSO sessions (not expired, not idle longer than sso.session_idle), all instances together.",
	}, read("enthub_sso_sessions", func(ctx context.Context) (float64, error) {
		now := time.Now()
		n, err := store.LiveSessions(ctx, now, now.Add(-cfg.SSO.SessionIdle))
		return float64(n), err
	}))
	for _, c := range cfg.Federation.Connectors {
		m.upstreams[c.ID] = true
	}
	reg.MustRegister(m.logins, m.ldapOp, lastImport, sessions)
	return m
}

// loginEvent counts the login events of the identity provider
// (idp.Deps.OnEvent).
func (m *opsMetrics) loginEvent(e directory.Event) {
	if e.Type != "login" {
		return
	}
	outcome := "ok"
	if e.Outcome != "ok" {
		outcome = "refused"
	}
	m.logins.WithLabelValues(m.upstreamLabel(e.Details["upstream"]), protocolLabel(e.Details["protocol"]), outcome).Inc()
}

// ldapObserver times the LDAP server's operations.
func (m *opsMetrics) ldapObserver() ldap.Option {
	return ldap.WithObserver(func(op string, d time.Duration) { m.ldapOp.WithLabelValues(op).Observe(d.Seconds()) })
}

// registerLDAP exports the LDAP server's counters of connections and
// failed binds.
func registerLDAP(reg prometheus.Registerer, srv *ldap.Server) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "enthub_ldap_connections_total", Help: "LDAP connections accepted."},
			func() float64 { return float64(srv.Stats().Connections) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "enthub_ldap_bind_failures_total", Help: "LDAP binds refused (wrong credentials)."},
			func() float64 { return float64(srv.Stats().BindFailures) }),
	)
}
