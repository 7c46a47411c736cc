package idp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/enthub/enthub/config"
	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/idp/sso"
	"gopkg.in/yaml.v3"
)

// ParseServices reads a YAML list of services (the format of
// sso.services_file and of `enthub services import`) as strictly as the
// configuration: every unknown key and every value of the wrong type is
// reported, all at once, as config.Problems naming the line, the service
// and the YAML key. It also returns each service's own YAML, as written,
// which is what the store keeps. It does not validate: see ReadServices.
func ParseServices(b []byte) ([]Service, [][]byte, error) {
	return parseServices("", b)
}

// ReadServices is ParseServices followed by the checks a start makes
// (ValidateServices), each problem located at its line in file: every
// service is checked, and every problem found is reported.
func ReadServices(file string, b []byte) ([]Service, [][]byte, error) {
	out, raw, err := parseServices(file, b)
	if err != nil {
		return nil, nil, err
	}
	var items []*yaml.Node
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err == nil && len(doc.Content) == 1 {
		items = doc.Content[0].Content
	}
	var problems config.Problems
	seen := newUniqueness()
	for i := range out {
		s := out[i]
		err := s.compile()
		if err == nil {
			err = seen.add(&s)
		}
		if err != nil {
			problems = append(problems, locate(file, items[i], i, s.ID, err))
		}
	}
	if len(problems) > 0 {
		return nil, nil, problems
	}
	return out, raw, nil
}

func parseServices(file string, b []byte) ([]Service, [][]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, nil, config.Problems{{File: file, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) == 0 {
		return nil, nil, nil
	}
	list := doc.Content[0]
	if list.Kind != yaml.SequenceNode {
		return nil, nil, config.Problems{{File: file, Line: list.Line,
			Msg: "want a YAML list of services, one \"- id: …\" each"}}
	}
	var problems config.Problems
	out := make([]Service, len(list.Content))
	raw := make([][]byte, len(list.Content))
	for i, item := range list.Content {
		_, p := config.DecodeNode(file, item, &out[i])
		for _, x := range p {
			x.Key = serviceLabel(i, out[i].ID) + ": " + x.Key
			problems = append(problems, x)
		}
		t, err := yaml.Marshal(item)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", item.Line, err)
		}
		raw[i] = t
	}
	if len(problems) > 0 {
		return nil, nil, problems
	}
	return out, raw, nil
}

// ParseService reads one service's YAML, as strictly as ParseServices.
func ParseService(b []byte) (Service, error) {
	var s Service
	if _, p := config.Decode("", b, &s); len(p) > 0 {
		return s, p
	}
	return s, nil
}

// serviceLabel names a service of a list in a problem: its id, else its
// place in the list.
func serviceLabel(i int, id string) string {
	if id == "" {
		return fmt.Sprintf("service #%d", i+1)
	}
	return fmt.Sprintf("service %q", id)
}

// fieldError is a problem of one key of a service, named as in its YAML.
type fieldError struct{ key, msg string }

func (e *fieldError) Error() string { return e.key + ": " + e.msg }

func keyErr(key, format string, args ...any) error {
	return &fieldError{key: key, msg: fmt.Sprintf(format, args...)}
}

// locate places a service's problem at the line of its key in the file,
// or of the nearest key above it that is written, or of the service.
func locate(file string, item *yaml.Node, i int, id string, err error) config.Problem {
	p := config.Problem{File: file, Line: item.Line, Key: serviceLabel(i, id), Msg: err.Error()}
	var fe *fieldError
	if !errors.As(err, &fe) {
		return p
	}
	p.Key += ": " + fe.key
	p.Msg = fe.msg
	var s Service
	lines, _ := config.DecodeNode(file, item, &s)
	for key := fe.key; key != ""; {
		if line, ok := lines[key]; ok {
			p.Line = line
			break
		}
		cut := strings.LastIndexAny(key, ".[")
		if cut < 0 {
			break
		}
		key = key[:cut]
	}
	return p
}

func profileNames() string {
	names := make([]string, len(directory.Profiles))
	for i, p := range directory.Profiles {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// metadataTimeout bounds the fetch of one SP's metadata by URL, on top of
// the HTTP client's own timeout, so that a slow partner cannot hold a
// reload (and the services of everyone else) for long.
const metadataTimeout = 10 * time.Second

// reg is the registry in use. Handlers read it once per request where
// they look more than one thing up, so a swap in the middle of a request
// cannot mix two registries.
func (p *Provider) reg() *registry { return p.services.Load() }

// buildRegistry makes a registry from the configured services and the
// store's definitions. Configured services come first and win: a store
// definition with the ID (or the OIDC client ID, SAML entity ID) of one
// of them is skipped with a warning, because the file is the reviewed
// deployment and must not be overridden by a row. A store definition
// that does not parse, validate, or load its SAML metadata is logged and
// skipped; it never breaks the others. Configured services' SAML
// metadata is loaded once, at start (a failure there fails the start, as
// before); prev is the registry being replaced, whose metadata is kept
// when a fetch fails.
func (p *Provider) buildRegistry(ctx context.Context, defs []sso.ServiceDef, prev *registry) (*registry, error) {
	services := append([]Service(nil), p.cfg.Services...)
	seen := newUniqueness()
	for i := range services {
		if err := seen.add(&services[i]); err != nil { // Validate already refused it
			return nil, err
		}
	}
	fromStore := map[string]bool{}
	for _, d := range defs {
		s, err := ParseService(d.Definition)
		if err == nil && s.ID != d.ID {
			err = fmt.Errorf("definition has ID %q", s.ID)
		}
		if err == nil {
			err = s.compile()
		}
		if err == nil && seen.ids[s.ID] { // store IDs are unique: this one is configured
			p.log.Warn("store service ignored: a configured service has its ID and wins", "service", d.ID)
			continue
		}
		if err == nil {
			err = seen.add(&s)
		}
		if err != nil {
			p.log.Error("store service skipped", "service", d.ID, "err", err)
			continue
		}
		services = append(services, s)
		fromStore[s.ID] = true
	}
	sps := map[string]*samlSP{}
	kept := services[:0]
	for _, s := range services {
		if s.Protocol != ProtocolSAML {
			kept = append(kept, s)
			continue
		}
		sp, err := p.loadSP(ctx, &s, fromStore[s.ID], prev)
		if err != nil {
			if !fromStore[s.ID] {
				return nil, fmt.Errorf("idp: SAML service %s: %w", s.ID, err)
			}
			p.log.Error("store service skipped: SAML metadata", "service", s.ID, "err", err)
			continue
		}
		sps[s.SAML.EntityID] = sp
		kept = append(kept, s)
	}
	r := newRegistry(kept)
	for entity, sp := range sps {
		sp.svc = r.byEntity[entity] // the registry's own copy
	}
	r.sps = sps
	r.stored = len(fromStore)
	return r, nil
}

// loadSP gives a SAML service's metadata: a configured one's is read at
// start and kept after; a stored one's is read at each load, and when
// that fails the previous registry's copy of it is kept (a partner's
// metadata URL down for a minute must not lock its users out).
func (p *Provider) loadSP(ctx context.Context, s *Service, stored bool, prev *registry) (*samlSP, error) {
	var old *samlSP
	if prev != nil && prev.byID[s.ID] != nil {
		old = prev.sps[prev.byID[s.ID].SAML.EntityID]
	}
	if !stored && old != nil {
		return p.saml.parseSP(s, old.raw)
	}
	lctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	raw, err := p.saml.readMetadata(lctx, s)
	if err == nil {
		return p.saml.parseSP(s, raw)
	}
	if old == nil {
		return nil, err
	}
	p.log.Warn("SAML metadata not read: keeping the previous copy", "service", s.ID, "err", err)
	return p.saml.parseSP(s, old.raw)
}

// ReloadServices rebuilds the registry from the store when its
// registrations changed since the last load (one single-row read
// otherwise) and swaps it in; requests already running finish with the
// registry they started with. It reports whether it reloaded. The
// provider calls it every Config.ServicesReload.
func (p *Provider) ReloadServices(ctx context.Context) (bool, error) {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	gen, err := p.deps.SSO.ServicesGeneration(ctx)
	if err != nil {
		return false, fmt.Errorf("idp: reload services: %w", err)
	}
	if gen == p.svcGen {
		return false, nil
	}
	defs, err := p.deps.SSO.ServiceDefs(ctx)
	if err != nil {
		return false, fmt.Errorf("idp: reload services: %w", err)
	}
	r, err := p.buildRegistry(ctx, defs, p.reg())
	if err != nil {
		return false, err
	}
	if r.needsEC() {
		// A new ES256 client: its key must exist before it is served.
		if err := p.keys.ensure(ctx, true); err != nil {
			return false, fmt.Errorf("idp: reload services: keys: %w", err)
		}
	}
	p.services.Store(r)
	p.svcGen = gen
	p.log.Info("services reloaded", "generation", gen, "services", len(r.byID), "from_store", r.stored)
	return true, nil
}

// watchServices polls the store's registrations until ctx ends.
func (p *Provider) watchServices(ctx context.Context) {
	defer p.watchwg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.deps.After(p.cfg.ServicesReload):
		}
		if _, err := p.ReloadServices(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("services not reloaded: keeping the current registry", "err", err)
		}
	}
}

func (r *registry) needsEC() bool {
	for _, s := range r.byClient {
		if s.OIDC.IDTokenSignedResponseAlg == "ES256" {
			return true
		}
	}
	return false
}
