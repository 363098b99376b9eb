package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/fetch"
	"github.com/orbitalfoundation/orbital/internal/logring"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	"github.com/orbitalfoundation/orbital/internal/registry"
	"github.com/orbitalfoundation/orbital/internal/supervisor"
)

// Node is a running Orbital node: a kernel, its supervised processes and
// the kernel's own bus endpoint (used by the control API).
type Node struct {
	cfg  *Config
	k    orbital.Kernel
	bus  *bus.Bus
	root *supervisor.Supervisor // holds the groups; never restarts them
	ctl  *bus.Endpoint          // the control API's identity on the bus
	log  *slog.Logger
	logs *logring.Book // the last lines of each process

	mu    sync.Mutex
	procs map[string]*orbital.Process // current incarnation per name
	libs  map[string]*orbital.Library // libraries, by process name
	pools map[string]supervisor.Child // current incarnation of each library
	mods  map[string]*orbital.Module  // by process name
	rest  map[string]*resting         // processes that start on triggers
	clock Clock

	httpLn      net.Listener
	httpSrv     *http.Server
	stopTrigger context.CancelFunc
	triggerCtx  context.Context
	httpMux     *http.ServeMux
	reg         *registry.Registry // the device's installed modules
	home        string
	active      map[string]string                 // installed modules running, by name → version
	trigCancel  map[string]context.CancelFunc     // ends a module's subject and schedule triggers
	routes      map[string]string                 // route pattern → process
	upgrading   map[string]int                    // processes being replaced by another version: 1 handing over, 2 adopting
	installMu   sync.Mutex                        // serializes Install/Remove/Pin on the running node
	groups      map[string]*supervisor.Supervisor // the group supervising each process
	fetchOpts   fetch.Options                     // how PreviewInstall fetches
	started     time.Time                         // when Start was called
	configs     map[string]ProcessConfig          // each process's configuration, by name
	stopped     map[string]bool                   // processes stopped by the operator
	previews    *previews                         // packages fetched for the URL bar, waiting for approval
	gaveUp      map[string]string                 // processes whose group gave up, with why
	order       []string                          // process names in config order
}

// Options are Start's optional settings.
type Options struct {
	// Clock drives schedule triggers; default the real clock.
	Clock Clock
	// Fetch configures the retrieval of packages for the URL-bar install
	// flow (PreviewInstall): TLS roots, an HTTP client. Zero: the system's
	// TLS roots, fetch's default limits. Its Logger is the node's.
	Fetch fetch.Options
}

// Start loads every configured module, starts the processes under a
// supervisor and returns the running node. Close stops it.
func Start(ctx context.Context, cfg *Config, home string, log *slog.Logger) (*Node, error) {
	return StartWith(ctx, cfg, home, log, Options{})
}

// StartWith is Start with options.
func StartWith(ctx context.Context, cfg *Config, home string, log *slog.Logger, opts Options) (*Node, error) {
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Every record about a process (its output, its guest log lines, the
	// node's records about it) is also kept in that process's log ring.
	logs := logring.New(0, 0)
	log = slog.New(logs.Handler(log.Handler()))
	k, err := orbital.NewKernel(ctx, orbital.NewConfig().WithHome(home).WithLogger(log).
		WithMaxMessage(cfg.MaxMessage).WithMaxRunning(cfg.MaxRunning))
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, k: k, bus: orbital.BusOf(k), log: log, logs: logs, procs: map[string]*orbital.Process{},
		libs: map[string]*orbital.Library{}, pools: map[string]supervisor.Child{},
		mods: map[string]*orbital.Module{}, rest: map[string]*resting{}, clock: opts.Clock, home: home,
		trigCancel: map[string]context.CancelFunc{}, routes: map[string]string{}, upgrading: map[string]int{},
		groups: map[string]*supervisor.Supervisor{}, gaveUp: map[string]string{},
		configs: map[string]ProcessConfig{}, stopped: map[string]bool{}, previews: newPreviews(), fetchOpts: opts.Fetch,
		started: time.Now()}
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
		if err := checkLocalPackage(path, home); err != nil {
			return fail(fmt.Errorf("process %s: %w", pc.Name, err))
		}
		m, err := k.LoadFile(ctx, path)
		if err != nil {
			return fail(fmt.Errorf("process %s: %w", pc.Name, err))
		}
		mods[pc.Name] = m
		if err := n.prepare(ctx, pc, m); err != nil {
			return fail(err)
		}
	}
	// Modules installed in the device's registry join the configured ones
	// (a configured process of the same name wins).
	reg, err := OpenRegistry(ctx, home, log)
	if err != nil {
		return fail(err)
	}
	n.reg = reg
	installed, err := n.loadInstalled(ctx, mods)
	if err != nil {
		_ = reg.Close()
		return fail(err)
	}
	// Supervision tree: a root that never restarts anything, holding
	// groups that do. With one-for-one every process is its own group, so a
	// process that spends its restart budget is given up and reported while
	// the rest of the node keeps running. With one-for-all or rest-for-one
	// the processes form one group, as the strategy needs them together.
	n.root = supervisor.New(context.Background(), supervisor.Config{MaxRestarts: 1 << 30, Within: time.Hour})
	var groups [][]ProcessConfig
	if cfg.Strategy == supervisor.OneForOne {
		for _, pc := range cfg.Processes {
			groups = append(groups, []ProcessConfig{pc})
		}
	} else if len(cfg.Processes) > 0 {
		groups = [][]ProcessConfig{cfg.Processes}
	}
	for _, pc := range installed {
		groups = append(groups, []ProcessConfig{pc})
	}
	for _, g := range groups {
		if err := n.startGroup(g, mods); err != nil {
			_ = n.root.Shutdown(context.Background())
			_ = reg.Close()
			return fail(err)
		}
	}
	tctx, cancel := context.WithCancel(context.Background())
	n.triggerCtx = tctx
	n.stopTrigger = cancel
	if err := n.startTriggers(tctx); err != nil {
		cancel()
		_ = n.root.Shutdown(context.Background())
		_ = reg.Close()
		return fail(err)
	}
	return n, nil
}

// prepare registers what a process needs before it can start: its
// triggers, and for a library its registration with the kernel.
func (n *Node) prepare(ctx context.Context, pc ProcessConfig, m *orbital.Module) error {
	n.mu.Lock()
	n.mods[pc.Name] = m
	n.configs[pc.Name] = pc
	delete(n.stopped, pc.Name)
	n.mu.Unlock()
	if tr, ok := triggered(m); ok {
		if err := checkTriggers(pc, tr, m); err != nil {
			return err
		}
		n.mu.Lock()
		n.rest[pc.Name] = &resting{pc: pc, tr: tr}
		n.mu.Unlock()
	}
	if mf := m.Manifest(); mf != nil && mf.Kind == manifest.KindLibrary {
		lib, err := n.k.Provide(ctx, m, orbital.ProvideOptions{Name: pc.Name, Grant: pc.Grant, Config: pc.ConfigJSON, Supervised: true})
		if err != nil {
			return fmt.Errorf("library %s: %w", pc.Name, err)
		}
		n.mu.Lock()
		n.libs[pc.Name] = lib
		n.mu.Unlock()
	}
	return nil
}

// startGroup starts a supervisor for the processes of g under the root.
func (n *Node) startGroup(g []ProcessConfig, mods map[string]*orbital.Module) error {
	name := "group." + g[0].Name
	return n.root.Add(supervisor.Spec{Name: name, Restart: supervisor.Temporary, Shutdown: n.cfg.Grace + time.Second,
		Start: func(ctx context.Context) (supervisor.Child, error) {
			sup := supervisor.New(ctx, supervisor.Config{
				Strategy: n.cfg.Strategy, MaxRestarts: n.cfg.MaxRestarts, Within: n.cfg.Within, Events: n.event,
			})
			for _, pc := range g {
				n.mu.Lock()
				n.groups[pc.Name] = sup
				if !slices.Contains(n.order, pc.Name) {
					n.order = append(n.order, pc.Name)
				}
				_, rests := n.rest[pc.Name]
				n.mu.Unlock()
				if rests { // started by its triggers
					continue
				}
				if err := sup.Add(n.spec(pc, mods[pc.Name])); err != nil {
					_ = sup.Shutdown(context.Background())
					return nil, fmt.Errorf("start %s: %w", pc.Name, err)
				}
			}
			return sup, nil
		}})
}

func (n *Node) spec(pc ProcessConfig, m *orbital.Module) supervisor.Spec {
	if lib := n.libs[pc.Name]; lib != nil {
		return supervisor.Spec{Name: pc.Name, Restart: pc.Restart, Shutdown: n.cfg.Grace,
			Start: func(ctx context.Context) (supervisor.Child, error) {
				ch, err := lib.Start(ctx)
				if err != nil {
					return nil, err
				}
				n.mu.Lock()
				n.pools[pc.Name] = ch
				n.mu.Unlock()
				return ch, nil
			}}
	}
	return supervisor.Spec{
		Name:     pc.Name,
		Restart:  pc.Restart,
		Shutdown: n.cfg.Grace,
		Start: func(ctx context.Context) (supervisor.Child, error) {
			p, err := n.k.Spawn(ctx, m, orbital.SpawnOptions{Name: pc.Name, Grant: pc.Grant, Config: pc.ConfigJSON, Adopt: n.adopting(pc.Name),
				Stdout: logWriter{n.log, pc.Name, "stdout", slog.LevelInfo}, Stderr: logWriter{n.log, pc.Name, "stderr", slog.LevelWarn}})
			if err != nil {
				return nil, err
			}
			n.mu.Lock()
			n.procs[pc.Name] = p
			n.mu.Unlock()
			return child{p: p, grace: n.cfg.Grace, handOver: func() bool { return n.handingOver(pc.Name) }}, nil
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
	if ev.Kind == supervisor.EventGaveUp {
		why := fmt.Sprintf("given up after %d restarts: %s", ev.Restarts, ev.Reason)
		n.mu.Lock()
		n.gaveUp[ev.Child] = why
		lib := n.libs[ev.Child]
		n.mu.Unlock()
		if lib != nil {
			lib.Down(why)
		}
	}
	data, _ := json.Marshal(map[string]any{"kind": ev.Kind, "process": ev.Child, "reason": ev.Reason, "restarts": ev.Restarts, "time": ev.Time})
	name := ev.Child
	if name == "" {
		name = "node"
	}
	_ = n.bus.PublishSys(bus.SysPrefix+"process."+name+"."+ev.Kind, bus.Message{Data: data})
}

// Close stops every process (each gets the grace period), then the kernel.
// Libraries are marked down first, so callers get an error at once instead
// of waiting for a restart that will not come.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	for _, lib := range n.libs {
		lib.Down("the node is shutting down")
	}
	n.mu.Unlock()
	if n.stopTrigger != nil {
		n.stopTrigger()
	}
	n.stopTriggers(ctx)
	defer func() {
		if n.reg != nil {
			_ = n.reg.Close()
		}
	}()
	err := n.root.Shutdown(ctx)
	n.bus.Unregister(n.ctl)
	return errors.Join(err, n.k.Close(ctx))
}

// Done is closed when the node's supervision tree has ended.
func (n *Node) Done() <-chan struct{} { return n.root.Done() }

// GaveUp lists the processes whose restart budget was spent, with why.
func (n *Node) GaveUp() map[string]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]string, len(n.gaveUp))
	for k, v := range n.gaveUp {
		out[k] = v
	}
	return out
}

// group returns the supervisor of a process, or an error naming it.
func (n *Node) group(name string) (*supervisor.Supervisor, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	g, ok := n.groups[name]
	if !ok {
		return nil, fmt.Errorf("process %q: %w", name, api.ErrNotFound)
	}
	return g, nil
}

// Processes lists every configured process (its current or last
// incarnation) with its restart count, in config order.
func (n *Node) Processes() []api.ProcessInfo {
	n.mu.Lock()
	names := append([]string(nil), n.order...)
	n.mu.Unlock()
	children := map[string]supervisor.ChildInfo{}
	seen := map[*supervisor.Supervisor]bool{}
	for _, name := range names {
		g, err := n.group(name)
		if err != nil || seen[g] {
			continue
		}
		seen[g] = true
		for _, ci := range g.Children() {
			children[ci.Name] = ci
		}
	}
	gaveUp := n.GaveUp()
	var out []api.ProcessInfo
	for _, name := range names {
		ci, supervised := children[name]
		n.mu.Lock()
		p := n.procs[name]
		lib := n.libs[name]
		r := n.rest[name]
		mod := n.mods[name]
		stopped := n.stopped[name]
		n.mu.Unlock()
		var info api.ProcessInfo
		switch {
		case stopped && !supervised:
			out = append(out, api.ProcessInfo{Name: name, Module: mod.Label(), State: api.StateStopped, Reason: "stopped by the operator"})
			continue
		case r != nil && !supervised:
			info = api.ProcessInfo{Name: name, Module: mod.Label(), State: api.StateIdle, Reason: "waits for its trigger"}
			out = append(out, info)
			continue
		case lib != nil:
			info = libraryInfo(name, lib, supervised && ci.Running)
		case p != nil:
			info = p.Info()
		case supervised:
			info = api.ProcessInfo{Name: name, State: api.StateStarting}
		default:
			continue // stopped by the operator and never started again
		}
		if why, given := gaveUp[name]; given {
			info.Reason = why
		}
		if supervised {
			info.Restarts = ci.Restarts
			if !ci.Running && info.Reason == "" {
				info.Reason = ci.LastReason
			}
		}
		out = append(out, info)
	}
	return out
}

// libraryInfo describes a library as a process-table row.
func libraryInfo(name string, lib *orbital.Library, running bool) api.ProcessInfo {
	li := lib.Info()
	info := api.ProcessInfo{Name: name, Module: li.Name + "@" + li.Version, State: api.StateRunning,
		Library: &api.LibraryStats{Stateful: li.Stateful, Exports: li.Exports, Instances: li.Instances,
			Busy: li.Busy, Max: li.Max, Calls: li.Calls, Failures: li.Failures}}
	switch {
	case li.State == "down":
		info.State, info.Reason = api.StateCrashed, li.Reason
	case !running || li.State != "running":
		info.State = api.StateStarting
	}
	return info
}

// Call calls lib.fn as the operator (every library allowed).
func (n *Node) Call(ctx context.Context, lib, fn string, args []byte) ([]byte, error) {
	return n.k.Call(ctx, lib, fn, args)
}

// Libraries lists the node's libraries.
func (n *Node) Libraries() []orbital.LibraryInfo { return n.k.Libraries() }

// Stop stops a process without restarting it. A stopped library fails
// its calls at once.
func (n *Node) Stop(name string) error {
	g, err := n.group(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	lib := n.libs[name]
	r := n.rest[name]
	n.mu.Unlock()
	if r != nil { // a triggered process goes back to waiting for its trigger
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.added {
			return nil // idle already
		}
		r.added = false
	}
	if lib != nil {
		lib.Down("stopped by the operator")
	}
	if err := g.Remove(name); err != nil {
		return err
	}
	if r == nil {
		n.mu.Lock()
		n.stopped[name] = true
		n.mu.Unlock()
	}
	return nil
}

// Restart restarts a process (not counted against the restart budget); a
// stopped or idle one is started.
func (n *Node) Restart(name string) error {
	g, err := n.group(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	_, resting := n.rest[name]
	stopped := n.stopped[name]
	n.mu.Unlock()
	if stopped || (resting && !n.running(name)) {
		return n.Start(name)
	}
	return g.Restart(name)
}

// Start starts a process that is not running: one stopped by the
// operator, or one waiting for its trigger (as if it fired). Starting a
// running process is an error wrapping api.ErrExists.
func (n *Node) Start(name string) error {
	g, err := n.group(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	_, resting := n.rest[name]
	pc, m := n.configs[name], n.mods[name]
	n.mu.Unlock()
	select {
	case <-g.Done(): // its group gave up: start a new one
		if r := n.restingOf(name); r != nil {
			r.mu.Lock()
			r.added = false
			r.mu.Unlock()
		}
		if err := n.startGroup([]ProcessConfig{pc}, map[string]*orbital.Module{name: m}); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		n.mu.Lock()
		delete(n.stopped, name)
		delete(n.gaveUp, name)
		n.mu.Unlock()
		n.log.Info("started by the operator", logring.ProcessKey, name)
		if resting {
			_, err := n.fire(name)
			return err
		}
		return nil
	default:
	}
	switch {
	case resting:
		started, err := n.fire(name)
		if err == nil && !started {
			err = fmt.Errorf("start %s: %w: it is running", name, api.ErrExists)
		}
		return err
	case n.running(name):
		return fmt.Errorf("start %s: %w: it is running (restart it instead)", name, api.ErrExists)
	}
	// Stopped (removed from its group), a temporary process that ended
	// (dropped by its group) or a transient one that exited (still
	// listed): start it again.
	listed := slices.ContainsFunc(g.Children(), func(c supervisor.ChildInfo) bool { return c.Name == name })
	if listed {
		err = g.Restart(name)
	} else {
		err = g.Add(n.spec(pc, m))
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	n.mu.Lock()
	delete(n.stopped, name)
	delete(n.gaveUp, name)
	n.mu.Unlock()
	n.log.Info("started by the operator", logring.ProcessKey, name)
	return nil
}

func (n *Node) restingOf(name string) *resting {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rest[name]
}

// Logs returns up to limit of the lines process name logged after
// sequence number after (limit ≤ 0: all kept), and the sequence number to
// ask after next time. Errors wrap api.ErrNotFound for an unknown process.
func (n *Node) Logs(name string, after uint64, limit int) ([]logring.Line, uint64, error) {
	lines, next, ok := n.logs.Since(name, after, limit)
	if !ok {
		n.mu.Lock()
		_, known := n.configs[name]
		n.mu.Unlock()
		if !known {
			return nil, after, fmt.Errorf("logs of %q: %w", name, api.ErrNotFound)
		}
	}
	return lines, next, nil
}

// LogsChanged returns a channel closed when any process logs a new line.
func (n *Node) LogsChanged() <-chan struct{} { return n.logs.Changed() }

// Kill kills a process's current incarnation; its supervisor restarts it
// according to its restart policy.
func (n *Node) Kill(name string) error {
	n.mu.Lock()
	p := n.procs[name]
	pool := n.pools[name]
	n.mu.Unlock()
	switch {
	case p != nil:
		p.Kill(errors.New("killed by operator"))
	case pool != nil:
		pool.Kill(errors.New("killed by operator"))
	default:
		return fmt.Errorf("kill %s: %w", name, api.ErrNotFound)
	}
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
	p        *orbital.Process
	grace    time.Duration
	handOver func() bool // stop by handing the bus connection to the next version
}

func (c child) Done() <-chan struct{} { return c.p.Done() }
func (c child) Failed() bool          { return c.p.Failed() }
func (c child) Reason() string        { return c.p.Reason() }
func (c child) Stop(cause error) {
	if c.handOver != nil && c.handOver() {
		c.p.HandOver(cause, c.grace)
		return
	}
	c.p.Stop(cause, c.grace)
}
func (c child) Kill(cause error) { c.p.Kill(cause) }

var _ supervisor.Child = child{}

// logWriter turns a process's stdout/stderr lines into log records.
type logWriter struct {
	log    *slog.Logger
	name   string
	source string // stdout or stderr
	level  slog.Level
}

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.log.Log(context.Background(), w.level, line, logring.ProcessKey, w.name, logring.SourceKey, w.source)
		}
	}
	return len(p), nil
}
