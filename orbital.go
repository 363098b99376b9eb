// Package orbital is the Orbital WebAssembly microkernel as a library.
//
// A Kernel loads wasm modules (compiling each binary once, with an on-disk
// cache), resolves what each may touch from its manifest and the grants
// given at spawn time (deny by default), and runs every instance as an
// isolated process on its own goroutine:
//
//	k, err := orbital.NewKernel(ctx, orbital.NewConfig())
//	mod, err := k.LoadFile(ctx, "hello.wasm")              // + hello.orbital.toml beside it, if any
//	p, err := k.Spawn(ctx, mod, orbital.SpawnOptions{Grant: orbital.Grant{Stdout: true}})
//	info, err := p.Wait(ctx)
//
// Nothing a guest does — a trap, a runaway loop, a memory blow-up, a
// panicking host call — can take the kernel down; it ends that process with
// a reason.
package orbital

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/engine"
	ofs "github.com/orbitalfoundation/orbital/internal/fs"
	"github.com/orbitalfoundation/orbital/internal/library"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	"github.com/orbitalfoundation/orbital/internal/process"
)

// Grant is what the operator or node policy allows a process: directories,
// environment, arguments, stdio, clock, randomness and resource ceilings.
// A module with a manifest gets only what it requests *and* is granted.
type Grant = capability.Grant

// Dir grants a host directory at a guest path, read-only or read-write.
type Dir = capability.Dir

// Limits are resource ceilings: memory pages, per-call deadline, open files.
type Limits = capability.Limits

// Manifest is a module's parsed orbital.toml.
type Manifest = manifest.Manifest

// ModuleInfo describes a compiled module's imports, exports, memories and
// custom sections.
type ModuleInfo = engine.Info

// ManifestSection is the custom section that may carry a module's manifest.
const ManifestSection = "orbital.manifest"

// Kernel loads modules and runs processes. All methods are safe for
// concurrent use.
type Kernel interface {
	// Load compiles wasm (once per distinct binary) and pairs it with its
	// manifest, which may be nil. Errors wrap api.ErrBadModule or
	// api.ErrBadManifest.
	Load(ctx context.Context, name string, wasm []byte, m *Manifest) (*Module, error)
	// LoadFile reads a wasm file and finds its manifest (see FindManifest).
	LoadFile(ctx context.Context, path string) (*Module, error)
	// Spawn resolves the module's capabilities against opts.Grant and starts
	// a process. Errors wrap api.ErrPermissionDenied when the manifest
	// requests something not granted.
	Spawn(ctx context.Context, m *Module, opts SpawnOptions) (*Process, error)
	// Processes lists every process the kernel has started, by ID.
	Processes() []api.ProcessInfo
	// Provide registers a library module so that processes (and other
	// libraries) can call its functions; see ProvideOptions.
	Provide(ctx context.Context, m *Module, opts ProvideOptions) (*Library, error)
	// ProvideNative registers a library implemented in Go.
	ProvideNative(name, version string, exports []NativeExport) (*Library, error)
	// Call calls lib.fn as the host, with every permission.
	Call(ctx context.Context, lib, fn string, args []byte) ([]byte, error)
	// Libraries lists the registered libraries.
	Libraries() []LibraryInfo
	// Close kills every process, waits for them and releases the engine.
	Close(ctx context.Context) error
}

type kernel struct {
	cfg    Config
	eng    *engine.Engine
	bus    *bus.Bus
	blobs  *bus.BlobStore
	log    *slog.Logger
	nextID atomic.Uint64

	libs *library.Registry

	mu       sync.Mutex
	parked   map[string]*parked             // handed-over connections, by process name
	portBus  map[*process.Port]manifest.Bus // the bus configuration each connection was made for
	provided []*Library                     // libraries registered with Provide
	procs    map[uint64]*Process            // live and recently ended, by ID
	ended    []uint64                       // IDs of ended processes, oldest first
	closed   bool
}

// maxEnded bounds how many ended processes the table remembers.
const maxEnded = 1000

// NewKernel starts a kernel with cfg. It creates the data directory if needed.
func NewKernel(ctx context.Context, cfg Config) (Kernel, error) {
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
	k := &kernel{cfg: cfg, eng: eng, log: log, procs: map[uint64]*Process{}, blobs: bus.NewBlobStore(), portBus: map[*process.Port]manifest.Bus{},
		libs: library.NewRegistry(cfg.maxCall)}
	k.bus = bus.New(bus.Options{MaxMessageSize: cfg.maxMessage, Events: func(ev bus.Event) {
		log.Debug("bus event", "kind", ev.Kind, "op", ev.Op, "endpoint", ev.Endpoint, "target", ev.Target, "err", ev.Err)
	}})
	return k, nil
}

// Bus returns the kernel's message bus (for the node and tests inside this
// module; the bus is not part of the public API).
func (k *kernel) Bus() *bus.Bus { return k.bus }

// Blobs returns the kernel's blob store (internal use, like Bus).
func (k *kernel) Blobs() *bus.BlobStore { return k.blobs }

// BusOf returns k's bus. It is meant for Orbital's own packages.
func BusOf(k Kernel) *bus.Bus {
	if kk, ok := k.(*kernel); ok {
		return kk.bus
	}
	return nil
}

// Module is a compiled module with its manifest.
type Module struct {
	name     string
	em       *engine.Module
	manifest *Manifest
}

// Name is the manifest name, or the file name when there is no manifest.
func (m *Module) Name() string { return m.name }

// Label is name@version when there is a manifest, else the name.
func (m *Module) Label() string {
	if m.manifest != nil {
		return m.manifest.String()
	}
	return m.name
}

// Manifest returns the module's manifest, or nil.
func (m *Module) Manifest() *Manifest { return m.manifest }

// Info describes the module's imports, exports, memories and custom sections.
func (m *Module) Info() ModuleInfo { return m.em.Info() }

// CompileTime is how long compiling took (near zero when cached).
func (m *Module) CompileTime() time.Duration { return m.em.CompileTime() }

func (k *kernel) Load(ctx context.Context, name string, wasm []byte, m *Manifest) (*Module, error) {
	return k.load(ctx, name, wasm, m, nil)
}

func (k *kernel) load(ctx context.Context, name string, wasm []byte, m *Manifest, progress func(bool, time.Duration)) (*Module, error) {
	if m != nil {
		name = m.Name
	}
	em, err := k.eng.Compile(ctx, wasm, engine.CompileOptions{Name: name, Trusted: k.cfg.trusted[name], Progress: progress})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	if m == nil {
		if data, ok := em.CustomSection(ManifestSection); ok {
			if m, err = manifest.Parse(data, name+".wasm#"+ManifestSection); err != nil {
				return nil, fmt.Errorf("load %s: %w: %w", name, api.ErrBadManifest, err)
			}
			name = m.Name
		}
	}
	if m != nil {
		if err := checkEntry(em, m); err != nil {
			return nil, fmt.Errorf("load %s: %w", name, err)
		}
	}
	return &Module{name: name, em: em, manifest: m}, nil
}

// checkEntry verifies that the exports the manifest promises exist.
func checkEntry(em *engine.Module, m *Manifest) error {
	want := []string{m.Entry.Start}
	if m.Entry.Type == "reactor" {
		want = append([]string{}, m.Entry.Exports...)
		if m.Entry.Init != "" {
			want = append(want, m.Entry.Init)
		}
	}
	for _, fn := range want {
		if fn != "" && !em.HasExport(fn) {
			return fmt.Errorf("%w: manifest %s names export %q which the module does not have", api.ErrBadManifest, m.Source, fn)
		}
	}
	return nil
}

// LoadOptions tunes LoadFile.
type LoadOptions struct {
	// Manifest is an explicit manifest path; empty means FindManifest.
	Manifest string
	// Progress is told when compiling is slow, and when it finishes.
	Progress func(done bool, elapsed time.Duration)
}

func (k *kernel) LoadFile(ctx context.Context, path string) (*Module, error) {
	return LoadFileWith(ctx, k, path, LoadOptions{})
}

// LoadFileWith is LoadFile with options.
func LoadFileWith(ctx context.Context, k Kernel, path string, opts LoadOptions) (*Module, error) {
	kk, ok := k.(*kernel)
	if !ok {
		return nil, errors.New("load: foreign Kernel implementation")
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	mpath := opts.Manifest
	if mpath == "" {
		mpath, _ = FindManifest(path)
	}
	var m *Manifest
	if mpath != "" {
		if m, err = manifest.Load(mpath); err != nil {
			return nil, fmt.Errorf("load %s: %w: %w", path, api.ErrBadManifest, err)
		}
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return kk.load(ctx, name, wasm, m, opts.Progress)
}

// FindManifest returns the manifest that goes with the wasm file at path:
// NAME.orbital.toml beside NAME.wasm, else orbital.toml in the same
// directory. A manifest embedded in the module's "orbital.manifest" custom
// section is used when neither file exists.
func FindManifest(wasmPath string) (string, bool) {
	dir := filepath.Dir(wasmPath)
	base := strings.TrimSuffix(filepath.Base(wasmPath), filepath.Ext(wasmPath))
	for _, p := range []string{filepath.Join(dir, base+".orbital.toml"), filepath.Join(dir, "orbital.toml")} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
	}
	return "", false
}

// SpawnOptions says how to start a process.
type SpawnOptions struct {
	// Name of the process; default the module name.
	Name string
	// Grant is what the process may have; see Grant.
	Grant Grant
	// Stdin, Stdout and Stderr are the host ends of the guest's stdio, used
	// when granted (and requested, with a manifest).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Streams maps the manifest's declared io names to host files: the host
	// opens them (inputs for reading, outputs created or truncated) and hands
	// the guest streams, so the guest needs no file-system capability.
	Streams map[string]string
	// Entry overrides the export run to completion (default from the
	// manifest, else "_start").
	Entry string
	// Config is the process's configuration (a JSON object), read by the
	// guest with orbital_v1.config.
	Config []byte
	// Adopt takes over the bus endpoint of the previous incarnation of a
	// process of the same name that was stopped with HandOver — its
	// subscriptions and the messages queued meanwhile — if its manifest
	// asks for the same bus configuration. An upgrade loses no messages.
	Adopt bool
}

func (k *kernel) Spawn(ctx context.Context, m *Module, opts SpawnOptions) (*Process, error) {
	k.mu.Lock()
	closed := k.closed
	k.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("spawn %s: %w", m.name, api.ErrClosed)
	}
	name := opts.Name
	if name == "" {
		name = m.name
	}
	push := m.em.HasExport(engine.AllocExport) && m.em.HasExport(engine.HandlerExport)
	if m.manifest != nil && m.manifest.Entry.Type == "reactor" && opts.Entry == "" && !push {
		return nil, fmt.Errorf("spawn %s: %w: module is a reactor without %s/%s exports; it has nothing to run", name, api.ErrBadModule, engine.AllocExport, engine.HandlerExport)
	}
	if m.manifest != nil && m.manifest.Kind == manifest.KindLibrary {
		return nil, fmt.Errorf("spawn %s: %w: %s is a library: it is provided to callers (Provide; in a node config, list it like a process), not run", name, api.ErrInvalid, m.Label())
	}
	caps, err := capability.Resolve(m.manifest, opts.Grant)
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w: %w", name, api.ErrPermissionDenied, err)
	}
	for _, n := range caps.Notes {
		k.log.Debug("capability note", "process", name, "note", n)
	}
	spec := engine.Spec{Name: name, Caps: caps, Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr,
		Linker: k.linker(caps), Config: opts.Config}
	closers, err := bindStreams(m.manifest, opts.Streams, &spec)
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w", name, err)
	}
	id := k.nextID.Add(1)
	logger := k.log.With("pid", id, "process", name)
	spec.Logger = logger
	var port *process.Port
	if opts.Adopt {
		port = k.adopt(name, m.manifest)
	}
	if port != nil {
		spec.Port = port
	} else if push || (m.manifest != nil && (m.manifest.Bus.Uses() || len(m.manifest.Triggers.Subjects)+len(m.manifest.Triggers.Routes) > 0)) {
		if port, err = k.connect(name, id, m.manifest, caps); err != nil {
			closeAll(closers)
			return nil, fmt.Errorf("spawn %s: %w", name, err)
		}
		spec.Port = port
		var b manifest.Bus
		if m.manifest != nil {
			b = m.manifest.Bus
		}
		k.mu.Lock()
		k.portBus[port] = b
		k.mu.Unlock()
	}
	inst, err := k.eng.Instantiate(ctx, m.em, spec)
	if err != nil {
		closeAll(closers)
		if port != nil {
			port.Close()
			k.bus.Unregister(port.Endpoint())
		}
		return nil, fmt.Errorf("spawn %s: %w", name, err)
	}
	entry := opts.Entry
	switch {
	case entry != "":
	case push:
		if m.em.HasExport("_initialize") {
			entry = "_initialize"
		}
	case m.manifest != nil && m.manifest.Entry.Start != "":
		entry = m.manifest.Entry.Start
	default:
		entry = "_start"
	}
	pspec := process.Spec{ID: id, Name: name, Module: m.Label(), Entry: entry, Push: push, Port: port, Logger: k.log,
		OnExit: func(pp *process.Process) { k.exited(pp) }}
	pp := process.Start(pspec, inst)
	p := &Process{p: pp}
	k.mu.Lock()
	k.procs[id] = p
	k.mu.Unlock()
	if len(closers) > 0 {
		go func() { <-pp.Done(); closeAll(closers) }()
	}
	return p, nil
}

// bindStreams opens the host files for the manifest's declared io streams
// and wires them to stdio or to /io/NAME in the guest.
func bindStreams(m *Manifest, streams map[string]string, spec *engine.Spec) ([]io.Closer, error) {
	if len(streams) == 0 {
		return nil, nil
	}
	if m == nil {
		return nil, fmt.Errorf("%w: streams given but the module has no manifest declaring io", api.ErrBadManifest)
	}
	var closers []io.Closer
	fail := func(err error) ([]io.Closer, error) { closeAll(closers); return nil, err }
	names := make([]string, 0, len(streams))
	for n := range streams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		decl, ok := m.IO[n]
		if !ok {
			return fail(fmt.Errorf("%w: module declares no io stream %q", api.ErrNotFound, n))
		}
		path := streams[n]
		var f *os.File
		var err error
		if decl.Direction == "in" {
			f, err = os.Open(path)
		} else {
			f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		}
		if err != nil {
			return fail(fmt.Errorf("open stream %s: %w", n, err))
		}
		switch {
		case decl.Bind == "stdio" && decl.Direction == "in":
			closers = append(closers, f)
			spec.Stdin, spec.Caps.Stdin = f, true
		case decl.Bind == "stdio":
			closers = append(closers, f)
			spec.Stdout, spec.Caps.Stdout = f, true
		default: // file: the /io mount owns and closes it
			spec.Files = append(spec.Files, ofs.Handle{Name: n, File: f, Writable: decl.Direction == "out"})
		}
	}
	return closers, nil
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// connect registers a process on the bus with the permissions its manifest
// requests, a mailbox shaped by the manifest, and its listen subscriptions.
func (k *kernel) connect(name string, id uint64, m *Manifest, caps capability.Set) (*process.Port, error) {
	var b manifest.Bus
	if m != nil {
		b = m.Bus
	}
	perms := bus.Permissions{
		Publish:   bus.Rules{Allow: b.Publish, Deny: b.DenyPublish},
		Subscribe: bus.Rules{Allow: b.Subscribe, Deny: b.DenySubscribe},
		SendTo:    b.Send,
	}
	mcfg := bus.MailboxConfig{Capacity: b.Mailbox, BlockTimeout: b.BlockTimeout}
	if b.Overflow != "" {
		o, err := bus.ParseOverflow(b.Overflow)
		if err != nil {
			return nil, err
		}
		mcfg.Overflow = o
	}
	if b.MaxMessage > 0 {
		perms.MaxMessageSize = int(b.MaxMessage)
	}
	mb := bus.NewMailbox(mcfg)
	ep, err := k.bus.Register(name, id, perms, mb)
	if err != nil {
		return nil, err
	}
	// Blobs count against the process's memory limit.
	quota := bus.NewQuota(int64(caps.Limits.MemoryPages) * 65536)
	port := process.NewPort(ep, mb, k.blobs, quota)
	for _, pat := range b.Listen {
		if err := port.Listen(pat); err != nil {
			port.Close()
			k.bus.Unregister(ep)
			return nil, fmt.Errorf("listen %s: %w", pat, err)
		}
	}
	return port, nil
}

// exited unregisters an ended process from the bus and trims the table.
func (k *kernel) exited(pp *process.Process) {
	if port := pp.Port(); port != nil {
		if port.HandingOver() {
			k.park(pp.Name(), port)
		} else {
			k.bus.Unregister(port.Endpoint())
			k.mu.Lock()
			delete(k.portBus, port)
			k.mu.Unlock()
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ended = append(k.ended, pp.ID())
	for len(k.ended) > maxEnded {
		delete(k.procs, k.ended[0])
		k.ended = k.ended[1:]
	}
}

func (k *kernel) Processes() []api.ProcessInfo {
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

func (k *kernel) Close(ctx context.Context) error {
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
			return fmt.Errorf("close kernel: waiting for %s: %w", p.Info().Name, err)
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

// Process is a running or finished process.
type Process struct{ p *process.Process }

// ID returns the process ID, unique within its kernel.
func (p *Process) ID() uint64 { return p.p.ID() }

// Info returns a snapshot: state, exit code, reason, CPU time, memory.
func (p *Process) Info() api.ProcessInfo { return p.p.Info() }

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.p.Done() }

// Kill stops the process; cause (may be nil) is recorded as its reason.
func (p *Process) Kill(cause error) { p.p.Kill(cause) }

// Wait blocks until the process ends or ctx is done.
func (p *Process) Wait(ctx context.Context) (api.ProcessInfo, error) { return p.p.Wait(ctx) }

// Err returns the error the process ended with, or nil if it exited 0.
func (p *Process) Err() error { return p.p.Exit().Err }

// Stop asks the process to end gracefully (its mailbox closes; a guest in
// recv gets ERR_CLOSED) and kills it after grace.
func (p *Process) Stop(cause error, grace time.Duration) { p.p.Stop(cause, grace) }

// HandOver stops the process gracefully but keeps its bus endpoint, listen
// subscriptions and mailbox for the next incarnation of the same name,
// spawned with SpawnOptions.Adopt: messages published meanwhile wait for
// it instead of being lost.
func (p *Process) HandOver(cause error, grace time.Duration) { p.p.HandOver(cause, grace) }

// Failed reports whether the ended process failed (crash, non-zero exit,
// or a kill it was not asked for).
func (p *Process) Failed() bool { return p.p.Failed() }

// Reason says why the ended process ended.
func (p *Process) Reason() string { return p.p.Reason() }

// Name returns the process name.
func (p *Process) Name() string { return p.p.Name() }

// parked is a handed-over bus connection waiting for the next incarnation.
type parked struct {
	port  *process.Port
	bus   manifest.Bus
	timer *time.Timer
}

// ParkTimeout is how long a handed-over connection waits to be adopted
// before it is closed.
const ParkTimeout = 30 * time.Second

func (k *kernel) park(name string, port *process.Port) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.parked == nil {
		k.parked = map[string]*parked{}
	}
	if old := k.parked[name]; old != nil {
		old.timer.Stop()
		k.bus.Unregister(old.port.Endpoint())
	}
	p := &parked{port: port}
	if mb, ok := k.portBus[port]; ok {
		p.bus = mb
	}
	p.timer = time.AfterFunc(ParkTimeout, func() {
		k.mu.Lock()
		if k.parked[name] == p {
			delete(k.parked, name)
		}
		delete(k.portBus, port)
		k.mu.Unlock()
		port.Close()
		k.bus.Unregister(port.Endpoint())
	})
	k.parked[name] = p
}

// adopt returns the parked connection of name for a new incarnation whose
// manifest asks for the same bus configuration, or nil.
func (k *kernel) adopt(name string, m *Manifest) *process.Port {
	k.mu.Lock()
	p := k.parked[name]
	delete(k.parked, name)
	k.mu.Unlock()
	if p == nil || !p.timer.Stop() {
		return nil
	}
	var b manifest.Bus
	if m != nil {
		b = m.Bus
	}
	if !reflect.DeepEqual(b, p.bus) {
		k.log.Info("bus configuration changed: the new incarnation starts with a new connection", "process", name)
		p.port.Close()
		k.bus.Unregister(p.port.Endpoint())
		k.mu.Lock()
		delete(k.portBus, p.port)
		k.mu.Unlock()
		return nil
	}
	p.port.Adopt()
	return p.port
}
