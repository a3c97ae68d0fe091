package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const root = "github.com/idempotency-go/idempotency"

// tree is a clean repository: the root, a store requiring it and a command
// requiring both.
func tree() ([]module, workFile) {
	mk := func(dir, p string, reqs ...string) module {
		m := module{dir: dir}
		m.mod.Module.Path, m.mod.Go = p, "1.24"
		for _, r := range reqs {
			m.mod.Require = append(m.mod.Require, struct{ Path, Version string }{r, Release})
		}
		m.mod.Require = append(m.mod.Require, struct{ Path, Version string }{"github.com/redis/go-redis/v9", "v9.17.3"})
		return m
	}
	mods := []module{
		mk(".", root),
		mk("redisstore", root+"/redisstore", root),
		mk("cmd/idem", root+"/cmd/idem", root, root+"/redisstore"),
	}
	w := workFile{Go: "1.24"}
	for _, d := range []string{".", "./redisstore", "./cmd/idem"} {
		w.Use = append(w.Use, struct{ DiskPath string }{d})
	}
	w.Replace = []replace{workReplace(root, Release, "./"), workReplace(root+"/redisstore", Release, "./redisstore")}
	return mods, w
}

func workReplace(p, version, dir string) replace {
	var r replace
	r.Old.Path, r.Old.Version, r.New.Path = p, version, dir
	return r
}

const readme = "Both need Go 1.24 or newer."

func TestCheckFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		edit   func(mods []module, w *workFile) string // returns the README
		wantIn string                                  // "" for a clean tree
	}{
		{"clean", func([]module, *workFile) string { return readme }, ""},
		{"replace in go.mod", func(mods []module, _ *workFile) string {
			mods[1].mod.Replace = []replace{workReplace(root, "", "../")}
			return readme
		}, "redisstore/go.mod: replace " + root},
		{"pseudo-version", func(mods []module, _ *workFile) string {
			mods[2].mod.Require[1].Version = "v0.0.0-20250101000000-abcdefabcdef"
			return readme
		}, "requires " + root + "/redisstore v0.0.0-20250101000000-abcdefabcdef, want v0.1.0"},
		{"v0.0.0", func(mods []module, _ *workFile) string {
			mods[1].mod.Require[0].Version = "v0.0.0"
			return readme
		}, "want v0.1.0"},
		{"unknown module of ours", func(mods []module, _ *workFile) string {
			mods[2].mod.Require[0].Path = root + "/nosuch"
			return readme
		}, "no module of this repository"},
		{"module path not its directory", func(mods []module, _ *workFile) string {
			mods[1].mod.Module.Path = root + "/redis"
			return readme
		}, "want " + root + "/redisstore"},
		{"module not in go.work", func(_ []module, w *workFile) string {
			w.Use = w.Use[:2]
			return readme
		}, "module " + root + "/cmd/idem is not used"},
		{"go.work uses a directory without go.mod", func(_ []module, w *workFile) string {
			w.Use = append(w.Use, struct{ DiskPath string }{"./gone"})
			return readme
		}, "use ./gone"},
		{"go line differs", func(mods []module, _ *workFile) string {
			mods[2].mod.Go = "1.25"
			return readme
		}, "cmd/idem/go.mod: go 1.25, want go 1.24"},
		{"go.work go line differs", func(_ []module, w *workFile) string {
			w.Go = "1.26.0"
			return readme
		}, "go.work: go 1.26.0"},
		{"required module not replaced in go.work", func(_ []module, w *workFile) string {
			w.Replace = w.Replace[:1]
			return readme
		}, "requires " + root + "/redisstore: add"},
		{"unversioned go.work replace", func(_ []module, w *workFile) string {
			w.Replace[0].Old.Version = ""
			return readme
		}, "want " + root + " v0.1.0 => ./."},
		{"foreign go.work replace", func(_ []module, w *workFile) string {
			w.Replace = append(w.Replace, workReplace("github.com/redis/go-redis/v9", "", "../go-redis"))
			return readme
		}, "only modules of this repository"},
		{"README states another version", func([]module, *workFile) string { return "Go 1.23 or newer" }, "README.md"},
		{"patch-level go line, README states the minor version", func(mods []module, w *workFile) string {
			for i := range mods {
				mods[i].mod.Go = "1.26.0"
			}
			w.Go = "1.26.0"
			return "Go 1.26 or newer"
		}, ""},
		{"README states it twice", func([]module, *workFile) string { return readme + " " + readme }, "README.md"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mods, w := tree()
			got := checkFiles(mods, w, tt.edit(mods, &w))
			switch {
			case tt.wantIn == "" && len(got) != 0:
				t.Fatalf("clean tree: %q", got)
			case tt.wantIn != "" && !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tt.wantIn) }):
				t.Fatalf("problems %q, want one containing %q", got, tt.wantIn)
			}
		})
	}
}

// TestRepository checks this repository's own module files.
func TestRepository(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.work")); err != nil {
		t.Skip("not in a checkout with go.work")
	}
	problems, err := check(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
