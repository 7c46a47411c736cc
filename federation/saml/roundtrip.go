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
		if err := xrv.CheckToken(tok); err != nil {
			line := bytes.Count(raw[:offset], []byte{'\n'}) + 1
			column := offset - int64(bytes.LastIndexByte(raw[:offset], '\n'))
			return fmt.Errorf("validator: in token starting at %d:%d: %w", line, column, err)
		}
		offset = d.InputOffset()
	}
}
