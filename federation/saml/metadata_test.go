package saml

import (
	"strings"
	"testing"
	"time"
)

func TestMetadataRefreshAndExpiry(t *testing.T) {
	h := newHarness(t, nil)
	now := time.Now()
	h.idp.MetadataValidUntil = now.Add(2 * time.Hour)
	h.idp.MetadataCacheDuration = 30 * time.Minute
	md, err := parseMetadata(h.idp.Metadata(), "", nil, now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !md.refreshAt.Equal(now.Add(30 * time.Minute)) {
		t.Errorf("refresh at %s, want now + cacheDuration", md.refreshAt)
	}
	h.idp.MetadataValidUntil = now.Add(-time.Minute)
	if _, err := parseMetadata(h.idp.Metadata(), "", nil, now, 24*time.Hour); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired metadata = %v", err)
	}
}

func TestUnsignedMetadataRefusedWhenSignerConfigured(t *testing.T) {
	h := newHarness(t, nil)
	if _, err := parseMetadata(h.idp.Metadata(), "", h.k.idpCert, time.Now(), time.Hour); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("unsigned metadata with metadata_signing_cert = %v", err)
	}
}
