package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/abi"
)

// Calls between modules (docs/ABI.md, "Calls"). The caller side is the
// orbital_v1 functions call_bind, call, call_result and call_error; the
// callee side is a library instance running a serve loop on call_serve
// (see worker.go). The engine moves bytes and execution between the two;
// package library decides who may call what and which instance serves.

// Linker resolves the calls of one instance (Spec.Linker): it finds the
// library function, checks the caller's permission and version range, and
// returns the Target the calls go to.
type Linker interface {
	// Bind resolves lib.fn for the instance. Errors wrap an api class
	// (ErrPermissionDenied, ErrNotFound, ErrVersion, ErrInvalid).
	Bind(lib, fn string) (Target, error)
}

// Target is a bound library function: served by wasm Workers or by native
// Go code, through the same Call.
type Target interface {
	// Invoke performs c: the result is delivered with c.Return, a failure
	// is returned as an error wrapping an api class (ErrFailed for an
	// error the callee itself returned).
	Invoke(c *Call) error
}

// Frame is one link of a call chain. Chains are walked to refuse cycles.
type Frame struct {
	Name    string // the library (or, at the root, the process) making the call
	Library bool   // Name is a library
	Parent  *Frame
}

// String renders the chain outermost first: "app → vision → kv".
func (f *Frame) String() string {
	var names []string
	for ; f != nil; f = f.Parent {
		names = append(names, f.Name)
	}
	for a, b := 0, len(names)-1; a < b; a, b = a+1, b-1 {
		names[a], names[b] = names[b], names[a]
	}
	return strings.Join(names, " → ")
}

// Has reports whether the library name is on the chain.
func (f *Frame) Has(name string) bool {
	for ; f != nil; f = f.Parent {
		if f.Library && f.Name == name {
			return true
		}
	}
	return false
}

// Call is one cross-module call in flight. A wasm caller reuses one Call
// per instance (calls from one instance never overlap); native callers make
// one with NewCall.
type Call struct {
	// Ctx ends when the caller is stopped; a waiting caller then abandons
	// the call.
	Ctx context.Context
	// Function is the callee function; set by the Target.
	Function string
	// Args are the arguments: a view of the caller's memory, valid only
	// until Invoke returns. Never retain it.
	Args []byte
	// Due is the monotonic time (engine.Now) by which the call must end; 0
	// means no deadline of the caller's. The callee's own deadline may be
	// shorter.
	Due int64
	// Chain is the chain of callers, innermost first.
	Chain *Frame
	// Check, if set, validates the result before the caller sees it.
	Check func([]byte) error
	// MaxResult caps the result size; 0 means no cap.
	MaxResult int

	// The result sink: the caller's memory, or spill when it did not fit
	// (or the caller is native).
	mem      wapi.Memory
	ptr, cap uint32
	n        int
	spill    []byte
	err      error

	// Execution slot hand-off: slot is true when the caller passed its
	// slot with the call; slotBack is true when the slot came back with
	// the result (see Instance.invoke).
	slot, slotBack bool

	eng    *Engine                // whose execution slot the call carries
	worker atomic.Pointer[Worker] // serving the call, so a caller's Kill can cut it short
	native bool                   // made by NewCall: its caller may abandon it (Abandon)
}

// NewCall returns a Call for a native (Go) caller: the result is kept in
// the Call and read with Result.
func NewCall(ctx context.Context, args []byte) *Call {
	return &Call{Ctx: ctx, Args: args, native: true}
}

// Result returns the result of a finished call made with NewCall.
func (c *Call) Result() []byte { return c.spill[:c.n] }

// reset prepares a reused Call for the next call.
func (c *Call) reset() {
	c.Function, c.Args, c.Due, c.Chain, c.Check, c.MaxResult = "", nil, 0, nil, nil, 0
	c.n, c.err, c.slot, c.slotBack = 0, nil, false, false
}

// Return delivers the result: into the caller's memory when it fits,
// otherwise into a host copy the caller fetches with call_result. It
// returns an error (and delivers nothing) when the result is too large or
// fails Check.
func (c *Call) Return(p []byte) error {
	if c.MaxResult > 0 && len(p) > c.MaxResult {
		return fmt.Errorf("%s: %w: result of %d bytes exceeds the maximum of %d", c.Function, api.ErrTooLarge, len(p), c.MaxResult)
	}
	if c.Check != nil {
		if err := c.Check(p); err != nil {
			return fmt.Errorf("%s: %w: result does not match the declared shape: %v", c.Function, api.ErrInvalid, err)
		}
	}
	c.n = len(p)
	if c.mem != nil && uint32(len(p)) <= c.cap {
		if !c.mem.Write(c.ptr, p) {
			return fmt.Errorf("%s: %w: result buffer outside the caller's memory", c.Function, api.ErrInvalid)
		}
		return nil
	}
	c.spill = append(c.spill[:0], p...)
	return nil
}

// Idle runs fn, which may block, without holding the caller's execution
// slot (native targets that wait on I/O use it). The caller takes a slot
// again after Invoke.
func (c *Call) Idle(fn func()) {
	if c.slot && c.slotBack {
		c.slot, c.slotBack = false, false
		c.eng.release()
	}
	fn()
}

// Now is the engine's monotonic clock in nanoseconds, the unit of Call.Due.
func Now() int64 { return nanotime() }

// ErrBusy is returned by Worker.Invoke when the worker already has a call:
// a pool bug, never a guest's doing.
var ErrBusy = errors.New("worker busy")

// invoke runs c against t on behalf of the calling instance, handing the
// caller's execution slot to the callee for the duration: a call between
// modules costs no slot traffic, and the caller never waits for a slot
// held by its own callee.
//
// CPU time is charged like a function call's: the caller's CPU time
// includes its calls (a library's own is its time outside calls), so a
// call reads no clock unless a deadline needs one.
func (i *Instance) invoke(t Target, c *Call) error {
	held := i.holding
	entered := i.entered
	i.holding = false
	c.slot, c.slotBack = held, held
	err := t.Invoke(c)
	if held {
		if c.slotBack {
			i.holding = true
			i.entered = entered
		} else {
			i.reenter()
		}
	}
	return err
}

// abandonCall cuts the call the instance waits for short: Kill calls it,
// so a killed caller does not wait for a callee without a deadline.
func (i *Instance) abandonCall() { i.cs.call.Abandon() }

// Abandon cuts a call short because its caller is gone: the callee gets
// AbandonGrace to answer, then it is stopped. Safe from any goroutine.
func (c *Call) Abandon() {
	if w := c.worker.Load(); w != nil {
		w.inst.shorten(AbandonGrace)
	}
}

// callerDue is the deadline the instance's current work must meet: the
// per-message deadline of a process, or the due time of the call a
// library instance is serving.
func (i *Instance) callerDue() int64 { return i.due.Load() }

// chain is the call chain calls from this instance extend.
func (i *Instance) chain() *Frame { return &i.frame }

// callState is the caller side of calls, kept per instance.
type callState struct {
	linker   Linker
	bindings []Target
	call     Call
	pending  []byte // a result that did not fit, until call_result
	lastErr  string // the message of the last failed call_bind or call
}

// code is an ABI error code as an i32 result.
func code(c int32) uint64 { return uint64(uint32(c)) }

// MaxBindings caps the handles one instance may hold (internal/abi).
const MaxBindings = abi.MaxBindings

func callFunctions() []hostFn {
	i32, i64 := wapi.ValueTypeI32, wapi.ValueTypeI64
	fail := func(i *Instance, err error) int32 {
		i.cs.lastErr = err.Error()
		return errCode(err)
	}
	return []hostFn{
		// call_bind(lib, lib_len, fn, fn_len) -> handle ≥ 0 | error
		{"call_bind", []wapi.ValueType{i32, i32, i32, i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, mod wapi.Module, s []uint64) {
			lib, ok1 := guestString(mod, uint32(s[0]), uint32(s[1]))
			fn, ok2 := guestString(mod, uint32(s[2]), uint32(s[3]))
			switch {
			case !ok1 || !ok2:
				s[0] = uint64(uint32(fail(i, fmt.Errorf("call_bind: %w: name outside memory or longer than 1024 bytes", api.ErrInvalid))))
				return
			case i.cs.linker == nil:
				s[0] = uint64(uint32(fail(i, fmt.Errorf("%s.%s: %w: the process may not call libraries", lib, fn, api.ErrPermissionDenied))))
				return
			case len(i.cs.bindings) >= MaxBindings:
				s[0] = uint64(uint32(fail(i, fmt.Errorf("call_bind: %w: more than %d bindings", api.ErrLimit, MaxBindings))))
				return
			}
			t, err := i.cs.linker.Bind(lib, fn)
			if err != nil {
				s[0] = uint64(uint32(fail(i, err)))
				return
			}
			i.cs.bindings = append(i.cs.bindings, t)
			s[0] = uint64(len(i.cs.bindings) - 1)
		}},
		// call(handle, args, args_len, res, res_cap) -> result length | error
		{"call", []wapi.ValueType{i32, i32, i32, i32, i32}, []wapi.ValueType{i64}, func(_ context.Context, i *Instance, mod wapi.Module, s []uint64) {
			h := int32(s[0])
			if h < 0 || int(h) >= len(i.cs.bindings) {
				s[0] = uint64(int64(fail(i, fmt.Errorf("call: %w: no binding %d", api.ErrInvalid, h))))
				return
			}
			mem := mod.Memory()
			args, ok := mem.Read(uint32(s[1]), uint32(s[2]))
			if !ok {
				s[0] = uint64(int64(fail(i, fmt.Errorf("call: %w: arguments outside memory", api.ErrInvalid))))
				return
			}
			c := &i.cs.call
			c.reset()
			c.Ctx, c.Args, c.Due, c.Chain = i.ctx, args, i.callerDue(), i.chain()
			c.mem, c.ptr, c.cap, c.eng = mem, uint32(s[3]), uint32(s[4]), i.m.e
			i.cs.pending = nil
			if err := i.invoke(i.cs.bindings[h], c); err != nil {
				s[0] = uint64(int64(fail(i, err)))
				return
			}
			if uint32(c.n) > c.cap {
				i.cs.pending = c.spill[:c.n]
			}
			s[0] = uint64(c.n)
		}},
		// call_result(buf, cap) -> length | error: fetch a result that did not fit.
		{"call_result", []wapi.ValueType{i32, i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, mod wapi.Module, s []uint64) {
			p := i.cs.pending
			switch {
			case p == nil:
				s[0] = code(ErrCodeNotFound)
			case uint32(len(p)) > uint32(s[1]):
				s[0] = code(ErrCodeBuffer)
			case !mod.Memory().Write(uint32(s[0]), p):
				s[0] = code(ErrCodeInvalid)
			default:
				i.cs.pending = nil
				if cap(i.cs.call.spill) > 1<<20 { // don't keep a large spill buffer around
					i.cs.call.spill = nil
				}
				s[0] = uint64(len(p))
			}
		}},
		// call_error(buf, cap) -> length: the message of the last failure,
		// truncated to cap.
		{"call_error", []wapi.ValueType{i32, i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, mod wapi.Module, s []uint64) {
			msg := i.cs.lastErr
			if uint32(len(msg)) > uint32(s[1]) {
				msg = msg[:uint32(s[1])]
			}
			if !mod.Memory().WriteString(uint32(s[0]), msg) {
				s[0] = code(ErrCodeInvalid)
				return
			}
			s[0] = uint64(len(msg))
		}},
	}
}
