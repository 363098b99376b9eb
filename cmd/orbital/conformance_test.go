package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/internal/wasitest"
)

// TestWASIConformanceCLI runs every program of the WASI testsuite through
// the real binary exactly as its JSON describes: `orbital run` with the
// test's manifest beside it, --dir HOST:GUEST for each directory (a
// relative guest name where the spec has one), --env for its
// environment, its args after --; exit code, stdout and stderr compared.
func TestWASIConformanceCLI(t *testing.T) {
	newHome(t)
	var tally wasitest.Tally
	for _, c := range wasitest.Cases(t) {
		ok := t.Run(c.Suite+"/"+c.Name, func(t *testing.T) {
			dir := t.TempDir()
			mod := filepath.Join(dir, c.Name+".wasm")
			if err := os.WriteFile(mod, c.Wasm(t), 0o644); err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, c.Name+".orbital.toml", []byte(c.Manifest()))
			args := []string{"run", "-q", "--clock", "--random"}
			for _, d := range c.Preopens(t) {
				args = append(args, "--dir", d.Host+":"+d.Guest)
			}
			keys := make([]string, 0, len(c.Spec.Env))
			for k := range c.Spec.Env {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				args = append(args, "--env", k+"="+c.Spec.Env[k])
			}
			args = append(append(args, mod, "--"), c.Spec.Args...)
			code, stdout, stderr := runBinary(t, "", args...)
			if err := c.Check(uint32(code), stdout, stderr); err != nil {
				t.Fatalf("orbital %s: %v", strings.Join(args, " "), err)
			}
		})
		tally.Add(c.Suite, ok)
	}
	t.Logf("WASI testsuite (orbital run): %s", tally.String())
	fmt.Printf("WASI conformance (orbital run): %s passed\n", tally.String())
}
