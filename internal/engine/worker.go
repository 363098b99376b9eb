package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"
	"time"

	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/abi"
)

// Worker is the serving side of calls: an instance of a library module
// whose entry runs a serve loop on call_serve.
//
// The guest runs as a coroutine (iter.Pull): a caller's Invoke switches
// directly to the worker's goroutine, which returns from call_serve with
// the call, runs the guest function and switches straight back from its
// next call_serve with the result. No scheduler wake-ups (~100 ns per round
// trip here, against ~500 ns for a channel round trip and ~1.5 µs for a
// direct call into a guest that must stay stoppable, for which wazero
// starts a watcher goroutine per call). The worker's guest makes one long
// call for its whole life, so a runaway callee is still stopped: at its
// deadline its instance is killed and the coroutine ends.
//
// A Worker serves one call at a time; Invoke, Start and Stop must not be
// called concurrently (the library's pool guarantees it).
type Worker struct {
	library string
	inst    *Instance

	next  func() (*Call, bool) // resume the coroutine; false once it ended
	stopC func()
	yield func(*Call) bool // inside the coroutine

	pending *Call // set by Invoke before resuming the coroutine
	cur     *Call // the call being served (coroutine side)
	need    int   // bytes the guest needs to receive cur, after ERR_BUFFER
	cause   error // why calls fail once the guest ended
	exit    Exit
	ended   atomic.Bool
}

// NewWorker returns a worker for an instance of library; pass it in
// Spec.Worker, Instantiate, then Start.
func NewWorker(library string) *Worker { return &Worker{library: library} }

// Instance returns the worker's instance (nil before Instantiate).
func (w *Worker) Instance() *Instance { return w.inst }

// Ended reports whether the worker's guest has ended.
func (w *Worker) Ended() bool { return w.ended.Load() }

// Exit reports how the guest ended; valid once Ended.
func (w *Worker) Exit() Exit { return w.exit }

// Start runs the guest's entry until it first waits for a call. The
// start-up is bounded by the instance's deadline. It fails if the guest
// ends before serving.
func (w *Worker) Start(ctx context.Context, entry string) error {
	if w.inst == nil {
		return fmt.Errorf("worker %s: %w: not instantiated", w.library, api.ErrInvalid)
	}
	w.next, w.stopC = iter.Pull(func(yield func(*Call) bool) {
		w.yield = yield
		w.run(ctx, entry)
	})
	if _, ok := w.next(); !ok {
		return fmt.Errorf("%s: instance ended before serving: %w", w.library, w.cause)
	}
	return nil
}

// run is the coroutine: the guest's whole life.
func (w *Worker) run(ctx context.Context, entry string) {
	i := w.inst
	if i.deadline > 0 {
		i.setDue(nanotime() + int64(i.deadline))
	}
	_, err := i.call(ctx, entry)
	ex := i.Exit(err)
	w.exit = ex
	switch {
	case ex.State == api.StateKilled && errors.Is(ex.Err, ErrDeadline):
		w.cause = fmt.Errorf("%w: %s was stopped at the call's deadline", api.ErrTimeout, w.library)
	case ex.State == api.StateExited && ex.Err == nil:
		w.cause = fmt.Errorf("%w: %s stopped", api.ErrClosed, w.library)
	default:
		w.cause = fmt.Errorf("%w: %s %s: %s", api.ErrCrashed, w.library, ex.State, ex.Reason)
	}
	if c := w.cur; c != nil {
		w.cur = nil
		c.err = w.cause
		w.finish(c)
	}
	i.due.Store(0)
	w.ended.Store(true)
}

// Invoke runs c on the worker and returns when it is answered (or the
// worker's guest ended serving it).
func (w *Worker) Invoke(c *Call) error {
	if w.ended.Load() {
		return fmt.Errorf("%s.%s: %w: %s is not running", w.library, c.Function, api.ErrClosed, w.library)
	}
	// A callee with no deadline at all, or serving a native caller (who
	// may go away: Registry.Call abandons on its context), is published so
	// that the caller can cut it short (Call.Abandon); the wasm-to-wasm
	// call with a deadline, the hot path, needs no atomics.
	unbounded := (c.Due == 0 && w.inst.deadline == 0) || c.native
	if unbounded {
		c.worker.Store(w)
	}
	w.pending = c
	_, ok := w.next()
	if unbounded {
		c.worker.Store(nil)
	}
	if !ok && c.err == nil { // ended without taking the call
		c.slotBack = c.slot
		return fmt.Errorf("%s.%s: %w", w.library, c.Function, w.cause)
	}
	return c.err
}

// Stop asks an idle worker's guest to return from its serve loop
// (call_serve returns ERR_CLOSED) and waits for it, for at most grace (then
// the instance is killed).
func (w *Worker) Stop(grace time.Duration) {
	if w.stopC == nil || w.ended.Load() {
		return
	}
	w.inst.setDue(nanotime() + int64(grace))
	w.stopC()
}

// finish completes c (its result or c.err already set) and hands the
// execution slot back with it.
func (w *Worker) finish(c *Call) {
	i := w.inst
	if i.holding && c.slot {
		if i.entered != 0 {
			i.cpu.Add(nanotime() - i.entered)
		}
		i.holding = false
		c.slotBack = true
	} else {
		i.leave()
	}
}

// take makes c the worker's current call: the caller's execution slot and
// deadline come with it.
func (w *Worker) take(c *Call) {
	i := w.inst
	w.cur = c
	w.need = 0
	i.frame.Parent = c.Chain
	if c.slot {
		c.slotBack = false
		i.holding = true
		i.entered = 0 // charged to the caller
	} else {
		i.reenter()
	}
	due := c.Due
	if i.deadline > 0 {
		if d := nanotime() + int64(i.deadline); due == 0 || d < due {
			due = d
		}
	}
	i.setDue(due)
}

// CallHeader is the fixed part of a call as call_serve writes it.
const CallHeader = abi.CallHeader

// deliver writes cur into guest memory at buf: [u32 function length]
// [u32 args length] function args. It returns the length, or ERR_BUFFER.
func (w *Worker) deliver(mod wapi.Module, buf, bufCap uint32) int32 {
	c := w.cur
	size := CallHeader + len(c.Function) + len(c.Args)
	if uint64(size) > uint64(bufCap) {
		w.need = size
		return ErrCodeBuffer
	}
	out, ok := mod.Memory().Read(buf, uint32(size))
	if !ok {
		return ErrCodeInvalid
	}
	binary.LittleEndian.PutUint32(out[0:], uint32(len(c.Function)))
	binary.LittleEndian.PutUint32(out[4:], uint32(len(c.Args)))
	n := CallHeader + copy(out[CallHeader:], c.Function)
	copy(out[n:], c.Args)
	return int32(size)
}

// Call statuses passed to call_serve (internal/abi).
const (
	ServeNone   = abi.ServeNone   // no result to return (first call, or retrying after ERR_BUFFER)
	ServeOK     = abi.ServeOK     // the bytes are the result
	ServeFailed = abi.ServeFailed // the bytes are an error message
)

func serveFunctions() []hostFn {
	i32 := wapi.ValueTypeI32
	return []hostFn{
		// call_serve(status, res, res_len, buf, buf_cap) -> length | error:
		// return the result of the current call (unless status is
		// ServeNone) and wait for the next one.
		{"call_serve", []wapi.ValueType{i32, i32, i32, i32, i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, mod wapi.Module, s []uint64) {
			w := i.worker
			status, buf, bufCap := int32(s[0]), uint32(s[3]), uint32(s[4])
			var done *Call
			if c := w.cur; c != nil {
				if status == ServeNone { // retry after ERR_BUFFER
					s[0] = uint64(uint32(w.deliver(mod, buf, bufCap)))
					return
				}
				res, ok := mod.Memory().Read(uint32(s[1]), uint32(s[2]))
				switch {
				case !ok:
					c.err = fmt.Errorf("%s.%s: %w: the library returned a result outside its memory", w.library, c.Function, api.ErrCrashed)
				case status == ServeFailed:
					msg := res
					if len(msg) > MaxLogLine {
						msg = msg[:MaxLogLine]
					}
					c.err = &CallError{Library: w.library, Function: c.Function, Message: string(msg)}
				default:
					c.err = c.Return(res)
				}
				w.cur = nil
				w.finish(c)
				done = c
			} else if i.holding {
				i.leave() // start-up: the worker's own slot
			}
			i.due.Store(0)
			for {
				if !w.yield(done) { // Stop (or the pool is killing an idle worker)
					if i.ctx.Err() != nil {
						panic(sys.NewExitError(sys.ExitCodeContextCanceled))
					}
					i.reenter()
					s[0] = code(ErrCodeClosed)
					return
				}
				c := w.pending
				w.pending = nil
				if c == nil {
					continue
				}
				w.take(c)
				s[0] = uint64(uint32(w.deliver(mod, buf, bufCap)))
				return
			}
		}},
		// call_size() -> bytes call_serve needs for the current call.
		{"call_size", nil, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, _ wapi.Module, s []uint64) {
			s[0] = uint64(uint32(int32(i.worker.need)))
		}},
	}
}

// CallError is an error a library function returned to its caller.
type CallError struct {
	Library, Function, Message string
}

func (e *CallError) Error() string {
	return fmt.Sprintf("%s.%s: %s", e.Library, e.Function, e.Message)
}

// Unwrap makes CallError an api.ErrFailed.
func (e *CallError) Unwrap() error { return api.ErrFailed }

// AbandonGrace is how long a callee may still run once its caller is gone
// (killed, or a native caller's context ended) before it is stopped.
const AbandonGrace = time.Second

// shorten brings the instance's due time forward to at most d from now.
func (i *Instance) shorten(d time.Duration) {
	due := nanotime() + int64(d)
	if cur := i.due.Load(); cur != 0 && cur < due {
		return
	}
	i.setDue(due)
}

// setDue sets when the current work of the instance must end and makes
// sure the watchdog fires by then. The watchdog is lazy: a timer already
// due to fire earlier is left alone and re-armed when it fires, so a
// stream of calls costs an atomic store each, not a timer reset.
func (i *Instance) setDue(due int64) {
	i.due.Store(due)
	if due == 0 {
		return
	}
	if at := i.timerAt.Load(); at != 0 && at <= due {
		return
	}
	i.tmu.Lock()
	defer i.tmu.Unlock()
	if at := i.timerAt.Load(); at != 0 && at <= due {
		return
	}
	i.timerAt.Store(due)
	d := time.Duration(due - nanotime())
	if i.timer == nil {
		i.timer = time.AfterFunc(d, i.onDue)
		return
	}
	i.timer.Reset(d)
}

// onDue is the lazy watchdog of a worker: kill when the due time has
// passed, re-arm for a later due time, or go idle.
func (i *Instance) onDue() {
	i.tmu.Lock()
	defer i.tmu.Unlock()
	i.timerAt.Store(0)
	due := i.due.Load()
	if due == 0 {
		return
	}
	if now := nanotime(); now < due {
		i.timerAt.Store(due)
		i.timer.Reset(time.Duration(due - now))
		return
	}
	i.Kill(ErrDeadline)
}
