// Package node composes a long-running Orbital node (`orbital up`) from
// its parts, each in a package with one job:
//
//	orbital (root)    the kernel: modules, processes, bus, libraries
//	node/config       the node config file
//	node/table        the process table: one record per process, its state
//	node/runner       supervision: groups, starts, stops, upgrades, events
//	node/trigger      subject relays, HTTP routes, schedules, first calls
//	node/modules      the installed modules: install, upgrade, remove, previews
//	node/health       the node's health and its $sys events
//	node/screen       the compositor, its displays and $wm. window management
//	node/devices      the device drivers, in-process and child processes
//	cluster           the node in a cluster of nodes over NATS
//	install           the trust gate every package passes
//	registry          the device's installed modules on disk
//
// Start wires them together in one place; Close takes them down in
// reverse. The parts reach the kernel through its public API only. The
// control API (package control) steers a node through the parts it
// exposes: Runner, Bus, Kernel (libraries), Modules and Health.
package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/cluster"
	"github.com/orbitalfoundation/orbital/internal/control"
	"github.com/orbitalfoundation/orbital/internal/fetch"
	"github.com/orbitalfoundation/orbital/internal/install"
	"github.com/orbitalfoundation/orbital/internal/logring"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/node/devices"
	"github.com/orbitalfoundation/orbital/internal/node/health"
	"github.com/orbitalfoundation/orbital/internal/node/modules"
	"github.com/orbitalfoundation/orbital/internal/node/runner"
	"github.com/orbitalfoundation/orbital/internal/node/screen"
	"github.com/orbitalfoundation/orbital/internal/node/table"
	"github.com/orbitalfoundation/orbital/internal/node/trigger"
)

// Node is a running Orbital node.
type Node struct {
	k       *orbital.Kernel
	log     *slog.Logger
	tab     *table.Table
	run     *runner.Runner
	trig    *trigger.Triggers
	mods    *modules.Modules
	bus     *Bus
	cl      *cluster.Cluster // nil for a node alone
	scr     *screen.Screen
	dev     atomic.Pointer[devices.Devices] // set once the drivers started; read by the cluster part before
	comp    *health.Compiles
	started time.Time
}

// Options are Start's optional settings.
type Options struct {
	// Clock drives schedule triggers; default the real clock.
	Clock trigger.Clock
	// Fetch configures the retrieval of packages for the URL-bar install
	// flow (Modules.Preview): TLS roots, an HTTP client. Zero: the system's
	// TLS roots, fetch's default limits. Its Logger is the node's.
	Fetch fetch.Options
	// Progress, if set, is told of every module compile, at boot and later
	// (installs, upgrades): orbital up prints a line per module on a
	// terminal. Modules compile in parallel: it must be safe for concurrent
	// use.
	Progress func(api.CompileEvent)
}

// Start loads every configured module and every installed one, starts
// the processes under supervisors, wires the triggers of the resting ones
// and returns the running node. A configured module that is missing or
// broken stops the node before anything runs; an installed one that
// cannot start is logged and left out. Close stops it.
func Start(ctx context.Context, cfg *config.Config, home string, log *slog.Logger, opts Options) (*Node, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gate := install.NewGate(home)
	if err := gate.Check(); err != nil {
		return nil, err
	}
	// Every record about a process (its output, its guest log lines, the
	// node's records about it) is also kept in that process's log ring.
	logs := logring.New(0, 0)
	log = slog.New(logs.Handler(log.Handler()))
	scr, err := screen.New(cfg.Screen, log)
	if err != nil {
		return nil, err
	}
	k, err := orbital.NewKernel(ctx, orbital.NewConfig().WithHome(home).WithLogger(log).
		WithMaxMessage(cfg.MaxMessage).WithMaxRunning(cfg.MaxRunning).WithScreen(scr.Compositor()))
	if err != nil {
		_ = scr.Close()
		return nil, err
	}
	n := &Node{k: k, log: log, tab: table.NewTable(), started: time.Now(), scr: scr,
		comp: health.NewCompiles(k, log, opts.Progress)}
	var closers []func()
	fail := func(err error) (*Node, error) {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		_ = k.Close(context.Background())
		return nil, err
	}
	ctl, err := k.Connect("orbital", orbital.ConnOptions{})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, ctl.Close)
	closers = append(closers, func() { _ = scr.Close() })
	if err := scr.Serve(k); err != nil {
		return fail(err)
	}
	n.bus = &Bus{k: k, ctl: ctl}
	n.run = runner.New(k, n.tab, cfg, log, logs)
	closers = append(closers, func() { _ = n.run.Close(context.Background()) })
	n.trig = trigger.New(k, ctl, n.run, opts.Clock, cfg.HTTP, log)
	closers = append(closers, func() { n.trig.Close(context.Background()) })

	// Join the cluster before anything runs, so that the bridge sees every
	// subscription from the first.
	if cfg.Cluster != nil {
		n.cl, err = cluster.Start(ctx, k, clusterHost{n}, *cfg.Cluster, log, cluster.Options{})
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { _ = n.cl.Close(context.Background()) })
	}

	// Drivers come before the modules that use them: a device's subjects
	// are its driver's from the first subscription on.
	dev, err := devices.Start(k, cfg.Drivers, devices.Options{Logger: log, MaxRestarts: cfg.MaxRestarts, Within: cfg.Within})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { _ = dev.Close(context.Background()) })
	n.dev.Store(dev) // the cluster part may already be reading it

	// Load (compile) every configured module first, all at once on every
	// core: a missing or broken one stops the node before anything runs.
	var here []config.Process
	for _, pc := range cfg.Processes {
		if cfg.Here(pc) { // else placed on another node
			here = append(here, pc)
		}
	}
	n.comp.CompilePhase()
	mods, err := n.compileConfigured(ctx, cfg, gate, here)
	n.comp.CompileEnd()
	if err != nil {
		return fail(err)
	}
	var configured []*table.Record
	for i, pc := range here {
		rec := table.New(pc, mods[i], "")
		if err := n.run.Prepare(ctx, rec); err != nil {
			return fail(err)
		}
		if err := n.tab.Add(rec); err != nil {
			return fail(fmt.Errorf("process %s: %w", pc.Name, err))
		}
		configured = append(configured, rec)
	}
	// Modules installed in the device's registry join the configured ones
	// (a configured process of the same name wins).
	reg, err := modules.OpenRegistry(ctx, home, log)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { _ = reg.Close() })
	n.mods = modules.New(modules.Options{Kernel: k, Registry: reg, Gate: gate, Table: n.tab, Runner: n.run,
		Triggers: n.trig, Logger: log, Fetch: opts.Fetch, Progress: n.comp.Report})
	n.comp.CompilePhase()
	installed, err := n.mods.Boot(ctx, func(name string) bool { return n.tab.Lookup(name) != nil })
	n.comp.CompileEnd()
	if err != nil {
		return fail(err)
	}
	groups := n.run.Groups(configured)
	for _, rec := range installed {
		groups = append(groups, []*table.Record{rec})
	}
	for _, g := range groups {
		if err := n.run.StartGroup(g); err != nil {
			return fail(err)
		}
	}
	for _, rec := range n.tab.All() {
		tr, ok := rec.Triggered()
		if !ok {
			continue
		}
		w, err := n.trig.Wire(rec.Name(), tr, rec.Library())
		if err != nil {
			return fail(err)
		}
		rec.SetWiring(w, tr)
	}
	n.comp.Booted(time.Since(n.started))
	return n, nil
}

// compileConfigured compiles the modules of the configured processes
// (a signed package is judged by the gate first) on up to GOMAXPROCS
// goroutines at once, the largest first so that the longest compile does
// not start last; processes of the same module share one compile. The
// first process in config order whose module fails is the error.
func (n *Node) compileConfigured(ctx context.Context, cfg *config.Config, gate *install.Gate, procs []config.Process) ([]*orbital.Module, error) {
	paths := make([]string, len(procs))
	sizes := make([]int64, len(procs))
	for i, pc := range procs {
		path, err := cfg.FindModule(pc.Module)
		if err != nil {
			return nil, fmt.Errorf("process %s: %w (did you run `make examples`?)", pc.Name, err)
		}
		paths[i] = path
		if st, err := os.Stat(path); err == nil {
			sizes[i] = st.Size()
		}
	}
	order := make([]int, len(procs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sizes[b], sizes[a]) })

	mods := make([]*orbital.Module, len(procs))
	errs := make([]error, len(procs))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, i := range order {
		g.Go(func() error {
			mods[i], errs[i] = n.loadModule(ctx, gate, paths[i])
			return nil
		})
	}
	_ = g.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("process %s: %w", procs[i].Name, err)
		}
	}
	return mods, nil
}

// loadModule checks and compiles one configured process's module.
func (n *Node) loadModule(ctx context.Context, gate *install.Gate, path string) (*orbital.Module, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := gate.CheckLocal(data); err != nil {
		return nil, err
	}
	return n.k.LoadFileWith(ctx, path, orbital.LoadOptions{Progress: n.comp.Report})
}

// Close stops every process (each gets the grace period), the triggers,
// the registry and the kernel.
func (n *Node) Close(ctx context.Context) error {
	for _, rec := range n.tab.All() {
		if w, _ := rec.Wiring(); w != nil {
			w.Stop()
		}
	}
	n.trig.Close(ctx)
	err := n.run.Close(ctx)
	err = errors.Join(err, n.dev.Load().Close(ctx))
	if n.cl != nil {
		err = errors.Join(err, n.cl.Close(ctx))
	}
	n.bus.ctl.Close()
	err = errors.Join(err, n.mods.Close(), n.k.Close(ctx))
	return errors.Join(err, n.scr.Close())
}

// Screen is the node's screen: its compositor and displays.
func (n *Node) Screen() *screen.Screen { return n.scr }

// Done is closed when the node's supervision tree has ended.
func (n *Node) Done() <-chan struct{} { return n.run.Done() }

// Kernel is the node's kernel (its libraries: Call, Libraries).
func (n *Node) Kernel() *orbital.Kernel { return n.k }

// Runner runs the processes: the process table, start, stop, restart,
// kill, logs.
func (n *Node) Runner() *runner.Runner { return n.run }

// Modules is the installed modules: install, remove, roll back, query,
// the URL-bar previews.
func (n *Node) Modules() *modules.Modules { return n.mods }

// Bus is the node on its own bus, for the operator.
func (n *Node) Bus() *Bus { return n.bus }

// HTTPAddr is the address route triggers are served on, or "".
func (n *Node) HTTPAddr() string { return n.trig.HTTPAddr() }

// Health reports the node's own state.
func (n *Node) Health() api.NodeHealth {
	h := health.Snapshot(n.started, n.procs().Processes(), n.run.GaveUp())
	h.Boot = n.comp.Boot()
	return h
}

// Devices are the node's device drivers.
func (n *Node) Devices() *devices.Devices { return n.dev.Load() }

// procs are the processes and the drivers, as ps lists them.
func (n *Node) procs() processes { return processes{n.run, n.dev.Load()} }

// Backends are the node's parts as the control API steers them.
func (n *Node) Backends() control.Backends {
	b := control.Backends{Node: n, Processes: n.procs(), Bus: n.bus, Libraries: n.k, Modules: n.mods, Screen: n.scr.Compositor()}
	if n.cl != nil {
		b.Cluster = n.cl
	}
	return b
}

// Cluster is the node's cluster membership, nil for a node alone.
func (n *Node) Cluster() *cluster.Cluster { return n.cl }

// clusterHost is the node as its cluster part sees it.
type clusterHost struct{ n *Node }

func (h clusterHost) Health() api.NodeHealth       { return h.n.Health() }
func (h clusterHost) Processes() []api.ProcessInfo { return h.n.procs().Processes() }
func (h clusterHost) Start(name string) error      { return h.n.run.Start(name) }
func (h clusterHost) Stop(name string) error       { return h.n.run.Stop(name) }

var (
	_ control.Node      = (*Node)(nil)
	_ control.Processes = (*runner.Runner)(nil)
	_ control.Bus       = (*Bus)(nil)
	_ control.Libraries = (*orbital.Kernel)(nil)
	_ control.Modules   = (*modules.Modules)(nil)
)

// Bus is the operator's access to the node's bus: the control API's
// publish, send, request and subscribe.
type Bus struct {
	k   *orbital.Kernel
	ctl *orbital.Conn // the node's identity on the bus ("orbital")
}

// Publish publishes data on subject as the node.
func (b *Bus) Publish(subject string, data []byte) error { return b.ctl.Publish(subject, data) }

// Send sends data directly to a process.
func (b *Bus) Send(to string, data []byte) error { return b.ctl.Send(to, data) }

// Request sends a request and waits for the first reply.
func (b *Bus) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	m, err := b.ctl.Request(ctx, subject, data)
	if err != nil {
		return nil, err
	}
	return m.Data, nil
}

// Subscribe delivers messages matching pattern to fn until ctx ends or fn
// fails. Each subscriber gets its own connection, so a slow one drops only
// its own messages.
func (b *Bus) Subscribe(ctx context.Context, pattern string, fn func(api.BusMessage) error) error {
	conn, err := b.k.Connect(fmt.Sprintf("orbital-sub-%d", subID()), orbital.ConnOptions{})
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Subscribe(pattern, ""); err != nil {
		return err
	}
	for {
		m, err := conn.Recv(ctx)
		if err != nil {
			return nil // ctx ended
		}
		if err := fn(api.BusMessage{Subject: m.Subject, From: m.From, Reply: m.Reply, Data: string(m.Data)}); err != nil {
			return err
		}
	}
}

// subIDs numbers the subscribers' connections.
var subIDs atomic.Uint64

func subID() uint64 { return subIDs.Add(1) }

// BusStats returns the bus counters.
func (b *Bus) BusStats() api.BusStats { return b.k.BusStats() }

// processes are the runner's processes and the drivers, steered as one
// list: a name that is a driver's goes to the drivers.
type processes struct {
	*runner.Runner
	dev *devices.Devices
}

// Processes lists the processes, then the drivers.
func (p processes) Processes() []api.ProcessInfo {
	return append(p.Runner.Processes(), p.dev.Processes()...)
}

// Restart restarts a process or a driver.
func (p processes) Restart(name string) error {
	if p.dev.Has(name) {
		return p.dev.Restart(name)
	}
	return p.Runner.Restart(name)
}

// Kill kills a process or a driver's current incarnation.
func (p processes) Kill(name string) error {
	if p.dev.Has(name) {
		return p.dev.Kill(name)
	}
	return p.Runner.Kill(name)
}

// Stop stops a process; a driver runs as long as the node.
func (p processes) Stop(name string) error {
	if p.dev.Has(name) {
		return fmt.Errorf("%s is a driver: it runs as long as the node (restart or kill it): %w", name, api.ErrInvalid)
	}
	return p.Runner.Stop(name)
}

// Start starts a process; a driver is restarted.
func (p processes) Start(name string) error {
	if p.dev.Has(name) {
		return p.dev.Restart(name)
	}
	return p.Runner.Start(name)
}
