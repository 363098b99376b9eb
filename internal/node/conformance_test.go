package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
	"github.com/orbitalfoundation/orbital/internal/wasitest"
)

// TestWASIConformanceNode runs every program of the WASI testsuite as a
// process of one node: each a [[process]] (restart = "temporary") with the
// test's manifest beside its module, its directories in dirs (relative
// guest names where the spec has them), env and args, all started
// together under the node's supervisor. Each must exit with the spec's
// code; what it wrote to stdout, read back from its log, must match.
func TestWASIConformanceNode(t *testing.T) {
	cases := wasitest.Cases(t)
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("[node]\ngrace = \"2s\"\nmax_running = 2\n")
	name := func(c wasitest.Case) string { return strings.ReplaceAll(c.Suite+"-"+c.Name, "_", "-") }
	for _, c := range cases {
		n := name(c)
		mod := filepath.Join(dir, n+".wasm")
		if err := os.WriteFile(mod, c.Wasm(t), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n+".orbital.toml"), []byte(c.Manifest()), 0o644); err != nil {
			t.Fatal(err)
		}
		p := map[string]any{"name": n, "module": mod, "restart": "temporary", "clock": true, "random": true,
			"args": append([]string{}, c.Spec.Args...), "env": c.Spec.Env}
		var dirs []string
		for _, d := range c.Preopens(t) {
			dirs = append(dirs, d.Host+":"+d.Guest)
		}
		p["dirs"] = dirs
		data, err := toml.Marshal(map[string]any{"process": []any{p}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Write(data)
	}
	parsed, err := config.Parse([]byte(cfg.String()), "wasi.toml", dir, t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, cfg.String())
	}
	n, err := Start(context.Background(), parsed, testwasm.Home(t), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	done := func(p api.ProcessInfo) bool { return p.State.Done() }
	checkFor(t, "every test to end", func() bool {
		ended := 0
		for _, p := range n.Runner().Processes() {
			if done(p) {
				ended++
			}
		}
		return ended == len(cases)
	})
	infos := map[string]api.ProcessInfo{}
	for _, p := range n.Runner().Processes() {
		infos[p.Name] = p
	}
	var tally wasitest.Tally
	for _, c := range cases {
		ok := t.Run(c.Suite+"/"+c.Name, func(t *testing.T) {
			info := infos[name(c)]
			lines, _, err := n.Runner().Logs(name(c), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr strings.Builder
			for _, l := range lines {
				switch l.Source {
				case "stdout":
					stdout.WriteString(l.Text + "\n")
				case "stderr":
					stderr.WriteString(l.Text + "\n")
				}
			}
			if info.State != api.StateExited {
				t.Fatalf("%s (%s)\nstderr: %s", info.State, info.Reason, stderr.String())
			}
			// The log keeps lines: compare the spec's output line by line.
			want := c
			if want.Spec.Stdout != nil {
				s := normalize(*want.Spec.Stdout)
				want.Spec.Stdout = &s
			}
			want.Spec.Stderr = nil
			if err := want.Check(info.ExitCode, normalize(stdout.String()), stderr.String()); err != nil {
				t.Fatal(err)
			}
		})
		tally.Add(c.Suite, ok)
	}
	t.Logf("WASI testsuite (node): %s", tally.String())
	fmt.Printf("WASI conformance (node): %s passed\n", tally.String())
}

// normalize is output as a log keeps it: its non-empty lines, each ended
// by a newline.
func normalize(s string) string {
	var out strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out.WriteString(l + "\n")
		}
	}
	return out.String()
}
