package orbital

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/Masterminds/semver/v3"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/engine"
	"github.com/orbitalfoundation/orbital/internal/library"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	"github.com/orbitalfoundation/orbital/internal/shape"
	"github.com/orbitalfoundation/orbital/internal/supervisor"
)

// Export declares one function of a library: its name and the shapes its
// arguments and result must have, written as in a manifest's [exports]:
// "bytes" (or empty: unchecked), "string", "json", or typed JSON such as
// "{key: string, tags?: [string]}". The kernel checks them on the host,
// before the bytes cross.
type Export struct {
	Name        string `json:"name"`
	Args        string `json:"args,omitempty"`
	Result      string `json:"result,omitempty"`
	Description string `json:"description,omitempty"`
}

// NativeFunc is the Go implementation of a library function. args is
// read-only and valid only during the call; the result is copied. ctx ends
// at the call's deadline or when the caller stops. An error that wraps no
// api class reaches the caller as api.ErrFailed with its message.
type NativeFunc func(ctx context.Context, args []byte) ([]byte, error)

// NativeExport is a library function implemented in Go.
type NativeExport struct {
	Export
	Func NativeFunc
}

// ProvideOptions say how to offer a library module to callers.
type ProvideOptions struct {
	// Grant is what each instance of the library may have, resolved
	// against its manifest like a process's.
	Grant Grant
	// Config is the library's configuration (a JSON object), read by the
	// guest with orbital_v1.config.
	Config []byte
	// Name is the process name its log records carry; default the
	// library's own name.
	Name string
	// Manual leaves running the library to the caller, for hosts that
	// supervise everything themselves (the node does, so that a library
	// shares its group's restart strategy and budget): Provide registers
	// the library and starts nothing; the caller starts each incarnation
	// with Library.Serve, says when it has given up with Library.Down and
	// may have the first call start it with Library.OnDemand. By default
	// the kernel runs it under a supervisor of its own.
	Manual bool
}

// Library is a library registered with the kernel: a wasm module of kind
// "library" (Provide) or Go functions (ProvideNative). Callers reach it by
// name and version range with call_bind/call (or Kernel.Call).
type Library struct {
	k   *Kernel
	lib *library.Library
	sup *supervisor.Supervisor // libraries the kernel runs itself
}

// Name returns the library's name.
func (l *Library) Name() string { return l.lib.Name() }

// Version returns the library's version.
func (l *Library) Version() string { return l.lib.Version().String() }

// Info reports the library's state and counters.
func (l *Library) Info() api.LibraryInfo { return l.lib.Info() }

// Pool is one incarnation of a wasm library: its running instances. It
// ends (Done) when an instance crashes; the library's supervisor then
// serves a new one.
type Pool struct{ p *library.Pool }

// Done is closed when the pool has ended.
func (p *Pool) Done() <-chan struct{} { return p.p.Done() }

// Failed reports whether the ended pool failed (an instance crashed).
func (p *Pool) Failed() bool { return p.p.Failed() }

// Reason says why the pool ended.
func (p *Pool) Reason() string { return p.p.Reason() }

// Stop asks the pool to end once its calls in flight are answered.
func (p *Pool) Stop(cause error) { p.p.Stop(cause) }

// Kill ends the pool at once; calls in flight fail with api.ErrCrashed.
func (p *Pool) Kill(cause error) { p.p.Kill(cause) }

// Serve starts one incarnation of a library provided with Manual: a pool
// with its first instance running. Calls wait (up to their deadline)
// while no pool runs.
func (l *Library) Serve(ctx context.Context) (*Pool, error) {
	p, err := library.Start(ctx, l.lib)
	if err != nil {
		return nil, err
	}
	return &Pool{p}, nil
}

// Down says the library's supervisor has given up on it (or it was
// stopped): calls fail at once with reason instead of waiting for the
// next pool. Serve brings it back.
func (l *Library) Down(reason string) { library.Down(l.lib, reason) }

// OnDemand makes a library provided with Manual start on its first call:
// start is called when a call finds no pool running, and the call waits.
func (l *Library) OnDemand(start func()) { library.OnDemand(l.lib, start) }

// Remove withdraws the library: later calls re-resolve to another version
// or fail with api.ErrNotFound. A library the kernel runs is stopped.
func (l *Library) Remove(ctx context.Context) error {
	l.k.libs.Remove(l.lib)
	if l.sup != nil {
		return l.sup.Shutdown(ctx)
	}
	return nil
}

// Provide registers a library module: its manifest (kind "library")
// declares the exported functions, their shapes, whether it is stateful,
// and its own capabilities and dependencies. Errors wrap api.ErrBadManifest
// (not a library), api.ErrPermissionDenied (a capability not granted) or
// api.ErrExists (that name and version are already provided).
func (k *Kernel) Provide(ctx context.Context, m *Module, opts ProvideOptions) (*Library, error) {
	if !m.IsLibrary() {
		return nil, fmt.Errorf("provide %s: %w: a library needs a manifest of kind \"library\" with [exports]", m.name, api.ErrBadManifest)
	}
	mf := m.manifest.m
	caps, err := capability.Resolve(mf, opts.Grant.internal())
	if err != nil {
		return nil, fmt.Errorf("provide %s: %w: %w", mf.Name, api.ErrPermissionDenied, err)
	}
	var exports []library.Export
	for _, e := range mf.ExportList() {
		exports = append(exports, library.Export{Name: e.Name, Args: e.ArgsShape, Result: e.ResultShape, Description: e.Description})
	}
	name := opts.Name
	if name == "" {
		name = mf.Name
	}
	logger := k.log.With("library", mf.Name, "process", name)
	lib, err := library.NewWasm(library.WasmOptions{
		Name: mf.Name, Version: mf.Version.String(), Exports: exports,
		Stateful: mf.Library.Stateful, Instances: k.instances(mf.Library.Instances), Entry: mf.Entry.Start, Logger: logger,
		Spawn: func(ctx context.Context, w *engine.Worker) error {
			_, err := k.eng.Instantiate(ctx, m.em, engine.Spec{Name: mf.Name, Caps: caps, Logger: logger,
				Stdout: &lineLogger{l: logger, level: slog.LevelInfo}, Stderr: &lineLogger{l: logger, level: slog.LevelWarn},
				Worker: w, Linker: k.linker(caps), Config: opts.Config})
			return err
		},
	})
	if err != nil {
		return nil, fmt.Errorf("provide %s: %w", mf.Name, err)
	}
	if err := k.libs.Add(lib); err != nil {
		return nil, fmt.Errorf("provide: %w", err)
	}
	l := &Library{k: k, lib: lib}
	if !opts.Manual {
		l.sup = supervisor.New(context.Background(), supervisor.Config{Logger: logger, Events: func(ev supervisor.Event) {
			logger.Info("library "+ev.Kind, "reason", ev.Reason, "restarts", ev.Restarts)
			if ev.Kind == supervisor.EventGaveUp {
				l.Down(ev.Reason)
			}
		}})
		start := func(ctx context.Context) (supervisor.Child, error) { return library.Start(ctx, lib) }
		if err := l.sup.Add(supervisor.Spec{Name: mf.Name, Start: start}); err != nil {
			k.libs.Remove(lib)
			_ = l.sup.Shutdown(context.Background())
			return nil, fmt.Errorf("provide %s: %w", mf.Name, err)
		}
	}
	k.mu.Lock()
	k.provided = append(k.provided, l)
	k.mu.Unlock()
	return l, nil
}

// instances is the pool size of a stateless library: what its manifest
// asks for, else as many as can run at once.
func (k *Kernel) instances(asked int) int {
	if asked > 0 {
		return asked
	}
	return k.eng.MaxRunning()
}

// ProvideNative registers a library implemented in Go (a driver, a host
// service). Callers cannot tell it from a wasm library: same permissions,
// shapes, deadlines and errors. Errors wrap api.ErrInvalid (a bad name,
// version or shape) or api.ErrExists.
func (k *Kernel) ProvideNative(name, version string, exports []NativeExport) (*Library, error) {
	if err := manifest.ValidateName(name); err != nil {
		return nil, fmt.Errorf("provide %s: %w: %v", name, api.ErrInvalid, err)
	}
	native := make([]library.NativeExport, len(exports))
	for i, e := range exports {
		ex, err := e.Export.internal()
		if err != nil {
			return nil, fmt.Errorf("provide %s: %w", name, err)
		}
		native[i] = library.NativeExport{Export: ex, Func: library.NativeFunc(e.Func)}
	}
	lib, err := library.NewNative(name, version, native)
	if err != nil {
		return nil, fmt.Errorf("provide: %w", err)
	}
	if err := k.libs.Add(lib); err != nil {
		return nil, fmt.Errorf("provide: %w", err)
	}
	return &Library{k: k, lib: lib}, nil
}

// internal parses e's shapes.
func (e Export) internal() (library.Export, error) {
	parse := func(what, spec string) (*shape.Shape, error) {
		if spec == "" {
			return nil, nil
		}
		s, err := shape.Parse(spec)
		if err != nil {
			return nil, fmt.Errorf("%w: export %s: %s shape %q: %v", api.ErrInvalid, e.Name, what, spec, err)
		}
		return s, nil
	}
	args, err := parse("args", e.Args)
	if err != nil {
		return library.Export{}, err
	}
	res, err := parse("result", e.Result)
	if err != nil {
		return library.Export{}, err
	}
	return library.Export{Name: e.Name, Args: args, Result: res, Description: e.Description}, nil
}

// Call calls lib.fn as the host (the operator, an embedder): every library
// is allowed, the highest version is used. ctx's deadline propagates to
// the callee. Errors wrap api.ErrNotFound, api.ErrInvalid (shape),
// api.ErrTooLarge, api.ErrCrashed, api.ErrFailed (the callee's own error),
// api.ErrTimeout.
func (k *Kernel) Call(ctx context.Context, lib, fn string, args []byte) ([]byte, error) {
	return k.libs.Call(ctx, lib, fn, args)
}

// Libraries lists every registered library.
func (k *Kernel) Libraries() []api.LibraryInfo {
	var out []api.LibraryInfo
	for _, l := range k.libs.Libraries() {
		out = append(out, l.Info())
	}
	return out
}

// linker returns the linker of a process or library instance with caps.
func (k *Kernel) linker(caps capability.Set) engine.Linker {
	return k.libs.Linker(func(lib, fn string) (*semver.Constraints, error) {
		if k.isDevice(lib) {
			return nil, callDevice(caps, lib, fn)
		}
		g, err := caps.CallAllowed(lib, fn)
		if err != nil {
			return nil, err
		}
		return g.Constraint, nil
	})
}

// lineLogger turns a library instance's stdout/stderr into one log record
// per line (a guest may write a line in many pieces, e.g. a panic trace).
// A line longer than maxLogLine is cut.
type lineLogger struct {
	l     *slog.Logger
	level slog.Level
	mu    sync.Mutex
	buf   []byte
}

const maxLogLine = 16 << 10

func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) > maxLogLine {
				w.emit(w.buf)
				w.buf = w.buf[:0]
			}
			return len(p), nil
		}
		w.emit(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

func (w *lineLogger) emit(line []byte) {
	line = bytes.TrimRight(line, "\r")
	if len(line) > 0 {
		w.l.Log(context.Background(), w.level, string(line))
	}
}
