package saml

import (
	"encoding/xml"
	"reflect"
	"testing"

	"github.com/beevik/etree"
	csaml "github.com/crewjam/saml"
)

// unmarshalBytes is how unmarshal read an element before it decoded the
// tree's tokens: serialised, then lexed again by encoding/xml.
func unmarshalBytes(el *etree.Element, v any) error {
	el, err := detach(el)
	if err != nil {
		return err
	}
	b, err := elementBytes(el)
	if err != nil {
		return err
	}
	return xml.Unmarshal(b, v)
}

// TestUnmarshalReadsWhatSerialisingRead: decoding the tree's tokens gives
// the same Response and Assertion as serialising and re-reading them, on a
// real response and on the shapes a wrapping or comment trick uses
// (comments inside values, CDATA, entities, prefixes re-declared inside
// the element, a default namespace, an assertion read out of its parent).
func TestUnmarshalReadsWhatSerialisingRead(t *testing.T) {
	h := newHarness(t, nil)
	o := h.valid("id-1")
	o.SignResponse, o.EncryptTo = true, nil
	real := h.build(o)
	tricky := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" InResponseTo="id-1" IssueInstant="2026-01-02T03:04:05.123Z" Destination="https://sp/acs?a=1&amp;b=2">
 <saml:Issuer>https://idp<!-- x -->/a</saml:Issuer>
 <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
 <saml:Assertion ID="_a" IssueInstant="2026-01-02T03:04:05Z" Version="2.0">
  <Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion"><![CDATA[https://idp]]></Issuer>
  <saml:Subject><saml:NameID Format="f">victim<!---->.attacker&amp;&lt;x&gt;</saml:NameID>
   <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData Recipient="https://sp/acs" NotOnOrAfter="2026-01-02T03:09:05Z"/></saml:SubjectConfirmation>
  </saml:Subject>
  <x:Conditions xmlns:x="urn:oasis:names:tc:SAML:2.0:assertion" NotOnOrAfter="2026-01-02T03:09:05Z"><x:AudienceRestriction><x:Audience>sp</x:Audience></x:AudienceRestriction></x:Conditions>
  <saml:AttributeStatement><saml:Attribute Name="a" FriendlyName="é"><saml:AttributeValue>1<!-- -->2</saml:AttributeValue><saml:AttributeValue xmlns:saml="urn:other">shadow</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>
 </saml:Assertion>
</samlp:Response>`
	for name, raw := range map[string][]byte{"real": real, "tricky": []byte(tricky)} {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(raw); err != nil {
			t.Fatal(err)
		}
		var got, want csaml.Response
		if err := unmarshal(doc.Root(), &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := unmarshalBytes(doc.Root(), &want); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got.Signature, want.Signature = nil, nil
		if got.Assertion == nil {
			t.Fatalf("%s: no assertion read", name)
		}
		got.Assertion.Signature, want.Assertion.Signature = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: tree tokens read\n%+v\nserialising read\n%+v", name, got, want)
		}
		// The assertion read out of its Response (its namespaces come from
		// the parent).
		el := doc.Root().FindElement("./Assertion")
		var ga, wa csaml.Assertion
		if err := unmarshal(el, &ga); err != nil {
			t.Fatal(err)
		}
		if err := unmarshalBytes(el, &wa); err != nil {
			t.Fatal(err)
		}
		ga.Signature, wa.Signature = nil, nil
		if !reflect.DeepEqual(ga, wa) {
			t.Errorf("%s assertion: tree tokens read\n%+v\nserialising read\n%+v", name, ga, wa)
		}
		if name == "tricky" {
			if v := ga.Subject.NameID.Value; v != "victim.attacker&<x>" {
				t.Errorf("NameID = %q, want the whole text around the comment", v)
			}
			if v := ga.AttributeStatements[0].Attributes[0].Values[0].Value; v != "12" {
				t.Errorf("attribute value = %q, want the whole text around the comment", v)
			}
		}
	}
}
