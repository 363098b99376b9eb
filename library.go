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
	"github.com/orbitalfoundation/orbital/internal/supervisor"
)

// Export declares one function of a library: its name and, optionally,
// the shapes its arguments and result must have.
type Export = library.Export

// NativeExport is a library function implemented in Go.
type NativeExport = library.NativeExport

// NativeFunc is the Go implementation of a library function.
type NativeFunc = library.NativeFunc

// LibraryInfo describes a library for listings.
type LibraryInfo = library.Info

// ProvideOptions says how to offer a library module to callers.
type ProvideOptions struct {
	// Grant is what each instance of the library may have, resolved
	// against its manifest like a process's.
	Grant Grant
	// Config is the library's configuration (a JSON object), read by the
	// guest with orbital_v1.config.
	Config []byte
	// Supervised means the caller supervises the library itself (the node
	// does): Provide registers it but starts nothing; the caller runs
	// Library.Start under its supervisor and reports Library.Down. By
	// default the kernel starts it under a supervisor of its own.
	Supervised bool
	// Name is the process name its log records carry (the node's process
	// name for it); default the library's own name.
	Name string
}

// Library is a library registered with the kernel: a wasm module of kind
// "library" (Provide) or Go functions (ProvideNative). Callers reach it by
// name and version range with call_bind/call.
type Library struct {
	k   *kernel
	lib *library.Library
	sup *supervisor.Supervisor // kernel-run libraries only
}

// Name returns the library's name.
func (l *Library) Name() string { return l.lib.Name() }

// Version returns the library's version.
func (l *Library) Version() string { return l.lib.Version().String() }

// Info reports the library's state and counters.
func (l *Library) Info() LibraryInfo { return l.lib.Info() }

// Start starts one incarnation of a wasm library (its instance pool) for
// a supervisor: the returned child ends when an instance crashes.
func (l *Library) Start(ctx context.Context) (supervisor.Child, error) {
	return library.Start(ctx, l.lib)
}

// Down tells the library that its supervisor has given up on it: calls
// fail at once with reason instead of waiting for a restart.
func (l *Library) Down(reason string) { library.Down(l.lib, reason) }

// OnDemand makes the library start on its first call: start is called
// when a call finds it not running, and the call waits for it.
func (l *Library) OnDemand(start func()) { library.OnDemand(l.lib, start) }

// Remove withdraws the library: later calls re-resolve to another version
// or fail. A kernel-run library is stopped.
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
func (k *kernel) Provide(ctx context.Context, m *Module, opts ProvideOptions) (*Library, error) {
	mf := m.manifest
	if mf == nil || mf.Kind != manifest.KindLibrary {
		return nil, fmt.Errorf("provide %s: %w: a library needs a manifest of kind \"library\" with [exports]", m.name, api.ErrBadManifest)
	}
	caps, err := capability.Resolve(mf, opts.Grant)
	if err != nil {
		return nil, fmt.Errorf("provide %s: %w: %w", mf.Name, api.ErrPermissionDenied, err)
	}
	var exports []Export
	for _, e := range mf.ExportList() {
		exports = append(exports, Export{Name: e.Name, Args: e.ArgsShape, Result: e.ResultShape, Description: e.Description})
	}
	entry := mf.Entry.Start
	name := opts.Name
	if name == "" {
		name = mf.Name
	}
	logger := k.log.With("library", mf.Name, "process", name)
	lib, err := library.NewWasm(library.WasmOptions{
		Name: mf.Name, Version: mf.Version.String(), Exports: exports,
		Stateful: mf.Library.Stateful, Instances: k.instances(mf.Library.Instances), Entry: entry, Logger: logger,
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
	if !opts.Supervised {
		l.sup = supervisor.New(context.Background(), supervisor.Config{Logger: logger, Events: func(ev supervisor.Event) {
			logger.Info("library "+ev.Kind, "reason", ev.Reason, "restarts", ev.Restarts)
			if ev.Kind == supervisor.EventGaveUp {
				l.Down(ev.Reason)
			}
		}})
		if err := l.sup.Add(supervisor.Spec{Name: mf.Name, Start: l.Start}); err != nil {
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
func (k *kernel) instances(asked int) int {
	if asked > 0 {
		return asked
	}
	return k.eng.MaxRunning()
}

// ProvideNative registers a library implemented in Go (a driver, a host
// service). Callers cannot tell it from a wasm library: same permissions,
// shapes, deadlines and errors.
func (k *kernel) ProvideNative(name, version string, exports []NativeExport) (*Library, error) {
	if err := manifest.ValidateName(name); err != nil {
		return nil, fmt.Errorf("provide %s: %w: %v", name, api.ErrInvalid, err)
	}
	lib, err := library.NewNative(name, version, exports)
	if err != nil {
		return nil, fmt.Errorf("provide: %w", err)
	}
	if err := k.libs.Add(lib); err != nil {
		return nil, fmt.Errorf("provide: %w", err)
	}
	return &Library{k: k, lib: lib}, nil
}

// Call calls a library function as the host (the operator, an embedder):
// every library is allowed, the highest version is used. ctx's deadline
// propagates to the callee.
func (k *kernel) Call(ctx context.Context, lib, fn string, args []byte) ([]byte, error) {
	return k.libs.Call(ctx, lib, fn, args)
}

// Libraries lists every registered library.
func (k *kernel) Libraries() []LibraryInfo {
	var out []LibraryInfo
	for _, l := range k.libs.Libraries() {
		out = append(out, l.Info())
	}
	return out
}

// linker returns the linker of a process or library instance with caps.
func (k *kernel) linker(caps capability.Set) engine.Linker {
	return k.libs.Linker(func(lib, fn string) (*semver.Constraints, error) {
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
