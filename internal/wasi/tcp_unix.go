//go:build unix

package wasi

import (
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TCP is a socket on a host TCP listener or connection. Blocking
// operations go through Go's network poller; nonblocking ones are one
// system call on the raw descriptor (EAGAIN when nothing is ready), as a
// guest's event loop expects.
type TCP struct {
	ln       *net.TCPListener
	conn     *net.TCPConn
	raw      syscall.RawConn
	nonblock atomic.Bool
}

var _ Socket = (*TCP)(nil)

// NewTCPListener wraps a host listener.
func NewTCPListener(ln *net.TCPListener) (Socket, error) {
	raw, err := ln.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &TCP{ln: ln, raw: raw}, nil
}

// NewTCPConn wraps a host connection.
func NewTCPConn(c *net.TCPConn) (*TCP, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &TCP{conn: c, raw: raw}, nil
}

// DialTimeout bounds a dial: an address that does not answer is
// ETIMEDOUT to the guest rather than the system's minutes.
const DialTimeout = 10 * time.Second

// DialTCP dials addr.
func DialTCP(addr string) (Socket, error) {
	c, err := net.DialTimeout("tcp", addr, DialTimeout)
	if err != nil {
		return nil, err
	}
	return NewTCPConn(c.(*net.TCPConn))
}

func (t *TCP) Listener() bool { return t.ln != nil }

func (t *TCP) SetNonblock(on bool) { t.nonblock.Store(on) }

func (t *TCP) Fd() (int, bool) {
	fd := -1
	if err := t.raw.Control(func(f uintptr) { fd = int(f) }); err != nil || fd < 0 {
		return 0, false
	}
	return fd, true
}

func (t *TCP) Read(b []byte) (int, error) {
	if t.conn == nil {
		return 0, syscall.ENOTCONN
	}
	if !t.nonblock.Load() {
		return t.conn.Read(b)
	}
	var n int
	var rerr error
	err := t.raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = unix.Read(int(fd), b)
			if rerr != unix.EINTR {
				return true
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, rerr
	}
	return n, nil
}

func (t *TCP) Write(b []byte) (int, error) {
	if t.conn == nil {
		return 0, syscall.ENOTCONN
	}
	if !t.nonblock.Load() {
		return t.conn.Write(b)
	}
	var n int
	var werr error
	err := t.raw.Write(func(fd uintptr) bool {
		for {
			n, werr = unix.Write(int(fd), b)
			if werr != unix.EINTR {
				return true
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if werr != nil {
		return max(n, 0), werr
	}
	return n, nil
}

func (t *TCP) Accept() (Socket, error) {
	if t.ln == nil {
		return nil, syscall.EINVAL
	}
	if !t.nonblock.Load() {
		c, err := t.ln.AcceptTCP()
		if err != nil {
			return nil, err
		}
		return NewTCPConn(c)
	}
	nfd := -1
	var aerr error
	// A listener's RawConn offers only Control; the host descriptor is
	// nonblocking already (Go's poller owns it), so accept4 answers at
	// once, EAGAIN when no connection waits.
	err := t.raw.Control(func(fd uintptr) {
		for {
			nfd, aerr = acceptNonblock(int(fd))
			if aerr != unix.EINTR {
				return
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, aerr
	}
	f := os.NewFile(uintptr(nfd), "accepted")
	c, err := net.FileConn(f) // dups the descriptor into the poller
	_ = f.Close()
	if err != nil {
		return nil, err
	}
	return NewTCPConn(c.(*net.TCPConn))
}

func (t *TCP) Shutdown(how uint32) error {
	if t.conn == nil {
		return syscall.ENOTCONN
	}
	switch how {
	case ShutRD:
		return t.conn.CloseRead()
	case ShutWR:
		return t.conn.CloseWrite()
	}
	_ = t.conn.CloseRead()
	return t.conn.CloseWrite()
}

func (t *TCP) Close() error {
	if t.ln != nil {
		return t.ln.Close()
	}
	return t.conn.Close()
}
