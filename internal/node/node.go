package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/supervisor"
)

// Node is a running Orbital node: a kernel, its supervised processes and
// the kernel's own bus endpoint (used by the control API).
type Node struct {
	cfg    *Config
	k      orbital.Kernel
	bus    *bus.Bus
	sup    *supervisor.Supervisor
	ctl    *bus.Endpoint // the control API's identity on the bus
	log    *slog.Logger
	events chan supervisor.Event

	mu    sync.Mutex
	procs map[string]*orbital.Process // current incarnation per name
}

// Start loads every configured module, starts the processes under a
// supervisor and returns the running node. Close stops it.
func Start(ctx context.Context, cfg *Config, home string, log *slog.Logger) (*Node, error) {
	k, err := orbital.NewKernel(ctx, orbital.NewConfig().WithHome(home).WithLogger(log).
		WithMaxMessage(cfg.MaxMessage).WithMaxRunning(cfg.MaxRunning))
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, k: k, bus: orbital.BusOf(k), log: log, procs: map[string]*orbital.Process{}}
	fail := func(err error) (*Node, error) {
		_ = k.Close(context.Background())
		return nil, err
	}
	n.ctl, err = n.bus.Register("orbital", 0, bus.AllowAll, bus.NewMailbox(bus.MailboxConfig{}))
	if err != nil {
		return fail(err)
	}
	// Load (compile) every module first: a missing or broken one stops the
	// node before anything runs.
	mods := map[string]*orbital.Module{}
	for _, pc := range cfg.Processes {
		path, err := cfg.FindModule(pc.Module)
		if err != nil {
			return fail(fmt.Errorf("process %s: %w (did you run `make examples`?)", pc.Name, err))
		}
		m, err := k.LoadFile(ctx, path)
		if err != nil {
			return fail(fmt.Errorf("process %s: %w", pc.Name, err))
		}
		mods[pc.Name] = m
	}
	n.sup = supervisor.New(context.Background(), supervisor.Config{
		Strategy: cfg.Strategy, MaxRestarts: cfg.MaxRestarts, Within: cfg.Within,
		Events: n.event,
	})
	for _, pc := range cfg.Processes {
		spec := n.spec(pc, mods[pc.Name])
		if err := n.sup.Add(spec); err != nil {
			_ = n.sup.Shutdown(context.Background())
			return fail(fmt.Errorf("start %s: %w", pc.Name, err))
		}
	}
	return n, nil
}

func (n *Node) spec(pc ProcessConfig, m *orbital.Module) supervisor.Spec {
	return supervisor.Spec{
		Name:     pc.Name,
		Restart:  pc.Restart,
		Shutdown: n.cfg.Grace,
		Start: func(ctx context.Context) (supervisor.Child, error) {
			p, err := n.k.Spawn(ctx, m, orbital.SpawnOptions{Name: pc.Name, Grant: pc.Grant,
				Stdout: logWriter{n.log, pc.Name, slog.LevelInfo}, Stderr: logWriter{n.log, pc.Name, slog.LevelWarn}})
			if err != nil {
				return nil, err
			}
			n.mu.Lock()
			n.procs[pc.Name] = p
			n.mu.Unlock()
			return child{p: p, grace: n.cfg.Grace}, nil
		},
	}
}

// event logs a supervisor event and publishes it on $sys.process.NAME.KIND.
func (n *Node) event(ev supervisor.Event) {
	attrs := []any{"process", ev.Child, "restarts", ev.Restarts}
	if ev.Reason != "" {
		attrs = append(attrs, "reason", ev.Reason)
	}
	lv := slog.LevelInfo
	if ev.Kind == supervisor.EventCrashed || ev.Kind == supervisor.EventGaveUp {
		lv = slog.LevelWarn
	}
	n.log.Log(context.Background(), lv, "process "+ev.Kind, attrs...)
	data, _ := json.Marshal(map[string]any{"kind": ev.Kind, "process": ev.Child, "reason": ev.Reason, "restarts": ev.Restarts, "time": ev.Time})
	name := ev.Child
	if name == "" {
		name = "node"
	}
	_ = n.bus.PublishSys(bus.SysPrefix+"process."+name+"."+ev.Kind, bus.Message{Data: data})
}

// Close stops every process (each gets the grace period), then the kernel.
func (n *Node) Close(ctx context.Context) error {
	err := n.sup.Shutdown(ctx)
	n.bus.Unregister(n.ctl)
	return errors.Join(err, n.k.Close(ctx))
}

// Done is closed if the supervisor gives up (restart budget spent).
func (n *Node) Done() <-chan struct{} { return n.sup.Done() }

// Processes lists the current incarnation of every supervised process, with
// its restart count, followed by other live processes.
func (n *Node) Processes() []api.ProcessInfo {
	var out []api.ProcessInfo
	for _, ci := range n.sup.Children() {
		n.mu.Lock()
		p := n.procs[ci.Name]
		n.mu.Unlock()
		if p == nil {
			out = append(out, api.ProcessInfo{Name: ci.Name, State: api.StateStarting, Reason: ci.LastReason, Restarts: ci.Restarts})
			continue
		}
		info := p.Info()
		info.Restarts = ci.Restarts
		if !ci.Running && info.Reason == "" {
			info.Reason = ci.LastReason
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Stop stops a process without restarting it.
func (n *Node) Stop(name string) error { return n.sup.Remove(name) }

// Restart restarts a process (not counted against the restart budget).
func (n *Node) Restart(name string) error { return n.sup.Restart(name) }

// Kill kills a process's current incarnation; its supervisor restarts it
// according to its restart policy.
func (n *Node) Kill(name string) error {
	n.mu.Lock()
	p := n.procs[name]
	n.mu.Unlock()
	if p == nil {
		return fmt.Errorf("kill %s: %w", name, api.ErrNotFound)
	}
	p.Kill(errors.New("killed by operator"))
	return nil
}

// Publish publishes data on subject as the node.
func (n *Node) Publish(subject string, data []byte) error {
	return n.ctl.Publish(subject, bus.Message{Data: data})
}

// Send sends data directly to a process.
func (n *Node) Send(to string, data []byte) error {
	return n.ctl.Send(to, bus.Message{Data: data})
}

// Request sends a request and waits for the first reply.
func (n *Node) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	m, err := n.ctl.Request(ctx, subject, data)
	if err != nil {
		return nil, err
	}
	if m.Blob != nil {
		_ = m.Blob.Release()
	}
	return m.Data, nil
}

// Subscribe delivers messages matching pattern to fn until ctx ends. Each
// subscriber gets its own bus endpoint, so slow subscribers only drop their
// own messages.
func (n *Node) Subscribe(ctx context.Context, pattern string, fn func(bus.Message) error) error {
	mb := bus.NewMailbox(bus.MailboxConfig{Capacity: 1024, Overflow: bus.DropOldest})
	ep, err := n.bus.Register(fmt.Sprintf("orbital-sub-%d", time.Now().UnixNano()), uint64(time.Now().UnixNano()), bus.AllowAll, mb)
	if err != nil {
		return err
	}
	defer n.bus.Unregister(ep)
	defer mb.Close()
	if _, err := ep.Subscribe(pattern, ""); err != nil {
		return err
	}
	for {
		m, err := mb.Recv(ctx)
		if err != nil {
			return nil // ctx ended
		}
		err = fn(m)
		if m.Blob != nil {
			_ = m.Blob.Release()
		}
		if err != nil {
			return err
		}
	}
}

// BusStats returns the bus counters.
func (n *Node) BusStats() bus.Stats { return n.bus.Stats() }

// child adapts a process to the supervisor's Child interface.
type child struct {
	p     *orbital.Process
	grace time.Duration
}

func (c child) Done() <-chan struct{} { return c.p.Done() }
func (c child) Failed() bool          { return c.p.Failed() }
func (c child) Reason() string        { return c.p.Reason() }
func (c child) Stop(cause error)      { c.p.Stop(cause, c.grace) }
func (c child) Kill(cause error)      { c.p.Kill(cause) }

var _ supervisor.Child = child{}

// logWriter turns a process's stdout/stderr lines into log records.
type logWriter struct {
	log   *slog.Logger
	name  string
	level slog.Level
}

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.log.Log(context.Background(), w.level, line, "process", w.name)
		}
	}
	return len(p), nil
}
