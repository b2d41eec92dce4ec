package storage

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOnlyOSTouchesPackageOS enforces the FS seam: outside tests, only
// vfs/os.go may import package os, so every byte storage writes goes
// through vfs.FS and can be crash-tested on MemFS. Each package also has
// its doc.go.
func TestOnlyOSTouchesPackageOS(t *testing.T) {
	docs := map[string]bool{}
	packages := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		packages[filepath.Dir(path)] = true
		if d.Name() == "doc.go" {
			docs[filepath.Dir(path)] = true
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range file.Imports {
			name, _ := strconv.Unquote(imp.Path.Value)
			if name == "os" && path != filepath.Join("vfs", "os.go") {
				t.Errorf("%s imports os; only vfs/os.go may", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir := range packages {
		if !docs[dir] {
			t.Errorf("package in %s has no doc.go", dir)
		}
	}
	if len(packages) < 2 {
		t.Fatalf("walked %d packages; expected storage and storage/vfs", len(packages))
	}
}
