package librarytest_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/engine"
	"github.com/orbitalfoundation/orbital/internal/library"
	"github.com/orbitalfoundation/orbital/internal/library/librarytest"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	"github.com/orbitalfoundation/orbital/internal/supervisor"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// conformlib is examples/conformlib compiled once per engine, with its
// manifest and the capabilities it is granted, as the kernel's Provide
// resolves them.
type conformlib struct {
	e       *engine.Engine
	m       *engine.Module
	mf      *manifest.Manifest
	caps    capability.Set
	exports []library.Export
	// stateful overrides the manifest: one instance, calls serialized.
	stateful bool
}

func loadConformlib(t *testing.T) *conformlib {
	t.Helper()
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{MaxRunning: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(ctx) })
	wasm, err := os.ReadFile(testwasm.Path(t, "conformlib"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.Compile(ctx, wasm, engine.CompileOptions{Name: "conformlib"})
	if err != nil {
		t.Fatal(err)
	}
	mf, err := manifest.Load(filepath.Join(testwasm.Root(t), "examples", "conformlib", "orbital.toml"))
	if err != nil {
		t.Fatal(err)
	}
	caps, err := capability.Resolve(mf, capability.Grant{Clock: true})
	if err != nil {
		t.Fatal(err)
	}
	var exports []library.Export
	for _, x := range mf.ExportList() {
		exports = append(exports, library.Export{Name: x.Name, Args: x.ArgsShape, Result: x.ResultShape, Description: x.Description})
	}
	return &conformlib{e: e, m: m, mf: mf, caps: caps, exports: exports}
}

// factory registers conformlib as name@version and runs it under a
// supervisor, as the kernel does: a pool that fails (a trap, a deadline)
// is restarted.
func (c *conformlib) factory(t *testing.T, reg *library.Registry, name, version string) *library.Library {
	t.Helper()
	linker := reg.Linker(func(string, string) (*semver.Constraints, error) { return nil, nil })
	lib, err := library.NewWasm(library.WasmOptions{
		Name: name, Version: version, Exports: c.exports,
		Stateful: c.mf.Library.Stateful || c.stateful, Instances: c.mf.Library.Instances, Entry: c.mf.Entry.Start,
		Spawn: func(ctx context.Context, w *engine.Worker) error {
			_, err := c.e.Instantiate(ctx, c.m, engine.Spec{Name: name, Caps: c.caps, Worker: w, Linker: linker})
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Add(lib); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	sup := supervisor.New(context.Background(), supervisor.Config{
		MaxRestarts: 1000, Within: time.Minute,
		Backoff: func(int) time.Duration { return time.Millisecond },
		Events: func(ev supervisor.Event) {
			if ev.Kind == supervisor.EventGaveUp {
				once.Do(func() { library.Down(lib, ev.Reason) })
			}
		},
	})
	if err := sup.Add(supervisor.Spec{Name: name, Start: func(ctx context.Context) (supervisor.Child, error) {
		return library.Start(ctx, lib)
	}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sup.Shutdown(ctx); err != nil {
			t.Errorf("supervisor shutdown: %v", err)
		}
	})
	return lib
}

func TestConformanceWasm(t *testing.T) {
	c := loadConformlib(t)
	librarytest.Suite(t, "wasm", c.factory)
}

// TestConformanceWasmStateful runs the suite against conformlib as a
// stateful library: one instance, calls served one at a time.
func TestConformanceWasmStateful(t *testing.T) {
	c := loadConformlib(t)
	c.stateful = true
	librarytest.Suite(t, "wasm-stateful", c.factory)
}

// TestConformlibManifest: examples/conformlib/orbital.toml declares the
// contract's functions and shapes (the wasm factory takes them from it).
func TestConformlibManifest(t *testing.T) {
	c := loadConformlib(t)
	if len(c.exports) != len(librarytest.Exports) {
		t.Fatalf("manifest exports %d functions, the contract %d", len(c.exports), len(librarytest.Exports))
	}
	byName := map[string]library.Export{}
	for _, x := range c.exports {
		byName[x.Name] = x
	}
	for _, want := range librarytest.Exports {
		got, ok := byName[want.Name]
		switch {
		case !ok:
			t.Errorf("manifest lacks %s", want.Name)
		case got.Args.String() != want.Args.String() || got.Result.String() != want.Result.String():
			t.Errorf("%s: manifest shapes %s → %s, contract %s → %s", want.Name, got.Args, got.Result, want.Args, want.Result)
		}
	}
	if !c.caps.Clock {
		t.Error("conformlib is not granted the clock: sleep would not sleep")
	}
}
