package devices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/drivers/wire"
)

// link is the node's end of an out-of-process driver's socket.
type link struct {
	dev  *device
	c    *child
	conn net.Conn
	w    *wire.Writer
	pid  int

	mu     sync.Mutex
	nextID uint64
	calls  map[uint64]chan wire.Msg
	closed bool
	pong   chan uint64
}

// maxFrame bounds a message from a driver: a frame of 64 MiB (a 4K RGBA
// picture is 33 MB) and its header.
const maxFrame = 64<<20 + 64<<10

// startProcess starts the driver program through the launcher, with the
// socket as fd 3, and serves it.
func (dev *device) startProcess(ctx context.Context) (*child, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "driver-node"), os.NewFile(uintptr(fds[1]), "driver-socket")
	defer theirs.Close()
	_, landlocked := sandbox()
	spec := launchSpec{Exec: dev.cfg.Exec, Args: dev.cfg.Args, Memory: dev.cfg.Memory, Files: uint64(dev.cfg.OpenFiles),
		Landlock: landlocked, RO: append(append(append([]string{}, systemDirs...), systemFiles...), dev.cfg.Exec), RW: dev.resources}
	raw, _ := json.Marshal(spec)
	cmd := exec.Command(dev.launcher)
	cmd.Env = append(os.Environ(), LaunchEnv+"="+string(raw))
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout = &lineLog{log: dev.log, level: slog.LevelInfo}
	cmd.Stderr = &lineLog{log: dev.log, level: slog.LevelWarn}
	if err := cmd.Start(); err != nil {
		ours.Close()
		return nil, fmt.Errorf("start %s: %w", dev.cfg.Exec, err)
	}
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("driver socket: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	c := newChild(cancel)
	pid := cmd.Process.Pid
	c.kill = func() { _ = syscall.Kill(-pid, syscall.SIGKILL) }
	l := &link{dev: dev, c: c, conn: conn, w: wire.NewWriter(conn), pid: pid, calls: map[uint64]chan wire.Msg{}, pong: make(chan uint64, 1)}

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	served := make(chan struct{})
	go func() {
		defer close(served)
		l.serve(ctx)
	}()
	go func() {
		defer close(c.done)
		var werr error
		select {
		case werr = <-exited:
			conn.Close()
			<-served
		case <-ctx.Done():
			// Stop: ask politely (SIGTERM to the group, the socket closed),
			// the supervisor kills after the grace period.
			_ = syscall.Kill(-pid, syscall.SIGTERM)
			conn.Close()
			werr = <-exited
			<-served
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL) // the driver's own children
		l.shut()
		dev.mu.Lock()
		if dev.link == l {
			dev.link = nil
		}
		dev.mu.Unlock()
		c.end(true, exitReason(werr))
	}()
	return c, nil
}

// exitReason describes how the driver process ended.
func exitReason(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("killed by signal %d (%s)", ws.Signal(), ws.Signal())
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "exited with status 0"
}

// cut ends the incarnation for a reason the driver caused.
func (l *link) cut(reason string) {
	l.dev.log.Warn("driver cut off", "reason", reason)
	l.c.Kill(errors.New(reason))
}

// serve runs the handshake, then reads the driver's messages and pings it.
func (l *link) serve(ctx context.Context) {
	dev := l.dev
	r := wire.NewReader(l.conn, maxFrame)
	start, _ := json.Marshal(wire.Start{Device: dev.name, Config: dev.cfg.ConfigJSON, Resources: dev.resources, Protocol: wire.Protocol})
	if err := l.w.Write(wire.Msg{Type: wire.TypeStart, Data: start}); err != nil {
		return // it died already: the exit says why
	}
	hello := make(chan error, 1)
	var first wire.Msg
	go func() {
		var err error
		first, err = r.Read()
		hello <- err
	}()
	select {
	case err := <-hello:
		if err != nil {
			if errors.Is(err, wire.ErrMalformed) {
				dev.protocol.Add(1)
				l.cut("protocol error in the handshake: " + err.Error())
			}
			return // it hung up: its exit says why
		}
	case <-time.After(dev.cfg.HangAfter):
		dev.hangs.Add(1)
		l.cut(fmt.Sprintf("hung: no HELLO within %s", dev.cfg.HangAfter))
		return
	case <-ctx.Done():
		return
	}
	if err := l.checkHello(first); err != nil {
		dev.protocol.Add(1)
		l.cut("protocol error: " + err.Error())
		return
	}
	dev.mu.Lock()
	dev.link = l
	dev.mu.Unlock()
	dev.log.Info("driver connected", "pid", l.pid)
	go l.ping(ctx)
	for {
		m, err := r.Read()
		if err != nil {
			if errors.Is(err, wire.ErrMalformed) && ctx.Err() == nil {
				dev.protocol.Add(1)
				l.cut("protocol error: " + err.Error())
			}
			return
		}
		if err := l.handle(m); err != nil {
			dev.protocol.Add(1)
			l.cut("protocol error: " + err.Error())
			return
		}
	}
}

func (l *link) checkHello(m wire.Msg) error {
	if m.Type != wire.TypeHello {
		return fmt.Errorf("first message has type %d, want HELLO", m.Type)
	}
	var h wire.Hello
	if err := json.Unmarshal(m.Data, &h); err != nil {
		return fmt.Errorf("HELLO: %v", err)
	}
	switch {
	case h.Protocol != wire.Protocol:
		return fmt.Errorf("HELLO: protocol %d, this node speaks %d", h.Protocol, wire.Protocol)
	case h.Device != l.dev.name:
		return fmt.Errorf("HELLO: device %q, want %q", h.Device, l.dev.name)
	case h.Version != l.dev.version:
		return fmt.Errorf("HELLO: version %q, its manifest says %q", h.Version, l.dev.version)
	}
	return nil
}

// handle acts on one message of the driver.
func (l *link) handle(m wire.Msg) error {
	dev := l.dev
	switch m.Type {
	case wire.TypePublish:
		var frame []byte
		if len(m.Data) > 0 {
			frame = m.Data
		}
		flooded, err := dev.publish(m.Subject, m.Header, frame)
		if flooded {
			dev.floods.Add(1)
			l.cut(fmt.Sprintf("flooding: more than %d messages a second over its rate of %d/s; cut off", dev.cfg.Rate, dev.cfg.Rate))
		} else if err != nil && !errors.Is(err, errFlood) {
			dev.log.Debug("driver publish refused", "subject", m.Subject, "err", err)
		}
	case wire.TypeResult:
		l.mu.Lock()
		ch := l.calls[m.ID]
		delete(l.calls, m.ID)
		l.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	case wire.TypePong:
		select {
		case l.pong <- m.ID:
		default:
		}
	case wire.TypeLog:
		lvl := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}[m.Level]
		msg := string(m.Data)
		if len(msg) > 16<<10 {
			msg = msg[:16<<10]
		}
		dev.log.Log(context.Background(), lvl, msg)
	default:
		return fmt.Errorf("message type %d is not for the node", m.Type)
	}
	return nil
}

// ping checks every HangAfter/2 that the driver answers.
func (l *link) ping(ctx context.Context) {
	every := l.dev.cfg.HangAfter / 2
	t := time.NewTicker(every)
	defer t.Stop()
	var nonce uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		nonce++
		if err := l.w.Write(wire.Msg{Type: wire.TypePing, ID: nonce}); err != nil {
			return
		}
		deadline := time.NewTimer(l.dev.cfg.HangAfter)
	wait:
		for {
			select {
			case got := <-l.pong:
				if got == nonce {
					break wait
				}
			case <-deadline.C:
				l.dev.hangs.Add(1)
				l.cut(fmt.Sprintf("hung: no answer to a ping within %s; killed", l.dev.cfg.HangAfter))
				return
			case <-ctx.Done():
				deadline.Stop()
				return
			}
		}
		deadline.Stop()
	}
}

// call forwards a call to the driver and waits for its result.
func (l *link) call(ctx context.Context, fn string, args []byte) ([]byte, error) {
	ch := make(chan wire.Msg, 1)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, l.dev.errNotRunning()
	}
	l.nextID++
	id := l.nextID
	l.calls[id] = ch
	l.mu.Unlock()
	var ms uint32
	if dl, ok := ctx.Deadline(); ok {
		ms = uint32(max(1, min(time.Until(dl).Milliseconds(), 1<<31)))
	}
	if err := l.w.Write(wire.Msg{Type: wire.TypeCall, ID: id, Timeout: ms, Fn: fn, Data: args}); err != nil {
		l.forget(id)
		return nil, l.dev.errNotRunning()
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("driver %s ended during the call: %w", l.dev.name, api.ErrCrashed)
		}
		if m.Status == wire.StatusError {
			return nil, errors.New(string(m.Data))
		}
		return m.Data, nil
	case <-ctx.Done():
		l.forget(id)
		_ = l.w.Write(wire.Msg{Type: wire.TypeCancel, ID: id})
		return nil, ctx.Err()
	}
}

func (l *link) forget(id uint64) {
	l.mu.Lock()
	delete(l.calls, id)
	l.mu.Unlock()
}

// shut fails the calls in flight.
func (l *link) shut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for id, ch := range l.calls {
		close(ch)
		delete(l.calls, id)
	}
}

// lineLog logs a driver's stdout and stderr, one record per line.
type lineLog struct {
	log   *slog.Logger
	level slog.Level
	mu    sync.Mutex
	buf   []byte
}

func (w *lineLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := -1
		for j, b := range w.buf {
			if b == '\n' {
				i = j
				break
			}
		}
		if i < 0 {
			if len(w.buf) > 16<<10 {
				w.log.Log(context.Background(), w.level, string(w.buf))
				w.buf = w.buf[:0]
			}
			return len(p), nil
		}
		if i > 0 {
			w.log.Log(context.Background(), w.level, string(w.buf[:i]))
		}
		w.buf = w.buf[i+1:]
	}
}
