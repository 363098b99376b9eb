package engine

import (
	"context"
	"runtime"
	"testing"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// Each benchmark has a "raw" twin doing the same work with wazero alone
// (same runtime settings: termination checks on), so the kernel's overhead
// over the engine it wraps is visible. Results are in docs/BENCHMARKS.md.

func rawRuntime(b *testing.B, cache wazero.CompilationCache) wazero.Runtime {
	return rawRuntimeChecks(b, cache, true)
}

// rawRuntimeChecks is rawRuntime with termination checks on or off.
func rawRuntimeChecks(b *testing.B, cache wazero.CompilationCache, checks bool) wazero.Runtime {
	b.Helper()
	ctx := context.Background()
	rc := wazero.NewRuntimeConfig().WithCloseOnContextDone(checks)
	if cache != nil {
		rc = rc.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	_, err := rt.NewHostModuleBuilder(HostModuleName).NewFunctionBuilder().
		WithGoModuleFunction(wapi.GoModuleFunc(func(context.Context, wapi.Module, []uint64) {}), nil, nil).
		Export("nop").Instantiate(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rt.Close(ctx) })
	return rt
}

// BenchmarkCompile measures compiling a 2.7 MB Go-built module and a small
// C module, cold (no cache) and from the on-disk cache (new engine, warm dir).
func BenchmarkCompile(b *testing.B) {
	ctx := context.Background()
	for _, name := range []string{"hello", "counter"} {
		wasm := testwasm.Read(b, name)
		// Each iteration needs a fresh engine (a runtime remembers what it
		// compiled); making and closing it is not timed.
		compileFresh := func(b *testing.B, cfg Config) {
			for range b.N {
				b.StopTimer()
				e, err := New(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := e.Compile(ctx, wasm, CompileOptions{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				_ = e.Close(ctx)
				b.StartTimer()
			}
		}
		b.Run(name+"/uncached", func(b *testing.B) { compileFresh(b, Config{}) })
		b.Run(name+"/disk-cached", func(b *testing.B) {
			dir := b.TempDir()
			warm, _ := New(ctx, Config{CacheDir: dir})
			if _, err := warm.Compile(ctx, wasm, CompileOptions{}); err != nil {
				b.Fatal(err)
			}
			_ = warm.Close(ctx)
			b.ResetTimer()
			compileFresh(b, Config{CacheDir: dir})
		})
		b.Run(name+"/raw-wazero-disk-cached", func(b *testing.B) {
			dir := b.TempDir()
			cache, _ := wazero.NewCompilationCacheWithDir(dir)
			rt := rawRuntime(b, cache)
			if _, err := rt.CompileModule(ctx, wasm); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				c, _ := wazero.NewCompilationCacheWithDir(dir)
				rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true).WithCompilationCache(c))
				b.StartTimer()
				if _, err := rt.CompileModule(ctx, wasm); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				_ = rt.Close(ctx)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkInstantiate measures making (and closing) one instance of a small
// precompiled C module.
func BenchmarkInstantiate(b *testing.B) {
	ctx := context.Background()
	wasm := testwasm.Read(b, "counter")
	b.Run("orbital", func(b *testing.B) {
		e := newEngine(b, Config{})
		m := compile(b, e, "counter")
		spec := Spec{Name: "counter", Caps: limits(16, 0)}
		for b.Loop() {
			i, err := e.Instantiate(ctx, m, spec)
			if err != nil {
				b.Fatal(err)
			}
			_ = i.Close(ctx)
		}
	})
	b.Run("raw-wazero", func(b *testing.B) {
		rt := rawRuntime(b, nil)
		cm, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			b.Fatal(err)
		}
		cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions()
		for b.Loop() {
			mod, err := rt.InstantiateModule(ctx, cm, cfg)
			if err != nil {
				b.Fatal(err)
			}
			_ = mod.Close(ctx)
		}
	})
}

// BenchmarkHostCall measures one guest→host call (orbital_v1.nop), as the
// guest's loop(1000) divided by 1000.
func BenchmarkHostCall(b *testing.B) {
	ctx := context.Background()
	const perCall = 1000
	b.Run("orbital", func(b *testing.B) {
		e := newEngine(b, Config{})
		i := instantiate(b, e, compile(b, e, "hostcall"), Spec{Name: "hostcall", Caps: limits(16, 0)})
		for b.Loop() {
			if _, err := i.Call(ctx, "loop", perCall); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perCall), "ns/hostcall")
	})
	b.Run("raw-wazero", func(b *testing.B) {
		rt := rawRuntime(b, nil)
		mod, err := rt.InstantiateWithConfig(ctx, testwasm.Read(b, "hostcall"), wazero.NewModuleConfig().WithName(""))
		if err != nil {
			b.Fatal(err)
		}
		fn := mod.ExportedFunction("loop")
		for b.Loop() {
			if _, err := fn.Call(ctx, perCall); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perCall), "ns/hostcall")
	})
}

// BenchmarkCall measures one host→guest call of a tiny export
// (counter_add), the unit the kernel pays per message or library call.
func BenchmarkCall(b *testing.B) {
	ctx := context.Background()
	b.Run("orbital", func(b *testing.B) {
		e := newEngine(b, Config{})
		i := instantiate(b, e, compile(b, e, "counter"), Spec{Name: "counter", Caps: limits(16, 0)})
		for b.Loop() {
			if _, err := i.Call(ctx, "counter_add", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("orbital-with-deadline", func(b *testing.B) {
		e := newEngine(b, Config{})
		i := instantiate(b, e, compile(b, e, "counter"), Spec{Name: "counter", Caps: limits(16, 1e9)})
		for b.Loop() {
			if _, err := i.Call(ctx, "counter_add", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, checks := range []bool{true, false} {
		name := "raw-wazero"
		if !checks { // the floor of a direct call, for code that can never be stopped
			name = "raw-wazero-no-termination-checks"
		}
		b.Run(name, func(b *testing.B) {
			rt := rawRuntimeChecks(b, nil, checks)
			mod, err := rt.InstantiateWithConfig(ctx, testwasm.Read(b, "counter"), wazero.NewModuleConfig().WithName("").WithStartFunctions())
			if err != nil {
				b.Fatal(err)
			}
			fn := mod.ExportedFunction("counter_add")
			for b.Loop() {
				if _, err := fn.Call(ctx, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdleInstanceMemory reports the Go heap held per idle instance of
// the small C module (its linear memory included).
func BenchmarkIdleInstanceMemory(b *testing.B) {
	ctx := context.Background()
	const n = 2000
	measure := func(b *testing.B, spawn func() func()) {
		for b.Loop() {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			closers := make([]func(), 0, n)
			for range n {
				closers = append(closers, spawn())
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/instance")
			for _, c := range closers {
				c()
			}
		}
	}
	b.Run("orbital", func(b *testing.B) {
		e := newEngine(b, Config{})
		m := compile(b, e, "counter")
		measure(b, func() func() {
			i, err := e.Instantiate(ctx, m, Spec{Name: "counter", Caps: limits(16, 0)})
			if err != nil {
				b.Fatal(err)
			}
			return func() { _ = i.Close(ctx) }
		})
	})
	b.Run("raw-wazero", func(b *testing.B) {
		rt := rawRuntime(b, nil)
		cm, err := rt.CompileModule(ctx, testwasm.Read(b, "counter"))
		if err != nil {
			b.Fatal(err)
		}
		cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions()
		measure(b, func() func() {
			mod, err := rt.InstantiateModule(ctx, cm, cfg)
			if err != nil {
				b.Fatal(err)
			}
			return func() { _ = mod.Close(ctx) }
		})
	})
}

// BenchmarkWASI measures Orbital's own WASI against wazero's on the same
// guest (examples/wasibench) and the same host directory: 4 KiB fd_write
// and fd_read on a regular file, and path_open + fd_close.
func BenchmarkWASI(b *testing.B) {
	ctx := context.Background()
	const batch = 256 // calls per guest call: 1 MiB of 4 KiB blocks
	type guest struct {
		call func(name string, args ...uint64) uint64
	}
	impls := []struct {
		name  string
		start func(b *testing.B, dir string) guest
	}{
		{"orbital", func(b *testing.B, dir string) guest {
			e := newEngine(b, Config{})
			caps := limits(16, 0)
			caps.Dirs = []capability.Dir{{Host: dir, Guest: "/data"}}
			i := instantiate(b, e, compile(b, e, "wasibench"), Spec{Name: "wasibench", Caps: caps})
			return guest{func(name string, args ...uint64) uint64 {
				r, err := i.Call(ctx, name, args...)
				if err != nil {
					b.Fatal(err)
				}
				return r[0]
			}}
		}},
		{"raw-wazero", func(b *testing.B, dir string) guest {
			rt := rawRuntime(b, nil)
			cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").
				WithFSConfig(wazero.NewFSConfig().WithDirMount(dir, "/data"))
			mod, err := rt.InstantiateWithConfig(ctx, testwasm.Read(b, "wasibench"), cfg)
			if err != nil {
				b.Fatal(err)
			}
			return guest{func(name string, args ...uint64) uint64 {
				r, err := mod.ExportedFunction(name).Call(ctx, args...)
				if err != nil {
					b.Fatal(err)
				}
				return r[0]
			}}
		}},
	}
	ops := []struct {
		name string
		fn   string
		file bool // the argument is the open file, not the directory
	}{
		{"fd_write-4KiB", "write", true},
		{"fd_read-4KiB", "read", true},
		{"path_open+fd_close", "open_close", false},
	}
	for _, op := range ops {
		for _, impl := range impls {
			b.Run(op.name+"/"+impl.name, func(b *testing.B) {
				g := impl.start(b, b.TempDir())
				const dirfd = 3
				fd := int32(g.call("open", dirfd))
				if fd < 0 {
					b.Fatalf("open: errno %d", -fd)
				}
				if e := g.call("write", uint64(fd), batch); e != 0 { // a 1 MiB file to read
					b.Fatalf("write: errno %d", e)
				}
				arg := uint64(dirfd)
				if op.file {
					arg = uint64(fd)
					b.SetBytes(batch * 4096)
				}
				for b.Loop() {
					if e := g.call(op.fn, arg, batch); e != 0 {
						b.Fatalf("%s: errno %d", op.fn, e)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/call")
			})
		}
	}
}
