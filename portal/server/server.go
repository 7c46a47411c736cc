// Package server is enthub's one HTTP server: the portal pages and the SAML,
// OIDC and CAS fronts mount on its mux; it adds health and readiness
// endpoints, Prometheus metrics per route, request ids in every log line and
// a bounded graceful shutdown.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Pinger is what readiness checks: the store answers and its schema is
// current.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options configures a Server.
type Options struct {
	Logger          *slog.Logger
	Store           Pinger
	Version         string
	ShutdownTimeout time.Duration
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	// ReadyTimeout bounds one readiness check.
	ReadyTimeout time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed: a request from one of them gets, as RemoteAddr, the
	// rightmost address of the header that is not itself a trusted proxy,
	// so rate limits and audit see the user, not the load balancer.
	TrustedProxies []netip.Prefix
	// SeparateMetrics keeps /metrics off Mux: ServeMetrics serves it on a
	// listener of its own (http.metrics_listen), out of the public's reach.
	SeparateMetrics bool
	// Pprof adds /debug/pprof/ to ServeMetrics's listener (never to Mux).
	Pprof bool
}

// Server is the HTTP server. Mount handlers on Mux, and set NotFound,
// before Serve.
type Server struct {
	Mux      *http.ServeMux
	Registry *prometheus.Registry
	// NotFound answers an address no pattern of Mux matches, in place of
	// Go's plain-text "404 page not found" (the portal's French/English
	// page). A handler's own 404 and the mux's 405 are left as they are.
	NotFound http.Handler
	opts     Options

	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	storeErrors prometheus.Counter

	mu        sync.Mutex
	lastReady error
}

// New builds a server with /healthz, /readyz and /metrics mounted.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 2 * time.Second
	}
	reg := prometheus.NewRegistry()
	s := &Server{
		Mux:      http.NewServeMux(),
		Registry: reg,
		opts:     opts,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enthub_http_requests_total", Help: "HTTP requests by route, method and status class.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "enthub_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enthub_store_errors_total", Help: "Failed store health checks.",
		}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "enthub_build_info", Help: "Build information; the value is always 1.",
	}, []string{"version"})
	build.WithLabelValues(opts.Version).Set(1)
	reg.MustRegister(s.requests, s.latency, s.storeErrors, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.Mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	s.Mux.HandleFunc("GET /readyz", s.ready)
	if !opts.SeparateMetrics {
		s.Mux.Handle("GET /metrics", s.metricsHandler())
	}
	return s
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{Registry: s.Registry})
}

// ServeMetrics serves /metrics alone on l (Options.SeparateMetrics) until
// ctx is cancelled.
func (s *Server) ServeMetrics(ctx context.Context, l net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metricsHandler())
	if s.opts.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return s.serve(ctx, l, mux)
}

// ready answers 200 when the store answers and is migrated, 503 with the
// reason otherwise. It checks on every call: a store that comes back makes
// the next probe pass, no restart needed.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var err error
	if s.opts.Store != nil {
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.ReadyTimeout)
		err = s.opts.Store.Ping(ctx)
		cancel()
	}
	s.mu.Lock()
	changed := (err == nil) != (s.lastReady == nil)
	s.lastReady = err
	s.mu.Unlock()
	if err != nil {
		s.storeErrors.Inc()
		if changed {
			s.opts.Logger.Error("not ready", "err", err)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %v\n", err)
		return
	}
	if changed {
		s.opts.Logger.Info("ready")
	}
	fmt.Fprintln(w, "ready")
}

// Handler is the mux wrapped with request ids, access logs and metrics.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		r.RemoteAddr = s.clientAddr(r)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		r = r.WithContext(WithLogger(r.Context(), s.opts.Logger.With("request_id", id)))
		var out http.ResponseWriter = rec
		if s.NotFound != nil {
			out = &notFoundWriter{ResponseWriter: rec, r: r, page: s.NotFound}
		}
		s.Mux.ServeHTTP(out, r)
		route := r.Pattern // set by the mux in place; empty when nothing matched
		if route == "" {
			route = "unmatched"
		}
		d := time.Since(start)
		s.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status/100)+"xx").Inc()
		s.latency.WithLabelValues(route).Observe(d.Seconds())
		if route != "GET /healthz" && route != "GET /readyz" && route != "GET /metrics" {
			s.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "http",
				slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.String("route", route), slog.Int("status", rec.status), slog.Duration("duration", d))
		}
	})
}

// Serve serves on l until ctx is cancelled, then drains in-flight requests
// for at most ShutdownTimeout.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return s.serve(ctx, l, s.Handler())
}

func (s *Server) serve(ctx context.Context, l net.Listener, h http.Handler) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.opts.Logger.Info("shutting down HTTP", "addr", l.Addr().String(), "drain", s.opts.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		return fmt.Errorf("shutdown: in-flight requests cut after %v: %w", s.opts.ShutdownTimeout, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status  int
	written bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.written {
		r.status, r.written = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.written = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// notFoundWriter swaps the mux's own 404 — written when no pattern
// matched, so the mux left r.Pattern empty — for the NotFound page, and
// drops the plain-text body that follows it.
type notFoundWriter struct {
	http.ResponseWriter
	r        *http.Request
	page     http.Handler
	replaced bool
}

func (w *notFoundWriter) WriteHeader(code int) {
	if code != http.StatusNotFound || w.r.Pattern != "" || w.replaced {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.replaced = true
	h := w.ResponseWriter.Header()
	h.Del("Content-Type")
	h.Del("X-Content-Type-Options")
	w.page.ServeHTTP(w.ResponseWriter, w.r)
}

func (w *notFoundWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *notFoundWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type loggerKey struct{}

// WithLogger returns ctx carrying a logger (with the request id).
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the request's logger, or a discarding one.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// clientAddr is the user's address: the peer, or, when the peer is a
// trusted proxy, the nearest untrusted hop of X-Forwarded-For. Headers from
// anyone else are ignored, so a client cannot choose its own address.
func (s *Server) clientAddr(r *http.Request) string {
	if len(s.opts.TrustedProxies) == 0 {
		return r.RemoteAddr
	}
	trusted := func(a netip.Addr) bool {
		for _, p := range s.opts.TrustedProxies {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	peer, perr := netip.ParseAddr(host)
	if err != nil || perr != nil || !trusted(peer) {
		return r.RemoteAddr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return r.RemoteAddr // a malformed chain: keep the proxy's address
		}
		if !trusted(a) {
			return net.JoinHostPort(a.String(), "0")
		}
	}
	return r.RemoteAddr
}
