// Package engine is the only package of Orbital that imports wazero. It
// compiles wasm binaries once (with an on-disk compilation cache), wires the
// host modules (WASI and orbital_v1), and instantiates confined guests from a
// resolved capability set.
//
// Termination: modules compiled for untrusted use carry wazero's termination
// checks (WithCloseOnContextDone), so a runaway loop stops when its call's
// context ends — at its deadline or when the process is killed. Modules the
// node explicitly trusts are compiled without the checks: they run faster but
// cannot be stopped while they loop. See docs/RATIONALE.md.
//
// Scheduling: compiled wasm is not preemptible by the Go scheduler, so the
// engine caps the number of guests executing at once (Config.MaxRunning,
// default GOMAXPROCS-1, at least 1). A guest gives its slot back while it is
// blocked in a host call (sleep, stdio), so blocked guests never starve
// runnable ones and the kernel always keeps a thread for itself.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/orbitalfoundation/orbital/api"
)

// Config configures an Engine. The zero value is usable: no disk cache,
// default concurrency.
type Config struct {
	// CacheDir holds compiled code between runs; empty disables the disk cache.
	CacheDir string
	// MaxRunning caps guests executing wasm at the same time; 0 means
	// max(1, GOMAXPROCS-1).
	MaxRunning int
	// MaxMemoryPages is the hard ceiling of any instance's linear memory in
	// 64 KiB pages; 0 means 65536 (4 GiB). Per-process limits are lower.
	MaxMemoryPages uint32
}

// Engine compiles and instantiates wasm modules. It is safe for concurrent use.
type Engine struct {
	cfg   Config
	cache wazero.CompilationCache
	slots chan struct{}

	mu       sync.Mutex
	runtimes [2]*runtimeSet // index: 0 guarded, 1 trusted
	modules  map[moduleKey]*Module
	inflight map[moduleKey]chan struct{} // compiles under way; closed when done
	closed   bool
}

type moduleKey struct {
	digest  [sha256.Size]byte
	trusted bool
}

// runtimeSet is one wazero runtime with the host modules instantiated.
type runtimeSet struct {
	rt      wazero.Runtime
	imports map[string]map[string]bool // host module → function names provided
}

// New returns an Engine. The disk cache directory is created if missing.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.MaxRunning <= 0 {
		cfg.MaxRunning = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if cfg.MaxMemoryPages == 0 || cfg.MaxMemoryPages > 65536 {
		cfg.MaxMemoryPages = 65536
	}
	e := &Engine{cfg: cfg, slots: make(chan struct{}, cfg.MaxRunning), modules: map[moduleKey]*Module{}, inflight: map[moduleKey]chan struct{}{}}
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("engine: create cache dir: %w", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("engine: open cache %s: %w", cfg.CacheDir, err)
		}
		e.cache = c
	} else {
		e.cache = wazero.NewCompilationCache()
	}
	// The guarded runtime is always needed; the trusted one is made on demand.
	if _, err := e.runtime(ctx, false); err != nil {
		return nil, err
	}
	return e, nil
}

// MaxRunning reports how many guests may execute wasm at the same time.
func (e *Engine) MaxRunning() int { return e.cfg.MaxRunning }

func (e *Engine) runtime(ctx context.Context, trusted bool) (*runtimeSet, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, fmt.Errorf("engine: %w", api.ErrClosed)
	}
	i := 0
	if trusted {
		i = 1
	}
	if rs := e.runtimes[i]; rs != nil {
		return rs, nil
	}
	rc := wazero.NewRuntimeConfig(). // compiler where supported, interpreter elsewhere
						WithCompilationCache(e.cache).
						WithCloseOnContextDone(!trusted).
						WithCustomSections(true).
						WithMemoryLimitPages(e.cfg.MaxMemoryPages)
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	rs := &runtimeSet{rt: rt, imports: map[string]map[string]bool{}}
	wasi, err := instantiateWASI(ctx, rt)
	if err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("engine: instantiate WASI: %w", err)
	}
	rs.addImports(wasi_snapshot_preview1.ModuleName, wasi)
	host, err := instantiateHost(ctx, rt)
	if err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("engine: instantiate %s: %w", HostModuleName, err)
	}
	rs.addImports(HostModuleName, host)
	e.runtimes[i] = rs
	return rs, nil
}

func (rs *runtimeSet) addImports(name string, m wapi.Module) {
	fns := map[string]bool{}
	for n := range m.ExportedFunctionDefinitions() {
		fns[n] = true
	}
	rs.imports[name] = fns
}

// CompileOptions tunes Compile.
type CompileOptions struct {
	// Name labels the module in errors and progress messages.
	Name string
	// Trusted compiles without termination checks: faster loops, but the
	// guest cannot be stopped while it runs. Only for modules the node trusts.
	Trusted bool
	// Progress, if set, is told of the compilation as it happens (see
	// api.CompileEvent): "compiling" when it starts, then "compiled",
	// "cached" or "failed"; a module compiled before by this engine reports
	// one "loaded". It is called on the compiling goroutine.
	Progress func(api.CompileEvent)
}

// Compile validates and compiles wasm, or returns the module compiled before
// for the same bytes. Machine code is cached on disk when the engine has a
// CacheDir, so a later run of the node skips compilation. Errors wrap
// api.ErrBadModule when the binary is malformed or imports functions the
// kernel does not provide.
func (e *Engine) Compile(ctx context.Context, wasm []byte, opts CompileOptions) (*Module, error) {
	key := moduleKey{digest: sha256.Sum256(wasm), trusted: opts.Trusted}
	name := opts.Name
	if name == "" {
		name = "module"
	}
	report := func(ev api.CompileEvent) {
		if opts.Progress != nil {
			ev.Module, ev.Size = name, len(wasm)
			opts.Progress(ev)
		}
	}
	// One compile per distinct binary: a second caller for the same bytes
	// waits for the first one's outcome (and then reports "loaded").
	for {
		e.mu.Lock()
		if m, ok := e.modules[key]; ok {
			e.mu.Unlock()
			report(api.CompileEvent{Stage: api.CompileLoaded})
			return m, nil
		}
		wait, busy := e.inflight[key]
		if !busy {
			done := make(chan struct{})
			e.inflight[key] = done
			e.mu.Unlock()
			defer func() {
				e.mu.Lock()
				delete(e.inflight, key)
				e.mu.Unlock()
				close(done)
			}()
			break
		}
		e.mu.Unlock()
		select {
		case <-wait: // compiled (look again) or failed (try ourselves)
		case <-ctx.Done():
			return nil, fmt.Errorf("compile %s: %w", name, context.Cause(ctx))
		}
	}

	rs, err := e.runtime(ctx, opts.Trusted)
	if err != nil {
		return nil, err
	}
	seen := e.seen(key)
	report(api.CompileEvent{Stage: api.CompileStarted, Cached: seen})
	start := time.Now()
	m, err := e.compile(ctx, rs, wasm, key, name, opts.Trusted)
	elapsed := time.Since(start)
	if err != nil {
		report(api.CompileEvent{Stage: api.CompileFailed, Elapsed: elapsed, Error: err.Error()})
		return nil, err
	}
	m.compileTime = elapsed
	stage := api.CompileDone
	if seen {
		stage = api.CompileCached
	} else {
		e.markSeen(key)
	}
	report(api.CompileEvent{Stage: stage, Elapsed: elapsed})

	e.mu.Lock()
	defer e.mu.Unlock()
	e.modules[key] = m
	return m, nil
}

// compile checks, compiles and wraps one binary. Its functions compile on
// all cores (wazero's compilation workers): a 2.7 MB Go-built module is the
// slowest step of a cold boot.
func (e *Engine) compile(ctx context.Context, rs *runtimeSet, wasm []byte, key moduleKey, name string, trusted bool) (*Module, error) {
	if err := checkVectorCounts(wasm); err != nil {
		return nil, fmt.Errorf("compile %s: %w: %v", name, api.ErrBadModule, err)
	}
	cctx := experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0))
	cm, err := rs.rt.CompileModule(cctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w: %v", name, api.ErrBadModule, err)
	}
	if err := rs.checkImports(cm); err != nil {
		_ = cm.Close(ctx)
		return nil, fmt.Errorf("compile %s: %w", name, err)
	}
	m := newModule(e, rs, cm, key, trusted, 0)
	if pages, ok := MemoryMinPages(wasm); ok {
		m.definedMinPages, m.definesMemory = pages, true
	}
	return m, nil
}

// seenDir holds one empty marker file per binary this engine compiled into
// its disk cache, so that progress can say "cached" before the compile
// starts. A marker is a hint: wazero owns the cache and may drop entries
// (a new wazero version), which then compile again.
func (e *Engine) seenDir() string {
	if e.cfg.CacheDir == "" {
		return ""
	}
	return filepath.Join(e.cfg.CacheDir, "orbital-seen-"+wazeroVersion)
}

func (key moduleKey) marker() string {
	t := "g"
	if key.trusted {
		t = "t"
	}
	return hex.EncodeToString(key.digest[:]) + "." + t
}

func (e *Engine) seen(key moduleKey) bool {
	dir := e.seenDir()
	if dir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, key.marker()))
	return err == nil
}

func (e *Engine) markSeen(key moduleKey) {
	dir := e.seenDir()
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o700); err == nil {
		_ = os.WriteFile(filepath.Join(dir, key.marker()), nil, 0o600)
	}
}

// checkImports refuses modules whose function imports the kernel cannot
// satisfy, naming every missing one, before anything is instantiated.
func (rs *runtimeSet) checkImports(cm wazero.CompiledModule) error {
	var missing []string
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		if !rs.imports[mod][name] {
			missing = append(missing, mod+"."+name)
		}
	}
	for _, m := range cm.ImportedMemories() {
		mod, name, _ := m.Import()
		missing = append(missing, mod+"."+name+" (memory)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: imports not provided by the kernel: %v", api.ErrBadModule, missing)
	}
	return nil
}

// Digest returns the hex sha256 of wasm, the module's content address.
func Digest(wasm []byte) string {
	d := sha256.Sum256(wasm)
	return hex.EncodeToString(d[:])
}

// CacheDir returns the conventional compile-cache directory under home.
func CacheDir(home string) string { return filepath.Join(home, "cache", "compiled") }

// Close releases every compiled module and runtime. Instances still running
// end with an error.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	for _, rs := range e.runtimes {
		if rs != nil {
			errs = append(errs, rs.rt.Close(ctx))
		}
	}
	if e.cache != nil {
		errs = append(errs, e.cache.Close(ctx))
	}
	return errors.Join(errs...)
}

// acquire takes an execution slot, or fails when done closes first.
func (e *Engine) acquire(done <-chan struct{}) bool {
	select {
	case e.slots <- struct{}{}:
		return true
	default:
	}
	select {
	case e.slots <- struct{}{}:
		return true
	case <-done:
		return false
	}
}

func (e *Engine) release() { <-e.slots }
