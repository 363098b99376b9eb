//go:build unix && !linux

package wasi

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// acceptNonblock accepts a connection as a nonblocking, close-on-exec
// descriptor (no accept4 here: under the fork lock, as package net does).
func acceptNonblock(fd int) (int, error) {
	syscall.ForkLock.RLock()
	nfd, _, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		_ = unix.Close(nfd)
		return -1, err
	}
	return nfd, nil
}
