package console

import (
	"io/fs"
	"regexp"
	"testing"
)

// TestCatalogues: every key has its French and its English, and every key
// a template names literally is in the catalogue.
func TestCatalogues(t *testing.T) {
	for name, c := range map[string]Catalog{"layout": layoutTexts, "principal": principalTexts, "spaces": spaceTexts} {
		for k := range c["fr"] {
			if _, ok := c["en"][k]; !ok {
				t.Errorf("%s: %q has no English", name, k)
			}
		}
		for k := range c["en"] {
			if _, ok := c["fr"][k]; !ok {
				t.Errorf("%s: %q has no French", name, k)
			}
		}
	}
	used := regexp.MustCompile(`\.Tf? "([a-z_.]+)"`)
	for _, files := range []fs.FS{layoutFile, principalFiles, spaceFiles} {
		err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, _ := fs.ReadFile(files, path)
			for _, m := range used.FindAllSubmatch(b, -1) {
				k := string(m[1])
				if _, ok := layoutTexts["fr"][k]; !ok {
					_, inSpaces := spaceTexts["fr"][k]
					if _, ok := principalTexts["fr"][k]; !ok && !inSpaces {
						t.Errorf("%s uses %q, which no catalogue has", path, k)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
