package aaf

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzArchive feeds arbitrary bytes to Open as a .zip or a .tar.gz
// delivery, as the rectorat's transfer may deliver them cut or corrupted:
// Open may refuse, never panic, and never spool past MaxSpoolBytes.
func FuzzArchive(f *testing.F) {
	xml := []byte(eleveHead + eleveAdd("1", "X") + "</ficAlimMENESR>")
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	w, _ := zw.Create("ENT2D_Complet_20240916_Eleve_0000.xml")
	w.Write(xml)
	zw.Close()
	var tg bytes.Buffer
	gz := gzip.NewWriter(&tg)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "d/ENT2D_Complet_20240916_Eleve_0000.xml", Mode: 0o644, Size: int64(len(xml))})
	tw.Write(xml)
	tw.WriteHeader(&tar.Header{Name: "../evil_Eleve_0001.xml", Mode: 0o644, Size: 1})
	tw.Write([]byte("x"))
	tw.Close()
	gz.Close()
	f.Add(z.Bytes(), false)
	f.Add(tg.Bytes(), true)
	f.Add(z.Bytes()[:len(z.Bytes())/2], false)
	f.Add(tg.Bytes()[:len(tg.Bytes())/2], true)
	f.Fuzz(func(t *testing.T, data []byte, tgz bool) {
		dir := t.TempDir()
		name := "delivery.zip"
		if tgz {
			name = "delivery.tar.gz"
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		spool := filepath.Join(dir, "spool")
		if err := os.Mkdir(spool, 0o755); err != nil {
			t.Fatal(err)
		}
		d, err := OpenWith(context.Background(), OpenOptions{TempDir: spool, MaxSpoolBytes: 1 << 20}, p)
		if entries, _ := os.ReadDir(dir); len(entries) != 2 {
			t.Errorf("Open wrote beside the delivery, outside its spool folder: %v", entries)
		}
		if err != nil {
			return
		}
		defer d.Close()
		for _, fl := range d.Files {
			r, err := fl.Open()
			if err != nil {
				continue
			}
			// A tar.gz is spooled under the cap; a zip is read in place.
			if n, _ := io.Copy(io.Discard, io.LimitReader(r, 2<<20)); tgz && n > 1<<20 {
				t.Errorf("%s: %d bytes read past MaxSpoolBytes", fl.Name, n)
			}
			r.Close()
		}
	})
}

// FuzzChecksumFile: a .md5/.sha256 file beside a delivery is outside input too.
func FuzzChecksumFile(f *testing.F) {
	f.Add("d41d8cd98f00b204e9800998ecf8427e  x.zip\n", "x.zip", "md5")
	f.Add("SHA256 (x.zip) = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x.zip", "sha256")
	f.Add("# c\n\n*\n) = ( (", "x", "sha256")
	f.Fuzz(func(t *testing.T, text, base, algo string) {
		digest, err := parseChecksumFile(text, base, algo)
		if err == nil && len(digest) != 32 && len(digest) != 64 {
			t.Errorf("digest %q accepted", digest)
		}
	})
}
