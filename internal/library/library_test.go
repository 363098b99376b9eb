package library_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/engine"
	"github.com/orbitalfoundation/orbital/internal/library"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// harness runs WAT libraries and callers on a real engine.
type harness struct {
	tb  testing.TB
	e   *engine.Engine
	reg *library.Registry
	ctx context.Context
}

func newHarness(tb testing.TB, maxRunning int) *harness {
	tb.Helper()
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{MaxRunning: maxRunning})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Close(ctx) })
	return &harness{tb: tb, e: e, reg: library.NewRegistry(0), ctx: ctx}
}

func (h *harness) compile(name string) *engine.Module {
	h.tb.Helper()
	wasm, err := os.ReadFile(testwasm.Path(h.tb, name))
	if err != nil {
		h.tb.Fatal(err)
	}
	m, err := h.e.Compile(h.ctx, wasm, engine.CompileOptions{Name: name})
	if err != nil {
		h.tb.Fatal(err)
	}
	return m
}

var calltestExports = []library.Export{{Name: "echo"}, {Name: "fail"}, {Name: "trap"}, {Name: "spin"}, {Name: "relay"}}

// allowAll permits every call, any version.
func allowAll(string, string) (*semver.Constraints, error) { return nil, nil }

// startLib registers the calltest module as library name@version and starts
// its pool; the pool is killed at cleanup.
func (h *harness) startLib(name, version string, stateful bool, instances int, deadline time.Duration) (*library.Library, *library.Pool) {
	h.tb.Helper()
	m := h.compile("calltest")
	var lib *library.Library
	lib, err := library.NewWasm(library.WasmOptions{
		Name: name, Version: version, Exports: calltestExports, Stateful: stateful, Instances: instances,
		Spawn: func(ctx context.Context, w *engine.Worker) error {
			_, err := h.e.Instantiate(ctx, m, engine.Spec{Name: name,
				Caps:   capability.Set{Limits: capability.Limits{Deadline: deadline}},
				Worker: w, Linker: h.reg.Linker(allowAll)})
			return err
		},
		RestartWait: 200 * time.Millisecond,
	})
	if err != nil {
		h.tb.Fatal(err)
	}
	if err := h.reg.Add(lib); err != nil {
		h.tb.Fatal(err)
	}
	p, err := library.Start(h.ctx, lib)
	if err != nil {
		h.tb.Fatal(err)
	}
	h.tb.Cleanup(func() { p.Kill(nil); <-p.Done() })
	return lib, p
}

// caller is a callbench reactor instance.
type caller struct {
	h    *harness
	inst *engine.Instance
}

func (h *harness) caller(permit library.Permit, deadline time.Duration) *caller {
	h.tb.Helper()
	m := h.compile("callbench")
	inst, err := h.e.Instantiate(h.ctx, m, engine.Spec{Name: "app",
		Caps: capability.Set{Limits: capability.Limits{Deadline: deadline}}, Linker: h.reg.Linker(permit)})
	if err != nil {
		h.tb.Fatal(err)
	}
	h.tb.Cleanup(func() { _ = inst.Close(context.Background()) })
	return &caller{h: h, inst: inst}
}

// bind binds lib.fn and returns the handle (or the negative error code).
func (c *caller) bind(lib, fn string) int32 {
	c.h.tb.Helper()
	name := lib + "\x00" + fn
	if !c.inst.Memory().WriteString(0, name) {
		c.h.tb.Fatal("write name")
	}
	res, err := c.inst.Call(c.h.ctx, "bind", uint64(len(name)))
	if err != nil {
		c.h.tb.Fatal(err)
	}
	return int32(res[0])
}

// run calls handle h n times with args and returns the call's i64 result
// and the result bytes.
func (c *caller) run(h int32, n int, args []byte) (int64, []byte, error) {
	c.inst.Memory().Write(65536, args)
	res, err := c.inst.Call(c.h.ctx, "run", uint64(h), uint64(n), uint64(len(args)))
	if err != nil {
		return 0, nil, err
	}
	r := int64(res[0])
	var out []byte
	if r > 0 && int(r) <= len(args) {
		b, _ := c.inst.Memory().Read(65536+1310720, uint32(r))
		out = append([]byte(nil), b...)
	}
	return r, out, nil
}

func TestCallEchoSmallAndLarge(t *testing.T) {
	h := newHarness(t, 2)
	h.startLib("calltest", "1.0.0", false, 2, 0)
	c := h.caller(allowAll, 0)
	hd := c.bind("calltest", "echo")
	if hd < 0 {
		t.Fatalf("bind: %d", hd)
	}
	for _, size := range []int{0, 1, 64, 64 << 10, 1 << 20} {
		args := bytes.Repeat([]byte{byte(size), 7, 9}, size/3+1)[:size]
		r, out, err := c.run(hd, 3, args)
		if err != nil || r != int64(size) || !bytes.Equal(out, args) {
			t.Fatalf("size %d: r=%d err=%v equal=%v", size, r, err, bytes.Equal(out, args))
		}
	}
}

func TestHostCallAndErrors(t *testing.T) {
	h := newHarness(t, 2)
	lib, _ := h.startLib("calltest", "1.0.0", false, 2, 300*time.Millisecond)
	ctx := context.Background()
	got, err := h.reg.Call(ctx, "calltest", "echo", []byte("hello"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("echo: %q %v", got, err)
	}
	_, err = h.reg.Call(ctx, "calltest", "fail", []byte("bad input"))
	var ce *engine.CallError
	if !errors.As(err, &ce) || ce.Message != "bad input" || !errors.Is(err, api.ErrFailed) {
		t.Fatalf("fail: %v", err)
	}
	if _, err = h.reg.Call(ctx, "calltest", "trap", nil); !errors.Is(err, api.ErrCrashed) {
		t.Fatalf("trap: %v", err)
	}
	// The pool failed with the trap; without a supervisor nobody restarts it.
	if _, err = h.reg.Call(ctx, "calltest", "echo", nil); !errors.Is(err, api.ErrClosed) {
		t.Fatalf("after trap: %v", err)
	}
	if _, err := library.Start(ctx, lib); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err = h.reg.Call(ctx, "calltest", "spin", nil); !errors.Is(err, api.ErrTimeout) {
		t.Fatalf("spin: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("spin stopped after %v", d)
	}
	if _, err = h.reg.Call(ctx, "calltest", "nope", nil); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("unknown function: %v", err)
	}
	if _, err = h.reg.Call(ctx, "missing", "echo", nil); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("missing library: %v", err)
	}
}

func TestCallerDeadlinePropagates(t *testing.T) {
	h := newHarness(t, 2)
	h.startLib("calltest", "1.0.0", false, 1, 0) // the library sets no deadline of its own
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.reg.Call(ctx, "calltest", "spin", nil)
	if !errors.Is(err, api.ErrTimeout) {
		t.Fatalf("spin: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("stopped after %v", d)
	}
}

func TestCycleRefused(t *testing.T) {
	h := newHarness(t, 2)
	h.startLib("calltest", "1.0.0", false, 2, time.Second)
	h.startLib("calltest2", "1.0.0", false, 2, time.Second)
	code := func(lib, target string) int64 {
		t.Helper()
		got, err := h.reg.Call(context.Background(), lib, "relay", []byte(target))
		if err != nil || len(got) != 8 {
			t.Fatalf("relay %s→%s: %q %v", lib, target, got, err)
		}
		return int64(binary.LittleEndian.Uint64(got))
	}
	if r := code("calltest", "calltest2"); r != 1 { // calltest → calltest2.echo("x"): 1 byte
		t.Fatalf("calltest→calltest2: %d", r)
	}
	if r := code("calltest", "calltest"); r != engine.ErrCodeCycle {
		t.Fatalf("self call: %d, want ERR_CYCLE", r)
	}
	// A → B → A through the wasm caller: app → calltest2.relay → calltest... no cycle;
	// calltest2.relay("calltest2") from the host is refused as re-entrancy.
	if r := code("calltest2", "calltest2"); r != engine.ErrCodeCycle {
		t.Fatalf("calltest2 self: %d", r)
	}
}

func TestPermissionAndVersions(t *testing.T) {
	h := newHarness(t, 2)
	v1, _ := h.startLib("calltest", "1.2.0", false, 1, 0)
	h.startLib("calltest", "2.0.0", false, 1, 0)
	permit := func(rng string) library.Permit {
		c, err := semver.NewConstraint(rng)
		if err != nil {
			t.Fatal(err)
		}
		return func(lib, fn string) (*semver.Constraints, error) {
			if fn != "echo" {
				return nil, fmt.Errorf("%s.%s: %w", lib, fn, api.ErrPermissionDenied)
			}
			return c, nil
		}
	}
	c := h.caller(permit("^1.0"), 0)
	if hd := c.bind("calltest", "fail"); hd != engine.ErrCodeDenied {
		t.Fatalf("bind of a function not granted: %d", hd)
	}
	hd := c.bind("calltest", "echo")
	if hd < 0 {
		t.Fatalf("bind: %d", hd)
	}
	b, err := h.reg.Bind("calltest", "echo", mustConstraint(t, "^1.0"))
	if err != nil || b.Library() != v1 {
		t.Fatalf("^1.0 resolved to %v (%v), want 1.2.0", b.Library().Version(), err)
	}
	if b, err := h.reg.Bind("calltest", "echo", nil); err != nil || b.Library().Version().String() != "2.0.0" {
		t.Fatalf("any version: %v", err)
	}
	if _, err := h.reg.Bind("calltest", "echo", mustConstraint(t, "^3")); !errors.Is(err, api.ErrVersion) ||
		!strings.Contains(err.Error(), "1.2.0") {
		t.Fatalf("^3: %v", err)
	}
	c3 := h.caller(permit("^3"), 0)
	if hd := c3.bind("calltest", "echo"); hd != engine.ErrCodeVersion {
		t.Fatalf("bind ^3: %d", hd)
	}
	if hd := c3.bind("nosuch", "echo"); hd != engine.ErrCodeNotFound {
		t.Fatalf("bind missing: %d", hd)
	}

	// A newer compatible version replaces the old one under a live binding.
	r, _, err := c.run(hd, 1, []byte("abc"))
	if err != nil || r != 3 {
		t.Fatalf("call: %d %v", r, err)
	}
	h.startLib("calltest", "1.3.0", false, 1, 0)
	before := h.libCalls("calltest", "1.3.0")
	if r, _, err := c.run(hd, 2, []byte("abc")); err != nil || r != 3 {
		t.Fatalf("call after upgrade: %d %v", r, err)
	}
	if got := h.libCalls("calltest", "1.3.0") - before; got != 2 {
		t.Fatalf("1.3.0 served %d calls, want 2", got)
	}
	// Removing every ^1 version: the binding reports it at the next call.
	for _, l := range h.reg.Libraries() {
		if l.Version().Major() == 1 {
			h.reg.Remove(l)
		}
	}
	if r, _, _ := c.run(hd, 1, []byte("abc")); r != engine.ErrCodeVersion {
		t.Fatalf("call after removal: %d", r)
	}
}

func mustConstraint(t *testing.T, s string) *semver.Constraints {
	t.Helper()
	c, err := semver.NewConstraint(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *harness) libCalls(name, version string) uint64 {
	for _, l := range h.reg.Libraries() {
		if l.Name() == name && l.Version().String() == version {
			return l.Info().Calls
		}
	}
	h.tb.Fatalf("no %s@%s", name, version)
	return 0
}

func TestParallelStatelessCalls(t *testing.T) {
	h := newHarness(t, 2)
	h.startLib("calltest", "1.0.0", false, 4, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				want := []byte(fmt.Sprintf("caller %d call %d", g, n))
				got, err := h.reg.Call(context.Background(), "calltest", "echo", want)
				if err != nil || !bytes.Equal(got, want) {
					errs <- fmt.Errorf("got %q %v want %q", got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if in := h.reg.Libraries()[0].Info(); in.Instances < 2 || in.Calls != 16*200 {
		t.Fatalf("info: %+v", in)
	}
}

func TestNativeLibrary(t *testing.T) {
	h := newHarness(t, 1)
	lib, err := library.NewNative("math", "1.0.0", []library.NativeExport{
		{Export: library.Export{Name: "double"}, Func: func(_ context.Context, args []byte) ([]byte, error) {
			return append(args, args...), nil
		}},
		{Export: library.Export{Name: "oops"}, Func: func(context.Context, []byte) ([]byte, error) {
			return nil, errors.New("no good")
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.reg.Add(lib); err != nil {
		t.Fatal(err)
	}
	c := h.caller(allowAll, 0)
	hd := c.bind("math", "double")
	// The result (4 bytes) does not fit the caller's 2-byte buffer: call
	// returns its length and keeps it for call_result.
	if r, _, err := c.run(hd, 1, []byte("ab")); err != nil || r != 4 {
		t.Fatalf("double: %d %v", r, err)
	}
	if got, err := h.reg.Call(context.Background(), "math", "double", []byte("ab")); err != nil || string(got) != "abab" {
		t.Fatalf("double: %q %v", got, err)
	}
	_, err = h.reg.Call(context.Background(), "math", "oops", nil)
	if !errors.Is(err, api.ErrFailed) || !strings.Contains(err.Error(), "no good") {
		t.Fatalf("oops: %v", err)
	}
}

func TestParallelWasmCallers(t *testing.T) {
	h := newHarness(t, 2)
	h.startLib("calltest", "1.0.0", false, 3, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		c := h.caller(allowAll, 0)
		hd := c.bind("calltest", "echo")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 50; round++ {
				args := []byte(fmt.Sprintf("caller %d round %d", g, round))
				r, out, err := c.run(hd, 20, args)
				if err != nil || r != int64(len(args)) || !bytes.Equal(out, args) {
					errs <- fmt.Errorf("caller %d: %d %q %v", g, r, out, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestMisbehavingCaller(t *testing.T) {
	h := newHarness(t, 1)
	h.startLib("calltest", "1.0.0", false, 1, 0)
	c := h.caller(allowAll, 0)
	if r, _, err := c.run(99, 1, []byte("x")); err != nil || r != engine.ErrCodeInvalid {
		t.Fatalf("unbound handle: %d %v", r, err)
	}
	// A library name longer than host functions accept.
	long := strings.Repeat("a", 2000)
	if hd := c.bind(long, "echo"); hd != engine.ErrCodeInvalid {
		t.Fatalf("oversized name: %d", hd)
	}
	if hd := c.bind("calltest", "echo"); hd < 0 {
		t.Fatalf("the caller still works: %d", hd)
	}
}
