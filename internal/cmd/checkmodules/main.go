// Command checkmodules checks the module files of the repository against
// the rules that keep every module installable from a release:
//
//   - no go.mod has a replace directive (go install pkg@version refuses
//     them, and consumers would ignore them);
//   - a module of this repository requires another one only at the
//     release version (Release), never a pseudo-version or v0.0.0;
//   - every module's path is the root module's path plus its directory;
//   - go.work uses every module, and has exactly one versioned replace,
//     "PATH Release => ./DIR", for each module that another one requires,
//     so that work inside the repository builds against the working tree;
//   - every go.mod and go.work state the same go version (go 1.N.0), and
//     README.md states it ("Go 1.N or newer") once.
//
// Usage, from anywhere in the repository:
//
//	go run ./internal/cmd/checkmodules
//
// It prints one line per violation and exits 1 if there is any.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Release is the version modules of this repository require each other at.
const Release = "v0.1.0"

func main() {
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "checkmodules:", err)
		os.Exit(2)
	}
	problems, err := check(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "checkmodules:", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "checkmodules:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}

// repoRoot is the directory of go.work above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.work above the working directory")
		}
		dir = parent
	}
}

// The JSON of `go mod edit -json` and `go work edit -json`.
type modFile struct {
	Module  struct{ Path string }
	Go      string
	Require []struct{ Path, Version string }
	Replace []replace
}

type workFile struct {
	Go      string
	Use     []struct{ DiskPath string }
	Replace []replace
}

type replace struct {
	Old, New struct{ Path, Version string }
}

// module is one go.mod of the repository.
type module struct {
	dir string // slash-separated, relative to the root: "." or "pgstore"
	mod modFile
}

func check(root string) ([]string, error) {
	var mods []module
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.Name() != "go.mod" {
			return nil
		}
		var m modFile
		if err := goJSON(&m, "mod", "edit", "-json", p); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		mods = append(mods, module{dir: filepath.ToSlash(rel), mod: m})
		return nil
	})
	if err != nil {
		return nil, err
	}
	var work workFile
	if err := goJSON(&work, "work", "edit", "-json", filepath.Join(root, "go.work")); err != nil {
		return nil, err
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		return nil, err
	}
	return checkFiles(mods, work, string(readme)), nil
}

func checkFiles(mods []module, work workFile, readme string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	rootIdx := slices.IndexFunc(mods, func(m module) bool { return m.dir == "." })
	if rootIdx < 0 {
		return []string{"no go.mod at the root of the repository"}
	}
	rootPath, goVersion := mods[rootIdx].mod.Module.Path, mods[rootIdx].mod.Go
	dirOf := map[string]string{} // module path -> dir
	for _, m := range mods {
		dirOf[m.mod.Module.Path] = m.dir
		if want := path.Join(rootPath, m.dir); m.mod.Module.Path != want {
			bad("%s/go.mod: module %s, want %s (the root's path plus the directory)", m.dir, m.mod.Module.Path, want)
		}
	}

	required := map[string]bool{} // repository modules another one requires
	for _, m := range mods {
		file := m.dir + "/go.mod"
		if m.mod.Go != goVersion {
			bad("%s: go %s, want go %s as in the root go.mod", file, m.mod.Go, goVersion)
		}
		for _, r := range m.mod.Replace {
			bad("%s: replace %s: no replace directives in go.mod (go.work serves the working tree)", file, r.Old.Path)
		}
		for _, r := range m.mod.Require {
			if r.Path != rootPath && !strings.HasPrefix(r.Path, rootPath+"/") {
				continue
			}
			if _, ok := dirOf[r.Path]; !ok {
				bad("%s: requires %s, which is no module of this repository", file, r.Path)
				continue
			}
			required[r.Path] = true
			if r.Version != Release {
				bad("%s: requires %s %s, want %s", file, r.Path, r.Version, Release)
			}
		}
	}

	if work.Go != goVersion {
		bad("go.work: go %s, want go %s as in the go.mod files", work.Go, goVersion)
	}
	used := map[string]bool{}
	for _, u := range work.Use {
		d := path.Clean(filepath.ToSlash(u.DiskPath))
		used[d] = true
		if !slices.ContainsFunc(mods, func(m module) bool { return m.dir == d }) {
			bad("go.work: use %s, which holds no go.mod", u.DiskPath)
		}
	}
	for _, m := range mods {
		if !used[m.dir] {
			bad("go.work: module %s is not used: add ./%s to its use block", m.mod.Module.Path, m.dir)
		}
	}
	replaced := map[string]bool{}
	for _, r := range work.Replace {
		dir, ours := dirOf[r.Old.Path]
		switch {
		case !ours:
			bad("go.work: replace %s: only modules of this repository are replaced", r.Old.Path)
		case r.Old.Version != Release || r.New.Version != "" || path.Clean(r.New.Path) != dir:
			bad("go.work: replace %s %s => %s, want %[1]s %[4]s => ./%[5]s", r.Old.Path, r.Old.Version, r.New.Path, Release, dir)
		case replaced[r.Old.Path]:
			bad("go.work: %s replaced twice", r.Old.Path)
		}
		replaced[r.Old.Path] = true
	}
	for p := range required {
		if !replaced[p] {
			bad("go.work: another module requires %s: add \"%[1]s %s => ./%s\" to its replace block", p, Release, dirOf[p])
		}
	}

	stated := regexp.MustCompile(`\bGo 1\.\d+(\.\d+)? or newer`).FindAllString(readme, -1)
	if want := "Go " + strings.TrimSuffix(goVersion, ".0") + " or newer"; len(stated) != 1 || stated[0] != want {
		bad("README.md: states %q, want %q exactly once", stated, want)
	}
	slices.Sort(problems)
	return problems
}

// goJSON runs the go command and decodes its JSON output into v.
func goJSON(v any, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command("go", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return json.Unmarshal(out, v)
}
