package saml

import (
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// TestParseValidatedIsBothPasses: the one-pass parse of a decrypted
// assertion accepts exactly what validateRoundTrip and etree's parser
// accepted one after the other, and builds the same tree (same bytes
// written back, same whitespace marks, which Indent reads) — on a real
// signed assertion, the comment, CDATA and namespace tricks, and on what
// either pass refuses. A name that is no QName (two colons, an empty prefix
// or local part), which the two parsers split differently, is refused.
func TestParseValidatedIsBothPasses(t *testing.T) {
	h := newHarness(t, nil)
	o := h.valid("id-1")
	o.EncryptTo = nil
	real := h.build(o)
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(real); err != nil {
		t.Fatal(err)
	}
	assertion := doc.FindElement("//Assertion").Copy()
	d2 := etree.NewDocument()
	d2.SetRoot(assertion)
	realAssertion, err := d2.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"real response":  string(real),
		"real assertion": string(realAssertion),
		"tricks": `<?xml version="1.0"?><!-- c --><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" ID="_b">
 <saml:Issuer>https://idp<!-- x -->/a</saml:Issuer><?pi data?>
 <Subject xmlns="urn:oasis:names:tc:SAML:2.0:assertion"><NameID>victim<!---->.attacker&amp;&lt;x&gt;<![CDATA[<y>]]></NameID></Subject>
 <x:Conditions xmlns:x="urn:x" x:a="1" a="é&#x9;"/>	
</saml:Assertion>`,
		"unclosed":          `<a><b></b>`,
		"mismatched":        `<a><b></a></b>`,
		"end before start":  `</a>`,
		"two roots":         `<a/><b/>`,
		"unknown entity":    `<a>&nope;</a>`,
		"unquoted attr":     `<a b=c/>`,
		"prefix swap":       `<x:a xmlns:x="urn:1"><x:b xmlns:x="urn:2"/></x:a>`,
		"text only":         `just text`,
		"empty":             ``,
		"round trip change": `<a xmlns="urn:1"><b xmlns=""/></a>`,
	}
	for name, in := range cases {
		raw := []byte(in)
		old := etree.NewDocument()
		oldErr := validateRoundTrip(raw)
		if oldErr == nil {
			oldErr = old.ReadFromBytes(raw)
		}
		got, err := parseValidated(raw)
		if (err == nil) != (oldErr == nil) {
			t.Errorf("%s: one pass: %v; two passes: %v", name, err, oldErr)
			continue
		}
		if err != nil {
			continue
		}
		if g, w := write(t, got, false), write(t, old, false); g != w {
			t.Errorf("%s: one pass wrote\n%s\ntwo passes\n%s", name, g, w)
		}
		if g, w := write(t, got, true), write(t, old, true); g != w {
			t.Errorf("%s: indented, one pass wrote\n%s\ntwo passes\n%s", name, g, w)
		}
	}
	for _, in := range []string{`<a:b:c xmlns:a="urn:1"/>`, `<:a/>`, `<a: xmlns:a="urn:1"/>`, `<a xmlns:x="urn:1" x:="v"/>`, `<a :x="v"/>`} {
		if _, err := parseValidated([]byte(in)); err == nil {
			t.Errorf("%s: a name that is no QName was accepted", in)
		}
	}
}

func write(t *testing.T, d *etree.Document, indent bool) string {
	t.Helper()
	if indent {
		d.Indent(1)
	}
	s, err := d.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(s)
}
