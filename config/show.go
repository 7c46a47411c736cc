package config

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// masked stands for a secret in what Show prints.
const masked = "********"

// Masked returns c with its secrets replaced by a mark that says they are
// set: the database password, the push bind password, the key secret and
// the connectors' OIDC client secrets and the service accounts' hashes (a hash is as good as a password to anyone
// who can try passwords offline).
func (c Config) Masked() Config {
	c.DB = maskURL(c.DB)
	if c.LDAP.Push.Password != "" {
		c.LDAP.Push.Password = masked
	}
	if c.GAR.IDSecret != "" {
		c.GAR.IDSecret = masked
	}
	if c.Guests.SMTP.Password != "" {
		c.Guests.SMTP.Password = masked
	}
	if c.SSO.KeySecret != "" {
		c.SSO.KeySecret = masked
	}
	accounts := make([]ServiceAccount, len(c.LDAP.ServiceAccounts))
	for i, sa := range c.LDAP.ServiceAccounts {
		scheme, _, _ := strings.Cut(strings.TrimPrefix(sa.PasswordHash, "$"), "$")
		if strings.HasPrefix(sa.PasswordHash, "{") {
			scheme, _, _ = strings.Cut(sa.PasswordHash, "}")
			scheme += "}"
		}
		sa.PasswordHash = scheme + " " + masked
		accounts[i] = sa
	}
	c.LDAP.ServiceAccounts = accounts
	conns := make([]Connector, len(c.Federation.Connectors))
	for i, fc := range c.Federation.Connectors {
		if fc.OIDC.ClientSecret != "" {
			fc.OIDC.ClientSecret = masked
		}
		conns[i] = fc
	}
	c.Federation.Connectors = conns
	return c
}

// maskURL hides the password of a database URL, in its user part or its
// query (postgres://…?password=…).
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return raw // sqlite:PATH holds no secret
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), masked)
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", masked)
		u.RawQuery = q.Encode()
	}
	return strings.Replace(u.String(), url.QueryEscape(masked), masked, 1)
}

// Show prints the effective configuration as YAML, secrets masked, each key
// set by the environment or decided by Read commented with where it came
// from; what is not commented comes from the file, or is a default.
func Show(c Config, origin *Origin) ([]byte, error) {
	var root yaml.Node
	if err := root.Encode(c.Masked()); err != nil {
		return nil, fmt.Errorf("config show: %w", err)
	}
	annotate(&root, "", origin)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, fmt.Errorf("config show: %w", err)
	}
	return b.Bytes(), enc.Close()
}

func annotate(n *yaml.Node, prefix string, o *Origin) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := join(prefix, k.Value)
		switch {
		case o == nil:
		case o.Env[path] != "":
			k.LineComment = "from " + o.Env[path]
		case path == "public_url" && !o.Set(path):
			k.LineComment = "derived from http.listen"
		case o.File != "" && !o.Set(path) && v.Kind == yaml.ScalarNode:
			k.LineComment = "default"
		}
		annotate(v, path, o)
	}
}
