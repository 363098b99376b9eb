//go:build !unix

package wasi

import (
	"errors"
	"net"
)

// errNoSockets: sockets for guests are offered on POSIX hosts only.
var errNoSockets = errors.New("guest sockets are supported on POSIX hosts only")

// TCP is not available on this host.
type TCP struct{}

// NewTCPListener is not available on this host.
func NewTCPListener(*net.TCPListener) (Socket, error) { return nil, errNoSockets }

// DialTCP is not available on this host.
func DialTCP(string) (Socket, error) { return nil, errNoSockets }
