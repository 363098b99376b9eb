package orbital_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
	"github.com/orbitalfoundation/orbital/internal/wasitest"
)

// TestWASIConformance runs every program of the WASI testsuite
// (internal/wasitest) through the same path as real modules: a manifest
// made from the test's spec, as a module author would write it →
// capability resolution against a grant → a confined process on the
// kernel's own WASI. Every test must pass; it prints passes per suite. The
// same programs run through the CLI (cmd/orbital) and a node
// (internal/node).
func TestWASIConformance(t *testing.T) {
	ctx := context.Background()
	k, err := orbital.NewKernel(ctx, orbital.NewConfig().WithHome(testwasm.Home(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close(ctx)
	var tally wasitest.Tally
	for _, c := range wasitest.Cases(t) {
		ok := t.Run(c.Suite+"/"+c.Name, func(t *testing.T) { runConformance(t, k, c) })
		tally.Add(c.Suite, ok)
	}
	t.Logf("WASI testsuite (kernel): %s", tally.String())
	fmt.Printf("WASI conformance (kernel): %s passed\n", tally.String())
}

func runConformance(t *testing.T, k *orbital.Kernel, c wasitest.Case) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := orbital.ParseManifest([]byte(c.Manifest()), c.Name+".orbital.toml")
	if err != nil {
		t.Fatalf("manifest: %v\n%s", err, c.Manifest())
	}
	grant := orbital.Grant{Args: c.Spec.Args, Env: c.Spec.Env, Stdout: true, Stderr: true, Clock: true, Random: true}
	for _, d := range c.Preopens(t) {
		grant.Dirs = append(grant.Dirs, orbital.Dir{Host: d.Host, Guest: d.Guest})
	}
	mod, err := k.Load(ctx, c.Name, c.Wasm(t), m)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	var stdout, stderr bytes.Buffer
	p, err := k.Spawn(ctx, mod, orbital.SpawnOptions{Grant: grant, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatalf("spawn: %v", err)
	}
	info, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if !info.State.Done() || (info.State != "exited" && c.Spec.ExitCode == 0) {
		t.Fatalf("ended %s (%s)\nstdout: %s\nstderr: %s", info.State, info.Reason, stdout.String(), stderr.String())
	}
	if err := c.Check(info.ExitCode, stdout.String(), stderr.String()); err != nil {
		t.Fatal(err)
	}
}
