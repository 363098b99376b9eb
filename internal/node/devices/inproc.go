package devices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/orbitalfoundation/orbital/drivers"
)

// child is one incarnation of a driver, either form.
type child struct {
	done   chan struct{}
	cancel context.CancelFunc
	kill   func() // out of process: SIGKILL the process group

	mu     sync.Mutex
	failed bool
	reason string
}

func newChild(cancel context.CancelFunc) *child {
	return &child{done: make(chan struct{}), cancel: cancel}
}

func (c *child) Done() <-chan struct{} { return c.done }

func (c *child) Failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

func (c *child) Reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// end records the first reason the incarnation ends for.
func (c *child) end(failed bool, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == "" {
		c.failed, c.reason = failed, reason
	}
}

func (c *child) Stop(cause error) {
	c.end(false, "stopped: "+errString(cause))
	c.cancel()
}

func (c *child) Kill(cause error) {
	c.end(true, "killed: "+errString(cause))
	c.cancel()
	if c.kill != nil {
		c.kill()
	}
}

func errString(err error) string {
	if err == nil {
		return "stopped"
	}
	return err.Error()
}

// startInProcess runs a fresh instance of the registered driver on its
// own goroutine; a panic in it is an ordinary failure.
func (dev *device) startInProcess(ctx context.Context) *child {
	ctx, cancel := context.WithCancel(ctx)
	c := newChild(cancel)
	h := &inHost{dev: dev, c: c, handlers: map[string]drivers.Func{}}
	dev.mu.Lock()
	dev.handlers, dev.owner = h.handlers, c
	dev.mu.Unlock()
	go func() {
		defer close(c.done)
		defer func() {
			dev.mu.Lock()
			if dev.owner == c {
				dev.handlers, dev.owner = nil, nil
			}
			dev.mu.Unlock()
		}()
		defer func() {
			if r := recover(); r != nil {
				dev.log.Error("driver panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				c.end(true, fmt.Sprintf("panicked: %v", r))
			}
		}()
		err := dev.builtin.New().Run(ctx, h)
		switch {
		case ctx.Err() != nil:
			c.end(false, "stopped")
		case err != nil:
			c.end(true, err.Error())
		default:
			c.end(false, "returned")
		}
	}()
	return c
}

// inHost is Host for an in-process driver.
type inHost struct {
	dev      *device
	c        *child
	handlers map[string]drivers.Func // guarded by dev.mu
}

func (h *inHost) Device() string       { return h.dev.name }
func (h *inHost) Config() []byte       { return h.dev.cfg.ConfigJSON }
func (h *inHost) Resources() []string  { return h.dev.resources }
func (h *inHost) Logger() *slog.Logger { return h.dev.log }

func (h *inHost) Publish(subject string, data []byte) error {
	return h.publish(subject, data, nil)
}

func (h *inHost) PublishFrame(subject string, header, frame []byte) error {
	if frame == nil {
		frame = []byte{}
	}
	return h.publish(subject, header, frame)
}

func (h *inHost) publish(subject string, header, frame []byte) error {
	flooded, err := h.dev.publish(subject, header, frame)
	if flooded {
		h.dev.floods.Add(1)
		h.c.Kill(errors.New("flooding: more than a second's worth of messages over its rate within a second; cut off"))
	}
	return err
}

func (h *inHost) Handle(fn string, f drivers.Func) {
	h.dev.mu.Lock()
	h.handlers[fn] = f
	h.dev.mu.Unlock()
}
