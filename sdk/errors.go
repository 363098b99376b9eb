package orbital

import "strconv"

// Errno is an error code of the orbital_v1 ABI: the negative result of a
// host function. Every error the SDK returns for a failed host call is an
// Errno equal to one of the Err variables below.
type Errno int32

// ABI error codes (docs/ABI.md).
const (
	codeDenied      = -1
	codeInvalid     = -2
	codeTooBig      = -3
	codeNotFound    = -4
	codeTimeout     = -5
	codeLimit       = -6
	codeClosed      = -7
	codeBuffer      = -8
	codeCycle       = -9
	codeFailed      = -10
	codeCrashed     = -11
	codeVersion     = -12
	codeUnavailable = -13
)

// Errors returned by the bus and call functions, one per ABI code. Compare
// with errors.Is: the call functions return a [*CallError] that wraps them.
var (
	// ErrDenied: the module's [bus] permissions do not allow the operation,
	// the subject is reserved ($sys.…), or the process is not connected to
	// the bus at all. ABI code -1.
	ErrDenied error = Errno(codeDenied)
	// ErrInvalid: a malformed subject, pattern or process name, or an
	// argument out of range. ABI code -2.
	ErrInvalid error = Errno(codeInvalid)
	// ErrTooBig: the message is larger than the node's or the module's
	// maximum message size. ABI code -3.
	ErrTooBig error = Errno(codeTooBig)
	// ErrNotFound: no such process, subscription or blob, or a request
	// found no responder (or its requester stopped waiting). ABI code -4.
	ErrNotFound error = Errno(codeNotFound)
	// ErrTimeout: a request's timeout passed without a reply. ABI code -5.
	ErrTimeout error = Errno(codeTimeout)
	// ErrLimit: a quota is exhausted (blob memory, subscriptions, a full
	// mailbox). ABI code -6.
	ErrLimit error = Errno(codeLimit)
	// ErrClosed: the process is being stopped. Return from main promptly;
	// the kernel kills the process after a grace period. ABI code -7.
	ErrClosed error = Errno(codeClosed)
	// ErrCycle: a call would re-enter a library already on the call chain
	// (app → vision → kv → vision, or a library calling itself). ABI code
	// -9.
	ErrCycle error = Errno(codeCycle)
	// ErrFailed: the called library function returned an error of its own;
	// the [*CallError] carries its message. ABI code -10.
	ErrFailed error = Errno(codeFailed)
	// ErrCrashed: the called library trapped, ran out of memory or was
	// killed while serving the call; its supervisor restarts it. ABI code
	// -11.
	ErrCrashed error = Errno(codeCrashed)
	// ErrVersion: no available version of the library satisfies the range
	// the caller's manifest declares under [dependencies]. ABI code -12.
	ErrVersion error = Errno(codeVersion)
	// ErrUnavailable: the library runs on other nodes of the cluster and
	// none could be reached within the call's deadline. ABI code -13.
	ErrUnavailable error = Errno(codeUnavailable)
)

// Code returns the ABI code, a negative number.
func (e Errno) Code() int32 { return int32(e) }

// Error returns a short description such as "orbital: permission denied".
func (e Errno) Error() string {
	switch e {
	case codeDenied:
		return "orbital: permission denied"
	case codeInvalid:
		return "orbital: invalid argument"
	case codeTooBig:
		return "orbital: message too big"
	case codeNotFound:
		return "orbital: not found"
	case codeTimeout:
		return "orbital: timeout"
	case codeLimit:
		return "orbital: limit reached"
	case codeClosed:
		return "orbital: closed"
	case codeBuffer:
		return "orbital: buffer too small"
	case codeCycle:
		return "orbital: call cycle"
	case codeFailed:
		return "orbital: call failed"
	case codeCrashed:
		return "orbital: callee crashed"
	case codeVersion:
		return "orbital: no matching version"
	case codeUnavailable:
		return "orbital: unavailable"
	}
	return "orbital: error " + strconv.Itoa(int(e))
}

// errno turns a host result into an error: nil for results >= 0. The
// common codes return the prebuilt values above, so no error allocates.
func errno[T int32 | int64](r T) error {
	switch {
	case r >= 0:
		return nil
	case r == codeDenied:
		return ErrDenied
	case r == codeInvalid:
		return ErrInvalid
	case r == codeTooBig:
		return ErrTooBig
	case r == codeNotFound:
		return ErrNotFound
	case r == codeTimeout:
		return ErrTimeout
	case r == codeLimit:
		return ErrLimit
	case r == codeClosed:
		return ErrClosed
	case r == codeCycle:
		return ErrCycle
	case r == codeFailed:
		return ErrFailed
	case r == codeCrashed:
		return ErrCrashed
	case r == codeVersion:
		return ErrVersion
	case r == codeUnavailable:
		return ErrUnavailable
	case r < -1<<31:
		return ErrInvalid
	}
	return Errno(r)
}

// CallError is the error of a failed library call or binding: the class of
// the failure (one of the Err variables, such as [ErrFailed] or
// [ErrNotFound]) with the kernel's message about it (call_error in
// docs/ABI.md). For ErrFailed the message is the library's own error:
//
//	res, err := orbital.Call("vision", "grayscale", pixels)
//	var ce *orbital.CallError
//	if errors.As(err, &ce) && errors.Is(err, orbital.ErrFailed) {
//		orbital.Log(orbital.LevelWarn, "vision says: "+ce.Message)
//	}
type CallError struct {
	Library  string // the library called, as the caller named it
	Function string // the function called
	Message  string // the kernel's message, e.g. "vision.grayscale: want RGBA pixels, got 3 bytes"; may be empty
	Err      error  // the class: one of the Err variables
}

// Error returns the kernel's message, or "LIB.FN: " and the class when
// there is none.
func (e *CallError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Library + "." + e.Function + ": " + e.Err.Error()
}

// Unwrap returns the class, so that errors.Is(err, ErrFailed) and the like
// work.
func (e *CallError) Unwrap() error { return e.Err }
