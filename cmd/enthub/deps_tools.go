//go:build tools

// This file pins the module's chosen dependencies until the packages that use
// them land; it is never built into the binary.
package main

import (
	_ "github.com/crewjam/saml"
	_ "github.com/crewjam/saml/samlsp"
	_ "github.com/go-asn1-ber/asn1-ber"
	_ "github.com/go-jose/go-jose/v4"
	_ "github.com/go-ldap/ldap/v3"
	_ "github.com/lib/pq"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/robfig/cron/v3"
	_ "github.com/spf13/cobra"
	_ "github.com/zitadel/oidc/v3/pkg/client/rp"
	_ "github.com/zitadel/oidc/v3/pkg/op"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/term"
	_ "golang.org/x/text/encoding/charmap"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
)
