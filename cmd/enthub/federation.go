package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory/sqlstore"
	"github.com/enthub/enthub/federation"
	"github.com/enthub/enthub/federation/broker"
	"github.com/enthub/enthub/federation/link"
	"github.com/enthub/enthub/federation/oidc"
	"github.com/enthub/enthub/federation/preset"
	"github.com/enthub/enthub/federation/saml"
	"github.com/enthub/enthub/idp"
	"github.com/enthub/enthub/portal/loginui"
)

// federationSetup is what the configured connectors give the SSO: the
// broker serving their endpoints and the chooser's methods.
type federationSetup struct {
	broker  *broker.Broker
	methods []idp.LoginMethod
	localID string
}

// buildFederation builds the connectors of cfg.Federation (each checked by
// its package, IdP metadata and OIDC discovery read now, so a broken
// upstream stops the start with its connector's name).
func buildFederation(ctx context.Context, cfg config.Config, log *slog.Logger, store *sqlstore.Store, client *http.Client) (*federationSetup, error) {
	fs := &federationSetup{}
	var conns []federation.Connector
	links := map[string]link.Config{}
	for i, fc := range cfg.Federation.Connectors {
		fs.methods = append(fs.methods, idp.LoginMethod{ID: fc.ID, Label: fc.Label, Profiles: fc.Profiles, Local: fc.Type == "local"})
		var c federation.Connector
		var lc link.Config
		var err error
		switch fc.Type {
		case "local":
			fs.localID = fc.ID
			continue
		case "saml":
			c, lc, err = samlConnector(ctx, cfg.PublicURL, fc, log, store, client)
		case "oidc":
			c, lc, err = oidcConnector(ctx, cfg.PublicURL, fc, log, store, client)
		}
		if err != nil {
			return nil, &exitError{code: exitFailed, err: fmt.Errorf("federation.connectors[%d] (%s): %w", i, fc.ID, err)}
		}
		if len(fc.Link.Rules) > 0 || fc.Link.UAIAttribute != "" || fc.Link.Academies != nil {
			lc = linkConfig(fc.Link, lc)
		}
		if err := lc.Validate(fc.ID); err != nil {
			return nil, &exitError{code: exitFailed, err: fmt.Errorf("federation.connectors[%d].link: %w", i, err)}
		}
		conns = append(conns, c)
		links[fc.ID] = lc
	}
	reg, err := federation.NewRegistry(conns...)
	if err != nil {
		return nil, &exitError{code: exitFailed, err: fmt.Errorf("federation: %w", err)}
	}
	fs.broker = &broker.Broker{Connectors: reg, Links: links, Linker: link.Linker{Store: store, Now: time.Now}, Now: time.Now,
		Logger: log.With("component", "federation")}
	return fs, nil
}

// linkConfig lays the configured linking over the preset's: rules given
// replace the preset's rules.
func linkConfig(l config.Link, base link.Config) link.Config {
	if len(l.Rules) > 0 {
		base.Rules = nil
		for _, r := range l.Rules {
			base.Rules = append(base.Rules, link.Rule{Name: r.Name, Kind: link.Kind(r.Kind), Attributes: r.Attributes, Keys: r.Keys,
				Families: r.Families, UAIAttribute: r.UAIAttribute})
		}
	}
	if l.UAIAttribute != "" {
		base.UAIAttribute = l.UAIAttribute
	}
	if l.Academies != nil {
		base.Academies = l.Academies
	}
	return base
}

func keyPairs(kps []config.KeyPair) []saml.KeyPair {
	var out []saml.KeyPair
	for _, k := range kps {
		out = append(out, saml.KeyPair{KeyFile: k.KeyFile, CertFile: k.CertFile})
	}
	return out
}

func samlConnector(ctx context.Context, public string, fc config.Connector, log *slog.Logger, store *sqlstore.Store, client *http.Client) (federation.Connector, link.Config, error) {
	s := fc.SAML
	c := saml.Config{
		ID: fc.ID, EntityID: s.EntityID, ACSURL: public + broker.ACSPath(fc.ID), SLOURL: public + broker.SLOPath(fc.ID),
		IdPMetadataFile: s.IdPMetadataFile, IdPMetadataURL: s.IdPMetadataURL, IdPEntityID: s.IdPEntityID,
		MetadataSigningCertFile: s.MetadataSigningCertFile, MetadataRefresh: s.MetadataRefresh,
		SigningKeys: keyPairs(s.SigningKeys), EncryptionKeys: keyPairs(s.EncryptionKeys),
		Binding: s.Binding, SignatureAlgorithm: s.SignatureAlgorithm, AllowSHA1: s.AllowSHA1, AllowRSA15: s.AllowRSA15,
		RequireEncryption: s.RequireEncryption, RequireSignedAssertion: s.RequireSignedAssertion,
		ClockSkew: s.ClockSkew, MaxAge: s.MaxAge, AllowIdPInitiated: s.AllowIdPInitiated, DefaultNext: public + "/",
		SubjectAttribute: s.SubjectAttribute, Attributes: s.Attributes, NameIDFormat: s.NameIDFormat,
		AuthnContextClassRef: s.AuthnContextClassRef, RequireBrowserBinding: s.RequireBrowserBinding,
	}
	if c.EntityID == "" {
		c.EntityID = public + broker.MetadataPath(fc.ID)
	}
	var lc link.Config
	switch fc.Preset {
	case "educonnect":
		c, lc = preset.EduConnect(c)
	case "agents-saml":
		c, lc = preset.AgentsSAML(c)
	}
	conn, err := saml.New(ctx, c, saml.Deps{Store: store, Now: time.Now, Rand: rand.Reader, HTTPClient: client, Logger: log.With("connector", fc.ID)})
	return conn, lc, err
}

func oidcConnector(ctx context.Context, public string, fc config.Connector, log *slog.Logger, store *sqlstore.Store, client *http.Client) (federation.Connector, link.Config, error) {
	o := fc.OIDC
	secret := o.ClientSecret
	if o.ClientSecretFile != "" {
		b, err := os.ReadFile(o.ClientSecretFile)
		if err != nil {
			return nil, link.Config{}, fmt.Errorf("oidc.client_secret_file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	redirect := public + broker.CallbackPath(fc.ID)
	c := oidc.Config{ID: fc.ID, Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: secret, RedirectURL: redirect,
		Scopes: o.Scopes, Algorithms: o.Algorithms, SubjectClaim: o.SubjectClaim, TenantID: o.TenantID,
		Userinfo: o.Userinfo, ClockSkew: o.ClockSkew, AuthParams: o.AuthParams}
	var lc link.Config
	switch fc.Preset {
	case "agents-oidc":
		c, lc = preset.AgentsOIDC(c)
	case "entra":
		// The preset's issuer is Microsoft's for the tenant; a configured
		// issuer (a national cloud, the demo's simulation) wins.
		var pc oidc.Config
		pc, lc = preset.EntraID(o.TenantID, o.ClientID, secret, redirect, o.AAFIDClaim)
		pc.ID = fc.ID
		if o.Issuer != "" {
			pc.Issuer = o.Issuer
		}
		if len(o.Scopes) > 0 {
			pc.Scopes = o.Scopes
		}
		if o.SubjectClaim != "" {
			pc.SubjectClaim = o.SubjectClaim
		}
		pc.Algorithms, pc.Userinfo, pc.ClockSkew, pc.AuthParams = o.Algorithms, o.Userinfo, o.ClockSkew, o.AuthParams
		c = pc
	}
	// The provider sends the browser back to the connector's logout
	// endpoint after RP-initiated logout, with the state it checks.
	c.PostLogoutRedirectURL = public + broker.SLOPath(fc.ID)
	conn, err := oidc.New(ctx, c, oidc.Deps{Store: store, Now: time.Now, Rand: rand.Reader, HTTPClient: client, Logger: log.With("connector", fc.ID)})
	return conn, lc, err
}

// wireBroker connects the broker to the identity provider and the pages,
// and mounts its routes.
func wireBroker(fs *federationSetup, p *idp.Provider, pages *loginui.Pages, mux *http.ServeMux) {
	b := fs.broker
	b.Audit = p.Audit
	b.EndSessions = p.EndUpstreamSessions
	b.Protocol = p.RequestProtocol
	b.Complete = func(w http.ResponseWriter, r *http.Request, l broker.Login) {
		read := make([]idp.ReadAccount, len(l.Candidates))
		for i, c := range l.Candidates {
			read[i] = idp.ReadAccount{Account: c.Account, Person: c.Person, Personas: c.Personas}
		}
		p.CompleteUpstreamLogin(w, r, idp.UpstreamLogin{Upstream: l.Connector, Accounts: l.Accounts, Ref: l.Ref, Logout: l.Logout,
			Request: l.Request, Details: l.Details, Read: read})
	}
	b.Refuse = func(w http.ResponseWriter, r *http.Request, why broker.Refused) {
		w.Header().Set("Cache-Control", "no-store")
		switch {
		case why.Unknown:
			pages.Message(w, r, idp.MessageView{Status: http.StatusNotFound, Code: idp.MsgBadRequest, Detail: "connecteur inconnu : " + why.Connector, Link: "/login"})
		case why.NoAccount:
			pages.Message(w, r, idp.MessageView{Status: http.StatusForbidden, Code: idp.MsgNoAccount, Detail: why.UAI, Link: "/login"})
		case why.Reason == federation.ReasonUnavailable:
			pages.Message(w, r, idp.MessageView{Status: http.StatusServiceUnavailable, Code: idp.MsgServerError, Link: "/login"})
		default:
			pages.Message(w, r, idp.MessageView{Status: http.StatusForbidden, Code: idp.MsgUpstreamRefused, Detail: string(why.Reason), Link: "/login"})
		}
	}
	b.Routes(mux)
}
