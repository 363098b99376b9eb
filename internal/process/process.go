// Package process runs one wasm instance as an isolated process: its own
// goroutine, an ID, a life-cycle state (starting → running → exited,
// crashed or killed), an exit code, a reason and resource counters.
//
// Whatever the guest does — trap, overflow its stack, loop past its
// deadline, exhaust its memory, make a host call panic — ends only this
// process: the goroutine recovers every panic and records why it ended.
package process

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/engine"
)

// Process is one running instance. Its methods are safe for concurrent use.
type Process struct {
	id     uint64
	name   string
	module string
	inst   *engine.Instance
	port   *Port
	onExit func(*Process)
	log    *slog.Logger
	done   chan struct{}

	stopping atomic.Bool // Stop was asked: ending now is not a failure

	mu      sync.Mutex
	state   api.State
	exit    engine.Exit
	started time.Time
	ended   time.Time
}

// Spec names a process and says how to run it.
type Spec struct {
	ID     uint64
	Name   string // process name, unique within a kernel
	Module string // name@version of the module, for display
	Entry  string // export to run to completion, usually "_start"
	// Push selects the push model: the process loops delivering mailbox
	// messages to the guest's orbital_on_message (Entry, if set, is called
	// once first as an initializer). Needs Port.
	Push bool
	// Port connects the process to the bus; nil for a process without one.
	Port *Port
	// OnExit runs once the process has ended (after its instance and port
	// are closed, before Done closes), e.g. to unregister it from the bus.
	OnExit func(*Process)
	Logger *slog.Logger
}

// Start runs inst's entry on a new goroutine and returns at once. The
// instance is owned by the process from now on and closed when it ends.
func Start(spec Spec, inst *engine.Instance) *Process {
	log := spec.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Process{
		id: spec.ID, name: spec.Name, module: spec.Module, inst: inst, port: spec.Port, onExit: spec.OnExit,
		log:   log.With("pid", spec.ID, "process", spec.Name),
		done:  make(chan struct{}),
		state: api.StateStarting, started: time.Now(),
	}
	go p.run(spec.Entry, spec.Push)
	return p
}

func (p *Process) run(entry string, push bool) {
	var ex engine.Exit
	defer func() {
		if r := recover(); r != nil { // a kernel bug must still end only this process
			ex = engine.Exit{State: api.StateCrashed, Reason: fmt.Sprintf("kernel panic: %v", r),
				Err: fmt.Errorf("process %s: panic: %v\n%s", p.name, r, debug.Stack())}
		}
		p.finish(ex)
	}()
	p.setState(api.StateRunning)
	p.log.Debug("process running", "entry", entry, "push", push)
	if !push {
		ex = p.inst.Run(context.Background(), entry)
		return
	}
	ex = p.serve(entry)
}

// serve is the push model: one message at a time from the mailbox into the
// guest's handler, until the mailbox closes (a graceful stop) or the guest
// fails.
func (p *Process) serve(init string) engine.Exit {
	ctx := context.Background()
	if init != "" {
		if _, err := p.inst.Call(ctx, init); err != nil {
			return p.inst.Exit(err)
		}
	}
	for {
		env, ok, err := p.port.Next(-1, p.inst.Done())
		if err != nil || !ok {
			if killed := p.inst.Killed(); killed != nil {
				return p.inst.Exit(killed)
			}
			return engine.Exit{State: api.StateExited} // mailbox closed: stopped gracefully
		}
		err = p.inst.Deliver(ctx, &env)
		p.port.Take()
		if err != nil {
			return p.inst.Exit(err)
		}
	}
}

func (p *Process) finish(ex engine.Exit) {
	if p.port != nil {
		if p.port.HandingOver() {
			p.port.Release() // the connection goes to the next incarnation
		} else {
			p.port.Close()
		}
	}
	_ = p.inst.Close(context.Background())
	p.mu.Lock()
	p.exit, p.state, p.ended = ex, ex.State, time.Now()
	p.mu.Unlock()
	attrs := []any{"state", ex.State, "exit_code", ex.Code, "took", p.ended.Sub(p.started).Round(time.Microsecond)}
	if ex.Reason != "" {
		attrs = append(attrs, "reason", ex.Reason)
	}
	if ex.State == api.StateExited && ex.Code == 0 {
		p.log.Info("process exited", attrs...)
	} else {
		p.log.Warn("process ended", attrs...)
	}
	// onExit (bus unregistration) runs before Done closes, so whoever waits
	// on Done — a supervisor about to restart — finds the name free again.
	if p.onExit != nil {
		p.onExit(p)
	}
	close(p.done)
}

func (p *Process) setState(s api.State) {
	p.mu.Lock()
	p.state = s
	p.mu.Unlock()
}

// ID returns the process ID.
func (p *Process) ID() uint64 { return p.id }

// Name returns the process name.
func (p *Process) Name() string { return p.name }

// Done is closed when the process has ended and its instance is closed.
func (p *Process) Done() <-chan struct{} { return p.done }

// Kill stops the process with cause (nil means "killed"). It returns at
// once; wait on Done to see it end.
func (p *Process) Kill(cause error) { p.inst.Kill(cause) }

// HandOver stops the process like Stop, but leaves its bus endpoint,
// listen subscriptions and mailbox to the next incarnation (see
// Port.HandOver); a process without a port is stopped as by Stop.
func (p *Process) HandOver(cause error, grace time.Duration) {
	if p.port == nil {
		p.Stop(cause, grace)
		return
	}
	p.stopping.Store(true)
	p.inst.StopListening() // its successor listens on the same addresses
	p.port.HandOver()
	go func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.done:
		case <-t.C:
			p.Kill(fmt.Errorf("did not stop within %s: %w", grace, cause))
		}
	}()
}

// Stop asks the process to end: its mailbox closes, so a guest waiting in
// recv gets ERR_CLOSED after draining what is queued and a push-model loop
// ends, and its listeners close (accept fails with EINVAL), so a network
// service finishes its connections and returns. A process that has not
// ended after grace is killed. Stop returns
// at once.
func (p *Process) Stop(cause error, grace time.Duration) {
	p.stopping.Store(true)
	listened := p.inst.StopListening() // a network service takes no new connections
	if p.port == nil && !listened {
		p.Kill(cause) // nothing to tell it: a plain command module is killed
		return
	}
	if p.port != nil {
		p.port.mb.Close()
	}
	go func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.done:
		case <-t.C:
			p.Kill(fmt.Errorf("did not stop within %s: %w", grace, cause))
		}
	}()
}

// Failed reports whether the ended process failed: it crashed, or it was
// killed without being asked to stop, or it exited non-zero.
func (p *Process) Failed() bool {
	ex := p.Exit()
	switch ex.State {
	case api.StateExited:
		return ex.Code != 0
	case api.StateKilled:
		return !p.stopping.Load()
	}
	return ex.State == api.StateCrashed
}

// Reason says why the process ended.
func (p *Process) Reason() string {
	ex := p.Exit()
	if ex.Reason == "" {
		return string(ex.State)
	}
	return ex.Reason
}

// Port returns the process's bus connection, or nil.
func (p *Process) Port() *Port { return p.port }

// Wait blocks until the process ends or ctx is done, and returns its final
// snapshot. The error is ctx's if it ended first.
func (p *Process) Wait(ctx context.Context) (api.ProcessInfo, error) {
	select {
	case <-p.done:
		return p.Info(), nil
	case <-ctx.Done():
		return p.Info(), ctx.Err()
	}
}

// Exit returns how the process ended; valid once Done is closed.
func (p *Process) Exit() engine.Exit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// Info returns a snapshot of the process.
func (p *Process) Info() api.ProcessInfo {
	st := p.inst.Stats()
	var bs api.EndpointStats
	if p.port != nil {
		bs = p.port.ep.Stats()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return api.ProcessInfo{
		Mailbox: bs.Queued, MsgsIn: bs.In, MsgsOut: bs.Out, Dropped: bs.Dropped,
		ID: p.id, Name: p.name, Module: p.module, Digest: p.inst.Module().Digest(),
		State: p.state, ExitCode: p.exit.Code, Reason: p.exit.Reason,
		StartedAt: p.started, EndedAt: p.ended,
		CPUTime: st.CPUTime, MemoryBytes: st.MemoryBytes, MemoryLimit: st.MemoryLimit,
		OpenFiles: st.OpenFiles, DeniedOpens: st.DeniedOpens, DeniedGrows: st.DeniedGrows,
		Net: st.Net,
	}
}
