package orbital

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// Calls between modules (docs/ABI.md, "Calls between modules"). A caller
// binds LIB.FN once and calls the handle; a library registers its functions
// with Export and hands its main to ServeCalls.

// Func is a library function bound by [Bind]: a handle that the kernel
// resolved once (permission, version range, export) and that stays valid
// for the life of the process. The binding is by name: the kernel may
// replace the library by another version in the caller's range between two
// calls, and a library that went away makes the calls fail, not the handle.
// The zero Func is bound to nothing: its calls fail with ErrInvalid.
type Func struct {
	lib, fn string
	h       int32
}

// Bind resolves the function fn of the library lib for calling. The
// library must be listed under [dependencies] in the module's orbital.toml
// and the node must grant the call (calls = ["lib"] or ["lib.fn"]). On
// failure the error is a [*CallError] wrapping ErrDenied (not granted),
// ErrNotFound (no such library or function), ErrVersion (no version in the
// declared range) or ErrLimit (the process holds too many bindings).
//
// Each successful Bind takes one of the process's handles (at most 4096):
// bind once and keep the Func, or use [Call], which does that for you.
func Bind(lib, fn string) (*Func, error) {
	h := hostCallBind(lib, fn)
	if h < 0 {
		return nil, callFailure(lib, fn, h)
	}
	return &Func{lib: lib, fn: fn, h: h}, nil
}

// String returns "LIB.FN".
func (f *Func) String() string { return f.lib + "." + f.fn }

// Call calls the function with args and waits for its result, a new slice
// the caller owns. The call ends by the caller's deadline (for a bus
// service, the deadline of the message it handles) and by the library's.
//
// On failure the error is a [*CallError] wrapping the class: ErrFailed when
// the function returned an error (the CallError's Message is the library's
// message), ErrInvalid when args do not have the shape the library
// declares, ErrTimeout, ErrCrashed, ErrCycle, ErrTooBig, ErrDenied,
// ErrNotFound or ErrVersion (the library went away), ErrClosed (the library
// is down, or restarting for too long). Test them with errors.Is.
//
// The result is received into a buffer the SDK keeps between calls
// (16 KiB); a larger result is fetched from the kernel into a buffer of its
// exact size. Either way the function runs once: a call is never re-issued.
func (f *Func) Call(args []byte) ([]byte, error) {
	res, owned, err := f.call(args)
	if err != nil || owned {
		return res, err
	}
	return append([]byte{}, res...), nil
}

// AppendCall is [Func.Call] appending the result to dst, for callers that
// reuse a buffer: when the result fits in dst's spare capacity the kernel
// writes it there and AppendCall allocates nothing. Otherwise dst is grown
// to fit. On failure it returns dst unchanged and the error.
func (f *Func) AppendCall(dst, args []byte) ([]byte, error) {
	if f.lib == "" {
		return dst, errUnbound
	}
	pace(false)
	spare := dst[len(dst):cap(dst)]
	n := hostCall(f.h, args, spare)
	switch {
	case n < 0:
		return dst, callFailure(f.lib, f.fn, n)
	case n <= int64(len(spare)):
		return dst[:len(dst)+int(n)], nil
	case n > maxCallResult:
		return dst, f.tooBig(n)
	}
	grown := slices.Grow(dst, int(n))
	if err := f.fetch(grown[len(dst) : len(dst)+int(n)]); err != nil {
		return dst, err
	}
	return grown[:len(dst)+int(n)], nil
}

// call makes the call into the SDK's result buffer. The result borrows that
// buffer (until the next call) unless owned is true: a result too large for
// it is fetched into a new slice of its own.
func (f *Func) call(args []byte) (res []byte, owned bool, err error) {
	if f.lib == "" {
		return nil, false, errUnbound
	}
	pace(false)
	if callBuf == nil {
		callBuf = make([]byte, initialCallBuffer)
	}
	n := hostCall(f.h, args, callBuf)
	switch {
	case n < 0:
		return nil, false, callFailure(f.lib, f.fn, n)
	case n <= int64(len(callBuf)):
		return callBuf[:n:n], false, nil
	case n > maxCallResult:
		return nil, false, f.tooBig(n)
	}
	// The kernel kept the result: fetch it with call_result (the function
	// is not run again).
	res = make([]byte, n)
	if err := f.fetch(res); err != nil {
		return nil, false, err
	}
	return res, true, nil
}

// fetch copies the kept result, exactly len(buf) bytes, into buf.
func (f *Func) fetch(buf []byte) error {
	m := hostCallResult(buf)
	switch {
	case m < 0:
		return &CallError{Library: f.lib, Function: f.fn, Err: errno(m),
			Message: fmt.Sprintf("%s.%s: fetching its result of %d bytes: %v", f.lib, f.fn, len(buf), Errno(m))}
	case int(m) != len(buf):
		return &CallError{Library: f.lib, Function: f.fn, Err: ErrInvalid,
			Message: fmt.Sprintf("%s.%s: the kernel announced a result of %d bytes and delivered %d", f.lib, f.fn, len(buf), m)}
	}
	return nil
}

// errUnbound is the error of a call through the zero Func (a valid binding
// always names its library).
var errUnbound error = &CallError{Err: ErrInvalid, Message: "orbital: call through an unbound Func (use Bind)"}

func (f *Func) tooBig(n int64) error {
	return &CallError{Library: f.lib, Function: f.fn, Err: ErrTooBig,
		Message: fmt.Sprintf("%s.%s: result of %d bytes is too big to fetch", f.lib, f.fn, n)}
}

// Buffer sizes of calls. maxCallResult: call_result answers an i32.
const (
	initialCallBuffer  = 16 << 10
	initialServeBuffer = 16 << 10
	maxCallResult      = math.MaxInt32
	initialCallError   = 256
	maxCallError       = 64 << 10
)

var (
	callBuf  []byte // reused by every Func.Call: results that fit land here
	serveBuf []byte // reused by ServeCalls: each call's name and args
	failBuf  []byte // reused by ServeCalls: error messages returned to callers
)

// callFailure builds the *CallError for the error code r of call_bind or
// call, with the kernel's message (call_error).
func callFailure[T int32 | int64](lib, fn string, r T) error {
	return &CallError{Library: lib, Function: fn, Message: lastCallError(), Err: errno(r)}
}

// lastCallError returns the message of the last failed call_bind or call.
// call_error truncates it to the buffer, so a message that fills the buffer
// is read again into a larger one.
func lastCallError() string {
	buf := make([]byte, initialCallError)
	for {
		n := hostCallError(buf)
		switch {
		case n < 0 || int(n) > len(buf):
			return ""
		case int(n) < len(buf) || len(buf) >= maxCallError:
			return string(buf[:n])
		}
		buf = make([]byte, 4*len(buf))
	}
}

// funcKey names a bound function in the cache of Call.
type funcKey struct{ lib, fn string }

// bound caches the bindings made by Call and CallJSON.
var bound map[funcKey]*Func

// Call calls the function fn of the library lib with args and returns its
// result, as [Func.Call] does. It binds lib.fn on first use and keeps the
// binding for later calls; a binding that fails is not kept, so a library
// that appears later is found. Errors are those of [Bind] and [Func.Call].
func Call(lib, fn string, args []byte) ([]byte, error) {
	f, err := bindCached(lib, fn)
	if err != nil {
		return nil, err
	}
	return f.Call(args)
}

// CallJSON calls lib.fn as [Call] does with in encoded as JSON (a nil in is
// JSON null), and decodes the JSON result into out unless out is nil.
// Encoding and decoding errors are returned as they are (not as a
// [*CallError]).
func CallJSON(lib, fn string, in, out any) error {
	args, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("orbital: call %s.%s: arguments: %w", lib, fn, err)
	}
	f, err := bindCached(lib, fn)
	if err != nil {
		return err
	}
	res, _, err := f.call(args)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(res, out); err != nil {
		return fmt.Errorf("orbital: call %s.%s: result: %w", lib, fn, err)
	}
	return nil
}

func bindCached(lib, fn string) (*Func, error) {
	if f := bound[funcKey{lib, fn}]; f != nil {
		return f, nil
	}
	f, err := Bind(lib, fn)
	if err != nil {
		return nil, err
	}
	if bound == nil {
		bound = make(map[funcKey]*Func)
	}
	bound[funcKey{lib, fn}] = f
	return f, nil
}

// exports holds the functions registered with Export, by name.
var exports = make(map[string]func(args []byte) ([]byte, error))

// Export registers fn as the library function name, served by
// [ServeCalls]: fn receives a call's arguments and returns its result, or
// an error whose text the caller receives (as a [*CallError] wrapping
// ErrFailed). The name must also be declared in the module's orbital.toml
// ([exports.NAME]): the kernel only routes declared functions, and checks
// the arguments (before fn sees them) and the result against the shapes
// declared there. Register every function before calling ServeCalls.
// Export panics if name is empty, fn is nil or name is already registered.
//
// args borrows the SDK's receive buffer: it is valid only until fn
// returns, though fn may return it (or a part of it) as the result.
func Export(name string, fn func(args []byte) ([]byte, error)) {
	switch {
	case name == "":
		panic("orbital: Export: empty function name")
	case fn == nil:
		panic("orbital: Export " + name + ": nil function")
	}
	if _, dup := exports[name]; dup {
		panic("orbital: Export: " + name + " registered twice")
	}
	exports[name] = fn
}

// ExportJSON registers fn as the library function name, as [Export] does,
// with JSON arguments and result: the arguments are decoded into an In
// (empty arguments leave it the zero value) and fn's Out is encoded as the
// result. Arguments that do not decode fail the call with an error saying
// so; fn's error is returned to the caller as it is.
func ExportJSON[In, Out any](name string, fn func(In) (Out, error)) {
	if fn == nil {
		panic("orbital: ExportJSON " + name + ": nil function")
	}
	Export(name, func(args []byte) ([]byte, error) {
		var in In
		if len(args) > 0 {
			if err := json.Unmarshal(args, &in); err != nil {
				return nil, fmt.Errorf("invalid arguments: %w", err)
			}
		}
		out, err := fn(in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	})
}

// Statuses passed to call_serve.
const (
	serveNone   = -1 // no result: the first turn, or a retry after ERR_BUFFER
	serveOK     = 0  // the bytes are the result
	serveFailed = 1  // the bytes are an error message
)

// ServeCalls is the serve loop of a library: it waits for calls and runs
// the function registered for each with [Export] or [ExportJSON], until the
// kernel stops the library; then it returns nil. Call it from main once the
// functions are registered, and return from main when it returns.
//
// A function's error goes back to the caller as its message; a call of a
// function that was not registered fails with "unknown function NAME". A
// function that panics is not recovered: the module crashes, the caller
// gets ErrCrashed and the library's supervisor restarts it, with fresh
// state.
//
// ServeCalls receives each call into one buffer that it reuses (16 KiB at
// first, grown for a call that does not fit), so serving allocates nothing
// of its own per call. It returns ErrDenied when the module is not run as
// a library, and any other unexpected error of the kernel.
func ServeCalls() error {
	status, res := int32(serveNone), []byte(nil)
	for tries := 0; ; {
		pace(false)
		if serveBuf == nil {
			serveBuf = make([]byte, initialServeBuffer)
		}
		n := hostCallServe(status, res, serveBuf)
		status, res = serveNone, nil
		switch {
		case n == codeClosed:
			return nil
		case n == codeBuffer:
			// The call is kept; call_size says how big it is.
			need := int(hostCallSize())
			switch {
			case need > len(serveBuf):
				serveBuf = make([]byte, need)
			case tries >= 3: // the kernel keeps saying it does not fit
				return Errno(codeBuffer)
			}
			tries++
			continue
		case n < 0:
			return errno(n)
		case int(n) > len(serveBuf):
			return ErrInvalid
		}
		tries = 0
		status, res = dispatch(serveBuf[:n])
		if len(serveBuf) > keepBuffer {
			serveBuf = nil // a giant call: res keeps what it needs of it
		}
	}
}

// dispatch runs the call in b (as call_serve wrote it) and returns the
// status and bytes to answer it with.
func dispatch(b []byte) (int32, []byte) {
	fn, args, err := decodeCall(b)
	if err != nil {
		failBuf = append(failBuf[:0], "malformed call from the kernel"...)
		return serveFailed, failBuf
	}
	h := exports[string(fn)] // no allocation: looked up with fn's bytes
	if h == nil {
		failBuf = append(append(failBuf[:0], "unknown function "...), fn...)
		return serveFailed, failBuf
	}
	out, err := h(args)
	if err != nil {
		failBuf = append(failBuf[:0], err.Error()...)
		return serveFailed, failBuf
	}
	return serveOK, out
}

// callHeader is the size of the fixed part of a call.
const callHeader = 8

// decodeCall splits a call as call_serve writes it (docs/ABI.md):
//
//	0 fn_len, 4 args_len (u32 LE), 8 fn bytes, then args bytes.
//
// fn and args alias b. It fails with ErrInvalid when b is shorter than the
// lengths it declares.
func decodeCall(b []byte) (fn, args []byte, err error) {
	if len(b) < callHeader {
		return nil, nil, ErrInvalid
	}
	le := binary.LittleEndian
	lf, la := uint64(le.Uint32(b[0:])), uint64(le.Uint32(b[4:]))
	if callHeader+lf+la > uint64(len(b)) {
		return nil, nil, ErrInvalid
	}
	p := uint64(callHeader)
	return b[p : p+lf : p+lf], b[p+lf : p+lf+la : p+lf+la], nil
}
