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
	log    *slog.Logger
	done   chan struct{}

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
		id: spec.ID, name: spec.Name, module: spec.Module, inst: inst,
		log:   log.With("pid", spec.ID, "process", spec.Name),
		done:  make(chan struct{}),
		state: api.StateStarting, started: time.Now(),
	}
	go p.run(spec.Entry)
	return p
}

func (p *Process) run(entry string) {
	var ex engine.Exit
	defer func() {
		if r := recover(); r != nil { // a kernel bug must still end only this process
			ex = engine.Exit{State: api.StateCrashed, Reason: fmt.Sprintf("kernel panic: %v", r),
				Err: fmt.Errorf("process %s: panic: %v\n%s", p.name, r, debug.Stack())}
		}
		p.finish(ex)
	}()
	p.setState(api.StateRunning)
	p.log.Debug("process running", "entry", entry)
	ex = p.inst.Run(context.Background(), entry)
}

func (p *Process) finish(ex engine.Exit) {
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
	p.mu.Lock()
	defer p.mu.Unlock()
	return api.ProcessInfo{
		ID: p.id, Name: p.name, Module: p.module, Digest: p.inst.Module().Digest(),
		State: p.state, ExitCode: p.exit.Code, Reason: p.exit.Reason,
		StartedAt: p.started, EndedAt: p.ended,
		CPUTime: st.CPUTime, MemoryBytes: st.MemoryBytes, MemoryLimit: st.MemoryLimit,
		OpenFiles: st.OpenFiles, DeniedOpens: st.DeniedOpens, DeniedGrows: st.DeniedGrows,
	}
}
