package orbital

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
)

// ErrNoListener is returned by Listen when the kernel opened no listener
// for the process: its manifest asks for none ([capabilities.net]
// listen = ["HOST:PORT"]) or its grant allows none.
var ErrNoListener = errors.New("orbital: no listener was granted (manifest [capabilities.net] listen, and the grant)")

// Listen returns the first listener the kernel opened for the process
// (its granted tcp-listen addresses, in order), ready for net/http; call
// it (or Listeners) once. When the process is asked to stop the kernel
// closes the listener: Accept (and so http.Server.Serve) returns an error
// that is net.ErrClosed, and the process should finish and return:
//
//	ln, err := orbital.Listen()
//	http.Serve(ln, handler)
func Listen() (net.Listener, error) {
	ls, err := Listeners()
	if err != nil {
		return nil, err
	}
	if len(ls) == 0 {
		return nil, ErrNoListener
	}
	for _, l := range ls[1:] {
		_ = l.Close()
	}
	return ls[0], nil
}

// Listeners returns every listener the kernel opened for the process.
// Their Addr is the address the kernel listens on (WASI preview 1 cannot
// ask a socket; the kernel says it in ORBITAL_LISTEN).
func Listeners() ([]net.Listener, error) {
	var out []net.Listener
	var addrs []string
	if v := os.Getenv("ORBITAL_LISTEN"); v != "" {
		addrs = strings.Split(v, ",")
	}
	for i, fd := range preopenedListeners() {
		// Nonblocking, so that the Go runtime's poller multiplexes it
		// with the connections instead of one accept stalling them all.
		if err := setNonblock(fd); err != nil {
			return out, fmt.Errorf("orbital: listener %d: %w", fd, err)
		}
		l, err := net.FileListener(os.NewFile(uintptr(fd), fmt.Sprintf("listener-%d", fd)))
		if err != nil {
			return out, fmt.Errorf("orbital: listener %d: %w", fd, err)
		}
		kl := &kernelListener{Listener: l}
		if i < len(addrs) {
			if a, err := net.ResolveTCPAddr("tcp", addrs[i]); err == nil {
				kl.addr = a
			}
		}
		out = append(out, kl)
	}
	return out, nil
}

// Dial connects to addr ("HOST:PORT") if the process's grant allows it
// (manifest [capabilities.net] connect = ["HOST:PORT"] and the grant); a refused
// address is ErrDenied. Use it as an http.Transport's DialContext.
func Dial(addr string) (net.Conn, error) {
	preopenedListeners() // before the first connection joins the table
	var fd int32
	if err := errno(hostSockConnect(addr, &fd)); err != nil {
		return nil, fmt.Errorf("orbital: dial %s: %w", addr, err)
	}
	if err := setNonblock(fd); err != nil {
		return nil, fmt.Errorf("orbital: dial %s: %w", addr, err)
	}
	f := os.NewFile(uintptr(fd), addr)
	c, err := net.FileConn(f)
	_ = f.Close() // FileConn made its own descriptor
	if err != nil {
		return nil, fmt.Errorf("orbital: dial %s: %w", addr, err)
	}
	return c, nil
}

// preopenedListeners returns the listeners' descriptors, found once,
// before any dial.
var preopenedListeners = sync.OnceValue(listenerFds)

// kernelListener is a listener the kernel opened: it knows its address,
// and reports the kernel closing it (the process is being stopped) as
// net.ErrClosed, so that http.Server.Serve returns and main can too.
type kernelListener struct {
	net.Listener
	addr net.Addr
}

func (l *kernelListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil && errors.Is(err, syscall.EINVAL) {
		return nil, fmt.Errorf("orbital: the kernel closed the listener (the process is stopping): %w", net.ErrClosed)
	}
	return c, err
}

func (l *kernelListener) Addr() net.Addr {
	if l.addr != nil {
		return l.addr
	}
	return l.Listener.Addr()
}
