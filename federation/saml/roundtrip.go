package saml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

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
	d.CharsetReader = func(_ string, input io.Reader) (io.Reader, error) { return input, nil }
	var offset int64
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if identicalRoundTrip(tok) {
			offset = d.InputOffset()
			continue
		}
		if err := xrv.CheckToken(tok); err != nil {
			line := bytes.Count(raw[:offset], []byte{'\n'}) + 1
			column := offset - int64(bytes.LastIndexByte(raw[:offset], '\n'))
			return fmt.Errorf("validator: in token starting at %d:%d: %w", line, column, err)
		}
		offset = d.InputOffset()
	}
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
