package peer

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// OIDCOP is panva's oidc-provider (OpenID Certified), run with the machine's Node.js through
// test/peer/oidcop/op.mjs: an OpenID provider that enthub's code shares nothing with, playing Entra ID
// or the agents' FIM. ./test/run.sh installs it there (npm ci, the exact versions of
// package-lock.json). Its login page is oidc-provider's development form (login and any password).
type OIDCOP struct {
	// Issuer is the provider's issuer (its discovery is under /.well-known/openid-configuration).
	Issuer string
}

// OIDCOPClient is one registered client.
type OIDCOPClient struct {
	ID                     string   `json:"client_id"`
	Secret                 string   `json:"client_secret"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
}

// OIDCProvider starts the provider with these clients and accounts (login -> claims released with
// the profile and email scopes, in the ID token too), or stops the test through Need when Node.js or
// the npm install is missing.
func OIDCProvider(t testing.TB, clients []OIDCOPClient, accounts map[string]map[string]any) *OIDCOP {
	t.Helper()
	node, dir := NeedOIDCProvider(t)
	addr := StartOnFreePort(t, "oidc-provider", func(port int) *exec.Cmd {
		conf, _ := json.Marshal(map[string]any{"port": port, "clients": clients, "accounts": accounts})
		cmd := exec.Command(node, filepath.Join(dir, "op.mjs"))
		cmd.Stdin = bytes.NewReader(conf)
		return cmd
	})
	return &OIDCOP{Issuer: "http://" + addr}
}

// NeedOIDCProvider stops the test through Need when OIDCProvider could not
// start (Node.js or the npm install missing), else returns node and the
// provider's folder: what a test calls first when it starts the provider
// where it may not stop (another goroutine).
func NeedOIDCProvider(t testing.TB) (node, dir string) {
	t.Helper()
	node, ok := LookBinary("node")
	Need(t, "node", ok, "Node.js (node) not found on PATH")
	dir = filepath.Join(RepoRoot(t), "test", "peer", "oidcop")
	_, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json"))
	Need(t, "oidc-provider", err == nil, "npm package not installed in test/peer/oidcop (./test/run.sh runs npm ci there)")
	return node, dir
}
