package aaf

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// Errors callers test with errors.Is.
var (
	// ErrNoFiles: the paths hold no AAF family file.
	ErrNoFiles = errors.New("no AAF family file found")
	// ErrChecksumMismatch: a .md5/.sha256 file beside an input disagrees with its bytes.
	ErrChecksumMismatch = errors.New("checksum mismatch")
	// ErrRefused: Check found at least one error; the delivery must not be applied.
	ErrRefused = errors.New("AAF delivery refused")
	// ErrArchiveTooLarge: a tar.gz would spool more than OpenOptions.MaxSpoolBytes.
	ErrArchiveTooLarge = errors.New("archive too large")
)

// File is one family file of a delivery, wherever it lives (on disk, inside a
// zip, spooled from a tar.gz). It knows how to reopen itself, so a delivery
// can be read several times (check, then apply) without holding it in memory.
type File struct {
	FileName
	// Name identifies the file in messages: a path, or "archive.zip:inner/name.xml".
	Name string `json:"name"`
	// Size in bytes (uncompressed), -1 when unknown.
	Size int64 `json:"size"`
	// Source is the PATH argument the file came from.
	Source string `json:"source"`

	open   func() (io.ReadCloser, error)
	sha256 []byte // set once the file has been read to its end
}

// Open returns a reader over the file's bytes. The caller closes it.
func (f *File) Open() (io.ReadCloser, error) {
	rc, err := f.open()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Name, err)
	}
	return rc, nil
}

// SHA256 is the hex digest of the file, known after it has been read fully
// once (by Check, Walk or ContentHash); "" before.
func (f *File) SHA256() string {
	if f.sha256 == nil {
		return ""
	}
	return hex.EncodeToString(f.sha256)
}

// ChecksumResult records one verified .md5/.sha256 file.
type ChecksumResult struct {
	Target       string `json:"target"`
	ChecksumFile string `json:"checksum_file"`
	Algorithm    string `json:"algorithm"`
	Digest       string `json:"digest"`
}

// Delivery is one AAF export as found on disk: its family files in canonical
// order plus what their names say. It owns open archives and spooled files;
// Close releases them. A Delivery is not safe for concurrent use.
type Delivery struct {
	// Files in canonical order: Families() order, then prefix, then chunk.
	Files []*File `json:"files"`
	// Kind is the kind every file agrees on; KindUnknown when files disagree or
	// no name carries one (Check reports which).
	Kind Kind `json:"kind"`
	// Date is the export date every file name agrees on (zero otherwise).
	Date time.Time `json:"date"`
	// Ignored lists entries that are not family files (DTD, checksums, notes).
	Ignored []string `json:"ignored,omitempty"`
	// Checksums lists the checksum files found and verified by Open.
	Checksums []ChecksumResult `json:"checksums,omitempty"`
	// Sources are the PATH arguments.
	Sources []string `json:"sources"`

	closers     []io.Closer
	tmpDirs     []string
	contentHash string
}

// OpenOptions tunes Open. The zero value is usable.
type OpenOptions struct {
	// TempDir is where tar.gz archives are spooled ("" = os.TempDir()).
	TempDir string
	// MaxSpoolBytes caps what a tar.gz may expand to on disk (default 16 GiB):
	// a gzip bomb is refused instead of filling the disk.
	MaxSpoolBytes int64
	// SkipChecksums disables verification of .md5/.sha256 files.
	SkipChecksums bool
}

func (o OpenOptions) maxSpool() int64 {
	if o.MaxSpoolBytes > 0 {
		return o.MaxSpoolBytes
	}
	return 16 << 30
}

// Open finds the family files of one delivery in the given paths (files,
// folders, .zip, .tar.gz or .tgz archives) and verifies checksum files found
// beside them. It reads no XML; Check does. Close the delivery when done.
func Open(ctx context.Context, paths ...string) (*Delivery, error) {
	return OpenWith(ctx, OpenOptions{}, paths...)
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, opts OpenOptions, paths ...string) (_ *Delivery, err error) {
	d := &Delivery{Sources: paths}
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()
	if len(paths) == 0 {
		return nil, fmt.Errorf("aaf: no path given: %w", ErrNoFiles)
	}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := d.addPath(ctx, opts, p); err != nil {
			return nil, err
		}
	}
	if len(d.Files) == 0 {
		return nil, fmt.Errorf("aaf: %s: %w (names must end in _<Family>_NNNN.xml)", strings.Join(paths, ", "), ErrNoFiles)
	}
	sort.SliceStable(d.Files, func(i, j int) bool { return lessFile(d.Files[i], d.Files[j]) })
	d.Kind, d.Date = d.commonKindDate()
	return d, nil
}

func lessFile(a, b *File) bool {
	if ra, rb := familyRank(a.Family), familyRank(b.Family); ra != rb {
		return ra < rb
	}
	if a.Prefix != b.Prefix {
		return a.Prefix < b.Prefix
	}
	if a.Chunk != b.Chunk {
		return a.Chunk < b.Chunk
	}
	return a.Name < b.Name
}

func (d *Delivery) commonKindDate() (Kind, time.Time) {
	kind, date := d.Files[0].Kind, d.Files[0].DateText
	for _, f := range d.Files[1:] {
		if f.Kind != kind {
			kind = KindUnknown
		}
		if f.DateText != date {
			date = ""
		}
	}
	var t time.Time
	if date != "" {
		t, _ = parseNameDate(date)
	}
	return kind, t
}

// Close releases archives and removes spooled files.
func (d *Delivery) Close() error {
	var errs []error
	for _, c := range d.closers {
		errs = append(errs, c.Close())
	}
	for _, dir := range d.tmpDirs {
		errs = append(errs, os.RemoveAll(dir))
	}
	d.closers, d.tmpDirs = nil, nil
	return errors.Join(errs...)
}

// Counts returns the number of files per family.
func (d *Delivery) Counts() map[Family]int {
	m := map[Family]int{}
	for _, f := range d.Files {
		m[f.Family]++
	}
	return m
}

func archiveKind(name string) string {
	l := strings.ToLower(name)
	switch {
	case strings.HasSuffix(l, ".zip"):
		return "zip"
	case strings.HasSuffix(l, ".tar.gz"), strings.HasSuffix(l, ".tgz"):
		return "tgz"
	}
	return ""
}

func (d *Delivery) addPath(ctx context.Context, opts OpenOptions, p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("aaf: %w", err)
	}
	if !st.IsDir() {
		return d.addFile(ctx, opts, p, st)
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return fmt.Errorf("aaf: read folder %s: %w", p, err)
	}
	for _, e := range entries {
		full := filepath.Join(p, e.Name())
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			d.Ignored = append(d.Ignored, full)
			continue
		}
		if !e.Type().IsRegular() {
			d.Ignored = append(d.Ignored, full)
			continue
		}
		if _, ok := ParseFileName(e.Name()); !ok && archiveKind(e.Name()) == "" {
			d.Ignored = append(d.Ignored, full)
			continue
		}
		st, err := e.Info()
		if err != nil {
			return fmt.Errorf("aaf: %w", err)
		}
		if err := d.addFile(ctx, opts, full, st); err != nil {
			return err
		}
	}
	return nil
}

func (d *Delivery) addFile(ctx context.Context, opts OpenOptions, p string, st os.FileInfo) error {
	if !opts.SkipChecksums {
		if err := d.verifyChecksum(ctx, p); err != nil {
			return err
		}
	}
	switch archiveKind(p) {
	case "zip":
		return d.addZip(p)
	case "tgz":
		return d.addTarGz(ctx, opts, p)
	}
	fn, ok := ParseFileName(filepath.Base(p))
	if !ok {
		return fmt.Errorf("aaf: %s: %w (names must end in _<Family>_NNNN.xml)", p, ErrNoFiles)
	}
	d.Files = append(d.Files, &File{
		FileName: fn, Name: p, Size: st.Size(), Source: p,
		open: func() (io.ReadCloser, error) { return os.Open(p) },
	})
	return nil
}

// withArchiveKind fills kind/date from the archive name when the entry name
// has none (Laclasse-style ENT2D.YYYYMMDD….zip holding bare names).
func withArchiveKind(fn FileName, archive string) FileName {
	if fn.Kind == KindUnknown {
		k, date := kindFromArchiveName(filepath.Base(archive))
		fn.Kind = k
		if fn.DateText == "" {
			fn.DateText = date
		}
	}
	return fn
}

// addZip lists a zip's entries; they are decompressed lazily when a File is
// opened, so a 1 GB archive costs its central directory in memory.
func (d *Delivery) addZip(p string) error {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return fmt.Errorf("aaf: open zip %s: %w", p, err)
	}
	d.closers = append(d.closers, zr)
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() {
			continue
		}
		base := pathBase(zf.Name)
		fn, ok := ParseFileName(base)
		if !ok {
			d.Ignored = append(d.Ignored, p+":"+zf.Name)
			continue
		}
		zf := zf
		d.Files = append(d.Files, &File{
			FileName: withArchiveKind(fn, p), Name: p + ":" + zf.Name,
			Size: int64(zf.UncompressedSize64), Source: p,
			open: zf.Open,
		})
	}
	return nil
}

func pathBase(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// addTarGz spools the family files of a tar.gz to a private temp folder.
// Why spool: a gzip stream is sequential (no index, no seeking), and a
// delivery is read at least twice (check, then apply) in canonical order,
// which need not be the archive's order. Spooling keeps memory constant; disk
// use is capped by MaxSpoolBytes. Entry names are never used as paths (the
// spooled name is an index plus the base name), so "../" entries cannot
// escape the folder.
func (d *Delivery) addTarGz(ctx context.Context, opts OpenOptions, p string) error {
	fh, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("aaf: %w", err)
	}
	defer fh.Close()
	gz, err := gzip.NewReader(bufio.NewReaderSize(fh, 1<<20))
	if err != nil {
		return fmt.Errorf("aaf: %s: not a gzip stream: %w", p, err)
	}
	defer gz.Close()
	dir, err := os.MkdirTemp(opts.TempDir, "enthub-aaf-*")
	if err != nil {
		return fmt.Errorf("aaf: spool %s: %w", p, err)
	}
	d.tmpDirs = append(d.tmpDirs, dir)
	tr := tar.NewReader(gz)
	var spooled int64
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("aaf: %s: read tar: %w", p, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		base := pathBase(h.Name)
		fn, ok := ParseFileName(base)
		if !ok {
			d.Ignored = append(d.Ignored, p+":"+h.Name)
			continue
		}
		dst := filepath.Join(dir, fmt.Sprintf("%05d-%s", i, base))
		n, err := spoolFile(dst, tr, opts.maxSpool()-spooled)
		spooled += n
		if err != nil {
			return fmt.Errorf("aaf: %s: spool %s: %w", p, h.Name, err)
		}
		d.Files = append(d.Files, &File{
			FileName: withArchiveKind(fn, p), Name: p + ":" + h.Name, Size: n, Source: p,
			open: func() (io.ReadCloser, error) { return os.Open(dst) },
		})
	}
}

func spoolFile(dst string, r io.Reader, budget int64) (int64, error) {
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, io.LimitReader(r, budget+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > budget {
		err = fmt.Errorf("%w: more than the spool limit", ErrArchiveTooLarge)
	}
	return n, err
}

// checksumCandidates are the names looked for beside an input X.ext:
// X.ext.sha256, X.ext.md5, X.sha256, X.md5.
func checksumCandidates(p string) []string {
	stem := p
	l := strings.ToLower(p)
	switch {
	case strings.HasSuffix(l, ".tar.gz"):
		stem = p[:len(p)-len(".tar.gz")]
	default:
		stem = strings.TrimSuffix(p, filepath.Ext(p))
	}
	return []string{p + ".sha256", p + ".md5", stem + ".sha256", stem + ".md5"}
}

func (d *Delivery) verifyChecksum(ctx context.Context, p string) error {
	for _, c := range checksumCandidates(p) {
		raw, err := os.ReadFile(c)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("aaf: read checksum %s: %w", c, err)
		}
		algo := "sha256"
		if strings.HasSuffix(strings.ToLower(c), ".md5") {
			algo = "md5"
		}
		want, err := parseChecksumFile(string(raw), filepath.Base(p), algo)
		if err != nil {
			return fmt.Errorf("aaf: checksum file %s: %w", c, err)
		}
		got, err := digestFile(ctx, p, algo)
		if err != nil {
			return err
		}
		if !strings.EqualFold(got, want) {
			return fmt.Errorf("aaf: %s: %w: %s says %s %s, the file's %s is %s", p, ErrChecksumMismatch, c, algo, want, algo, got)
		}
		d.Checksums = append(d.Checksums, ChecksumResult{Target: p, ChecksumFile: c, Algorithm: algo, Digest: got})
		return nil
	}
	return nil
}

// parseChecksumFile understands "HEX", "HEX  name", "HEX *name" (coreutils)
// and "SHA256 (name) = HEX" (BSD). With several lines, the one naming base wins.
func parseChecksumFile(text, base, algo string) (string, error) {
	wantLen := 64
	if algo == "md5" {
		wantLen = 32
	}
	var only string
	lines := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines++
		var digest, name string
		// The BSD form's " (" must come before its ") = ": a line such as
		// "0) = (" has both, the other way round.
		if i := strings.Index(line, ") = "); i > 0 && strings.Contains(line[:i], " (") {
			name = line[strings.Index(line[:i], " (")+2 : i]
			digest = strings.TrimSpace(line[i+4:])
		} else {
			fields := strings.Fields(line)
			digest = fields[0]
			if len(fields) > 1 {
				name = strings.TrimPrefix(strings.Join(fields[1:], " "), "*")
			}
		}
		if len(digest) != wantLen {
			return "", fmt.Errorf("line %d: %q is not a %s digest", lines, digest, algo)
		}
		if _, err := hex.DecodeString(digest); err != nil {
			return "", fmt.Errorf("line %d: %q is not hexadecimal", lines, digest)
		}
		if name != "" && pathBase(name) == base {
			return digest, nil
		}
		if name == "" {
			only = digest
		}
	}
	if only != "" && lines == 1 {
		return only, nil
	}
	return "", fmt.Errorf("no digest for %s in it", base)
}

func digestFile(ctx context.Context, p, algo string) (string, error) {
	fh, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("aaf: %w", err)
	}
	defer fh.Close()
	var h hash.Hash = sha256.New()
	if algo == "md5" {
		h = md5.New()
	}
	if _, err := io.Copy(h, ctxReader{ctx, fh}); err != nil {
		return "", fmt.Errorf("aaf: hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops a long copy when the context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ContentHash is the SHA-256 that identifies a delivery for "already
// applied" detection: over the files in canonical order, each as its
// family, chunk, byte length (big-endian uint64) and bytes, so renaming the
// prefix or the archive does not change it, but moving bytes between files
// does. Check computes it in its single pass; otherwise it reads every file.
func (d *Delivery) ContentHash(ctx context.Context) (string, error) {
	if d.contentHash != "" {
		return d.contentHash, nil
	}
	// Two files at a time: the files are independent, and before a
	// re-import's parse this pass has the machine to itself.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for _, f := range d.Files {
		if f.sha256 == nil {
			g.Go(func() error { return hashFile(gctx, f) })
		}
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	return d.finishHash(), nil
}

// hashFile records the SHA-256 and size of one file.
func hashFile(ctx context.Context, f *File) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("aaf: %w", err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, ctxReader{ctx, rc})
	if err != nil {
		return fmt.Errorf("aaf: hash %s: %w", f.Name, err)
	}
	f.sha256, f.Size = h.Sum(nil), n
	return nil
}

// finishHash combines the per-file digests once all are known.
func (d *Delivery) finishHash() string {
	h := sha256.New()
	var n [8]byte
	for _, f := range d.Files {
		if f.sha256 == nil {
			return ""
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f.Family, f.Chunk)
		binary.BigEndian.PutUint64(n[:], uint64(f.Size))
		h.Write(n[:])
		h.Write(f.sha256)
	}
	d.contentHash = hex.EncodeToString(h.Sum(nil))
	return d.contentHash
}
