// Package librarytest is the conformance suite that every implementation
// of a library must pass (containerd's testsuite pattern): wasm libraries
// (library.NewWasm and its worker pools), native Go libraries
// (library.NewNative) and, later, remote and driver-backed ones. An
// implementation provides the conformance library described below through
// a Factory; Suite then checks it through the host-side call path the
// kernel uses: Registry.Bind/Resolve/Call, Linker.Bind, Binding.Invoke and
// engine.Call with Due and Chain. Every expectation is an api error class
// tested with errors.Is; only the message of an application error is
// compared.
//
// # The conformance library
//
// The factory registers a library under the name and version the suite
// asks for, declaring exactly the functions of Exports (names, argument
// and result shapes), with this behaviour:
//
//	echo       bytes → the same bytes, any size up to the registry's maximum.
//	fail       returns an application error whose message is exactly the
//	           arguments: the caller sees api.ErrFailed and an
//	           *engine.CallError with that Message.
//	sleep      the arguments are a decimal number of milliseconds (1 to 9
//	           ASCII digits): it waits that long, then returns its
//	           arguments. The wait must really happen (a wasm library needs
//	           the clock capability) and must end at the call's deadline
//	           (engine.Call.Due, the caller's context deadline, or the
//	           library's own deadline, whichever is first): the caller then
//	           sees api.ErrTimeout (api.ErrLimit is accepted) promptly.
//	crash      the implementation fails abnormally (a wasm trap such as
//	           unreachable, a Go panic, a lost connection): the caller sees
//	           api.ErrCrashed. The library keeps serving later calls: a
//	           wasm library is restarted by its supervisor, and calls made
//	           meanwhile (or concurrently) wait for it and succeed.
//	fill       the arguments are a decimal byte count N (1 to 9 digits): it
//	           returns N bytes, byte i being i mod 251. A result larger than
//	           the registry's maximum is refused by the host
//	           (api.ErrTooLarge).
//	shaped     declared args {n: int}, result {n: int}: returns its
//	           arguments. The host checks them before the implementation
//	           runs, so it only ever sees a JSON object; arguments whose
//	           first byte other than JSON whitespace is not '{' make it
//	           fail with "unchecked arguments" (how the suite notices a
//	           missing check).
//	badresult  declared args bytes, result {n: int}: returns its
//	           arguments, so the host's result check is exercised.
//
// A malformed number makes sleep and fill fail with an application error
// (api.ErrFailed); the message is not part of the contract. The host
// itself refuses unknown functions and libraries (api.ErrNotFound),
// arguments over the maximum (api.ErrTooLarge), arguments of the wrong
// shape (api.ErrInvalid, before the implementation runs), results of the
// wrong shape (api.ErrInvalid), versions out of range (api.ErrVersion),
// calls denied by the caller's Permit (api.ErrPermissionDenied) and calls
// to a library already on the call chain (api.ErrCycle); the suite checks
// that it does so for every implementation.
//
// # The checks
//
// Each check (a subtest name/Check) starts from a fresh registry
// (library.NewRegistry(MaxCall)) and library:
//
//	Exports                the declared functions and shapes are Exports'.
//	EchoSizes              echo of 0 B, 1 B, 4 KiB±1, 64 KiB(+1), MaxCall/2,
//	                       MaxCall-1 and MaxCall bytes, through Registry.Call
//	                       and Binding.Invoke (with no deadline at all);
//	                       MaxCall+1 and 4·MaxCall: api.ErrTooLarge.
//	ResultSizes            fill up to MaxCall; MaxCall+1: api.ErrTooLarge;
//	                       malformed counts: api.ErrFailed.
//	UnknownFunction        Bind and Call of an unknown function or library:
//	                       api.ErrNotFound.
//	ApplicationError       fail: api.ErrFailed with the exact message (empty,
//	                       multi-line, UTF-8, engine.MaxLogLine bytes).
//	CrashThenRecover       crash: api.ErrCrashed, then echo succeeds (within
//	                       RecoverWithin), through fresh and old bindings,
//	                       three rounds.
//	DeadlinePropagates     sleep really sleeps; a sleep past engine.Call.Due
//	                       or the context deadline of Registry.Call ends
//	                       with api.ErrTimeout/api.ErrLimit within
//	                       DeadlineSlack; the library serves again after.
//	CallerCancelled        a cancelled caller (no deadline) is
//	                       answered promptly with api.ErrClosed/api.ErrTimeout.
//	ArgumentShape          shaped: good arguments pass; bad ones get
//	                       api.ErrInvalid and are never dispatched (Info's
//	                       Calls does not move, the probe does not fire).
//	ResultShape            badresult: a bad result gets api.ErrInvalid and
//	                       counts as a call and a failure.
//	Versions               1.2.3 is found by ^1, ~1.2.3, =1.2.3, …, not by ^2,
//	                       ^1.3, … (api.ErrVersion, also through a Linker);
//	                       a second Add is api.ErrExists; with 2.0.0 added
//	                       each range reaches its own version; a live ^1
//	                       binding moves to 1.3.0 when it appears and reports
//	                       api.ErrVersion once every 1.x is removed.
//	Permission             a Linker's Permit refusal is
//	                       api.ErrPermissionDenied; allowed calls work.
//	Cycle                  a chain holding the library (directly or deeper)
//	                       is refused with api.ErrCycle before dispatch; a
//	                       process of the same name or other libraries are not.
//	Concurrent             Callers goroutines × CallsEach calls (echo of
//	                       distinct payloads and fail with distinct messages,
//	                       via Registry.Call and their own Bindings) each get
//	                       their own answer; Calls and Failures move exactly.
//	ConcurrentWithCrashes  the same while one caller crashes the library
//	                       every tenth call: every other call still succeeds.
//	Counters               Info's Calls and Failures move by one per call
//	                       dispatched, failures for fail, crash, a refused
//	                       result and a timed-out sleep.
//	Removal                after Registry.Remove calls, old bindings, Bind
//	                       and Resolve get api.ErrNotFound; adding it back
//	                       revives the old binding.
//
// Native returns the reference implementation in Go; the wasm one is
// examples/conformlib (WAT). An implementation runs the suite from a test:
//
//	func TestConformance(t *testing.T) {
//		librarytest.Suite(t, "native", func(t *testing.T, reg *library.Registry, name, version string) *library.Library {
//			lib, err := library.NewNative(name, version, librarytest.Native())
//			...
//			reg.Add(lib)
//			return lib
//		})
//	}
package librarytest

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/internal/library"
	"github.com/orbitalfoundation/orbital/internal/shape"
)

// Factory makes a fresh conformance library name@version, adds it to reg
// (reg.Add) and returns it, ready to serve calls. It stops whatever it
// started with t.Cleanup, and calls t.Fatal when it cannot. The suite calls
// it once or more per subtest, with several versions of one name in the
// same registry for the version checks.
type Factory func(t *testing.T, reg *library.Registry, name, version string) *library.Library

// MaxCall is the maximum size of arguments and results of the registries
// the suite makes (library.NewRegistry(MaxCall)).
const MaxCall = 1 << 20

// Exports are the functions of the conformance library with their
// declared shapes; a Factory declares exactly these.
var Exports = []library.Export{
	{Name: "echo", Description: "returns its arguments"},
	{Name: "fail", Description: "returns an application error whose message is the arguments"},
	{Name: "sleep", Description: "sleeps for ARGS (decimal) milliseconds, cut short at the call's deadline, then returns its arguments"},
	{Name: "crash", Description: "fails abnormally (trap, panic): the caller gets api.ErrCrashed"},
	{Name: "fill", Description: "returns ARGS (decimal) bytes, byte i being i mod 251"},
	{Name: "shaped", Args: shape.MustParse("{n: int}"), Result: shape.MustParse("{n: int}"),
		Description: "returns its arguments, which the host checked against {n: int}"},
	{Name: "badresult", Result: shape.MustParse("{n: int}"),
		Description: "returns its arguments as the result, which the host checks against {n: int}"},
}

// Native returns the conformance library implemented in Go, for
// library.NewNative.
func Native() []library.NativeExport {
	fns := map[string]library.NativeFunc{
		"echo": func(_ context.Context, args []byte) ([]byte, error) { return args, nil },
		"fail": func(_ context.Context, args []byte) ([]byte, error) { return nil, errors.New(string(args)) },
		"sleep": func(ctx context.Context, args []byte) ([]byte, error) {
			ms, err := number(args)
			if err != nil {
				return nil, err
			}
			t := time.NewTimer(time.Duration(ms) * time.Millisecond)
			defer t.Stop()
			select {
			case <-t.C:
				return args, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
		"crash": func(context.Context, []byte) ([]byte, error) { panic("conformance library: crash") },
		"fill": func(_ context.Context, args []byte) ([]byte, error) {
			n, err := number(args)
			if err != nil {
				return nil, err
			}
			return Fill(n), nil
		},
		"shaped": func(_ context.Context, args []byte) ([]byte, error) {
			if trimmed := bytes.TrimLeft(args, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
				return nil, errors.New("unchecked arguments")
			}
			return args, nil
		},
		"badresult": func(_ context.Context, args []byte) ([]byte, error) { return args, nil },
	}
	out := make([]library.NativeExport, len(Exports))
	for i, e := range Exports {
		out[i] = library.NativeExport{Export: e, Func: fns[e.Name]}
	}
	return out
}

// Fill returns what fill(n) returns: n bytes, byte i being i mod 251.
func Fill(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// number parses the decimal arguments of sleep and fill: 1 to 9 ASCII
// digits.
func number(args []byte) (int, error) {
	if len(args) == 0 || len(args) > 9 {
		return 0, errors.New("bad number")
	}
	for _, c := range args {
		if c < '0' || c > '9' {
			return 0, errors.New("bad number")
		}
	}
	n, err := strconv.Atoi(string(args))
	if err != nil {
		return 0, errors.New("bad number")
	}
	return n, nil
}
