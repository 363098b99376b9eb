package orbital

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/engine"
	ofs "github.com/orbitalfoundation/orbital/internal/fs"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	"github.com/orbitalfoundation/orbital/internal/process"
)

// ErrDeadline is what a process killed at its deadline ended with
// (Process.Err); it wraps api.ErrLimit.
var ErrDeadline = engine.ErrDeadline

// SpawnOptions say how to start a process.
type SpawnOptions struct {
	// Name of the process; default the module name. It is the process's
	// name on the bus (direct sends reach it by name), so it is unique
	// among running processes.
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
	// Handover is the bus connection of a predecessor stopped with
	// Process.HandOver: the new process takes over its endpoint, its listen
	// subscriptions and the messages queued meanwhile, so that an upgrade
	// loses no message. If the new manifest asks for a different bus
	// configuration (or the hand-over expired) the connection is closed and
	// the process gets a new one.
	Handover *Handover
}

// Spawn resolves the module's capabilities against opts.Grant and starts
// a process. Errors wrap api.ErrPermissionDenied when the manifest
// requests something not granted, api.ErrInvalid for a library (libraries
// are provided, not run), api.ErrBadModule for a reactor with nothing to
// run, api.ErrExists when the name is taken on the bus, api.ErrClosed after
// Close.
func (k *Kernel) Spawn(ctx context.Context, m *Module, opts SpawnOptions) (*Process, error) {
	if k.isClosed() {
		return nil, fmt.Errorf("spawn %s: %w", m.name, api.ErrClosed)
	}
	name := opts.Name
	if name == "" {
		name = m.name
	}
	mf := m.manifest.internal()
	push := m.em.HasExport(engine.AllocExport) && m.em.HasExport(engine.HandlerExport)
	if mf != nil && mf.Entry.Type == manifest.EntryReactor && opts.Entry == "" && !push {
		return nil, fmt.Errorf("spawn %s: %w: module is a reactor without %s/%s exports; it has nothing to run", name, api.ErrBadModule, engine.AllocExport, engine.HandlerExport)
	}
	if m.IsLibrary() {
		return nil, fmt.Errorf("spawn %s: %w: %s is a library: it is provided to callers (Provide; in a node config, list it like a process), not run", name, api.ErrInvalid, m.Label())
	}
	caps, err := capability.Resolve(mf, opts.Grant.internal())
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w: %w", name, api.ErrPermissionDenied, err)
	}
	for _, n := range caps.Notes {
		k.log.Debug("capability note", "process", name, "note", n)
	}
	spec := engine.Spec{Name: name, Caps: caps, Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr,
		Linker: k.linker(caps), Config: opts.Config}
	closers, err := bindStreams(mf, opts.Streams, &spec)
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w", name, err)
	}
	id := k.nextID.Add(1)
	spec.Logger = k.log.With("pid", id, "process", name)
	busCfg := m.manifest.bus()
	var port *process.Port
	if opts.Handover != nil {
		port = opts.Handover.take(ctx, busCfg)
	}
	if port == nil && (push || caps.Input || (mf != nil && (mf.Bus.Uses() || len(mf.Triggers.Subjects)+len(mf.Triggers.Routes) > 0))) {
		if port, err = k.connect(name, id, busCfg, caps); err != nil {
			closeAll(closers)
			return nil, fmt.Errorf("spawn %s: %w", name, err)
		}
	}
	if port != nil { // never a typed nil: the engine tests spec.Port against nil
		spec.Port = port
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
	case mf != nil && mf.Entry.Start != "":
		entry = mf.Entry.Start
	default:
		entry = "_start"
	}
	p := &Process{k: k, bus: busCfg}
	detach := k.attachScreen(name, id, m.Label(), inst.Surfaces(), caps.Input)
	pspec := process.Spec{ID: id, Name: name, Module: m.Label(), Entry: entry, Push: push, Port: port, Logger: k.log,
		OnExit: func(pp *process.Process) { detach(); k.exited(p, pp) }}
	p.p = process.Start(pspec, inst)
	k.mu.Lock()
	k.procs[id] = p
	k.mu.Unlock()
	if len(closers) > 0 {
		go func() { <-p.p.Done(); closeAll(closers) }()
	}
	return p, nil
}

// bindStreams opens the host files for the manifest's declared io streams
// and wires them to stdio or to /io/NAME in the guest.
func bindStreams(m *manifest.Manifest, streams map[string]string, spec *engine.Spec) ([]io.Closer, error) {
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
		if decl.Direction == manifest.DirectionIn {
			f, err = os.Open(path)
		} else {
			f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		}
		if err != nil {
			return fail(fmt.Errorf("open stream %s: %w", n, err))
		}
		switch {
		case decl.Bind == manifest.BindStdio && decl.Direction == manifest.DirectionIn:
			closers = append(closers, f)
			spec.Stdin, spec.Caps.Stdin = f, true
		case decl.Bind == manifest.BindStdio:
			closers = append(closers, f)
			spec.Stdout, spec.Caps.Stdout = f, true
		default: // file: the /io mount owns and closes it
			spec.Files = append(spec.Files, ofs.Handle{Name: n, File: f, Writable: decl.Direction == manifest.DirectionOut})
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
func (k *Kernel) connect(name string, id uint64, b manifest.Bus, caps capability.Set) (*process.Port, error) {
	perms := bus.Permissions{
		Publish:   bus.Rules{Allow: b.Publish, Deny: b.DenyPublish},
		Subscribe: bus.Rules{Allow: b.Subscribe, Deny: b.DenySubscribe},
		SendTo:    b.Send,
		Devices:   caps.Devices,
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

// exited unregisters an ended process from the bus (or parks its
// connection for its successor) and trims the table.
func (k *Kernel) exited(p *Process, pp *process.Process) {
	if port := pp.Port(); port != nil {
		if h := p.handover(); h != nil && port.HandingOver() {
			h.park()
		} else {
			k.bus.Unregister(port.Endpoint())
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

// Process is a running or finished process.
type Process struct {
	k   *Kernel
	p   *process.Process
	bus manifest.Bus // what its connection was made for

	mu sync.Mutex
	ho *Handover // set by HandOver
}

// ID returns the process ID, unique within its kernel.
func (p *Process) ID() uint64 { return p.p.ID() }

// Name returns the process name.
func (p *Process) Name() string { return p.p.Name() }

// Info returns a snapshot: state, exit code, reason, CPU time, memory,
// mailbox and message counters.
func (p *Process) Info() api.ProcessInfo { return p.p.Info() }

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.p.Done() }

// Kill stops the process at once; cause (may be nil) is recorded as its
// reason.
func (p *Process) Kill(cause error) { p.p.Kill(cause) }

// Wait blocks until the process ends or ctx is done, and returns its final
// snapshot. The error is ctx's if it ended first.
func (p *Process) Wait(ctx context.Context) (api.ProcessInfo, error) { return p.p.Wait(ctx) }

// Err returns the error the process ended with, or nil if it exited 0.
func (p *Process) Err() error { return p.p.Exit().Err }

// Stop asks the process to end gracefully (its mailbox closes; a guest in
// recv gets ERR_CLOSED after draining what is queued) and kills it after
// grace. A process without a bus connection is killed at once.
func (p *Process) Stop(cause error, grace time.Duration) { p.p.Stop(cause, grace) }

// HandOver stops the process gracefully, like Stop, but keeps its bus
// connection — endpoint, listen subscriptions, mailbox — for the next
// incarnation: messages published meanwhile queue instead of being lost.
// Spawn the successor with SpawnOptions.Handover set to the returned
// handle within HandoverTimeout of the process's end; after that the
// connection is closed. A process without a bus connection is stopped as
// by Stop and the handle is nil (a nil Handover is a valid option).
func (p *Process) HandOver(cause error, grace time.Duration) *Handover {
	port := p.p.Port()
	if port == nil {
		p.p.Stop(cause, grace)
		return nil
	}
	h := &Handover{k: p.k, name: p.Name(), bus: p.bus, port: port, done: p.p.Done()}
	p.mu.Lock()
	p.ho = h
	p.mu.Unlock()
	p.p.HandOver(cause, grace)
	return h
}

func (p *Process) handover() *Handover {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ho
}

// Failed reports whether the ended process failed (crash, non-zero exit,
// or a kill it was not asked for).
func (p *Process) Failed() bool { return p.p.Failed() }

// Reason says why the ended process ended.
func (p *Process) Reason() string { return p.p.Reason() }

// HandoverTimeout is how long a handed-over connection waits for its
// successor after the process ended before it is closed.
const HandoverTimeout = 30 * time.Second

// Handover is a process's bus connection on its way to the next
// incarnation (see Process.HandOver). It is used once.
type Handover struct {
	k    *Kernel
	name string
	bus  manifest.Bus
	port *process.Port
	done <-chan struct{} // closed when the predecessor has ended

	mu    sync.Mutex
	state handoverState
	timer *time.Timer
}

type handoverState uint8

const (
	handoverStopping handoverState = iota // the predecessor is still stopping
	handoverParked                        // it ended; the connection waits for its successor
	handoverDone                          // taken, refused or expired
)

// park is called when the predecessor has ended: the connection waits for
// its successor, at most HandoverTimeout.
func (h *Handover) park() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != handoverStopping {
		return
	}
	h.state = handoverParked
	h.timer = time.AfterFunc(HandoverTimeout, func() {
		h.mu.Lock()
		expired := h.state == handoverParked
		h.state = handoverDone
		h.mu.Unlock()
		if expired {
			h.k.log.Info("handed-over connection expired", "process", h.name)
			h.release()
		}
	})
}

// take returns the connection for a successor asking for bus
// configuration b, or nil (then the connection is closed). It waits for
// the predecessor to end, at most HandoverTimeout.
func (h *Handover) take(ctx context.Context, b manifest.Bus) *process.Port {
	t := time.NewTimer(HandoverTimeout)
	defer t.Stop()
	select {
	case <-h.done:
	case <-ctx.Done():
		return nil
	case <-t.C:
		return nil
	}
	h.mu.Lock()
	parked := h.state == handoverParked
	h.state = handoverDone
	if h.timer != nil {
		h.timer.Stop()
	}
	h.mu.Unlock()
	if !parked {
		return nil
	}
	if !b.Equal(h.bus) {
		h.k.log.Info("bus configuration changed: the new incarnation starts with a new connection", "process", h.name)
		h.release()
		return nil
	}
	h.port.Adopt()
	return h.port
}

// release closes the connection.
func (h *Handover) release() {
	h.port.Close()
	h.k.bus.Unregister(h.port.Endpoint())
}
