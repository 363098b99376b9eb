// Package proc runs a Driver as an out-of-process driver: a program the
// node starts as a child process, speaking the wire protocol on the Unix
// socket it inherits as file descriptor 3. A Go driver program is
//
//	func main() { proc.Main("1.0.0", &mydriver.Driver{}) }
//
// and the same Driver can be compiled into the node instead (see package
// drivers). Programs in other languages speak drivers/wire directly
// (docs/DRIVERS.md).
package proc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/orbitalfoundation/orbital/drivers"
	"github.com/orbitalfoundation/orbital/drivers/wire"
)

// SocketFD is the file descriptor of the node's socket in the driver.
const SocketFD = 3

// Main runs d on the node's socket until the node closes it or sends
// SIGTERM, and exits: 0 after a clean end, 1 when d failed.
func Main(version string, d drivers.Driver) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	f := os.NewFile(SocketFD, "orbital-driver-socket")
	if f == nil {
		fmt.Fprintln(os.Stderr, "driver: no socket on fd 3: run me from an Orbital node ([[driver]] exec = ...)")
		os.Exit(2)
	}
	conn, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "driver: fd 3 is not the node's socket: %v\n", err)
		os.Exit(2)
	}
	if err := Run(ctx, conn, version, d); err != nil {
		fmt.Fprintf(os.Stderr, "driver: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Run serves d on conn: the handshake, then d.Run with a Host that
// speaks the protocol, until d returns, ctx ends or the node hangs up.
func Run(ctx context.Context, conn net.Conn, version string, d drivers.Driver) error {
	defer conn.Close()
	r := wire.NewReader(conn, 0)
	w := wire.NewWriter(conn)
	first, err := r.Read()
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if first.Type != wire.TypeStart {
		return fmt.Errorf("handshake: first message has type %d, want START", first.Type)
	}
	var st wire.Start
	if err := json.Unmarshal(first.Data, &st); err != nil {
		return fmt.Errorf("handshake: START: %w", err)
	}
	hello, _ := json.Marshal(wire.Hello{Device: st.Device, Version: version, Protocol: wire.Protocol})
	if err := w.Write(wire.Msg{Type: wire.TypeHello, Data: hello}); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := &host{start: st, w: w, handlers: map[string]drivers.Func{}, calls: map[uint64]context.CancelFunc{}}
	if len(h.start.Config) == 0 {
		h.start.Config = json.RawMessage("{}")
	}
	h.log = slog.New(&logHandler{w: w, attrs: nil})
	runErr := make(chan error, 1)
	go func() { runErr <- d.Run(ctx, h) }()
	readErr := make(chan error, 1)
	go func() { readErr <- h.serve(ctx, r) }()
	select {
	case err := <-runErr:
		return err
	case err := <-readErr:
		cancel()
		select {
		case <-runErr:
		case <-time.After(2 * time.Second):
		}
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return nil // the node hung up: stop
		}
		return err
	}
}

type host struct {
	start wire.Start
	w     *wire.Writer
	log   *slog.Logger

	mu       sync.Mutex
	handlers map[string]drivers.Func
	calls    map[uint64]context.CancelFunc
}

func (h *host) Device() string       { return h.start.Device }
func (h *host) Config() []byte       { return h.start.Config }
func (h *host) Resources() []string  { return h.start.Resources }
func (h *host) Logger() *slog.Logger { return h.log }

func (h *host) Publish(subject string, data []byte) error {
	return h.w.Write(wire.Msg{Type: wire.TypePublish, Subject: subject, Header: data})
}

func (h *host) PublishFrame(subject string, header, frame []byte) error {
	return h.w.Write(wire.Msg{Type: wire.TypePublish, Subject: subject, Header: header, Data: frame})
}

func (h *host) Handle(fn string, f drivers.Func) {
	h.mu.Lock()
	h.handlers[fn] = f
	h.mu.Unlock()
}

// serve reads the node's messages: calls, cancels, pings.
func (h *host) serve(ctx context.Context, r *wire.Reader) error {
	for {
		m, err := r.Read()
		if err != nil {
			return err
		}
		switch m.Type {
		case wire.TypePing:
			if err := h.w.Write(wire.Msg{Type: wire.TypePong, ID: m.ID}); err != nil {
				return err
			}
		case wire.TypeCall:
			h.call(ctx, m)
		case wire.TypeCancel:
			h.mu.Lock()
			if c := h.calls[m.ID]; c != nil {
				c()
			}
			h.mu.Unlock()
		default:
			return fmt.Errorf("unexpected message type %d from the node", m.Type)
		}
	}
}

func (h *host) call(ctx context.Context, m wire.Msg) {
	h.mu.Lock()
	f := h.handlers[m.Fn]
	var cancel context.CancelFunc
	if m.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, time.Duration(m.Timeout)*time.Millisecond)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	h.calls[m.ID] = cancel
	h.mu.Unlock()
	go func() {
		defer func() {
			h.mu.Lock()
			delete(h.calls, m.ID)
			h.mu.Unlock()
			cancel()
		}()
		res := wire.Msg{Type: wire.TypeResult, ID: m.ID}
		if f == nil {
			res.Status, res.Data = wire.StatusError, []byte(fmt.Sprintf("driver %s has no handler for %s", h.start.Device, m.Fn))
		} else if out, err := f(ctx, m.Data); err != nil {
			res.Status, res.Data = wire.StatusError, []byte(err.Error())
		} else {
			res.Data = out
		}
		_ = h.w.Write(res)
	}()
}

// logHandler sends log records to the node as LOG messages.
type logHandler struct {
	w     *wire.Writer
	attrs []slog.Attr
}

func (l *logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (l *logHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	add := func(a slog.Attr) bool {
		msg += " " + a.Key + "=" + a.Value.String()
		return true
	}
	for _, a := range l.attrs {
		add(a)
	}
	r.Attrs(add)
	lvl := byte(1)
	switch {
	case r.Level >= slog.LevelError:
		lvl = 3
	case r.Level >= slog.LevelWarn:
		lvl = 2
	case r.Level < slog.LevelInfo:
		lvl = 0
	}
	return l.w.Write(wire.Msg{Type: wire.TypeLog, Level: lvl, Data: []byte(msg)})
}

func (l *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{w: l.w, attrs: append(append([]slog.Attr(nil), l.attrs...), as...)}
}

func (l *logHandler) WithGroup(string) slog.Handler { return l }
