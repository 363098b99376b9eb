package wasi

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/orbitalfoundation/orbital/internal/fs"
)

// Errno is a WASI preview 1 error number.
type Errno uint16

// The WASI errno values (witx "errno").
const (
	ESUCCESS        Errno = 0
	E2BIG           Errno = 1
	EACCES          Errno = 2
	EADDRINUSE      Errno = 3
	EADDRNOTAVAIL   Errno = 4
	EAFNOSUPPORT    Errno = 5
	EAGAIN          Errno = 6
	EALREADY        Errno = 7
	EBADF           Errno = 8
	EBADMSG         Errno = 9
	EBUSY           Errno = 10
	ECANCELED       Errno = 11
	ECHILD          Errno = 12
	ECONNABORTED    Errno = 13
	ECONNREFUSED    Errno = 14
	ECONNRESET      Errno = 15
	EDEADLK         Errno = 16
	EDESTADDRREQ    Errno = 17
	EDOM            Errno = 18
	EDQUOT          Errno = 19
	EEXIST          Errno = 20
	EFAULT          Errno = 21
	EFBIG           Errno = 22
	EHOSTUNREACH    Errno = 23
	EIDRM           Errno = 24
	EILSEQ          Errno = 25
	EINPROGRESS     Errno = 26
	EINTR           Errno = 27
	EINVAL          Errno = 28
	EIO             Errno = 29
	EISCONN         Errno = 30
	EISDIR          Errno = 31
	ELOOP           Errno = 32
	EMFILE          Errno = 33
	EMLINK          Errno = 34
	EMSGSIZE        Errno = 35
	EMULTIHOP       Errno = 36
	ENAMETOOLONG    Errno = 37
	ENETDOWN        Errno = 38
	ENETRESET       Errno = 39
	ENETUNREACH     Errno = 40
	ENFILE          Errno = 41
	ENOBUFS         Errno = 42
	ENODEV          Errno = 43
	ENOENT          Errno = 44
	ENOEXEC         Errno = 45
	ENOLCK          Errno = 46
	ENOLINK         Errno = 47
	ENOMEM          Errno = 48
	ENOMSG          Errno = 49
	ENOPROTOOPT     Errno = 50
	ENOSPC          Errno = 51
	ENOSYS          Errno = 52
	ENOTCONN        Errno = 53
	ENOTDIR         Errno = 54
	ENOTEMPTY       Errno = 55
	ENOTRECOVERABLE Errno = 56
	ENOTSOCK        Errno = 57
	ENOTSUP         Errno = 58
	ENOTTY          Errno = 59
	ENXIO           Errno = 60
	EOVERFLOW       Errno = 61
	EOWNERDEAD      Errno = 62
	EPERM           Errno = 63
	EPIPE           Errno = 64
	EPROTO          Errno = 65
	EPROTONOSUPPORT Errno = 66
	EPROTOTYPE      Errno = 67
	ERANGE          Errno = 68
	EROFS           Errno = 69
	ESPIPE          Errno = 70
	ESRCH           Errno = 71
	ESTALE          Errno = 72
	ETIMEDOUT       Errno = 73
	ETXTBSY         Errno = 74
	EXDEV           Errno = 75
	ENOTCAPABLE     Errno = 76
)

// fromSys maps the file system's errno (package fs reports wazero's
// experimental/sys values) to WASI's.
func fromSys(e experimentalsys.Errno) Errno {
	switch e {
	case 0:
		return ESUCCESS
	case experimentalsys.EACCES:
		return EACCES
	case experimentalsys.EAGAIN:
		return EAGAIN
	case experimentalsys.EBADF:
		return EBADF
	case experimentalsys.EEXIST:
		return EEXIST
	case experimentalsys.EFAULT:
		return EFAULT
	case experimentalsys.EINTR:
		return EINTR
	case experimentalsys.EINVAL:
		return EINVAL
	case experimentalsys.EIO:
		return EIO
	case experimentalsys.EISDIR:
		return EISDIR
	case experimentalsys.ELOOP:
		return ELOOP
	case experimentalsys.ENAMETOOLONG:
		return ENAMETOOLONG
	case experimentalsys.ENOENT:
		return ENOENT
	case experimentalsys.ENOSYS:
		return ENOSYS
	case experimentalsys.ENOTDIR:
		return ENOTDIR
	case experimentalsys.ERANGE:
		return ERANGE
	case experimentalsys.ENOTEMPTY:
		return ENOTEMPTY
	case experimentalsys.ENOTSOCK:
		return ENOTSOCK
	case experimentalsys.ENOTSUP:
		return ENOTSUP
	case experimentalsys.EPERM:
		return EPERM
	case experimentalsys.EROFS:
		return EROFS
	case fs.EMFILE:
		return EMFILE
	}
	return EIO
}

// fromErr maps a Go error (network and os errors) to WASI's errno.
func fromErr(err error) Errno {
	if err == nil {
		return ESUCCESS
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		switch se {
		case syscall.EAGAIN:
			return EAGAIN
		case syscall.ECONNREFUSED:
			return ECONNREFUSED
		case syscall.ECONNRESET:
			return ECONNRESET
		case syscall.ECONNABORTED:
			return ECONNABORTED
		case syscall.EPIPE:
			return EPIPE
		case syscall.ENOTCONN:
			return ENOTCONN
		case syscall.EADDRINUSE:
			return EADDRINUSE
		case syscall.EADDRNOTAVAIL:
			return EADDRNOTAVAIL
		case syscall.ENETUNREACH:
			return ENETUNREACH
		case syscall.EHOSTUNREACH:
			return EHOSTUNREACH
		case syscall.ETIMEDOUT:
			return ETIMEDOUT
		case syscall.EMFILE, syscall.ENFILE:
			return EMFILE
		case syscall.EINTR:
			return EINTR
		case syscall.EINVAL:
			return EINVAL
		}
		return fromSys(experimentalsys.UnwrapOSError(se))
	}
	switch {
	case errors.Is(err, io.EOF):
		return ESUCCESS
	case errors.Is(err, os.ErrDeadlineExceeded):
		return EAGAIN
	case errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrClosed):
		return EBADF
	case errors.Is(err, os.ErrNotExist):
		return ENOENT
	case errors.Is(err, os.ErrPermission):
		return EACCES
	}
	return EIO
}
