// Package testwasm finds the example guest modules that `make examples`
// builds into build/wasm, for tests and benchmarks.
package testwasm

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the repository root (the directory holding go.mod).
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("testwasm: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Path returns the path of build/wasm/NAME.wasm, failing the test with a
// hint when the examples were not built.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(Root(tb), "build", "wasm", name+".wasm")
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("testwasm: %s not built; run `make examples` first (make test does): %v", p, err)
	}
	return p
}

// Read returns the bytes of build/wasm/NAME.wasm.
func Read(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(Path(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
