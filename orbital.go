// Package orbital is the Orbital WebAssembly microkernel as a library: the
// part of Orbital that an application embeds, as nats-server's server is.
//
// A Kernel loads wasm modules (compiling each binary once, with an on-disk
// cache), resolves what each may touch from its manifest and the grants
// given at spawn time (deny by default), and runs every instance as an
// isolated process on its own goroutine. Processes talk over the kernel's
// message bus (publish, subscribe, request/reply, direct sends, blobs) and
// call libraries — wasm modules of kind "library" or Go functions — like
// functions. The host takes part in both with the same API:
//
//	k, err := orbital.NewKernel(ctx, orbital.NewConfig())
//	mod, err := k.LoadFile(ctx, "hello.wasm")              // + hello.orbital.toml beside it, if any
//	p, err := k.Spawn(ctx, mod, orbital.SpawnOptions{Grant: orbital.Grant{Stdout: true}})
//	info, err := p.Wait(ctx)
//
//	conn, err := k.Connect("host", orbital.ConnOptions{})  // the host on the bus
//	reply, err := conn.Request(ctx, "demo.echo", []byte("hi"))
//	res, err := k.Call(ctx, "vision", "brightness", pixels) // a library call
//
// Nothing a guest does — a trap, a runaway loop, a memory blow-up, a
// panicking host call — can take the kernel down; it ends that process with
// a reason. Every error wraps one class from package api.
//
// A node (`orbital up`) is this kernel plus services around it: a process
// table under supervisors, triggers, the device's registry, the control API.
// They use the kernel through this package's API only.
package orbital

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/engine"
	"github.com/orbitalfoundation/orbital/internal/library"
)

// Kernel loads modules, runs processes, carries their messages and their
// calls. All methods are safe for concurrent use.
type Kernel struct {
	cfg    Config
	eng    *engine.Engine
	bus    *bus.Bus
	blobs  *bus.BlobStore
	log    *slog.Logger
	libs   *library.Registry
	nextID atomic.Uint64 // process IDs
	connID atomic.Uint64 // host connection IDs, far above process IDs

	mu       sync.Mutex
	provided []*Library          // libraries registered with Provide
	devices  map[string]*Driver  // attached drivers by device name
	procs    map[uint64]*Process // live and recently ended, by ID
	ended    []uint64            // IDs of ended processes, oldest first
	closed   bool
}

// maxEnded bounds how many ended processes the table remembers.
const maxEnded = 1000

// NewKernel starts a kernel with cfg. It creates the data directory if
// needed.
func NewKernel(ctx context.Context, cfg Config) (*Kernel, error) {
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ecfg := engine.Config{MaxRunning: cfg.maxRunning}
	if !cfg.noCache {
		ecfg.CacheDir = engine.CacheDir(cfg.home)
	}
	eng, err := engine.New(ctx, ecfg)
	if err != nil {
		return nil, fmt.Errorf("new kernel: %w", err)
	}
	k := &Kernel{cfg: cfg, eng: eng, log: log, procs: map[uint64]*Process{}, blobs: bus.NewBlobStore(),
		libs: library.NewRegistry(cfg.maxCall)}
	k.connID.Store(1 << 62)
	k.bus = bus.New(bus.Options{MaxMessageSize: cfg.maxMessage, Events: func(ev bus.Event) {
		log.Debug("bus event", "kind", ev.Kind, "op", ev.Op, "endpoint", ev.Endpoint, "target", ev.Target, "err", ev.Err)
	}})
	return k, nil
}

// Processes lists every process the kernel has started that is running or
// ended recently (the last 1000), by ID.
func (k *Kernel) Processes() []api.ProcessInfo {
	k.mu.Lock()
	ps := make([]*Process, 0, len(k.procs))
	for _, p := range k.procs {
		ps = append(ps, p)
	}
	k.mu.Unlock()
	out := make([]api.ProcessInfo, len(ps))
	for i, p := range ps {
		out[i] = p.Info()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// MaxRunning is how many guests may execute wasm at the same time.
func (k *Kernel) MaxRunning() int { return k.eng.MaxRunning() }

// Close kills every process, waits for them, stops the libraries the
// kernel runs and releases the engine. Later calls fail with api.ErrClosed.
func (k *Kernel) Close(ctx context.Context) error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	ps := make([]*Process, 0, len(k.procs))
	for _, p := range k.procs {
		ps = append(ps, p)
	}
	k.mu.Unlock()
	for _, p := range ps {
		p.Kill(fmt.Errorf("kernel shutting down: %w", api.ErrClosed))
	}
	for _, p := range ps {
		if _, err := p.Wait(ctx); err != nil {
			return fmt.Errorf("close kernel: waiting for %s: %w", p.Name(), err)
		}
	}
	k.mu.Lock()
	libs := k.provided
	k.mu.Unlock()
	for _, l := range libs {
		if l.sup != nil {
			_ = l.sup.Shutdown(ctx)
		}
	}
	return k.eng.Close(ctx)
}

// isClosed reports whether Close was called.
func (k *Kernel) isClosed() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closed
}
