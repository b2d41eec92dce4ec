package lint

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/spooksystems/spook"

// purePackages must stay deterministic state machines (DESIGN.md §4, §5).
var purePackages = []string{"causal", "crdt", "driver", "limits", "replica", "seq"}

// forbiddenInPure are the imports that bring clocks, I/O, concurrency,
// randomness or global logging into a package.
var forbiddenInPure = []string{"time", "net", "os", "sync", "math/rand", "math/rand/v2", "crypto/rand", "log", "log/slog"}

// repoRoot is two directories up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// packageImports maps each project package directory (relative to root) to
// the imports of its non-test files.
func packageImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bench") {
				return filepath.SkipDir // bench/ is its own module
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		if _, ok := pkgs[dir]; !ok {
			pkgs[dir] = nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			pkgs[dir] = append(pkgs[dir], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func TestPurePackagesImportNoIO(t *testing.T) {
	root := repoRoot(t)
	pkgs := packageImports(t, root)
	for _, pure := range purePackages {
		if _, ok := pkgs[pure]; !ok {
			continue // not written yet
		}
		// Walk the project-internal import graph from the pure package.
		seen := map[string]bool{}
		var visit func(dir, via string)
		visit = func(dir, via string) {
			if seen[dir] {
				return
			}
			seen[dir] = true
			for _, imp := range pkgs[dir] {
				if slices.Contains(forbiddenInPure, imp) {
					t.Errorf("pure package %s imports %q (via %s)", pure, imp, via)
				}
				if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
					visit(rel, via+" → "+rel)
				}
			}
		}
		visit(pure, pure)
	}
}

func TestEveryPackageHasOneDocGo(t *testing.T) {
	root := repoRoot(t)
	for dir := range packageImports(t, root) {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		docs := 0
		for _, e := range entries {
			if e.Name() == "doc.go" {
				docs++
			}
		}
		if docs != 1 {
			t.Errorf("package %s has no doc.go", dir)
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, dir, "doc.go"), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc == nil || len(strings.TrimSpace(f.Doc.Text())) < 40 {
			t.Errorf("package %s: doc.go has no package comment worth reading", dir)
		}
	}
}

func TestOnlyDocGoCarriesThePackageComment(t *testing.T) {
	root := repoRoot(t)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bench") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || d.Name() == "doc.go" {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		if f.Doc != nil && f.Name.Name != "main" {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s carries a package comment; it belongs in doc.go", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
