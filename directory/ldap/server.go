package ldap

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/password"
)

// Server is the LDAPv3 front over the directory. It is read-only: it serves
// an in-memory read model of the store (see model.go), rebuilt when the
// store's generation changes.
type Server struct {
	cfg      Config
	store    directory.Reader
	log      *slog.Logger
	now      func() time.Time
	audit    Auditor
	tls      *tls.Config
	services map[string]*ServiceAccount // normalised DN

	cur      atomic.Pointer[model]
	reloadMu sync.Mutex
	swapMu   sync.Mutex
	swapped  chan struct{} // closed at the next model swap (see modelSwapped)

	throttle  *throttle
	creds     *credCache
	passwords *password.Checker // bounded by Limits.MaxConcurrentHashes
	connSem   chan struct{}

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closed    bool
	pollOnce  sync.Once
	done      chan struct{}
	wg        sync.WaitGroup

	stats struct {
		searches, binds, bindFailures, connections atomic.Int64
	}
	observe func(op string, d time.Duration) // see WithObserver
}

// Option customises a Server.
type Option func(*Server)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithAuditor receives failed binds and persons' binds.
func WithAuditor(a Auditor) Option { return func(s *Server) { s.audit = a } }

// WithObserver is told of every operation answered (bind, search,
// compare, extended, write — refused) with its duration, for the metrics.
func WithObserver(fn func(op string, d time.Duration)) Option {
	return func(s *Server) { s.observe = fn }
}

// observed reports an operation that began at start.
func (s *Server) observed(op string, start time.Time) {
	if s.observe != nil {
		s.observe(op, time.Since(start))
	}
}

// WithTLSConfig sets the TLS configuration for LDAPS and StartTLS,
// overriding Config.TLSCertFile/TLSKeyFile.
func WithTLSConfig(c *tls.Config) Option { return func(s *Server) { s.tls = c } }

// NewServer checks cfg and prepares a server over store. Nothing is read
// from the store until Serve, ListenAndServe or Reload.
func NewServer(cfg Config, store directory.Reader, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("ldap: NewServer: store is nil")
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg: cfg, store: store, log: slog.New(slog.DiscardHandler), now: time.Now, audit: nopAuditor{},
		services: map[string]*ServiceAccount{}, listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{},
		done: make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	for i := range cfg.ServiceAccounts {
		n, _ := normDN(cfg.ServiceAccounts[i].DN)
		s.services[n] = &cfg.ServiceAccounts[i]
	}
	if s.tls == nil && cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("ldap.tls_cert %q / ldap.tls_key %q: %w", cfg.TLSCertFile, cfg.TLSKeyFile, err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if cfg.ListenTLS != "" && s.tls == nil {
		return nil, fmt.Errorf("ldap.listen_tls %q: needs ldap.tls_cert and ldap.tls_key", cfg.ListenTLS)
	}
	l := cfg.Limits
	s.throttle = newThrottle(s.now, l.BindBackoff, l.MaxBindBackoff, 100000)
	s.creds = newCredCache(10000)
	s.passwords = password.NewChecker(l.MaxConcurrentHashes)
	s.connSem = make(chan struct{}, l.MaxConnections)
	return s, nil
}

// Reload rebuilds the read model from the store now and swaps it in.
func (s *Server) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	start := time.Now()
	m, err := buildModel(ctx, s.store, buildOptions{base: s.cfg.BaseDN, jointure: s.cfg.JointureSource,
		legacy: s.cfg.LegacyProfileCodes, now: s.now()})
	if err != nil {
		return err
	}
	s.cur.Store(m)
	s.swapMu.Lock()
	if s.swapped != nil {
		close(s.swapped)
		s.swapped = nil
	}
	s.swapMu.Unlock()
	s.log.InfoContext(ctx, "ldap read model loaded", "generation", m.gen, "persons", len(m.persons),
		"structures", len(m.structs), "groups", len(m.groups), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// modelSwapped returns a channel closed when the next model is swapped in.
func (s *Server) modelSwapped() <-chan struct{} {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	if s.swapped == nil {
		s.swapped = make(chan struct{})
	}
	return s.swapped
}

// Generation returns the store generation the served model was built from
// (-1 before the first load).
func (s *Server) Generation() int64 {
	if m := s.cur.Load(); m != nil {
		return m.gen
	}
	return -1
}

func (s *Server) ensureLoaded(ctx context.Context) error {
	if s.cur.Load() != nil {
		return nil
	}
	return s.Reload(ctx)
}

// poll rebuilds the model whenever the store's generation moves.
func (s *Server) poll(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-t.C:
		}
		gen, err := s.store.Generation(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "ldap: reading the store generation failed; serving the current model", "err", err)
			continue
		}
		if m := s.cur.Load(); m != nil && m.gen == gen {
			continue
		}
		if err := s.Reload(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "ldap: rebuilding the read model failed; serving the previous one", "err", err)
		}
	}
}

func (s *Server) startPolling(ctx context.Context) {
	s.pollOnce.Do(func() {
		s.wg.Add(1)
		go s.poll(context.WithoutCancel(ctx))
	})
}

// Serve accepts plain LDAP connections on l (StartTLS is offered when TLS is
// configured) until ctx ends or Close is called. It loads the read model
// first and starts the generation polling.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return s.serve(ctx, l, false)
}

// ServeTLS accepts LDAPS connections on l.
func (s *Server) ServeTLS(ctx context.Context, l net.Listener) error {
	if s.tls == nil {
		return errors.New("ldap: ServeTLS without a TLS configuration")
	}
	return s.serve(ctx, tls.NewListener(l, s.tls), true)
}

func (s *Server) serve(ctx context.Context, l net.Listener, isTLS bool) error {
	if err := s.ensureLoaded(ctx); err != nil {
		l.Close()
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return net.ErrClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	s.startPolling(ctx)
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	s.log.InfoContext(ctx, "ldap listening", "addr", l.Addr().String(), "tls", isTLS, "base", s.cfg.BaseDN)
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("ldap accept on %s: %w", l.Addr(), err)
		}
		delay = 0
		select {
		case s.connSem <- struct{}{}:
		default:
			s.log.WarnContext(ctx, "ldap: connection refused, too many open", "remote", nc.RemoteAddr().String(),
				"max", s.cfg.Limits.MaxConnections)
			_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = nc.Write(noticeOfDisconnection(resultBusy, "too many connections"))
			nc.Close()
			continue
		}
		c := s.newConn(nc, isTLS)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			<-s.connSem
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() { <-s.connSem }()
			c.serve(ctx)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// ListenAndServe listens on Config.Listen and Config.ListenTLS and serves
// until ctx ends or Close is called.
func (s *Server) ListenAndServe(ctx context.Context) error {
	if s.cfg.Listen == "" && s.cfg.ListenTLS == "" {
		return errors.New("ldap.listen and ldap.listen_tls are both empty")
	}
	if err := s.ensureLoaded(ctx); err != nil {
		return err
	}
	var ls []net.Listener
	var lc net.ListenConfig
	if s.cfg.Listen != "" {
		l, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
		if err != nil {
			return fmt.Errorf("ldap.listen %q: %w", s.cfg.Listen, err)
		}
		ls = append(ls, l)
	}
	if s.cfg.ListenTLS != "" {
		l, err := lc.Listen(ctx, "tcp", s.cfg.ListenTLS)
		if err != nil {
			for _, x := range ls {
				x.Close()
			}
			return fmt.Errorf("ldap.listen_tls %q: %w", s.cfg.ListenTLS, err)
		}
		ls = append(ls, l)
	}
	errc := make(chan error, len(ls))
	for i, l := range ls {
		isTLS := s.cfg.ListenTLS != "" && (i == 1 || s.cfg.Listen == "")
		go func() {
			if isTLS {
				errc <- s.ServeTLS(ctx, l)
			} else {
				errc <- s.Serve(ctx, l)
			}
		}()
	}
	var first error
	for range ls {
		if err := <-errc; err != nil && first == nil {
			first = err
			s.Close()
		}
	}
	return first
}

// Close stops the listeners, closes every connection and waits for their
// goroutines and the poller.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.raw.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Stats are counters since the server started, for metrics.
type Stats struct {
	Connections, Searches, Binds, BindFailures int64
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	return Stats{Connections: s.stats.connections.Load(), Searches: s.stats.searches.Load(),
		Binds: s.stats.binds.Load(), BindFailures: s.stats.bindFailures.Load()}
}

// identity is who a connection is bound as.
type identity struct {
	dn      string // as bound (for Who-am-I), "" anonymous
	svc     *ServiceAccount
	person  string // person id for a person's own bind
	isAnon  bool
	display string
}

var anonymous = &identity{isAnon: true, display: "anonymous"}

// accessFor resolves what id may read in m.
func (s *Server) accessFor(id *identity, m *model) *access {
	a := &access{self: -1, model: m, dn: id.dn, name: id.display}
	switch {
	case id.person != "":
		i, ok := m.personByUID(strings.ToLower(id.person))
		if !ok {
			return a
		}
		a.read, a.self = true, int64(m.personOrd(i))
		return a
	case id.svc != nil:
		resolveAccess(a, id.svc.Access, m)
	case s.cfg.Anonymous:
		resolveAccess(a, s.cfg.AnonymousAccess, m)
	}
	return a
}

func resolveAccess(a *access, acc Access, m *model) {
	a.read = true
	a.seeDisabled = acc.SeeDisabled
	if len(acc.Subtrees) > 0 {
		a.ranges = [][2]uint32{}
		for _, st := range acc.Subtrees {
			if ord, ok := m.resolveString(st); ok {
				a.ranges = append(a.ranges, [2]uint32{ord, m.subtreeEnd(ord)})
			}
		}
	}
	if len(acc.Structures) > 0 {
		a.structs = []int32{}
		for _, u := range acc.Structures {
			if i, ok := m.byUAI[strings.ToLower(strings.TrimSpace(u))]; ok {
				a.structs = append(a.structs, i)
			}
		}
	}
	if len(acc.Attributes) > 0 {
		var set [numAttrs]bool
		for _, n := range acc.Attributes {
			if at := lookupAttr(n); at != nil {
				set[at.id] = true
			}
		}
		// The DN-related operational attributes say nothing the DN does not.
		set[aEntryDN], set[aSubschemaSubentry], set[aHasSubordinates], set[aStructuralObjectClass] = true, true, true, true
		a.attrs = &set
	}
}

// conn is one client connection.
type conn struct {
	s      *Server
	nc     net.Conn // the connection as read and written (a *tls.Conn after StartTLS)
	raw    net.Conn // the accepted connection, closed by Server.Close
	r      *bufio.Reader
	wmu    sync.Mutex
	w      *bufio.Writer
	remote string
	isTLS  bool
	log    *slog.Logger

	mu     sync.Mutex
	id     *identity
	accM   *model
	accId  *identity
	acc    *access
	ops    map[int64]context.CancelFunc
	opsWG  sync.WaitGroup
	opSem  chan struct{}
	pages  map[string]*pageState
	pageN  uint64
	closed bool
}

func (s *Server) newConn(nc net.Conn, isTLS bool) *conn {
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		host = nc.RemoteAddr().String()
	}
	s.stats.connections.Add(1)
	return &conn{
		s: s, nc: nc, raw: nc, r: bufio.NewReaderSize(nc, 4096), w: bufio.NewWriterSize(nc, 32<<10),
		remote: host, isTLS: isTLS, id: anonymous, ops: map[int64]context.CancelFunc{},
		opSem: make(chan struct{}, s.cfg.Limits.MaxOpsPerConn), pages: map[string]*pageState{},
		log: s.log.With("remote", host),
	}
}

// view returns the current model seen by the connection's identity.
func (c *conn) view() view {
	m := c.s.cur.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.accM != m || c.accId != c.id {
		c.acc = c.s.accessFor(c.id, m)
		c.accM, c.accId = m, c.id
	}
	return view{m: m, acc: c.acc, now: c.s.now().Unix(), startTLS: c.s.tls != nil && !c.isTLS}
}

func (c *conn) identity() *identity {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// send writes one encoded message; flush pushes buffered output.
func (c *conn) send(b []byte, flush bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	// The deadline covers the flush below and any flush bufio does itself.
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.Limits.WriteTimeout))
	if _, err := c.w.Write(b); err != nil {
		return err
	}
	if flush {
		return c.w.Flush()
	}
	return nil
}

func (c *conn) serve(ctx context.Context) {
	defer c.close()
	if tc, ok := c.nc.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.HandshakeContext(ctx); err != nil {
			c.log.DebugContext(ctx, "ldap: TLS handshake failed", "err", err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
	}
	var buf []byte
	lim := c.s.cfg.Limits
	// Moving a deadline costs a runtime timer update; a client sending
	// thousands of requests a second does not need it moved each time, so
	// the idle deadline is re-armed only when it is older than rearm (the
	// idle time allowed is then between IdleTimeout-rearm and IdleTimeout).
	rearm := min(lim.IdleTimeout/16, time.Second)
	var armed time.Time // when the idle deadline was set; zero: not in force
	for {
		if now := time.Now(); now.Sub(armed) >= rearm {
			_ = c.nc.SetReadDeadline(now.Add(lim.IdleTimeout))
			armed = now
		}
		if _, err := c.r.Peek(1); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && c.busy() {
				armed = time.Time{}
				continue // a long search is running: not idle
			}
			return
		}
		if !messageBuffered(c.r) {
			// A request has started: the rest must follow promptly.
			_ = c.nc.SetReadDeadline(time.Now().Add(min(lim.IdleTimeout, 30*time.Second)))
			armed = time.Time{}
		}
		msg, err := readMessage(c.r, buf, lim.MaxMessageSize)
		if err != nil {
			if errors.Is(err, errBER) || errors.Is(err, errMessageTooLarge) {
				c.log.InfoContext(ctx, "ldap: closing connection", "reason", err.Error())
				_ = c.send(noticeOfDisconnection(resultProtocolError, err.Error()), true)
			}
			return
		}
		if cap(msg) <= 64<<10 {
			buf = msg[:0]
		} else {
			buf = nil // do not keep a large buffer for an idle connection
		}
		quit, err := c.handle(ctx, msg)
		if err != nil {
			c.log.InfoContext(ctx, "ldap: closing connection", "reason", err.Error())
			_ = c.send(noticeOfDisconnection(resultProtocolError, err.Error()), true)
			return
		}
		if quit {
			return
		}
	}
}

// messageBuffered reports whether the whole next message is in r's buffer
// already (reading it then cannot block).
func messageBuffered(r *bufio.Reader) bool {
	n := r.Buffered()
	if n < 2 {
		return false
	}
	h, _ := r.Peek(min(n, 6))
	l, hl := int(h[1]), 2
	if l >= 0x80 {
		k := l & 0x7f
		if k == 0 || k > 4 || len(h) < 2+k {
			return false
		}
		l = 0
		for _, x := range h[2 : 2+k] {
			l = l<<8 | int(x)
		}
		hl += k
	}
	return n-hl >= l
}

func (c *conn) busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ops) > 0
}

func (c *conn) close() {
	c.mu.Lock()
	c.closed = true
	for _, cancel := range c.ops {
		cancel()
	}
	c.mu.Unlock()
	c.nc.Close()
	c.opsWG.Wait()
}

// control is one request control.
type control struct {
	oid      string
	critical bool
	value    []byte
	hasValue bool
}

const (
	oidPaged       = "1.2.840.113556.1.4.319"
	oidManageDsaIT = "2.16.840.1.113730.3.4.2"
	oidWhoAmI      = "1.3.6.1.4.1.4203.1.11.3"
	oidStartTLS    = "1.3.6.1.4.1.1466.20037"
	oidNotice      = "1.3.6.1.4.1.1466.20036"
)

// LDAP result codes used here.
const (
	resultSuccess                = 0
	resultOperationsError        = 1
	resultProtocolError          = 2
	resultTimeLimitExceeded      = 3
	resultSizeLimitExceeded      = 4
	resultCompareFalse           = 5
	resultCompareTrue            = 6
	resultAuthMethodNotSupported = 7
	resultAdminLimitExceeded     = 11
	resultUnavailableCritical    = 12
	resultNoSuchAttribute        = 16
	resultUndefinedAttributeType = 17
	resultNoSuchObject           = 32
	resultInvalidDNSyntax        = 34
	resultInappropriateAuth      = 48
	resultInvalidCredentials     = 49
	resultInsufficientAccess     = 50
	resultBusy                   = 51
	resultUnavailable            = 52
	resultUnwillingToPerform     = 53
	resultOther                  = 80
)

// Protocol operation tags (APPLICATION class).
const (
	opBindRequest     = classApplication | constructed
	opBindResponse    = classApplication | constructed | 1
	opUnbindRequest   = classApplication | 2
	opSearchRequest   = classApplication | constructed | 3
	opSearchEntry     = classApplication | constructed | 4
	opSearchDone      = classApplication | constructed | 5
	opModifyRequest   = classApplication | constructed | 6
	opModifyResponse  = classApplication | constructed | 7
	opAddRequest      = classApplication | constructed | 8
	opAddResponse     = classApplication | constructed | 9
	opDelRequest      = classApplication | 10
	opDelResponse     = classApplication | constructed | 11
	opModDNRequest    = classApplication | constructed | 12
	opModDNResponse   = classApplication | constructed | 13
	opCompareRequest  = classApplication | constructed | 14
	opCompareResponse = classApplication | constructed | 15
	opAbandonRequest  = classApplication | 16
	opExtendedRequest = classApplication | constructed | 23
	opExtendedResp    = classApplication | constructed | 24
)

const readOnlyMessage = "the enthub directory is read-only over LDAP: it is fed by the AAF imports and the enthub portal " +
	"(guests, local accounts); make the change there"

// handle decodes and runs one message; quit ends the connection normally,
// an error ends it with a notice of disconnection.
func (c *conn) handle(ctx context.Context, msg []byte) (quit bool, err error) {
	r := berReader{msg}
	idb, err := r.expect(tagInteger, "messageID")
	if err != nil {
		return false, err
	}
	msgID, err := parseInt(idb)
	if err != nil || msgID < 0 || msgID > 1<<31-1 {
		return false, fmt.Errorf("%w: messageID out of range", errBER)
	}
	opTag, op, err := r.next()
	if err != nil {
		return false, fmt.Errorf("protocolOp: %w", err)
	}
	var ctls []control
	if !r.empty() {
		t, cb, err := r.next()
		if err != nil {
			return false, fmt.Errorf("controls: %w", err)
		}
		if t != ctxC0 {
			return false, fmt.Errorf("%w: unexpected element 0x%02x after the operation", errBER, t)
		}
		if ctls, err = parseControls(cb); err != nil {
			return false, err
		}
	}
	respTag := responseTag(opTag)
	// Critical controls we do not implement for this operation.
	for _, ct := range ctls {
		known := ct.oid == oidManageDsaIT || (ct.oid == oidPaged && opTag == opSearchRequest)
		if ct.critical && !known {
			if respTag == 0 {
				return false, nil // abandon/unbind carry no response
			}
			return false, c.result(msgID, respTag, resultUnavailableCritical, "",
				"critical control "+ct.oid+" is not supported", true)
		}
	}
	switch opTag {
	case opUnbindRequest:
		return true, nil
	case opAbandonRequest:
		id, err := parseInt(op)
		if err != nil {
			return false, fmt.Errorf("abandon: %w", err)
		}
		c.mu.Lock()
		if cancel, ok := c.ops[id]; ok {
			cancel()
		}
		c.mu.Unlock()
		return false, nil
	case opBindRequest:
		c.opsWG.Wait() // RFC 4511 §4.2.1: outstanding operations finish first
		defer c.s.observed("bind", time.Now())
		return false, c.bind(ctx, msgID, op)
	case opSearchRequest:
		return false, c.search(ctx, msgID, op, ctls) // observed there: it may end on another goroutine
	case opCompareRequest:
		defer c.s.observed("compare", time.Now())
		return false, c.compare(msgID, op)
	case opExtendedRequest:
		defer c.s.observed("extended", time.Now())
		return c.extended(ctx, msgID, op)
	case opModifyRequest, opAddRequest, opDelRequest, opModDNRequest:
		defer c.s.observed("write", time.Now())
		return false, c.result(msgID, respTag, resultUnwillingToPerform, "", readOnlyMessage, true)
	}
	return false, fmt.Errorf("%w: unknown protocol operation 0x%02x", errBER, opTag)
}

func responseTag(op byte) byte {
	switch op {
	case opBindRequest:
		return opBindResponse
	case opSearchRequest:
		return opSearchDone
	case opModifyRequest:
		return opModifyResponse
	case opAddRequest:
		return opAddResponse
	case opDelRequest:
		return opDelResponse
	case opModDNRequest:
		return opModDNResponse
	case opCompareRequest:
		return opCompareResponse
	case opExtendedRequest:
		return opExtendedResp
	}
	return 0
}

func parseControls(b []byte) ([]control, error) {
	var out []control
	r := berReader{b}
	for !r.empty() {
		cb, err := r.expect(tagSequence, "control")
		if err != nil {
			return nil, err
		}
		cr := berReader{cb}
		oid, err := cr.expect(tagOctetString, "control type")
		if err != nil {
			return nil, err
		}
		ct := control{oid: string(oid)}
		if cr.peek() == tagBoolean {
			_, v, _ := cr.next()
			if ct.critical, err = parseBool(v); err != nil {
				return nil, fmt.Errorf("control criticality: %w", err)
			}
		}
		if cr.peek() == tagOctetString {
			_, v, _ := cr.next()
			ct.value, ct.hasValue = v, true
		}
		if !cr.empty() {
			return nil, fmt.Errorf("%w: trailing data in control %s", errBER, ct.oid)
		}
		out = append(out, ct)
		if len(out) > 32 {
			return nil, fmt.Errorf("%w: more than 32 controls", errBER)
		}
	}
	return out, nil
}

func (c *conn) result(msgID int64, tag byte, code int, matched, diag string, flush bool) error {
	w := berWriter{b: make([]byte, 0, 64+len(diag))}
	m := w.begin(tagSequence)
	w.integer(tagInteger, msgID)
	op := w.begin(tag)
	w.integer(tagEnumerated, int64(code))
	w.str(tagOctetString, matched)
	w.str(tagOctetString, diag)
	w.end(op)
	w.end(m)
	return c.send(w.b, flush)
}

func noticeOfDisconnection(code int, diag string) []byte {
	w := berWriter{}
	m := w.begin(tagSequence)
	w.integer(tagInteger, 0)
	op := w.begin(opExtendedResp)
	w.integer(tagEnumerated, int64(code))
	w.str(tagOctetString, "")
	w.str(tagOctetString, diag)
	w.str(classContext|10, oidNotice)
	w.end(op)
	w.end(m)
	return w.b
}

// bind handles a simple bind.
func (c *conn) bind(ctx context.Context, msgID int64, op []byte) error {
	s := c.s
	s.stats.binds.Add(1)
	r := berReader{op}
	vb, err := r.expect(tagInteger, "bind version")
	if err != nil {
		return err
	}
	version, err := parseInt(vb)
	if err != nil {
		return err
	}
	nameB, err := r.expect(tagOctetString, "bind name")
	if err != nil {
		return err
	}
	authTag, cred, err := r.next()
	if err != nil {
		return fmt.Errorf("bind authentication: %w", err)
	}
	name := string(nameB)
	// A failed or new bind leaves the connection anonymous.
	c.setIdentity(anonymous)
	if version != 3 {
		return c.result(msgID, opBindResponse, resultProtocolError, "", "only LDAPv3 is supported", true)
	}
	if authTag != ctx0 {
		return c.result(msgID, opBindResponse, resultAuthMethodNotSupported, "",
			"only simple bind is supported (no SASL)", true)
	}
	pw := string(cred)
	if name == "" && pw == "" {
		return c.result(msgID, opBindResponse, resultSuccess, "", "", true)
	}
	if pw == "" {
		return c.result(msgID, opBindResponse, resultUnwillingToPerform, "",
			"unauthenticated bind (a DN with an empty password) is refused", true)
	}
	norm, ok := normDN(name)
	if !ok {
		return c.result(msgID, opBindResponse, resultInvalidDNSyntax, "", fmt.Sprintf("bind DN %q is not a DN", name), true)
	}
	lim := s.cfg.Limits
	dnKey, ipKey := "dn:"+norm, "ip:"+c.remote
	if d := max(s.throttle.locked(dnKey), s.throttle.locked(ipKey)); d > 0 {
		s.stats.bindFailures.Add(1)
		c.auditFail(ctx, name, "throttled")
		return c.result(msgID, opBindResponse, resultInvalidCredentials, "",
			fmt.Sprintf("too many failed binds for this DN or from this address; retry in %s", d.Round(time.Second)), true)
	}
	id, hash, reason := c.lookupCredentials(norm, name)
	okPw := false
	if hash != "" {
		if s.creds.ok(norm, hash, pw) {
			okPw = true
		} else {
			good, err := s.passwords.Verify(ctx, hash, pw)
			if err != nil && ctx.Err() != nil {
				return ctx.Err() // the connection is closing: no check ran
			} else if err != nil {
				c.log.WarnContext(ctx, "ldap: unusable password hash", "dn", name, "err", err)
				reason = "unusable password hash"
			} else if good {
				okPw = true
				s.creds.put(norm, hash, pw)
			} else {
				reason = "bad password"
			}
		}
	}
	if !okPw || id == nil {
		s.stats.bindFailures.Add(1)
		d1 := s.throttle.fail(dnKey, lim.FreeFailures)
		d2 := s.throttle.fail(ipKey, lim.FreeFailuresPerSource)
		if d1 > 0 || d2 > 0 {
			reason += fmt.Sprintf("; locked for %s", max(d1, d2))
		}
		c.auditFail(ctx, name, reason)
		return c.result(msgID, opBindResponse, resultInvalidCredentials, "", "", true)
	}
	s.throttle.success(dnKey)
	c.setIdentity(id)
	if id.person != "" {
		c.s.audit.Event(ctx, directory.Event{Time: s.now(), Type: "login", AccountID: id.person, Service: "ldap",
			Outcome: "ok", Remote: c.remote, Details: map[string]string{"dn": name}})
	}
	return c.result(msgID, opBindResponse, resultSuccess, "", "", true)
}

// lookupCredentials finds who norm names and the hash to check; reason
// says why nobody can bind as it.
func (c *conn) lookupCredentials(norm, name string) (*identity, string, string) {
	s := c.s
	if sa, ok := s.services[norm]; ok {
		return &identity{dn: name, svc: sa, display: sa.DN}, sa.PasswordHash, ""
	}
	if s.cfg.DisablePersonBind {
		return nil, "", "unknown bind DN"
	}
	m := s.cur.Load()
	ord, ok := m.resolveString(name)
	if !ok {
		return nil, "", "unknown bind DN"
	}
	k, i := m.locate(ord)
	if k != kPerson {
		return nil, "", "not a bindable entry"
	}
	p := &m.persons[i]
	hash := m.str(m.more(p).passwordHash)
	if hash == "" {
		return nil, "", "account has no local password"
	}
	v := view{m: m, now: s.now().Unix()}
	if !v.active(p) {
		return nil, "", "account disabled or expired"
	}
	// Copies: an identity outlives the model, and a string of its slab
	// would keep all of it alive.
	id := strings.Clone(m.str(p.id))
	return &identity{dn: m.personDN(i), person: id, display: "person " + id}, strings.Clone(hash), ""
}

func (c *conn) auditFail(ctx context.Context, dn, reason string) {
	c.log.InfoContext(ctx, "ldap bind refused", "dn", dn, "reason", reason)
	c.s.audit.Event(ctx, directory.Event{Time: c.s.now(), Type: "bind.failed", Service: "ldap", Outcome: "refused",
		Reason: reason, Remote: c.remote, Details: map[string]string{"dn": dn}})
}

func (c *conn) setIdentity(id *identity) {
	c.mu.Lock()
	c.id = id
	clear(c.pages)
	c.mu.Unlock()
}

// compare handles a compare request.
func (c *conn) compare(msgID int64, op []byte) error {
	r := berReader{op}
	dnB, err := r.expect(tagOctetString, "compare entry")
	if err != nil {
		return err
	}
	ava, err := r.expect(tagSequence, "compare assertion")
	if err != nil {
		return err
	}
	ar := berReader{ava}
	desc, err := ar.expect(tagOctetString, "compare attribute")
	if err != nil {
		return err
	}
	val, err := ar.expect(tagOctetString, "compare value")
	if err != nil {
		return err
	}
	v := c.view()
	rdns, err := parseDN(string(dnB))
	if err != nil {
		return c.result(msgID, opCompareResponse, resultInvalidDNSyntax, "", err.Error(), true)
	}
	ord, ok := v.entryFor(rdns)
	if !ok || !v.visible(ord) {
		return c.result(msgID, opCompareResponse, resultNoSuchObject, "", "", true)
	}
	at := lookupAttr(string(desc))
	if at == nil {
		return c.result(msgID, opCompareResponse, resultUndefinedAttributeType, "",
			fmt.Sprintf("attribute type %q is not served", desc), true)
	}
	if !v.acc.canReadAttr(at.id) {
		return c.result(msgID, opCompareResponse, resultInsufficientAccess, "",
			fmt.Sprintf("%s may not read %s", v.acc.name, at.name), true)
	}
	d := filterDecoder{v: &v, limits: filterLimits{maxDepth: 1, maxNodes: 1}}
	f := d.compileAVA(fEq, string(desc), string(val))
	var scratch []string
	if vals := v.values(nil, ord, at.id); len(vals) == 0 {
		return c.result(msgID, opCompareResponse, resultNoSuchAttribute, "", "", true)
	}
	if v.eval(&f, ord, &scratch) == tTrue {
		return c.result(msgID, opCompareResponse, resultCompareTrue, "", "", true)
	}
	return c.result(msgID, opCompareResponse, resultCompareFalse, "", "", true)
}

// extended handles Who-am-I and StartTLS.
func (c *conn) extended(ctx context.Context, msgID int64, op []byte) (bool, error) {
	r := berReader{op}
	name, err := r.expect(ctx0, "extended request name")
	if err != nil {
		return false, err
	}
	resp := func(code int, diag string, value *string) error {
		w := berWriter{}
		m := w.begin(tagSequence)
		w.integer(tagInteger, msgID)
		o := w.begin(opExtendedResp)
		w.integer(tagEnumerated, int64(code))
		w.str(tagOctetString, "")
		w.str(tagOctetString, diag)
		if value != nil {
			w.str(classContext|11, *value)
		}
		w.end(o)
		w.end(m)
		return c.send(w.b, true)
	}
	switch string(name) {
	case oidWhoAmI:
		id := c.identity()
		authz := ""
		if !id.isAnon {
			authz = "dn:" + id.dn
		}
		return false, resp(resultSuccess, "", &authz)
	case oidStartTLS:
		c.opsWG.Wait()
		if c.s.tls == nil {
			return false, resp(resultProtocolError, "StartTLS is not configured on this server", nil)
		}
		if c.isTLS {
			return false, resp(resultOperationsError, "TLS is already established", nil)
		}
		if c.r.Buffered() > 0 {
			return false, fmt.Errorf("%w: data sent after StartTLS before the handshake", errBER)
		}
		if err := resp(resultSuccess, "", nil); err != nil {
			return false, err
		}
		tc := tls.Server(c.nc, c.s.tls)
		_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.HandshakeContext(ctx); err != nil {
			c.log.InfoContext(ctx, "ldap: StartTLS handshake failed", "err", err)
			return true, nil
		}
		_ = tc.SetDeadline(time.Time{})
		c.wmu.Lock()
		c.nc = tc
		c.r = bufio.NewReaderSize(tc, 4096)
		c.w = bufio.NewWriterSize(tc, 32<<10)
		c.isTLS = true
		c.wmu.Unlock()
		return false, nil
	}
	return false, resp(resultProtocolError, fmt.Sprintf("unsupported extended operation %q", name), nil)
}
