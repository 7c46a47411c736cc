// Package e2etest runs enthub's identity provider against real relying
// parties: Apache httpd with mod_auth_cas, mod_auth_openidc and
// mod_auth_mellon, each protecting a CGI page that prints the identity it
// received. The tests skip (fail under CI) when Apache is missing.
package e2etest
