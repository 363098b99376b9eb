package engine

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/testwait"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

func newEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

func compile(t testing.TB, e *Engine, name string) *Module {
	t.Helper()
	m, err := e.Compile(context.Background(), testwasm.Read(t, name), CompileOptions{Name: name})
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return m
}

func instantiate(t testing.TB, e *Engine, m *Module, spec Spec) *Instance {
	t.Helper()
	i, err := e.Instantiate(context.Background(), m, spec)
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	t.Cleanup(func() { _ = i.Close(context.Background()) })
	return i
}

func limits(pages uint32, deadline time.Duration) capability.Set {
	return capability.Set{Limits: capability.Limits{MemoryPages: pages, Deadline: deadline, OpenFiles: 16}}
}

func TestCompileOnceAndDiskCache(t *testing.T) {
	dir := t.TempDir()
	e := newEngine(t, Config{CacheDir: dir})
	a := compile(t, e, "counter")
	b := compile(t, e, "counter")
	if a != b {
		t.Fatal("compiling the same bytes twice made two modules")
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("disk cache %s is empty after a compile (err %v)", dir, err)
	}
	// A new engine on the same directory finds the code on disk.
	e2 := newEngine(t, Config{CacheDir: dir})
	c := compile(t, e2, "counter")
	if c.Digest() != a.Digest() {
		t.Fatalf("digest changed: %s vs %s", c.Digest(), a.Digest())
	}
}

func TestBadModules(t *testing.T) {
	e := newEngine(t, Config{})
	hello := testwasm.Read(t, "hello")
	tests := []struct {
		name string
		wasm []byte
		want string
	}{
		{"empty", nil, "bad module"},
		{"garbage", []byte("definitely not wasm"), "bad module"},
		{"truncated", hello[:len(hello)/2], "bad module"},
		{"header only", []byte("\x00asm\x01\x00\x00\x00\x01"), "bad module"},
		{"missing import", testwasm.Read(t, "badimport"), "env.does_not_exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Compile(context.Background(), tc.wasm, CompileOptions{Name: tc.name})
			if !errors.Is(err, api.ErrBadModule) {
				t.Fatalf("err = %v, want ErrBadModule", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	// The engine still works after all of that.
	i := instantiate(t, e, compile(t, e, "counter"), Spec{Name: "counter", Caps: limits(16, 0)})
	if _, err := i.Call(context.Background(), "counter_add", 2); err != nil {
		t.Fatal(err)
	}
}

func TestGuestFailuresEndOnlyTheInstance(t *testing.T) {
	e := newEngine(t, Config{})
	tests := []struct {
		name   string
		module string
		caps   capability.Set
		stdout io.Writer
		state  api.State
		reason string
		check  func(t *testing.T, i *Instance, ex Exit)
	}{
		{name: "runaway loop stops at its deadline", module: "spin", caps: limits(16, 50*time.Millisecond),
			state: api.StateKilled, reason: "deadline of 50ms exceeded",
			check: func(t *testing.T, _ *Instance, ex Exit) {
				if !errors.Is(ex.Err, ErrDeadline) {
					t.Errorf("err = %v, want ErrDeadline", ex.Err)
				}
			}},
		{name: "blocking sleep honours the deadline", module: "sleeper",
			caps:  func() capability.Set { c := limits(64, 50*time.Millisecond); c.Clock = true; return c }(),
			state: api.StateKilled, reason: "deadline"},
		{name: "memory growth past the limit", module: "memhog", caps: limits(32, 0),
			state: api.StateCrashed, reason: "memory limit of 32 pages",
			check: func(t *testing.T, i *Instance, _ Exit) {
				st := i.Stats()
				if st.DeniedGrows == 0 || st.MemoryBytes > 32*65536 {
					t.Errorf("stats = %+v, want denied grows and memory ≤ 32 pages", st)
				}
			}},
		{name: "stack overflow", module: "recurse", caps: limits(16, 0), state: api.StateCrashed, reason: "stack overflow"},
		{name: "panicking host call", module: "crc", caps: func() capability.Set { c := limits(64, 0); c.Stdout = true; return c }(),
			stdout: panicWriter{}, state: api.StateCrashed, reason: "host writer exploded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := compile(t, e, tc.module)
			i := instantiate(t, e, m, Spec{Name: tc.module, Caps: tc.caps, Stdout: tc.stdout, Stdin: strings.NewReader("data")})
			ex := i.Run(context.Background(), "_start")
			if ex.State != tc.state || !strings.Contains(ex.Reason, tc.reason) {
				t.Fatalf("exit = %+v, want state %s with reason containing %q", ex, tc.state, tc.reason)
			}
			if tc.check != nil {
				tc.check(t, i, ex)
			}
		})
	}
	// After every failure above, a fresh instance runs normally.
	i := instantiate(t, e, compile(t, e, "counter"), Spec{Name: "counter", Caps: limits(16, 0)})
	res, err := i.Call(context.Background(), "counter_add", 41)
	if err != nil || int32(res[0]) != 41 {
		t.Fatalf("counter_add = %v, %v; want 41", res, err)
	}
}

type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("host writer exploded") }

func TestKillStopsARunningGuest(t *testing.T) {
	e := newEngine(t, Config{})
	i := instantiate(t, e, compile(t, e, "spin"), Spec{Name: "spin", Caps: limits(16, 0)})
	done := make(chan Exit)
	go func() { done <- i.Run(context.Background(), "_start") }()
	i.Kill(errors.New("operator said stop"))
	select {
	case ex := <-done:
		if ex.State != api.StateKilled || !strings.Contains(ex.Reason, "operator said stop") {
			t.Fatalf("exit = %+v", ex)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("kill did not stop the loop")
	}
	if _, err := i.Call(context.Background(), "_start"); err == nil {
		t.Fatal("a killed instance accepted another call")
	}
}

func TestCallerContextCancelStopsGuest(t *testing.T) {
	e := newEngine(t, Config{})
	i := instantiate(t, e, compile(t, e, "spin"), Spec{Name: "spin", Caps: limits(16, 0)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Exit)
	go func() { done <- i.Run(ctx, "_start") }()
	cancel()
	select {
	case ex := <-done:
		if ex.State != api.StateKilled {
			t.Fatalf("exit = %+v, want killed", ex)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cancelling the caller's context did not stop the loop")
	}
}

func TestReactorCalls(t *testing.T) {
	e := newEngine(t, Config{})
	i := instantiate(t, e, compile(t, e, "counter"), Spec{Name: "counter", Caps: limits(16, time.Second)})
	ctx := context.Background()
	if _, err := i.Call(ctx, "_initialize"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int32{5, 7, -2} {
		if _, err := i.Call(ctx, "counter_add", uint64(uint32(n))); err != nil {
			t.Fatal(err)
		}
	}
	res, err := i.Call(ctx, "counter_get")
	if err != nil || int32(res[0]) != 10 {
		t.Fatalf("counter_get = %v, %v; want 10", res, err)
	}
	if _, err := i.Call(ctx, "no_such_export"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if st := i.Stats(); st.Calls < 5 {
		t.Fatalf("calls = %d, want ≥ 5", st.Calls)
	}
}

func TestInitialMemoryOverLimitIsRefused(t *testing.T) {
	e := newEngine(t, Config{})
	m := compile(t, e, "hello") // a Go module starts with dozens of pages
	_, err := e.Instantiate(context.Background(), m, Spec{Name: "hello", Caps: limits(1, 0)})
	if !errors.Is(err, api.ErrLimit) {
		t.Fatalf("err = %v, want ErrLimit", err)
	}
}

// With one execution slot, a spinning guest holds it: another call cannot
// run until the spinner is killed. This is the cap that keeps a thread free
// for the kernel.
func TestExecutionSlotsCapRunningGuests(t *testing.T) {
	e := newEngine(t, Config{MaxRunning: 1})
	spin := instantiate(t, e, compile(t, e, "spin"), Spec{Name: "spin", Caps: limits(16, 0)})
	counter := instantiate(t, e, compile(t, e, "counter"), Spec{Name: "counter", Caps: limits(16, 100*time.Millisecond)})
	spun := make(chan Exit)
	go func() { spun <- spin.Run(context.Background(), "_start") }()
	waitFor(t, func() bool { return len(e.slots) == 1 })
	if _, err := counter.Call(context.Background(), "counter_add", 1); !errors.Is(err, ErrDeadline) {
		t.Fatalf("call while the only slot is busy: err = %v, want ErrDeadline", err)
	}
	spin.Kill(nil)
	<-spun
	counter2 := instantiate(t, e, compile(t, e, "counter"), Spec{Name: "counter", Caps: limits(16, time.Second)})
	if _, err := counter2.Call(context.Background(), "counter_add", 1); err != nil {
		t.Fatalf("call after the spinner died: %v", err)
	}
}

// A guest blocked in a host call gives its slot back.
func TestBlockedGuestReleasesItsSlot(t *testing.T) {
	e := newEngine(t, Config{MaxRunning: 1})
	caps := limits(64, 0)
	caps.Clock, caps.Stderr = true, true
	var out syncBuffer
	sleeper := instantiate(t, e, compile(t, e, "sleeper"), Spec{Name: "sleeper", Caps: caps, Stderr: &out})
	slept := make(chan Exit)
	go func() { slept <- sleeper.Run(context.Background(), "_start") }()
	waitFor(t, func() bool { return strings.Contains(out.String(), "sleeping") })
	counter := instantiate(t, e, compile(t, e, "counter"), Spec{Name: "counter", Caps: limits(16, 10*time.Second)})
	if _, err := counter.Call(context.Background(), "counter_add", 1); err != nil {
		t.Fatalf("call while the other guest sleeps: %v", err)
	}
	sleeper.Kill(nil)
	if ex := <-slept; ex.State != api.StateKilled {
		t.Fatalf("sleeper exit = %+v", ex)
	}
}

func TestModuleInfo(t *testing.T) {
	e := newEngine(t, Config{})
	info := compile(t, e, "notes").Info()
	if len(info.Digest) != 64 {
		t.Errorf("digest = %q", info.Digest)
	}
	want := map[string]bool{"fs": true, "args": true, "clock": true}
	for _, c := range info.Implies {
		delete(want, c)
	}
	if len(want) > 0 {
		t.Errorf("implies = %v, missing %v", info.Implies, want)
	}
	hc := compile(t, e, "hostcall").Info()
	found := false
	for _, f := range hc.Imports {
		if f.Module == HostModuleName && f.Name == "nop" {
			found = true
		}
	}
	if !found {
		t.Errorf("hostcall imports = %+v, want orbital_v1.nop", hc.Imports)
	}
}

// waitFor polls cond until it holds, failing after a generous bound.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testwait.For(t, 30*time.Second, "the condition", cond)
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Without the random capability a guest gets the same non-trivial bytes in
// every instance (deterministic, like wazero's default stand-in).
func TestFakeRandIsDeterministic(t *testing.T) {
	a, b := make([]byte, 37), make([]byte, 37)
	_, _ = (&fakeRand{state: 0x9E3779B97F4A7C15}).Read(a)
	_, _ = (&fakeRand{state: 0x9E3779B97F4A7C15}).Read(b)
	if string(a) != string(b) {
		t.Fatal("two instances saw different bytes")
	}
	zeros := 0
	for _, c := range a {
		if c == 0 {
			zeros++
		}
	}
	if zeros > 5 {
		t.Fatalf("stream looks degenerate: %x", a)
	}
}

// The section scanner reads the same initial memory size wazero does, and a
// module whose unexported memory starts above the limit is refused cleanly
// (a fuzzer found that this used to panic inside wazero).
func TestMemoryMinPages(t *testing.T) {
	e := newEngine(t, Config{})
	for _, name := range []string{"counter", "hello", "pong"} {
		wasm := testwasm.Read(t, name)
		got, ok := MemoryMinPages(wasm)
		info := compile(t, e, name).Info()
		if !ok || len(info.Memories) == 0 || got != info.Memories[0].Min {
			t.Errorf("%s: scanner %d (%v), wazero %+v", name, got, ok, info.Memories)
		}
	}
	// (module (memory 48)) — 48 pages, not exported.
	wasm := []byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x30")
	m, err := e.Compile(context.Background(), wasm, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Instantiate(context.Background(), m, Spec{Name: "big", Caps: limits(16, 0)}); !errors.Is(err, api.ErrLimit) {
		t.Fatalf("err = %v, want ErrLimit", err)
	}
}
