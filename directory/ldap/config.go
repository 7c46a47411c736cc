package ldap

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/enthub/enthub/directory/password"
)

// Config configures the LDAP front. The zero value plus a listen address is
// usable: defaults are filled by NewServer (see the field comments).
type Config struct {
	// Listen is the address of the plain LDAP listener (StartTLS offered
	// when a certificate is configured), e.g. "127.0.0.1:3389". Empty: none.
	Listen string
	// ListenTLS is the address of the LDAPS listener. Empty: none.
	ListenTLS string
	// TLSCertFile and TLSKeyFile are PEM files; WithTLSConfig overrides them.
	TLSCertFile string
	TLSKeyFile  string

	// BaseDN is the suffix of the tree (default "dc=enthub").
	BaseDN string
	// JointureSource is the source part of ENTPersonJointure and
	// ENTStructureJointure for AAF records, "<source>$<AAF id>" (default
	// "AAF"; a deployment would set its académie, e.g. "AC-RENNES").
	JointureSource string
	// LegacyProfileCodes adds the SDET v1/v2 numeric codes (National_1 …)
	// to ENTPersonProfils beside the trigram codes, as RECIA does.
	LegacyProfileCodes bool

	// ServiceAccounts are the identities applications bind with.
	ServiceAccounts []ServiceAccount
	// Anonymous allows reading the tree without binding, with
	// AnonymousAccess. Off by default; the rootDSE and cn=subschema are
	// always readable.
	Anonymous       bool
	AnonymousAccess Access
	// DisablePersonBind refuses binds as a person entry. By default a
	// person may bind with their own DN only when their account has a local
	// password (guests) and is active; they then read their own entry.
	DisablePersonBind bool

	// ReloadInterval is how often the store's generation is polled
	// (default 5s).
	ReloadInterval time.Duration

	Limits Limits
}

// ServiceAccount is an application's identity. It lives in the
// configuration, not in the tree.
type ServiceAccount struct {
	// DN is the bind DN, e.g. "cn=grr,ou=services,dc=enthub".
	DN string
	// PasswordHash is an argon2id PHC string ($argon2id$v=19$…, see
	// HashPassword) or a salted SHA ({SSHA}, {SSHA256}, {SSHA512}).
	PasswordHash string
	Access
}

// Access says what an identity may read.
type Access struct {
	// Subtrees are DNs under BaseDN the identity may read (with their
	// subordinates); empty: the whole tree.
	Subtrees []string
	// Structures are UAIs: when set, only these structures, their groups,
	// and the persons having a persona (or their attachment) in one of them
	// are visible.
	Structures []string
	// Attributes are the attribute types the identity may read and filter
	// on (objectClass is always allowed); empty: all.
	Attributes []string
	// SeeDisabled shows disabled, expired and pending-purge accounts,
	// hidden otherwise.
	SeeDisabled bool
}

// Limits bound what one client can cost.
type Limits struct {
	MaxConnections   int           // open connections (default 4096); more are refused
	IdleTimeout      time.Duration // a connection with no request and no operation running is closed (default 5m)
	WriteTimeout     time.Duration // a client not reading its results is dropped (default 30s)
	MaxMessageSize   int           // bytes of one request (default 1 MiB)
	MaxOpsPerConn    int           // operations running at once on one connection (default 16)
	SizeLimit        int           // entries of a search without paging (default 5000); the client's smaller limit wins
	TimeLimit        time.Duration // duration of one search (default 60s); the client's smaller limit wins
	MaxPageSize      int           // entries of one page (default 5000)
	MaxPagedSearches int           // paged searches kept open per connection (default 8)
	MaxFilterDepth   int           // nesting of and/or/not (default 64)
	MaxFilterItems   int           // items of one filter (default 10000)
	// Failed binds: per bind DN, FreeFailures pass, then each failure locks
	// the DN for BindBackoff, doubling up to MaxBindBackoff; per source
	// address the same with FreeFailuresPerSource.
	FreeFailures          int
	FreeFailuresPerSource int
	BindBackoff           time.Duration
	MaxBindBackoff        time.Duration
	// MaxConcurrentHashes bounds argon2id verifications running at once
	// (each may take tens of MB); default 4.
	MaxConcurrentHashes int
}

func (c Config) withDefaults() Config {
	if c.BaseDN == "" {
		c.BaseDN = "dc=enthub"
	}
	if c.JointureSource == "" {
		c.JointureSource = "AAF"
	}
	if c.ReloadInterval == 0 {
		c.ReloadInterval = 5 * time.Second
	}
	l := &c.Limits
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	def(&l.MaxConnections, 4096)
	defD(&l.IdleTimeout, 5*time.Minute)
	defD(&l.WriteTimeout, 30*time.Second)
	def(&l.MaxMessageSize, 1<<20)
	def(&l.MaxOpsPerConn, 16)
	def(&l.SizeLimit, 5000)
	defD(&l.TimeLimit, 60*time.Second)
	def(&l.MaxPageSize, 5000)
	def(&l.MaxPagedSearches, 8)
	def(&l.MaxFilterDepth, 64)
	def(&l.MaxFilterItems, 10000)
	def(&l.FreeFailures, 5)
	def(&l.FreeFailuresPerSource, 20)
	defD(&l.BindBackoff, time.Second)
	defD(&l.MaxBindBackoff, 5*time.Minute)
	def(&l.MaxConcurrentHashes, 4)
	return c
}

// Validate checks the configuration, defaults applied, and names the field
// of every problem found.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("ldap."+field+": "+format, args...))
	}
	base, err := parseDN(c.BaseDN)
	if err != nil {
		bad("base_dn", "%q is not a DN: %v", c.BaseDN, err)
	} else if len(base) == 0 {
		bad("base_dn", "must not be empty")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("tls_cert", "tls_cert (%q) and tls_key (%q) go together", c.TLSCertFile, c.TLSKeyFile)
	}
	if strings.Contains(c.JointureSource, "$") {
		bad("jointure_source", "%q must not contain '$' (it is the field separator)", c.JointureSource)
	}
	seen := map[string]int{}
	for i, sa := range c.ServiceAccounts {
		f := fmt.Sprintf("service_accounts[%d]", i)
		n, ok := normDN(sa.DN)
		switch {
		case strings.TrimSpace(sa.DN) == "":
			bad(f+".dn", "is empty")
		case !ok:
			bad(f+".dn", "%q is not a DN", sa.DN)
		default:
			if j, dup := seen[n]; dup {
				bad(f+".dn", "%q is also service_accounts[%d]", sa.DN, j)
			}
			seen[n] = i
			if err == nil && isUnder(n, base) && isTreeEntry(n, base) {
				bad(f+".dn", "%q collides with an entry of the tree (use e.g. cn=NAME,ou=services,%s)", sa.DN, c.BaseDN)
			}
		}
		if sa.PasswordHash == "" {
			bad(f+".password_hash", "is empty (make one with `enthub ldap hash` or ldap.HashPassword)")
		} else if herr := password.Check(sa.PasswordHash); herr != nil {
			bad(f+".password_hash", "%v", herr)
		}
		errs = append(errs, validateAccess(f, sa.Access, base)...)
	}
	if c.Anonymous {
		errs = append(errs, validateAccess("anonymous_access", c.AnonymousAccess, base)...)
	}
	l := c.Limits
	for _, x := range []struct {
		name string
		v    int64
	}{
		{"max_connections", int64(l.MaxConnections)}, {"idle_timeout", int64(l.IdleTimeout)},
		{"write_timeout", int64(l.WriteTimeout)}, {"max_message_size", int64(l.MaxMessageSize)},
		{"max_ops_per_conn", int64(l.MaxOpsPerConn)}, {"size_limit", int64(l.SizeLimit)},
		{"time_limit", int64(l.TimeLimit)}, {"max_page_size", int64(l.MaxPageSize)},
		{"max_paged_searches", int64(l.MaxPagedSearches)}, {"max_filter_depth", int64(l.MaxFilterDepth)},
		{"max_filter_items", int64(l.MaxFilterItems)}, {"free_failures", int64(l.FreeFailures)},
		{"free_failures_per_source", int64(l.FreeFailuresPerSource)}, {"bind_backoff", int64(l.BindBackoff)},
		{"max_bind_backoff", int64(l.MaxBindBackoff)}, {"max_concurrent_hashes", int64(l.MaxConcurrentHashes)},
		{"reload_interval", int64(c.ReloadInterval)},
	} {
		if x.v < 0 {
			bad("limits."+x.name, "must not be negative (%d)", x.v)
		}
	}
	if l.MaxMessageSize > 0 && l.MaxMessageSize < 1024 {
		bad("limits.max_message_size", "%d bytes is too small for LDAP requests (minimum 1024)", l.MaxMessageSize)
	}
	if l.MaxBindBackoff < l.BindBackoff {
		bad("limits.max_bind_backoff", "%s is shorter than bind_backoff %s", l.MaxBindBackoff, l.BindBackoff)
	}
	return errors.Join(errs...)
}

func validateAccess(f string, a Access, base []rdn) []error {
	var errs []error
	for j, s := range a.Subtrees {
		n, ok := normDN(s)
		if !ok {
			errs = append(errs, fmt.Errorf("ldap.%s.subtrees[%d]: %q is not a DN", f, j, s))
			continue
		}
		if base != nil && !isUnder(n, base) {
			errs = append(errs, fmt.Errorf("ldap.%s.subtrees[%d]: %q is not under the base DN %q", f, j, s, formatDN(base)))
		}
	}
	for j, u := range a.Structures {
		if strings.TrimSpace(u) == "" {
			errs = append(errs, fmt.Errorf("ldap.%s.structures[%d]: empty UAI", f, j))
		}
	}
	for j, name := range a.Attributes {
		if lookupAttr(name) == nil {
			errs = append(errs, fmt.Errorf("ldap.%s.attributes[%d]: unknown attribute type %q", f, j, name))
		}
	}
	return errs
}

// isUnder reports whether the normalised DN n is base or below it.
func isUnder(n string, base []rdn) bool {
	b, _ := normDN(formatDN(base))
	return n == b || strings.HasSuffix(n, ","+b)
}

// isTreeEntry reports whether n names (or could name) an entry the server
// serves: the base, an ou container, or anything below an ou container.
func isTreeEntry(n string, base []rdn) bool {
	b, _ := normDN(formatDN(base))
	if n == b {
		return true
	}
	for _, ou := range ouNames {
		c := "ou=" + ou + "," + b
		if n == c || strings.HasSuffix(n, ","+c) {
			return true
		}
	}
	return false
}
