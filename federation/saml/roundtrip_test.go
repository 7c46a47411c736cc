package saml

import (
	"bytes"
	"encoding/xml"
	"testing"

	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// roundTripCases are the inputs of xrv's own tests (the namespace quirks
// behind the signature-wrapping advisories) and the shapes SAML carries.
// Empty prefixes and names pass: encoding/xml since Go 1.17 reads them
// the same both ways, and xrv no longer refuses them either.
var roundTripCases = []struct {
	xml  string
	fine bool
}{
	{`<Root></Root>`, true},
	{`<x:Root xmlns:x="http://example.com/"></x:Root>`, true},
	{`<Root xmlns="http://example.com/1" xmlns="http://example.com/2"></Root>`, true},
	{`<?xml version="1.0" encoding="EUC-JP"?><Root></Root>`, true},
	{`<Root>text &quot;hello&quot;</Root>`, true},
	{`<Root><![CDATA[text "hello"]]></Root>`, true},
	{`<!-- comment --><Root/>`, true},
	{`<saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">ad<!-- x -->min</saml:NameID>`, true},
	{`<x::Root/>`, false},
	{`<Root><x::Element></::Element></Root>`, false},
	{`<Root><Element ::attr="foo"></Element></Root>`, false},
	{`<Root></x::Element></Root>`, false},
	{`<x:>`, true},
	{`</x:>`, true},
	{`<Root :="value"/>`, true},
	{"<Root>\n<Element x:=\"value\"/></Root>", true},
	{`<Root xmlns="x" xmlns:="y"></Root>`, true},
	{`<Root><x:Element xmlns:x="a" x:y:z="v"/></Root>`, false},
	{`<Root`, false},
	{"<a>x&#xD;y\r\nz\tw</a>", true},
	{`<xmlns:a xmlns:xmlns="u"><b:c xmlns:b="v">t</b:c></xmlns:a>`, true},
	{`<a:b.c-d xmlns:a="u">ID_0a9f= +/</a:b.c-d>`, true},
	{`<a:b xmlns:a="u" ID="_1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"/>`, true},
	{`<b ID="_1" ID="_2" x="a&amp;b" y="café" z="a&#xA;b"/>`, true},
	{`<b xmlns="u" xmlns:c="v" c:d="e" xml:lang="fr"/>`, false},
	{`<b ::="a" :c="d"/>`, false},
	{`<a>café &amp; &lt;b&gt; "q" 'q'</a>`, true},
}

// TestValidateRoundTrip: the in-memory check refuses exactly what
// xrv.Validate refuses.
func TestValidateRoundTrip(t *testing.T) {
	for _, c := range roundTripCases {
		got, want := validateRoundTrip([]byte(c.xml)), xrv.Validate(bytes.NewReader([]byte(c.xml)))
		if (got == nil) != (want == nil) {
			t.Errorf("%q: validateRoundTrip %v, xrv.Validate %v", c.xml, got, want)
		}
		if (got == nil) != c.fine {
			t.Errorf("%q: validateRoundTrip %v, want fine=%v", c.xml, got, c.fine)
		}
	}
}

// FuzzValidateRoundTrip: on any input both checks agree.
func FuzzValidateRoundTrip(f *testing.F) {
	for _, c := range roundTripCases {
		f.Add([]byte(c.xml))
	}
	h := newHarness(f, nil)
	o := h.valid("id-1")
	o.EncryptTo = nil
	f.Add(h.build(o))
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Every token the fast path lets through passes CheckToken.
		d := xml.NewDecoder(bytes.NewReader(raw))
		d.Strict = false
		for {
			tok, err := d.RawToken()
			if err != nil {
				break
			}
			if identicalRoundTrip(tok) {
				if err := xrv.CheckToken(xml.CopyToken(tok)); err != nil {
					t.Fatalf("%#v skipped but CheckToken says %v", tok, err)
				}
			}
		}
		got, want := validateRoundTrip(raw), xrv.Validate(bytes.NewReader(raw))
		if (got == nil) != (want == nil) {
			t.Fatalf("%q: validateRoundTrip %v, xrv.Validate %v", raw, got, want)
		}
	})
}
