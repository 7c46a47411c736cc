package gar

import (
	"archive/tar"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Pack writes the export's files into dir/<base>.tar.gz (flat, in the
// order given) and its checksum into dir/<base>.tar.gz.md5, in the
// md5sum format ("<hex>  <name>"), which is how the GAR checks what it
// received. It streams: one file at a time, never the archive in memory.
func Pack(dir, base string, files []string) (archive, sum string, err error) {
	archive = filepath.Join(dir, base+".tar.gz")
	f, err := os.OpenFile(archive, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return "", "", fmt.Errorf("gar pack: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(archive)
		}
	}()
	h := md5.New()
	gz := gzip.NewWriter(io.MultiWriter(f, h))
	tw := tar.NewWriter(gz)
	for _, p := range files {
		if err := addFile(tw, p); err != nil {
			return "", "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", "", fmt.Errorf("gar pack: %s: %w", archive, err)
	}
	if err := gz.Close(); err != nil {
		return "", "", fmt.Errorf("gar pack: %s: %w", archive, err)
	}
	if err := f.Close(); err != nil {
		return "", "", fmt.Errorf("gar pack: %s: %w", archive, err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	line := sum + "  " + filepath.Base(archive) + "\n"
	if err := os.WriteFile(archive+".md5", []byte(line), 0o640); err != nil {
		return "", "", fmt.Errorf("gar pack: %w", err)
	}
	return archive, sum, nil
}

func addFile(tw *tar.Writer, path string) error {
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("gar pack: %w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("gar pack: %w", err)
	}
	hdr := &tar.Header{Name: filepath.Base(path), Mode: 0o644, Size: fi.Size(), ModTime: fi.ModTime(), Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("gar pack: %s: %w", path, err)
	}
	if _, err := io.Copy(tw, in); err != nil {
		return fmt.Errorf("gar pack: %s: %w", path, err)
	}
	return nil
}
