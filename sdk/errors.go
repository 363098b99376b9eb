package orbital

import "strconv"

// Errno is an error code of the orbital_v1 ABI: the negative result of a
// host function. Every error the SDK returns for a failed host call is an
// Errno equal to one of the Err variables below.
type Errno int32

// ABI error codes (docs/ABI.md).
const (
	codeDenied   = -1
	codeInvalid  = -2
	codeTooBig   = -3
	codeNotFound = -4
	codeTimeout  = -5
	codeLimit    = -6
	codeClosed   = -7
	codeBuffer   = -8
)

// Errors returned by the bus functions, one per ABI code.
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
	case r < -1<<31:
		return ErrInvalid
	}
	return Errno(r)
}
