package library

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/engine"
)

// Spawner makes one worker instance of a wasm library: it instantiates the
// module confined to the library's capabilities with Spec.Worker set to w.
// The Pool starts and runs the worker.
type Spawner func(ctx context.Context, w *engine.Worker) error

// WasmOptions describe a wasm library.
type WasmOptions struct {
	Name, Version string
	Exports       []Export
	// Stateful libraries run one instance and serialize calls; stateless
	// ones run up to Instances in parallel.
	Stateful  bool
	Instances int // stateless: most workers at once; 0 means 1
	Entry     string
	Spawn     Spawner
	Logger    *slog.Logger
	// RestartWait is how long a call waits for a library that is
	// restarting before it fails; 0 means DefaultRestartWait.
	RestartWait time.Duration
}

// DefaultRestartWait bounds how long a call waits for a restarting library.
const DefaultRestartWait = 5 * time.Second

// NewWasm returns a wasm library. It serves calls once Start has started
// a Pool (normally under a supervisor, which starts a new Pool when one
// fails).
func NewWasm(opts WasmOptions) (*Library, error) {
	if opts.Stateful || opts.Instances <= 0 {
		opts.Instances = 1
	}
	if opts.Entry == "" {
		opts.Entry = "_start"
	}
	if opts.RestartWait <= 0 {
		opts.RestartWait = DefaultRestartWait
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	w := &wasm{opts: opts, changed: make(chan struct{})}
	lib, err := newLibrary(opts.Name, opts.Version, opts.Exports, w)
	if err != nil {
		return nil, err
	}
	w.lib = lib
	return lib, nil
}

// wasm is the impl of a wasm library: the current Pool, replaced by each
// (re)start.
type wasm struct {
	opts WasmOptions
	lib  *Library

	live     atomic.Pointer[Pool] // pool, for the fast path
	mu       sync.Mutex
	pool     *Pool
	changed  chan struct{} // closed and replaced when pool changes
	down     string        // why the library is given up; "" while it may come back
	demand   func()        // starts the library on its first call (on-demand), or nil
	demanded bool          // demand was called for the current gap
	restarts atomic.Uint64
	starts   int
}

// Start starts a new incarnation of the wasm library lib: a Pool with its
// first worker running. The Pool is the supervisor's child; when a worker
// crashes the Pool fails and a supervisor starts the next one.
func Start(ctx context.Context, lib *Library) (*Pool, error) {
	w, ok := lib.impl.(*wasm)
	if !ok {
		return nil, fmt.Errorf("library %s: %w: not a wasm library", lib.name, api.ErrInvalid)
	}
	p := &Pool{w: w, free: make(chan *engine.Worker, w.opts.Instances), done: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	wk, err := p.grow()
	if err != nil {
		p.cancel(err)
		return nil, err
	}
	p.idle.Store(wk)
	w.mu.Lock()
	if w.starts > 0 {
		w.restarts.Add(1)
	}
	w.starts++
	w.pool, w.down, w.demanded = p, "", false
	w.live.Store(p)
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
	return p, nil
}

// Down marks lib as given up (its supervisor stopped restarting it):
// calls fail at once with reason instead of waiting for a restart.
func Down(lib *Library, reason string) {
	w, ok := lib.impl.(*wasm)
	if !ok {
		return
	}
	w.mu.Lock()
	w.down = reason
	if w.pool == nil || w.pool.closing.Load() {
		w.pool = nil
		w.live.Store(nil)
	}
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// OnDemand makes lib start on its first call: when a call finds no
// running pool, start is called (once per gap) and the call waits for it.
func OnDemand(lib *Library, start func()) {
	if w, ok := lib.impl.(*wasm); ok {
		w.mu.Lock()
		w.demand = start
		w.mu.Unlock()
	}
}

// current returns the running pool, waiting (up to RestartWait, the call's
// deadline or the caller's end) while the library restarts.
func (w *wasm) current(c *engine.Call) (*Pool, error) {
	var timer *time.Timer
	for {
		w.mu.Lock()
		p, changed, down := w.pool, w.changed, w.down
		var demand func()
		if p == nil && down == "" && w.demand != nil && !w.demanded {
			w.demanded, demand = true, w.demand
		}
		w.mu.Unlock()
		if demand != nil {
			go demand()
		}
		if p != nil && !p.closing.Load() {
			if timer != nil {
				timer.Stop()
			}
			return p, nil
		}
		if down != "" {
			return nil, fmt.Errorf("%s: %w: library is down: %s", w.opts.Name, api.ErrClosed, down)
		}
		if timer == nil {
			wait := w.opts.RestartWait
			if c.Due != 0 {
				wait = min(wait, time.Duration(c.Due-engine.Now()))
			}
			timer = time.NewTimer(wait)
		}
		select {
		case <-changed:
		case <-timer.C:
			if c.Due != 0 && engine.Now() >= c.Due {
				return nil, fmt.Errorf("%s: %w: library did not restart before the call's deadline", w.opts.Name, api.ErrTimeout)
			}
			return nil, fmt.Errorf("%s: %w: library is not running", w.opts.Name, api.ErrClosed)
		case <-c.Ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("%s: %w: the caller was stopped", w.opts.Name, api.ErrClosed)
		}
	}
}

func (w *wasm) invoke(_ *Library, c *engine.Call) error {
	// Fast path: a running pool with an idle worker.
	if p := w.live.Load(); p != nil && !p.closing.Load() {
		if wk := p.idle.Swap(nil); wk != nil && p.usable(wk) {
			err := wk.Invoke(c)
			p.put(wk)
			return err
		}
	}
	// Slow path: wait for a worker (or a restart) without holding the
	// caller's execution slot, which the worker being started may need.
	var (
		p   *Pool
		wk  *engine.Worker
		err error
	)
	c.Idle(func() {
		for {
			if p, err = w.current(c); err != nil {
				return
			}
			if wk, err = p.acquire(c); !errors.Is(err, errPoolClosed) {
				return
			}
			// The pool failed while we waited: wait for the next one.
		}
	})
	if err != nil {
		return err
	}
	err = wk.Invoke(c)
	p.put(wk)
	return err
}

func (w *wasm) info(in *api.LibraryInfo) {
	in.Stateful, in.Max, in.Restarts = w.opts.Stateful, w.opts.Instances, w.restarts.Load()
	w.mu.Lock()
	p, down := w.pool, w.down
	w.mu.Unlock()
	switch {
	case down != "":
		in.State, in.Reason = api.LibraryDown, down
	case p == nil || p.closing.Load():
		in.State = api.LibraryRestarting
	default:
		in.Instances, in.Busy = p.counts()
	}
}

var errPoolClosed = errors.New("pool closed")

// Pool is one incarnation of a wasm library: its workers. It is the
// supervised child of the library (supervisor.Child).
type Pool struct {
	w      *wasm
	ctx    context.Context
	cancel context.CancelCauseFunc
	free   chan *engine.Worker
	idle   atomic.Pointer[engine.Worker] // one more idle worker, cheaper than free
	// waiting counts the callers blocked in acquire on free.
	waiting atomic.Int32

	mu      sync.Mutex
	workers []*engine.Worker
	closing atomic.Bool // no new calls: failed or stopping
	failed  bool
	reason  string
	done    chan struct{}
	ended   bool
}

// acquire takes an idle worker, starting one if the pool may grow, or
// waits for one.
func (p *Pool) acquire(c *engine.Call) (*engine.Worker, error) {
	for {
		if wk := p.idle.Swap(nil); wk != nil {
			if p.usable(wk) {
				return wk, nil
			}
			continue
		}
		select {
		case wk := <-p.free:
			if p.usable(wk) {
				return wk, nil
			}
			continue
		default:
		}
		if wk, err := p.grow(); wk != nil || err != nil {
			if err != nil {
				return nil, err
			}
			if p.usable(wk) {
				return wk, nil
			}
			continue
		}
		// Count this caller as waiting before a last look at idle: a
		// worker put there wakes nobody on free, so put moves it to free
		// when it sees a waiter (see put).
		p.waiting.Add(1)
		if wk := p.idle.Swap(nil); wk != nil {
			p.waiting.Add(-1)
			if p.usable(wk) {
				return wk, nil
			}
			continue
		}
		var timeout <-chan time.Time
		if c.Due != 0 {
			t := time.NewTimer(time.Duration(c.Due - engine.Now()))
			defer t.Stop()
			timeout = t.C
		}
		select {
		case wk := <-p.free:
			p.waiting.Add(-1)
			if p.usable(wk) {
				return wk, nil
			}
		case <-p.done:
			p.waiting.Add(-1)
			return nil, errPoolClosed
		case <-timeout:
			p.waiting.Add(-1)
			return nil, fmt.Errorf("%s: %w: waited for a free instance until the call's deadline", p.w.opts.Name, api.ErrTimeout)
		case <-c.Ctx.Done():
			p.waiting.Add(-1)
			return nil, fmt.Errorf("%s: %w: the caller was stopped", p.w.opts.Name, api.ErrClosed)
		}
	}
}

// usable marks wk busy if it is alive and the pool is open; otherwise it
// retires it.
func (p *Pool) usable(wk *engine.Worker) bool {
	if wk.Ended() || p.closing.Load() {
		p.retire(wk)
		return false
	}
	return true
}

// put returns wk after a call.
func (p *Pool) put(wk *engine.Worker) {
	if wk.Ended() || p.closing.Load() {
		p.retire(wk)
		return
	}
	if !p.idle.CompareAndSwap(nil, wk) {
		p.free <- wk
	} else if p.waiting.Load() > 0 && p.idle.CompareAndSwap(wk, nil) {
		// A caller waits on free, where a worker in idle would not wake
		// it (acquire counts itself before its last look at idle, so one
		// of the two sees the other).
		p.free <- wk
	}
	if p.closing.Load() { // closed meanwhile: drainIdle may have missed it
		p.drainIdle()
	}
}

// StopGrace bounds how long a stopped worker's guest may take to return
// from its serve loop.
const StopGrace = time.Second

// retire ends an idle (or just ended) worker and accounts for it: a worker
// whose guest crashed fails the pool.
func (p *Pool) retire(wk *engine.Worker) {
	if !wk.Ended() {
		wk.Stop(StopGrace)
	}
	if inst := wk.Instance(); inst != nil {
		_ = inst.Close(context.Background())
	}
	p.remove(wk)
	ex := wk.Exit()
	if ex.State == api.StateExited && ex.Err == nil || p.closing.Load() {
		p.maybeEnd()
		return
	}
	p.w.opts.Logger.Warn("library instance ended", "library", p.w.opts.Name, "state", ex.State, "reason", ex.Reason)
	p.fail(fmt.Sprintf("%s: %s", ex.State, ex.Reason))
}

// grow starts a worker when the pool is below its size, and returns it
// (not in the free list); nil, nil when the pool is full.
func (p *Pool) grow() (*engine.Worker, error) {
	p.mu.Lock()
	if len(p.workers) >= p.w.opts.Instances || p.closing.Load() {
		p.mu.Unlock()
		return nil, nil
	}
	wk := engine.NewWorker(p.w.opts.Name)
	p.workers = append(p.workers, wk)
	p.mu.Unlock()
	err := p.w.opts.Spawn(p.ctx, wk)
	if err == nil {
		err = wk.Start(p.ctx, p.w.opts.Entry)
	}
	if err != nil {
		if inst := wk.Instance(); inst != nil {
			_ = inst.Close(context.Background())
		}
		p.remove(wk)
		return nil, fmt.Errorf("%s: start instance: %w", p.w.opts.Name, err)
	}
	return wk, nil
}

func (p *Pool) remove(wk *engine.Worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.workers {
		if x == wk {
			p.workers = append(p.workers[:i], p.workers[i+1:]...)
			break
		}
	}
}

func (p *Pool) counts() (instances, busy int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	busy = len(p.workers) - len(p.free)
	if p.idle.Load() != nil {
		busy--
	}
	return len(p.workers), max(busy, 0)
}

// fail ends the pool because a worker crashed: no new calls, idle
// workers are stopped, busy ones finish their call first.
func (p *Pool) fail(reason string) {
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		return
	}
	p.failed, p.reason = true, reason
	p.mu.Unlock()
	p.close()
	p.end()
}

// close stops accepting calls and retires the idle workers.
func (p *Pool) close() {
	if !p.closing.CompareAndSwap(false, true) {
		return
	}
	p.w.mu.Lock()
	if p.w.pool == p {
		p.w.pool = nil
		p.w.live.Store(nil)
		close(p.w.changed)
		p.w.changed = make(chan struct{})
	}
	p.w.mu.Unlock()
	p.drainIdle()
}

func (p *Pool) drainIdle() {
	if wk := p.idle.Swap(nil); wk != nil {
		p.retire(wk)
	}
	for {
		select {
		case wk := <-p.free:
			p.retire(wk)
		default:
			return
		}
	}
}

// end closes Done.
func (p *Pool) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ended {
		p.ended = true
		close(p.done)
	}
}

// maybeEnd ends a closing pool once its last worker is gone.
func (p *Pool) maybeEnd() {
	if !p.closing.Load() {
		return
	}
	p.mu.Lock()
	n := len(p.workers)
	p.mu.Unlock()
	if n == 0 {
		p.end()
	}
}

// Done is closed when the pool has failed or stopped.
func (p *Pool) Done() <-chan struct{} { return p.done }

// Failed reports whether the pool ended because a worker crashed.
func (p *Pool) Failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

// Reason says why the pool ended.
func (p *Pool) Reason() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reason == "" && p.ended {
		return "stopped"
	}
	return p.reason
}

// Stop stops the pool gracefully: calls in progress finish, then every
// worker returns from its serve loop.
func (p *Pool) Stop(cause error) {
	p.mu.Lock()
	if p.reason == "" && cause != nil {
		p.reason = "stopped: " + cause.Error()
	}
	p.mu.Unlock()
	p.close()
	p.maybeEnd()
}

// Kill ends the pool now: busy workers are killed, idle ones retired.
func (p *Pool) Kill(cause error) {
	if cause == nil {
		cause = engine.ErrKilled
	}
	p.close()
	p.cancel(cause)
	p.mu.Lock()
	ws := append([]*engine.Worker(nil), p.workers...)
	p.mu.Unlock()
	for _, wk := range ws {
		if inst := wk.Instance(); inst != nil {
			inst.Kill(cause)
		}
	}
	p.drainIdle()
	p.maybeEnd()
}
