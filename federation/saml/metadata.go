package saml

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/beevik/etree"
	csaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// idp is what the connector uses of the IdP's metadata.
type idp struct {
	entityID    string
	ssoRedirect string
	ssoPost     string
	sloRedirect string
	// sloResponse is where our LogoutResponse goes (ResponseLocation, else
	// Location).
	sloResponse string
	certs       []*x509.Certificate
	// refreshAt is when to fetch the metadata again: the earliest of its
	// validUntil, now + cacheDuration and now + the configured bound.
	refreshAt  time.Time
	validUntil time.Time
}

// parseMetadata reads IdP metadata (an EntityDescriptor, or an
// EntitiesDescriptor in which entityID is picked), checking its signature
// against signer when signer is set.
func parseMetadata(raw []byte, entityID string, signer *x509.Certificate, now time.Time, bound time.Duration) (*idp, error) {
	if err := validateRoundTrip(raw); err != nil {
		return nil, fmt.Errorf("metadata: not well-formed XML: %w", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	root := doc.Root()
	if root == nil {
		return nil, fmt.Errorf("metadata: empty document")
	}
	if signer != nil {
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{signer}})
		vc.IdAttribute = "ID"
		vc.Clock = dsig.NewFakeClockAt(now)
		verified, err := vc.Validate(root)
		if err != nil {
			return nil, fmt.Errorf("metadata: signature: %w", err)
		}
		root = verified
	}
	body, err := elementBytes(root)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	var eds []csaml.EntityDescriptor
	var validUntil time.Time
	var cache time.Duration
	switch root.Tag {
	case "EntitiesDescriptor":
		var all csaml.EntitiesDescriptor
		if err := xml.Unmarshal(body, &all); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		eds = all.EntityDescriptors
		if all.ValidUntil != nil {
			validUntil = *all.ValidUntil
		}
		if all.CacheDuration != nil {
			cache = *all.CacheDuration
		}
	case "EntityDescriptor":
		var ed csaml.EntityDescriptor
		if err := xml.Unmarshal(body, &ed); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		eds = []csaml.EntityDescriptor{ed}
	default:
		return nil, fmt.Errorf("metadata: root element %s is not EntityDescriptor", root.Tag)
	}
	var ed *csaml.EntityDescriptor
	for i := range eds {
		if entityID == "" || eds[i].EntityID == entityID {
			if ed != nil {
				return nil, fmt.Errorf("metadata: several entities, set idp_entity_id")
			}
			ed = &eds[i]
		}
	}
	if ed == nil {
		return nil, fmt.Errorf("metadata: no entity %q", entityID)
	}
	if !ed.ValidUntil.IsZero() && (validUntil.IsZero() || ed.ValidUntil.Before(validUntil)) {
		validUntil = ed.ValidUntil
	}
	if ed.CacheDuration > 0 && (cache == 0 || ed.CacheDuration < cache) {
		cache = ed.CacheDuration
	}
	if !validUntil.IsZero() && !now.Before(validUntil) {
		return nil, fmt.Errorf("metadata: expired (validUntil %s)", validUntil.Format(time.RFC3339))
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return nil, fmt.Errorf("metadata: entity %s has no IDPSSODescriptor", ed.EntityID)
	}
	out := &idp{entityID: ed.EntityID, validUntil: validUntil}
	for _, d := range ed.IDPSSODescriptors {
		for _, s := range d.SingleSignOnServices {
			switch s.Binding {
			case csaml.HTTPRedirectBinding:
				out.ssoRedirect = first(out.ssoRedirect, s.Location)
			case csaml.HTTPPostBinding:
				out.ssoPost = first(out.ssoPost, s.Location)
			}
		}
		for _, s := range d.SingleLogoutServices {
			if s.Binding == csaml.HTTPRedirectBinding {
				if out.sloRedirect == "" {
					out.sloRedirect, out.sloResponse = s.Location, first(s.ResponseLocation, s.Location)
				}
			}
		}
		for _, k := range d.KeyDescriptors {
			if k.Use != "" && k.Use != "signing" {
				continue
			}
			for _, xc := range k.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Data), ""))
				if err != nil {
					return nil, fmt.Errorf("metadata: signing certificate: %w", err)
				}
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					return nil, fmt.Errorf("metadata: signing certificate: %w", err)
				}
				out.certs = append(out.certs, cert)
			}
		}
	}
	if len(out.certs) == 0 {
		return nil, fmt.Errorf("metadata: entity %s publishes no signing certificate", ed.EntityID)
	}
	if out.ssoRedirect == "" && out.ssoPost == "" {
		return nil, fmt.Errorf("metadata: entity %s has no SingleSignOnService with the Redirect or POST binding", ed.EntityID)
	}
	out.refreshAt = now.Add(bound)
	if cache > 0 && now.Add(cache).Before(out.refreshAt) {
		out.refreshAt = now.Add(cache)
	}
	if !validUntil.IsZero() && validUntil.Before(out.refreshAt) {
		out.refreshAt = validUntil
	}
	return out, nil
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func elementBytes(el *etree.Element) ([]byte, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	return doc.WriteToBytes()
}

// loadMetadata reads the configured metadata source.
func (c *Connector) loadMetadata(ctx context.Context) ([]byte, error) {
	switch {
	case len(c.cfg.IdPMetadata) > 0:
		return c.cfg.IdPMetadata, nil
	case c.cfg.IdPMetadataFile != "":
		b, err := os.ReadFile(c.cfg.IdPMetadataFile)
		if err != nil {
			return nil, fmt.Errorf("idp_metadata_file: %w", err)
		}
		return b, nil
	default:
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.IdPMetadataURL, nil)
		if err != nil {
			return nil, fmt.Errorf("idp_metadata_url: %w", err)
		}
		resp, err := c.deps.HTTPClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("idp_metadata_url %s: %w", c.cfg.IdPMetadataURL, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("idp_metadata_url %s: HTTP %s", c.cfg.IdPMetadataURL, resp.Status)
		}
		return io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	}
}

// metadataRetry is how long a failed metadata refresh waits before the
// next attempt, the previous metadata serving meanwhile.
const metadataRetry = time.Minute

// metadata returns the IdP metadata, fetching it again when due. A failed
// refresh keeps the previous metadata until its validUntil, so an IdP's
// short outage does not stop logins.
func (c *Connector) metadata(ctx context.Context) (*idp, error) {
	now := c.deps.Now()
	cur := c.idp.Load()
	if cur != nil && now.Before(cur.refreshAt) {
		return cur, nil
	}
	c.refresh.Lock()
	defer c.refresh.Unlock()
	if cur = c.idp.Load(); cur != nil && now.Before(cur.refreshAt) {
		return cur, nil
	}
	raw, err := c.loadMetadata(ctx)
	var next *idp
	if err == nil {
		next, err = parseMetadata(raw, c.cfg.IdPEntityID, c.cfg.MetadataSigningCert, now, c.cfg.MetadataRefresh)
	}
	if err != nil {
		if cur != nil && (cur.validUntil.IsZero() || now.Before(cur.validUntil)) {
			// Try again in a while, not at the next login: with the URL
			// hanging, every login queued on c.refresh would otherwise
			// wait for one timeout after another.
			kept := *cur
			kept.refreshAt = now.Add(metadataRetry)
			if !kept.validUntil.IsZero() && kept.validUntil.Before(kept.refreshAt) {
				kept.refreshAt = kept.validUntil
			}
			c.idp.Store(&kept)
			c.deps.Logger.Warn("IdP metadata refresh failed, keeping the previous one", "connector", c.cfg.ID,
				"retry_in", metadataRetry, "error", err)
			return &kept, nil
		}
		return nil, fmt.Errorf("connector %s: %w", c.cfg.ID, err)
	}
	c.idp.Store(next)
	return next, nil
}

// loadCertPEM reads one certificate from a PEM file.
func loadCertPEM(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}
