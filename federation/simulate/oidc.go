package simulate

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// OP is a SIMULATED OpenID provider that behaves like Entra ID: discovery,
// JWKS, authorization code flow with PKCE (S256), RS256 ID tokens carrying
// tid and oid, userinfo. /authorize logs in the user named by login_hint,
// or shows the list of simulated users to pick from.
type OP struct {
	Issuer       string // e.g. https://login.simulation/<tenant>/v2.0 (the server's URL + path)
	Key          *rsa.PrivateKey
	KeyID        string
	ClientID     string
	ClientSecret string
	TenantID     string
	// Users are the simulated accounts by login, with their claims (oid,
	// upn, email, employeeId…).
	Users map[string]map[string]any
	// Title heads the login page ("Simulation — EduProvence (Entra ID)");
	// Labels name the users on it (default: their login).
	Title  string
	Labels map[string]string
	Now    func() time.Time
	// Tamper, when set, changes the ID token's claims before signing;
	// SignMode "none" or "hs256-public" signs it the way attackers do.
	Tamper   func(claims map[string]any)
	SignMode string
	// PostLogoutRedirectURIs are the registered post_logout_redirect_uri
	// values the end-session endpoint sends the browser back to.
	PostLogoutRedirectURIs []string

	mu     sync.Mutex
	codes  map[string]opCode
	tokens map[string]string // access token -> login
	n      int
}

type opCode struct {
	login, nonce, challenge, redirect string
}

// Handler serves the provider under the issuer's path.
func (p *OP) Handler() http.Handler {
	u, _ := url.Parse(p.Issuer)
	base := strings.TrimSuffix(u.Path, "/")
	mux := http.NewServeMux()
	mux.HandleFunc(base+"/.well-known/openid-configuration", p.discovery)
	mux.HandleFunc(base+"/jwks", p.jwks)
	mux.HandleFunc(base+"/authorize", p.authorize)
	mux.HandleFunc(base+"/token", p.token)
	mux.HandleFunc(base+"/userinfo", p.userinfo)
	mux.HandleFunc(base+"/logout", p.endSession)
	return mux
}

func (p *OP) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (p *OP) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]any{
		"issuer": p.Issuer, "authorization_endpoint": p.Issuer + "/authorize", "token_endpoint": p.Issuer + "/token",
		"userinfo_endpoint": p.Issuer + "/userinfo", "jwks_uri": p.Issuer + "/jwks", "end_session_endpoint": p.Issuer + "/logout",
		"response_types_supported": []string{"code"}, "subject_types_supported": []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"}, "code_challenge_methods_supported": []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}

func (p *OP) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.Key.PublicKey, KeyID: p.KeyID, Algorithm: "RS256", Use: "sig"}}})
}

func (p *OP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.ClientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" {
		http.Error(w, "SIMULATION: bad authorization request (client_id, response_type=code, PKCE S256 needed)", http.StatusBadRequest)
		return
	}
	login := q.Get("login_hint")
	if login == "" {
		login = q.Get("person")
	}
	if _, ok := p.Users[login]; !ok {
		var people []Person
		for l := range p.Users {
			label := p.Labels[l]
			if label == "" {
				label = l
			}
			people = append(people, Person{Key: l, Label: label})
		}
		sort.Slice(people, func(i, j int) bool { return people[i].Label < people[j].Label })
		hidden := map[string]string{}
		for k := range q {
			if k != "person" && k != "login_hint" {
				hidden[k] = q.Get(k)
			}
		}
		title := p.Title
		if title == "" {
			title = "Simulation — fournisseur d'identité OpenID"
		}
		page(w, http.StatusOK, title, "Choisissez le compte de démonstration avec lequel vous connecter :",
			&pageData{Get: true, Action: r.URL.Path, Hidden: hidden, People: people})
		return
	}
	p.mu.Lock()
	if p.codes == nil {
		p.codes, p.tokens = map[string]opCode{}, map[string]string{}
	}
	p.n++
	code := fmt.Sprintf("code-%d-%s", p.n, randomID())
	p.codes[code] = opCode{login: login, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	p.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	v := back.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *OP) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.ClientID || secret != p.ClientSecret {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	p.mu.Lock()
	c, found := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code"))
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !found || c.redirect != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
		return
	}
	now := p.now()
	claims := map[string]any{"iss": p.Issuer, "aud": p.ClientID, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"nonce": c.nonce, "tid": p.TenantID, "auth_time": now.Unix(), "ver": "2.0"}
	for k, v := range p.Users[c.login] {
		claims[k] = v
	}
	if _, ok := claims["sub"]; !ok {
		// Entra ID's sub is pairwise per application.
		h := sha256.Sum256([]byte(fmt.Sprint(claims["oid"]) + "|" + p.ClientID))
		claims["sub"] = base64.RawURLEncoding.EncodeToString(h[:16])
	}
	if p.Tamper != nil {
		p.Tamper(claims)
	}
	idt, err := p.sign(claims)
	if err != nil {
		writeJSON(w, 500, map[string]string{"error": err.Error()})
		return
	}
	at := "at-" + randomID()
	p.mu.Lock()
	p.tokens[at] = c.login
	p.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 3600, "id_token": idt})
}

// sign signs claims as an ID token (or forges it, per SignMode).
func (p *OP) sign(claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	switch p.SignMode {
	case "none":
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"` + p.KeyID + `"}`))
		return h + "." + base64.RawURLEncoding.EncodeToString(payload) + ".", nil
	case "hs256-public":
		// The classic key-confusion forgery: HMAC keyed with the
		// provider's public key, which anyone can fetch from the JWKS.
		der, _ := x509.MarshalPKIXPublicKey(&p.Key.PublicKey)
		pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		return signJWS(jose.SigningKey{Algorithm: jose.HS256, Key: pub}, p.KeyID, payload)
	}
	return signJWS(jose.SigningKey{Algorithm: jose.RS256, Key: p.Key}, p.KeyID, payload)
}

func signJWS(k jose.SigningKey, kid string, payload []byte) (string, error) {
	s, err := jose.NewSigner(k, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return "", err
	}
	o, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return o.CompactSerialize()
}

func (p *OP) userinfo(w http.ResponseWriter, r *http.Request) {
	at := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	login, ok := p.tokens[at]
	p.mu.Unlock()
	if !ok {
		writeJSON(w, 401, map[string]string{"error": "invalid_token"})
		return
	}
	out := map[string]any{}
	for k, v := range p.Users[login] {
		out[k] = v
	}
	if _, ok := out["sub"]; !ok {
		h := sha256.Sum256([]byte(fmt.Sprint(out["oid"]) + "|" + p.ClientID))
		out["sub"] = base64.RawURLEncoding.EncodeToString(h[:16])
	}
	writeJSON(w, 200, out)
}

// endSession is the end_session_endpoint (RP-Initiated Logout 1.0): for
// this client and a registered post_logout_redirect_uri, the browser goes
// back there with the state; otherwise a page says the session ended.
func (p *OP) endSession(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back := q.Get("post_logout_redirect_uri")
	title := p.Title
	if title == "" {
		title = "Simulation — fournisseur d'identité OpenID"
	}
	if back == "" {
		page(w, http.StatusOK, title, "Session de simulation terminée. / Simulated session ended.", nil)
		return
	}
	if q.Get("client_id") != p.ClientID || !slices.Contains(p.PostLogoutRedirectURIs, back) {
		page(w, http.StatusBadRequest, title, fmt.Sprintf("post_logout_redirect_uri %q non enregistrée pour le client %q.", back, q.Get("client_id")), nil)
		return
	}
	u, err := url.Parse(back)
	if err != nil {
		page(w, http.StatusBadRequest, title, err.Error(), nil)
		return
	}
	if st := q.Get("state"); st != "" {
		v := u.Query()
		v.Set("state", st)
		u.RawQuery = v.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusFound)
}
