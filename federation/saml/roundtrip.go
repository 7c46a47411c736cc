package saml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// validateRoundTrip is xrv.Validate (mattermost/xml-roundtrip-validator
// v0.1.0) for bytes already in memory: every token is checked by the same
// xrv.CheckToken, read by a decoder with the same settings. xrv.Validate
// reads its input one byte per Read call through an io.TeeReader that
// copies each byte into a second buffer (kept only to place an error);
// on a brokered login that copying was a third of the check's CPU. Here
// the decoder reads the slice directly (bytes.Reader is an io.ByteReader,
// so encoding/xml adds no buffering) and an error is placed in raw itself.
func validateRoundTrip(raw []byte) error {
	d := xml.NewDecoder(bytes.NewReader(raw))
	d.Strict = false
	d.CharsetReader = passCharset
	var offset int64
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := checkRoundTrip(tok, raw, offset); err != nil {
			return err
		}
		offset = d.InputOffset()
	}
}

func passCharset(_ string, input io.Reader) (io.Reader, error) { return input, nil }

// checkRoundTrip is xrv's check of one token, which starts at offset in raw.
func checkRoundTrip(tok xml.Token, raw []byte, offset int64) error {
	if identicalRoundTrip(tok) {
		return nil
	}
	if err := xrv.CheckToken(tok); err != nil {
		line := bytes.Count(raw[:offset], []byte{'\n'}) + 1
		column := offset - int64(bytes.LastIndexByte(raw[:offset], '\n'))
		return fmt.Errorf("validator: in token starting at %d:%d: %w", line, column, err)
	}
	return nil
}

// errNotXML: the bytes are not one well-formed XML tree.
var errNotXML = errors.New("not well-formed XML")

// parseValidated is validateRoundTrip and etree's ReadFromBytes (default
// settings) in one pass: each token is checked by xrv as above and added
// to the tree as etree would add it. A decrypted assertion was lexed twice
// (about a tenth of an ACS request's CPU). The decoder is etree's, strict:
// on well-formed XML it yields the tokens the lenient one of
// validateRoundTrip yields, and what it refuses etree refused as well. A
// name with two colons (no valid QName, which etree and encoding/xml would
// split differently) is refused too.
func parseValidated(raw []byte) (*etree.Document, error) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	d.Strict = true
	d.CharsetReader = passCharset
	doc := etree.NewDocument()
	stack := []*etree.Element{&doc.Element}
	var offset int64
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			if len(stack) != 1 {
				return nil, errNotXML
			}
			return doc, nil
		}
		if err != nil {
			return nil, err
		}
		if err := checkRoundTrip(tok, raw, offset); err != nil {
			return nil, err
		}
		offset = d.InputOffset()
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			name, ok := qname(t.Name)
			if !ok {
				return nil, fmt.Errorf("%w: element name %q", errNotXML, t.Name.Local)
			}
			el := top.CreateElement(name)
			for _, a := range t.Attr {
				an, ok := qname(a.Name)
				if !ok {
					return nil, fmt.Errorf("%w: attribute name %q", errNotXML, a.Name.Local)
				}
				el.CreateAttr(an, a.Value) // a repeated attribute keeps the last value, as in etree
			}
			stack = append(stack, el)
		case xml.EndElement:
			// RawToken leaves the matching of tags to its caller.
			if len(stack) == 1 || top.Tag != t.Name.Local || top.Space != t.Name.Space {
				return nil, errNotXML
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.CreateText("").SetData(string(t)) // SetData marks whitespace as etree's parser does
		case xml.Comment:
			top.CreateComment(string(t))
		case xml.Directive:
			top.CreateDirective(string(t))
		case xml.ProcInst:
			top.CreateProcInst(t.Target, string(t.Inst))
		}
	}
}

// qname is the prefixed name etree's Create* functions split back into
// n.Space and n.Local; false when n.Local holds a colon.
func qname(n xml.Name) (string, bool) {
	if strings.IndexByte(n.Local, ':') >= 0 {
		return "", false
	}
	if n.Space == "" {
		return n.Local, true
	}
	return n.Space + ":" + n.Local, true
}

// identicalRoundTrip reports tokens that xrv.CheckToken is sure to pass:
// encoding/xml writes them back byte for byte, or (a start tag's prefix)
// as the xmlns="prefix" declaration CheckToken folds back into the name.
// Text of plain ASCII (base64, dates, identifiers, indentation) and tags
// with plain names and plain unprefixed attributes are most of an assertion's tokens; CheckToken
// builds an encoder and a decoder for each, which made it most of a
// login's XML cost. Anything else (attributes, non-ASCII text, markup
// characters, unusual names) still goes through CheckToken.
func identicalRoundTrip(tok xml.Token) bool {
	switch t := tok.(type) {
	case xml.CharData:
		if len(t) == 0 {
			return false
		}
		// Tab is written as &#x9; and read back; newline is written as
		// is; \r is left to CheckToken (the decoder folds it into \n).
		return plainText([]byte(t), true)
	case xml.EndElement:
		return plainName(t.Name.Local) && (t.Name.Space == "" || plainName(t.Name.Space))
	case xml.StartElement:
		if !plainName(t.Name.Local) || (t.Name.Space != "" && !plainName(t.Name.Space)) {
			return false
		}
		// Unprefixed attributes are written in order, unchanged; the
		// xmlns="prefix" the encoder puts first for a prefixed tag is
		// what CheckToken folds back. Namespace declarations and
		// prefixed attributes (the encoder invents prefixes for them)
		// go through CheckToken.
		for _, a := range t.Attr {
			if a.Name.Space != "" || a.Name.Local == "xmlns" || !plainName(a.Name.Local) || !plainText(a.Value, false) {
				return false
			}
		}
		return true
	}
	return false
}

// plainText: printable ASCII without markup characters or quotes, and,
// in text, tabs and newlines.
func plainText[T string | []byte](s T, text bool) bool {
	for i := 0; i < len(s); i++ {
		switch plainByte[s[i]] {
		case plainAlways:
		case plainInText:
			if !text {
				return false
			}
		default:
			return false
		}
	}
	return true
}

const (
	plainNever = iota
	plainAlways
	plainInText
)

// plainByte classifies each byte for plainText: a table, as the text
// checked is most of a response's bytes (base64 values).
var plainByte = func() (t [256]uint8) {
	for b := 0x20; b <= 0x7e; b++ {
		t[b] = plainAlways
	}
	for _, b := range []byte{'&', '<', '>', '"', '\''} {
		t[b] = plainNever
	}
	t['\t'], t['\n'] = plainInText, plainInText
	return t
}()

// plainName: an ASCII XML name without a colon.
func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b == '_':
		case i > 0 && (b >= '0' && b <= '9' || b == '.' || b == '-'):
		default:
			return false
		}
	}
	return true
}
