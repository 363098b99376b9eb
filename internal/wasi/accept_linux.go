//go:build linux

package wasi

import "golang.org/x/sys/unix"

// acceptNonblock accepts a connection as a nonblocking, close-on-exec
// descriptor in one call.
func acceptNonblock(fd int) (int, error) {
	nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
	return nfd, err
}
