package idp

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/gar"
	"github.com/enthub/enthub/idp/sso"
)

// GARConfig is the GAR profile of the SAML IdP. The service whose SAML
// entity ID is EntityID is the GAR: only personas of a subscribing school
// with a profile the GAR knows reach it, and the release sources gar.*
// give what the GAR-ENT export gives for the same person.
type GARConfig struct {
	Project  gar.Project
	EntityID string
}

func (g GARConfig) enabled() bool { return g.Project.IDEnt != "" }

// validate refuses a service releasing gar.* sources when the GAR is not
// configured, or when its SP is not named (gar.entity_id): the GAR would
// then be reachable without the subscription check. The export alone
// needs neither.
func (g GARConfig) validate(services []Service) error {
	if g.enabled() {
		if err := g.Project.Validate(); err != nil {
			return fmt.Errorf("idp config: %w", err)
		}
	}
	for _, s := range services {
		for _, src := range append([]string{s.Release.Principal}, s.Release.sources()...) {
			if !strings.HasPrefix(src, "gar.") {
				continue
			}
			if !g.enabled() {
				return fmt.Errorf("idp config: service %q releases %s but the GAR is not configured (gar.id_ent)", s.ID, src)
			}
			if g.EntityID == "" {
				return fmt.Errorf("idp config: service %q releases %s: set gar.entity_id to its SAML entity ID, so that only subscribing schools reach it", s.ID, src)
			}
		}
	}
	return nil
}

// garAllowed refuses the GAR to a persona whose school does not subscribe
// or whose profile the GAR does not know (a parent), with a page that says
// so rather than an error from the GAR.
func (p *Provider) garAllowed(w http.ResponseWriter, r *http.Request, sess *sso.Session, svc *Service) bool {
	g := p.cfg.GAR
	if !g.enabled() || svc.Protocol != ProtocolSAML || svc.SAML.EntityID != g.EntityID {
		return true
	}
	var st directory.Structure
	if sess.StructureID != "" {
		st, _ = p.deps.Directory.Structure(r.Context(), sess.StructureID)
	}
	if g.Project.PersonaSubscribes(st.UAI, directory.Profile(sess.Profile)) {
		return true
	}
	reason := "GAR: school " + st.UAI + " does not subscribe"
	if st.UAI != "" && g.Project.Subscribes(st.UAI) {
		reason = "GAR: profile " + sess.Profile + " unknown to the GAR"
	}
	p.audit(r.Context(), p.sessionEvent(r, EventServiceRefused, sess, svc.ID, "refused", reason))
	detail := st.Name
	if st.UAI != "" {
		detail = strings.TrimSpace(st.Name + " (" + st.UAI + ")")
	}
	p.message(w, r, MessageView{Status: http.StatusForbidden, Code: MsgGARNotSubscribed, Detail: detail,
		Link: p.url("/login/persona"), LinkLabel: "persona"})
	return false
}

// GARLaunchURL is where the médiacentre tile of a persona — its school's
// UAI, its profile — sends the user: the IdP-initiated login to the GAR.
// ok is false when the GAR is not configured or the persona does not reach
// it (the portal then shows no tile).
func (p *Provider) GARLaunchURL(uai string, profile directory.Profile) (string, bool) {
	g := p.cfg.GAR
	if !g.enabled() || !g.Project.PersonaSubscribes(uai, profile) {
		return "", false
	}
	return gar.IdPInitiatedURL(p.cfg.PublicURL, g.EntityID), true
}

// garValues gives the gar.* sources; nothing when the GAR is not
// configured (a start refuses a service naming them then).
func (sub *Subject) garValues(src string) []string {
	if sub.gar == nil {
		return nil
	}
	var v string
	switch src {
	case "gar.id_ent":
		v = sub.gar.IDEnt
	case "gar.person_id":
		v = sub.gar.PersonID(sub.Person.ID)
	case "gar.profile":
		v, _ = gar.NationalProfile(sub.Persona.Profile)
	}
	if v == "" {
		return nil
	}
	return []string{v}
}

// IsGAR reports whether the service is the GAR, which the launcher shows
// as the médiacentre tile of subscribing personas (GARLaunchURL) rather
// than as an ordinary tile.
func (p *Provider) IsGAR(s Service) bool {
	g := p.cfg.GAR
	return g.EntityID != "" && s.Protocol == ProtocolSAML && s.SAML.EntityID == g.EntityID
}
