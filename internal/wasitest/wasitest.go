// Package wasitest loads the public WASI testsuite for Orbital's
// conformance runs (tests only). Every program found is a Case, whatever
// the folder it is in, so that programs dropped into a suite folder are
// run too:
//
//   - ../shared/conformance/wasi-testsuite/tests/LANG/testsuite/wasm32-wasip1
//     (the C, AssemblyScript and six Rust tests of the shared copy;
//     ORBITAL_CONFORMANCE overrides the tests folder), and
//   - testdata/wasi-testsuite/rust, the 46 Rust tests of the same commit
//     (stripped of debug sections, gzipped; scripts/wasi-testsuite.sh).
//
// A spec (NAME.json) gives args, env (the whole environment), exit_code,
// stdout and stderr, and the directories to preopen in either format the
// suite has used: "root": DIR (preopened as "/") or "dirs": [DIR, …]
// (each preopened under its own relative name).
package wasitest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Case is one test program.
type Case struct {
	Suite string // "c", "assemblyscript", "rust", "rust-full"
	Name  string
	dir   string // the suite folder
	file  string // NAME.wasm or NAME.wasm.gz
	Spec  Spec
}

// Spec is a test's JSON.
type Spec struct {
	Args     []string          `json:"args"`
	Env      map[string]string `json:"env"`
	Root     string            `json:"root"`
	Dirs     []string          `json:"dirs"`
	ExitCode uint32            `json:"exit_code"`
	Stdout   *string           `json:"stdout"`
	Stderr   *string           `json:"stderr"`
}

// Dir is a directory to preopen: a private copy of the suite's Host
// folder, under the guest name Guest.
type Dir struct{ Host, Guest string }

// Cases finds every test. It fails t when no suite is found.
func Cases(t testing.TB) []Case {
	t.Helper()
	repo := repoRoot()
	shared := os.Getenv("ORBITAL_CONFORMANCE")
	if shared == "" {
		shared = filepath.Join(repo, "..", "shared", "conformance", "wasi-testsuite", "tests")
	}
	var out []Case
	langs, _ := filepath.Glob(filepath.Join(shared, "*", "testsuite", "wasm32-wasip1"))
	for _, dir := range langs {
		out = append(out, casesIn(t, filepath.Base(filepath.Dir(filepath.Dir(dir))), dir)...)
	}
	out = append(out, casesIn(t, "rust-full", filepath.Join(repo, "testdata", "wasi-testsuite", "rust"))...)
	if len(out) == 0 {
		t.Fatalf("no WASI testsuite found under %s (set ORBITAL_CONFORMANCE) or testdata/wasi-testsuite", shared)
	}
	return out
}

func casesIn(t testing.TB, suite, dir string) []Case {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.wasm"))
	gz, _ := filepath.Glob(filepath.Join(dir, "*.wasm.gz"))
	files = append(files, gz...)
	sort.Strings(files)
	var out []Case
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f), ".gz"), ".wasm")
		c := Case{Suite: suite, Name: name, dir: dir, file: f}
		if data, err := os.ReadFile(filepath.Join(dir, name+".json")); err == nil {
			if err := json.Unmarshal(data, &c.Spec); err != nil {
				t.Fatalf("%s/%s.json: %v", suite, name, err)
			}
		}
		out = append(out, c)
	}
	return out
}

// repoRoot is the repository's root (this file is internal/wasitest).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Wasm returns the program's bytes.
func (c Case) Wasm(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(c.file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(c.file, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
	}
	return data
}

// WasmFile writes the program to a temporary file (for the CLI) and
// returns its path.
func (c Case) WasmFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), c.Name+".wasm")
	if err := os.WriteFile(p, c.Wasm(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Preopens copies the directories the spec names into a private
// temporary folder (tests write into them) and returns them.
func (c Case) Preopens(t testing.TB) []Dir {
	t.Helper()
	var dirs []Dir
	base := t.TempDir()
	cp := func(src, guest string) {
		dst := filepath.Join(base, filepath.Base(src))
		if err := os.CopyFS(dst, os.DirFS(filepath.Join(c.dir, src))); err != nil {
			t.Fatalf("copy %s: %v", src, err)
		}
		dirs = append(dirs, Dir{Host: dst, Guest: guest})
	}
	if c.Spec.Root != "" {
		cp(c.Spec.Root, "/")
	}
	for _, d := range c.Spec.Dirs {
		cp(d, d)
	}
	return dirs
}

// Manifest is the orbital.toml a module author would write for the test:
// what it asks for, the directories at their guest names.
func (c Case) Manifest() string {
	var b strings.Builder
	fmt.Fprintf(&b, "name = %q\nversion = \"1.0.0\"\nkind = \"app\"\n[capabilities]\nargs = true\nclock = true\nrandom = true\n",
		strings.ToLower(strings.NewReplacer("_", "-").Replace(c.Name)))
	var env []string
	for k := range c.Spec.Env {
		env = append(env, fmt.Sprintf("%q", k))
	}
	sort.Strings(env)
	fmt.Fprintf(&b, "env = [%s]\n", strings.Join(env, ", "))
	guests := []string{}
	if c.Spec.Root != "" {
		guests = append(guests, "/")
	}
	guests = append(guests, c.Spec.Dirs...)
	for _, g := range guests {
		fmt.Fprintf(&b, "[[capabilities.fs]]\npath = %q\naccess = \"rw\"\n", g)
	}
	return b.String()
}

// Check compares how a run ended with the spec.
func (c Case) Check(code uint32, stdout, stderr string) error {
	switch {
	case code != c.Spec.ExitCode:
		return fmt.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, c.Spec.ExitCode, stdout, stderr)
	case c.Spec.Stdout != nil && stdout != *c.Spec.Stdout:
		return fmt.Errorf("stdout = %q, want %q", stdout, *c.Spec.Stdout)
	case c.Spec.Stderr != nil && stderr != *c.Spec.Stderr:
		return fmt.Errorf("stderr = %q, want %q", stderr, *c.Spec.Stderr)
	}
	return nil
}

// Tally counts passes per suite for the summary line.
type Tally struct {
	mu     sync.Mutex
	pass   map[string]int
	total  map[string]int
	suites []string
}

// Add records one result.
func (ta *Tally) Add(suite string, ok bool) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if ta.total == nil {
		ta.pass, ta.total = map[string]int{}, map[string]int{}
	}
	if _, seen := ta.total[suite]; !seen {
		ta.suites = append(ta.suites, suite)
	}
	ta.total[suite]++
	if ok {
		ta.pass[suite]++
	}
}

// String is "c 14/14, rust 6/6, …; total P/N".
func (ta *Tally) String() string {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	var parts []string
	p, n := 0, 0
	for _, s := range ta.suites {
		parts = append(parts, fmt.Sprintf("%s %d/%d", s, ta.pass[s], ta.total[s]))
		p += ta.pass[s]
		n += ta.total[s]
	}
	return fmt.Sprintf("%s; total %d/%d", strings.Join(parts, ", "), p, n)
}
