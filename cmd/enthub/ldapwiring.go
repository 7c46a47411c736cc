package main

import (
	"context"
	"log/slog"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/ldap"
)

// ldapConfig maps the configuration onto the LDAP server's.
func ldapConfig(c config.LDAP) ldap.Config {
	lc := ldap.Config{
		Listen: c.Listen, ListenTLS: c.LDAPSListen, TLSCertFile: c.TLSCert, TLSKeyFile: c.TLSKey,
		BaseDN: c.BaseDN, JointureSource: c.JointureSource, Anonymous: c.Anonymous,
	}
	lc.Limits.MaxConnections = c.MaxConnections
	lc.Limits.IdleTimeout = c.IdleTimeout
	lc.Limits.SizeLimit = c.SizeLimit
	for _, sa := range c.ServiceAccounts {
		lc.ServiceAccounts = append(lc.ServiceAccounts, ldap.ServiceAccount{DN: sa.DN, PasswordHash: sa.PasswordHash,
			Access: ldap.Access{Subtrees: sa.Subtrees, Structures: sa.Structures, Attributes: sa.Attributes, SeeDisabled: sa.SeeDisabled}})
	}
	return lc
}

// storeAuditor records the LDAP front's audit events in the store.
type storeAuditor struct {
	store directory.Store
	log   *slog.Logger
}

func (a storeAuditor) Event(ctx context.Context, e directory.Event) {
	err := a.store.Update(context.WithoutCancel(ctx), func(tx directory.Tx) error { return tx.AppendEvents(ctx, e) })
	if err != nil {
		a.log.Error("audit event lost", "type", e.Type, "err", err)
	}
}
