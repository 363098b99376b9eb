//go:build wasip1

package orbital

import (
	"syscall"
	"unsafe"
)

//go:wasmimport wasi_snapshot_preview1 fd_fdstat_get
func wasiFdstatGet(fd int32, stat unsafe.Pointer) int32

// The WASI values the listener search reads.
const (
	wasiFiletypeSocketStream = 6
	wasiErrnoBadf            = 8
	maxListenerSearch        = 1024
)

// listenerFds finds the descriptors of the listeners the kernel opened:
// the stream sockets after the standard streams and the preopened
// directories. It runs before the process dials anything (see
// preopenedListeners), when the only sockets are those listeners, so it
// needs no rights (wazero, for one, does not report sock_accept).
func listenerFds() []int32 {
	var out []int32
	var stat [24]byte
	misses := 0
	for fd := int32(3); fd < maxListenerSearch && misses < 8; fd++ {
		if e := wasiFdstatGet(fd, unsafe.Pointer(&stat[0])); e != 0 {
			if e == wasiErrnoBadf {
				misses++ // a closed number, perhaps between others
			}
			continue
		}
		misses = 0
		if stat[0] == wasiFiletypeSocketStream {
			out = append(out, fd)
		}
	}
	return out
}

// setNonblock puts fd into nonblocking mode (fd_fdstat_set_flags), which
// makes os.NewFile hand it to the runtime's poller.
func setNonblock(fd int32) error { return syscall.SetNonblock(int(fd), true) }
