//go:build unix

package wasi

import (
	"time"

	"golang.org/x/sys/unix"
)

// pollFds waits up to timeout for any of waits to be ready and returns
// their indexes. An error (a descriptor closed meanwhile) reports it ready:
// the guest's next call on it says what is wrong.
func pollFds(waits []fdWait, timeout time.Duration) []int {
	fds := make([]unix.PollFd, len(waits))
	for i, w := range waits {
		fds[i] = unix.PollFd{Fd: int32(w.fd), Events: unix.POLLIN}
		if w.write {
			fds[i].Events = unix.POLLOUT
		}
	}
	ms := int(timeout / time.Millisecond)
	if timeout > 0 && ms == 0 {
		ms = 1
	}
	for {
		_, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			all := make([]int, len(waits))
			for i := range all {
				all[i] = i
			}
			return all
		}
		break
	}
	var ready []int
	for i, f := range fds {
		if f.Revents != 0 {
			ready = append(ready, i)
		}
	}
	return ready
}
