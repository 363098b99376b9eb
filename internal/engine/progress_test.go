package engine

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// events records Progress events, safe for concurrent compiles.
type events struct {
	mu  sync.Mutex
	evs []api.CompileEvent
}

func (r *events) add(ev api.CompileEvent) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *events) stages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.evs {
		s := ev.Stage
		if ev.Cached {
			s += "(cached)"
		}
		out = append(out, s)
	}
	return out
}

// Progress tells a fresh compile, a compile from the disk cache of an
// earlier engine, a module this engine has already, and a refused binary
// apart — with the module's name and size on every event.
func TestCompileProgress(t *testing.T) {
	dir := t.TempDir()
	wasm := testwasm.Read(t, "counter")
	run := func(e *Engine, wasm []byte) (*events, error) {
		var r events
		_, err := e.Compile(context.Background(), wasm, CompileOptions{Name: "counter", Progress: r.add})
		for _, ev := range r.evs {
			if ev.Module != "counter" || ev.Size != len(wasm) {
				t.Errorf("event %+v: want module counter, size %d", ev, len(wasm))
			}
		}
		return &r, err
	}
	e := newEngine(t, Config{CacheDir: dir})
	r, err := run(e, wasm)
	if err != nil || !slices.Equal(r.stages(), []string{api.CompileStarted, api.CompileDone}) {
		t.Fatalf("first compile: %v %v", r.stages(), err)
	}
	if r.evs[1].Elapsed <= 0 {
		t.Errorf("compiled event without a time: %+v", r.evs[1])
	}
	if r, _ = run(e, wasm); !slices.Equal(r.stages(), []string{api.CompileLoaded}) {
		t.Fatalf("same engine again: %v", r.stages())
	}
	e2 := newEngine(t, Config{CacheDir: dir})
	if r, _ = run(e2, wasm); !slices.Equal(r.stages(), []string{api.CompileStarted + "(cached)", api.CompileCached}) {
		t.Fatalf("new engine, same cache: %v", r.stages())
	}
	// Without a disk cache nothing is ever "cached".
	e3 := newEngine(t, Config{})
	if r, _ = run(e3, wasm); !slices.Equal(r.stages(), []string{api.CompileStarted, api.CompileDone}) {
		t.Fatalf("no disk cache: %v", r.stages())
	}
	bad := append([]byte{}, wasm[:len(wasm)/2]...)
	r, err = run(e, bad)
	if err == nil || !slices.Equal(r.stages(), []string{api.CompileStarted, api.CompileFailed}) || !strings.Contains(r.evs[1].Error, "bad module") {
		t.Fatalf("truncated binary: %v %v %+v", r.stages(), err, r.evs)
	}
}

// Callers compiling the same bytes at once share one compile: one
// "compiled", the others "loaded", and one module for all.
func TestConcurrentCompilesShareOne(t *testing.T) {
	e := newEngine(t, Config{CacheDir: t.TempDir()})
	wasm := testwasm.Read(t, "counter")
	var r events
	const n = 8
	mods := make([]*Module, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m, err := e.Compile(context.Background(), wasm, CompileOptions{Name: "counter", Progress: r.add})
			if err != nil {
				t.Error(err)
			}
			mods[i] = m
		})
	}
	wg.Wait()
	for _, m := range mods[1:] {
		if m != mods[0] {
			t.Fatal("concurrent compiles of the same bytes made two modules")
		}
	}
	count := map[string]int{}
	for _, s := range r.stages() {
		count[s]++
	}
	if count[api.CompileStarted] != 1 || count[api.CompileDone] != 1 || count[api.CompileLoaded] != n-1 {
		t.Fatalf("stages %v", r.stages())
	}
}

// A compile that fails lets a caller waiting on it try again (and fail the
// same way), rather than hang or return nothing.
func TestWaiterOnFailedCompileTriesItself(t *testing.T) {
	e := newEngine(t, Config{})
	bad := []byte("\x00asm\x01\x00\x00\x00\x01\xff")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if m, err := e.Compile(context.Background(), bad, CompileOptions{Name: "bad"}); err == nil || m != nil {
				t.Errorf("got %v, %v", m, err)
			}
		})
	}
	wg.Wait()
}
