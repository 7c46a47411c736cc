package saml

import (
	"testing"

	"github.com/beevik/etree"
)

// The eight XML signature wrapping variants of "On Breaking SAML: Be Whoever
// You Want to Be" (Somorovsky et al., 2012), applied to a response that
// EduConnect signed. The attacker's assertion names another FrEduCtId; every
// variant must be refused and never yield it.
func TestRefusesSignatureWrapping(t *testing.T) {
	const victim = "victim-ect-id"
	// evil returns a copy of the signed assertion, re-pointed at the victim
	// and stripped of its signature (or keeping it, when keepSig).
	evil := func(a *etree.Element, keepSig bool) *etree.Element {
		e := a.Copy()
		if !keepSig {
			if s := e.FindElement("./Signature"); s != nil {
				e.RemoveChild(s)
			}
		}
		for _, v := range e.FindElements(".//Attribute[@FriendlyName='FrEduCtId']/AttributeValue") {
			v.SetText(victim)
		}
		return e
	}
	assertion := func(r *etree.Element) *etree.Element { return r.FindElement("./Assertion") }
	variants := map[string]struct {
		signResponse bool
		edit         func(r *etree.Element)
	}{
		// XSW1: a new unsigned Response with the evil assertion; the signed
		// original Response hidden inside the Signature.
		"XSW1 signed response moved into its signature": {true, func(r *etree.Element) {
			orig := r.Copy()
			sig := r.FindElement("./Signature")
			r.CreateAttr("ID", "_evil_response")
			a := assertion(r)
			r.RemoveChild(a)
			r.AddChild(evil(a, false))
			sig.AddChild(orig)
		}},
		// XSW2: the same, the original Response placed before the signature.
		"XSW2 signed response detached before the signature": {true, func(r *etree.Element) {
			orig := r.Copy()
			if s := orig.FindElement("./Signature"); s != nil {
				orig.RemoveChild(s)
			}
			r.CreateAttr("ID", "_evil_response")
			a := assertion(r)
			r.RemoveChild(a)
			r.AddChild(evil(a, false))
			r.InsertChildAt(1, orig)
		}},
		// XSW3: the evil assertion (same ID) before the signed one.
		"XSW3 evil assertion before the signed one": {false, func(r *etree.Element) {
			a := assertion(r)
			r.InsertChildAt(a.Index(), evil(a, false))
		}},
		// XSW4: the evil assertion wraps the signed one.
		"XSW4 evil assertion wraps the signed one": {false, func(r *etree.Element) {
			a := assertion(r)
			e := evil(a, false)
			r.RemoveChild(a)
			e.AddChild(a)
			r.AddChild(e)
		}},
		// XSW5: the evil assertion carries the copied signature; the signed
		// original is appended to the Response.
		"XSW5 copied signature, original appended": {false, func(r *etree.Element) {
			a := assertion(r)
			e := evil(a, true)
			r.RemoveChild(a)
			r.AddChild(e)
			orig := a.Copy()
			orig.RemoveChild(orig.FindElement("./Signature"))
			r.AddChild(orig)
		}},
		// XSW6: the evil assertion carries the copied signature, with the
		// original inside it.
		"XSW6 original inside the copied signature": {false, func(r *etree.Element) {
			a := assertion(r)
			e := evil(a, true)
			orig := a.Copy()
			orig.RemoveChild(orig.FindElement("./Signature"))
			e.FindElement("./Signature").AddChild(orig)
			r.RemoveChild(a)
			r.AddChild(e)
		}},
		// XSW7: the signed assertion hidden in an Extensions element, the
		// evil one beside it.
		"XSW7 original in Extensions": {false, func(r *etree.Element) {
			a := assertion(r)
			r.RemoveChild(a)
			ext := r.CreateElement("samlp:Extensions")
			ext.AddChild(a)
			r.AddChild(evil(a, false))
		}},
		// XSW8: the evil assertion with the copied signature, the original in
		// a ds:Object inside that signature.
		"XSW8 original in a ds:Object": {false, func(r *etree.Element) {
			a := assertion(r)
			e := evil(a, true)
			orig := a.Copy()
			orig.RemoveChild(orig.FindElement("./Signature"))
			obj := e.FindElement("./Signature").CreateElement("ds:Object")
			obj.AddChild(orig)
			r.RemoveChild(a)
			r.AddChild(e)
		}},
	}
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			reqID, relay, _ := h.start()
			o := h.valid(reqID)
			o.EncryptTo = nil
			o.SignResponse = v.signResponse
			o.NoSignAssert = v.signResponse
			o.EditResponse = v.edit
			resp := h.build(o)
			id, _, err := h.post(resp, relay)
			if err == nil {
				t.Fatalf("accepted, subject %q", id.Subject)
			}
			if id.Subject == victim {
				t.Fatal("the attacker's subject came through")
			}
			t.Logf("refused: %v", err)
		})
	}
}
