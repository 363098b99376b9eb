package wasi

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/orbitalfoundation/orbital/internal/fs"
)

// Socket is a network socket in a process's descriptor table: a listener
// the host opened for it (a granted tcp-listen address) or a connection
// (accepted from one, or dialled to a granted address).
type Socket interface {
	// Read and Write move bytes (a connection); in nonblocking mode they
	// return EAGAIN-class errors instead of waiting.
	Read(b []byte) (int, error)
	Write(b []byte) (int, error)
	// Accept takes the next pending connection (a listener).
	Accept() (Socket, error)
	// Shutdown shuts down reading (1), writing (2) or both (3).
	Shutdown(how uint32) error
	SetNonblock(on bool)
	// Fd is the host descriptor, for poll_oneoff.
	Fd() (int, bool)
	Listener() bool
	Close() error
}

// Socket flags of sock_recv and sock_send (witx "riflags", "roflags",
// "sdflags").
const (
	RecvPeek    = 1
	RecvWaitall = 2
	ShutRD      = 1
	ShutWR      = 2
)

// Net is a process's network: what it may dial, its counters, and its
// open sockets (closed when the process is killed, so that nothing it
// blocks in outlives it).
type Net struct {
	// Connect lists the addresses the process may dial: "HOST:PORT",
	// where HOST or PORT may be "*".
	Connect []string

	BytesIn, BytesOut atomic.Uint64
	Denied            atomic.Uint64 // connects refused by the grant
	Accepted, Dialled atomic.Uint64
	mu                sync.Mutex
	open              map[Socket]struct{}
	closed            bool
	watching          bool
	done              <-chan struct{}
}

// track registers a socket of the process (false: the process is gone).
func (n *Net) track(s Socket, done <-chan struct{}) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	if n.open == nil {
		n.open = map[Socket]struct{}{}
	}
	n.open[s] = struct{}{}
	if !n.watching && done != nil {
		n.watching = true
		go func() {
			<-done
			n.CloseAll()
		}()
	}
	return true
}

// Open returns how many sockets of the process are open.
func (n *Net) Open() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.open)
}

func (n *Net) untrack(s Socket) {
	n.mu.Lock()
	delete(n.open, s)
	n.mu.Unlock()
}

// CloseAll closes every socket of the process (it was killed or ended):
// a guest blocked in one of them is released.
func (n *Net) CloseAll() {
	n.mu.Lock()
	n.closed = true
	open := n.open
	n.open = nil
	n.mu.Unlock()
	for s := range open {
		_ = s.Close()
	}
}

// CloseListeners closes the process's listeners, keeping its
// connections: the process is being stopped, so it takes no new
// connections and may finish the ones it has. Its accepts then fail with
// EINVAL, as accept does on a listener shut down on Linux. It returns how
// many it closed.
func (n *Net) CloseListeners() int {
	n.mu.Lock()
	var ls []Socket
	for s := range n.open {
		if s.Listener() {
			ls = append(ls, s)
		}
	}
	n.mu.Unlock()
	for _, s := range ls {
		_ = s.Close()
	}
	return len(ls)
}

// Allowed reports whether host:port may be dialled.
func (n *Net) Allowed(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	for _, g := range n.Connect {
		gh, gp, err := net.SplitHostPort(g)
		if err != nil {
			continue
		}
		if (gh == "*" || strings.EqualFold(gh, host)) && (gp == "*" || gp == port) {
			return true
		}
	}
	return false
}

// ParseAddress splits a network grant or request: "tcp://HOST:PORT"
// (connect) or "tcp-listen://HOST:PORT" (listen), HOST or PORT possibly
// "*". It returns the kind ("connect" or "listen") and "HOST:PORT".
func ParseAddress(s string) (kind, addr string, err error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", "", fmt.Errorf("network address %q: want tcp://HOST:PORT or tcp-listen://HOST:PORT", s)
	}
	switch scheme {
	case "tcp":
		kind = "connect"
	case "tcp-listen":
		kind = "listen"
	default:
		return "", "", fmt.Errorf("network address %q: scheme %q: want tcp or tcp-listen", s, scheme)
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil || host == "" || port == "" {
		return "", "", fmt.Errorf("network address %q: want HOST:PORT", s)
	}
	if port != "*" {
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return "", "", fmt.Errorf("network address %q: port %q is not 0-65535 or *", s, port)
		}
	}
	if strings.ContainsAny(host, "/ ") {
		return "", "", fmt.Errorf("network address %q: bad host", s)
	}
	return kind, net.JoinHostPort(host, port), nil
}

func sockFuncs() []Func {
	return []Func{
		fn("sock_accept", sockAccept, "fd:i", "flags:i", "result.fd:i"),
		fn("sock_recv", sockRecv, "fd:i", "ri_data:i", "ri_data_len:i", "ri_flags:i", "result.ro_datalen:i", "result.ro_flags:i"),
		fn("sock_send", sockSend, "fd:i", "si_data:i", "si_data_len:i", "si_flags:i", "result.so_datalen:i"),
		fn("sock_shutdown", sockShutdown, "fd:i", "how:i"),
	}
}

// sockAt returns socket descriptor fd: EBADF if it is not open, ENOTSOCK
// if it is not a socket, ENOTCAPABLE without right.
func sockAt(s *State, fd int32, right Rights) (*Descriptor, Errno) {
	d, errno := s.Files.Get(fd)
	switch {
	case errno != ESUCCESS:
		return nil, errno
	case d.Sock == nil:
		return nil, ENOTSOCK
	case !d.has(right):
		return nil, ENOTCAPABLE
	}
	return d, ESUCCESS
}

func sockAccept(s *State, m Memory, st []uint64) {
	fd, flags, out := int32(st[0]), uint16(st[1]), uint32(st[2])
	d, errno := sockAt(s, fd, RightSockAccept)
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	if flags&^FdflagNonblock != 0 {
		st[0] = uint64(EINVAL)
		return
	}
	if !d.Sock.Listener() {
		st[0] = uint64(EINVAL)
		return
	}
	var c Socket
	var err error
	if d.Flags&FdflagNonblock != 0 {
		c, err = d.Sock.Accept()
	} else {
		s.blocking(func() { c, err = d.Sock.Accept() })
	}
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			st[0] = uint64(EINVAL) // the host closed it: the process is stopping
			return
		}
		st[0] = uint64(fromErr(err))
		return
	}
	c.SetNonblock(flags&FdflagNonblock != 0)
	newfd, errno := s.addSocket(c, flags)
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	if s.Net != nil {
		s.Net.Accepted.Add(1)
	}
	if !m.WriteUint32Le(out, uint32(newfd)) {
		_ = s.Files.Close(newfd)
		st[0] = uint64(EFAULT)
		return
	}
	st[0] = uint64(ESUCCESS)
}

// addSocket puts a connection into the table (counted by the process's
// network, closed with it).
func (s *State) addSocket(c Socket, flags uint16) (int32, Errno) {
	base := ConnRights
	if c.Listener() {
		base = ListenerRights
	}
	if !s.Quota.Acquire() {
		_ = c.Close()
		return 0, EMFILE
	}
	c = &slot{Socket: c, q: s.Quota}
	d := &Descriptor{Sock: c, Filetype: FiletypeSocketStream, Base: base, Flags: flags & FdflagNonblock}
	if s.Net != nil {
		c = &counted{Socket: c, n: s.Net}
		d.Sock = c
		if !s.Net.track(c, s.Done) {
			_ = c.Close()
			return 0, ECONNABORTED
		}
	}
	fd, errno := s.Files.Add(d)
	if errno != ESUCCESS {
		_ = d.Sock.Close()
	}
	return fd, errno
}

// AddListener preopens a listener the host opened for the process.
func (s *State) AddListener(ln Socket) (int32, Errno) { return s.addSocket(ln, 0) }

// Connect dials addr ("HOST:PORT") for the process if its grant allows
// it, and returns the new connection's descriptor (orbital_v1's
// sock_connect). A refused address is ENOTCAPABLE and counted.
func (s *State) Connect(addr string, dial func(addr string) (Socket, error)) (int32, Errno) {
	if s.Net == nil || !s.Net.Allowed(addr) {
		if s.Net != nil {
			s.Net.Denied.Add(1)
		}
		return 0, ENOTCAPABLE
	}
	var c Socket
	var err error
	s.blocking(func() { c, err = dial(addr) })
	if err != nil {
		return 0, fromErr(err)
	}
	s.Net.Dialled.Add(1)
	return s.addSocket(c, 0)
}

func sockRecv(s *State, m Memory, st []uint64) {
	fd, iovs, n, flags, outLen, outFlags := int32(st[0]), uint32(st[1]), uint32(st[2]), uint32(st[3]), uint32(st[4]), uint32(st[5])
	d, errno := sockAt(s, fd, RightFdRead)
	switch {
	case errno != ESUCCESS:
	case flags&^(RecvPeek|RecvWaitall) != 0 || flags&RecvPeek != 0:
		errno = ENOTSUP // peeking is not offered
	default:
		if errno = s.transfer(m, d, iovs, n, -1, false, outLen); errno == ESUCCESS && !m.WriteUint16Le(outFlags, 0) {
			errno = EFAULT
		}
	}
	st[0] = uint64(errno)
}

func sockSend(s *State, m Memory, st []uint64) {
	fd, iovs, n, flags, out := int32(st[0]), uint32(st[1]), uint32(st[2]), uint32(st[3]), uint32(st[4])
	d, errno := sockAt(s, fd, RightFdWrite)
	switch {
	case errno != ESUCCESS:
	case flags != 0:
		errno = EINVAL
	default:
		errno = s.transfer(m, d, iovs, n, -1, true, out)
	}
	st[0] = uint64(errno)
}

func sockShutdown(s *State, m Memory, st []uint64) {
	fd, how := int32(st[0]), uint32(st[1])
	d, errno := s.Files.Get(fd)
	switch {
	case errno != ESUCCESS:
		st[0] = uint64(errno)
	case d.Sock == nil:
		st[0] = uint64(ENOTSOCK)
	case how == 0 || how > ShutRD|ShutWR:
		st[0] = uint64(EINVAL)
	case !d.has(RightSockShutdown):
		st[0] = uint64(ENOTCAPABLE)
	default:
		st[0] = uint64(fromErr(d.Sock.Shutdown(how)))
	}
}

// counted counts a socket's bytes into its process's network.
type counted struct {
	Socket
	n *Net
}

func (c *counted) Read(b []byte) (int, error) {
	n, err := c.Socket.Read(b)
	c.n.BytesIn.Add(uint64(n))
	return n, err
}

func (c *counted) Write(b []byte) (int, error) {
	n, err := c.Socket.Write(b)
	c.n.BytesOut.Add(uint64(n))
	return n, err
}

func (c *counted) Accept() (Socket, error) { return c.Socket.Accept() }

func (c *counted) Close() error {
	c.n.untrack(c)
	return c.Socket.Close()
}

// slot gives a socket's quota slot back when it closes (once).
type slot struct {
	Socket
	q    *fs.Quota
	once sync.Once
}

func (s *slot) Close() error {
	s.once.Do(s.q.Release)
	return s.Socket.Close()
}
