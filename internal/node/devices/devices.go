// Package devices runs a node's device drivers ([[driver]] in the node
// config): the in-process ones from the drivers registry, as goroutines
// whose panics are caught, and the out-of-process ones as child OS
// processes confined by rlimits, no_new_privs and (on Linux, where the
// kernel has it) Landlock, speaking drivers/wire on a Unix socket pair.
// Each driver is attached to the kernel as the module of its device
// (orbital.AttachDriver) for as long as the node runs, and supervised on
// its own: a driver that fails, crashes, hangs, floods or speaks garbage
// is counted and restarted (with backoff, within a restart budget) and
// never takes the kernel or another driver down.
package devices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/drivers"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/supervisor"
)

// Options configure Start.
type Options struct {
	Logger *slog.Logger
	// MaxRestarts within Within spend a driver's restart budget; then it
	// stays down until restarted by hand. Zero: 5 within 10s.
	MaxRestarts int
	Within      time.Duration
	// Launcher is the program re-executed as an out-of-process driver's
	// launcher (it must call MaybeLaunch first); default os.Executable.
	Launcher string
}

// Devices are the node's running drivers.
type Devices struct {
	log  *slog.Logger
	devs []*device
}

// Start attaches every configured driver to k and starts it. A driver
// whose manifest or grant is wrong fails Start (nothing is left attached);
// one that fails at run time is restarted.
func Start(k *orbital.Kernel, cfgs []config.Driver, opts Options) (*Devices, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxRestarts == 0 {
		opts.MaxRestarts, opts.Within = 5, 10*time.Second
	}
	if opts.Launcher == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("drivers: the launcher: %w", err)
		}
		opts.Launcher = exe
	}
	d := &Devices{log: opts.Logger}
	for _, c := range cfgs {
		dev, err := newDevice(k, c, opts)
		if err != nil {
			_ = d.Close(context.Background())
			return nil, err
		}
		d.devs = append(d.devs, dev)
	}
	for _, dev := range d.devs {
		if err := dev.sup.Add(supervisor.Spec{Name: dev.name, Start: dev.start, Restart: dev.cfg.Restart, Shutdown: 3 * time.Second}); err != nil {
			_ = d.Close(context.Background())
			return nil, fmt.Errorf("driver %s: %w", dev.name, err)
		}
	}
	return d, nil
}

// Close stops every driver and detaches it from the kernel.
func (d *Devices) Close(ctx context.Context) error {
	if d == nil {
		return nil
	}
	var errs []error
	for _, dev := range d.devs {
		errs = append(errs, dev.sup.Shutdown(ctx))
		dev.drv.Detach()
	}
	return errors.Join(errs...)
}

// Names lists the drivers' device names.
func (d *Devices) Names() []string {
	out := make([]string, len(d.devs))
	for i, dev := range d.devs {
		out[i] = dev.name
	}
	return out
}

func (d *Devices) lookup(name string) *device {
	if d == nil {
		return nil
	}
	for _, dev := range d.devs {
		if dev.name == name {
			return dev
		}
	}
	return nil
}

// Has reports whether name is one of the drivers.
func (d *Devices) Has(name string) bool { return d.lookup(name) != nil }

// Processes lists the drivers as ps shows them (none on a nil Devices:
// a node still starting).
func (d *Devices) Processes() []api.ProcessInfo {
	if d == nil {
		return nil
	}
	out := make([]api.ProcessInfo, 0, len(d.devs))
	for _, dev := range d.devs {
		out = append(out, dev.info())
	}
	return out
}

// Restart restarts driver name now (its budget is not charged).
func (d *Devices) Restart(name string) error {
	dev := d.lookup(name)
	if dev == nil {
		return fmt.Errorf("driver %s: %w", name, api.ErrNotFound)
	}
	return dev.sup.Restart(name)
}

// Kill kills driver name's current incarnation (its supervisor restarts it
// as for a crash).
func (d *Devices) Kill(name string) error {
	dev := d.lookup(name)
	if dev == nil {
		return fmt.Errorf("driver %s: %w", name, api.ErrNotFound)
	}
	for _, c := range dev.sup.Children() {
		if c.Child != nil {
			c.Child.Kill(errors.New("killed by the operator"))
		}
	}
	return nil
}

// device is one configured driver.
type device struct {
	cfg       config.Driver
	name      string
	module    string // name@version
	version   string
	exports   []string
	resources []string
	builtin   *drivers.Info
	k         *orbital.Kernel
	drv       *orbital.Driver
	sup       *supervisor.Supervisor
	log       *slog.Logger
	launcher  string
	lim       *rate.Limiter

	mu        sync.Mutex
	handlers  map[string]drivers.Func // the in-process incarnation's
	owner     *child                  // the incarnation handlers belong to
	link      *link                   // the out-of-process incarnation's connection
	state     api.State
	startedAt time.Time
	endedAt   time.Time
	reason    string
	restarts  int
	flood     struct {
		window time.Time
		drops  int
	}

	published, bytes, dropped, calls, failures, protocol, hangs, floods atomic.Uint64
}

func newDevice(k *orbital.Kernel, c config.Driver, opts Options) (*device, error) {
	dev := &device{cfg: c, k: k, launcher: opts.Launcher, state: api.StateStarting}
	var raw []byte
	var source string
	if c.Builtin != "" {
		info, ok := drivers.Lookup(c.Builtin)
		if !ok {
			var names []string
			for _, i := range drivers.List() {
				names = append(names, i.Name)
			}
			return nil, fmt.Errorf("driver %q: %w: not compiled into this binary (built in: %v)", c.Builtin, api.ErrNotFound, names)
		}
		dev.builtin, raw, source = &info, info.Manifest, "driver "+c.Builtin
	} else {
		path := c.Manifest
		if path == "" {
			path = c.Exec + ".orbital.toml"
			if _, err := os.Stat(path); err != nil {
				path = filepath.Join(filepath.Dir(c.Exec), "orbital.toml")
			}
		}
		var err error
		if raw, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("driver %s: its manifest: %w", c.Exec, err)
		}
		if st, err := os.Stat(c.Exec); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("driver %s: %w: not an executable file", c.Exec, api.ErrNotFound)
		}
		source = path
	}
	m, err := orbital.ParseManifest(raw, source)
	if err != nil {
		return nil, fmt.Errorf("driver: %w", err)
	}
	if m.Kind() != orbital.KindDriver {
		return nil, fmt.Errorf("driver %s: %w: kind is %q, want \"driver\"", source, api.ErrBadManifest, m.Kind())
	}
	dev.name, dev.version = c.Name, m.Version()
	if dev.name == "" {
		dev.name = m.Name()
	}
	dev.module = m.Name() + "@" + m.Version()
	dev.resources = slices.Clone(c.Resources)
	dev.log = opts.Logger.With("process", dev.name, "driver", dev.module)
	for _, r := range m.DriverResources() {
		if !slices.Contains(c.Resources, r) {
			dev.log.Info("driver resource not granted", "resource", r, "grant", "resources = [\""+r+"\"] in its [[driver]]")
		}
	}
	dev.lim = rate.NewLimiter(rate.Limit(c.Rate), max(c.Rate/4, 16))
	var exports []orbital.NativeExport
	for _, e := range m.Exports() {
		fn := e.Name
		dev.exports = append(dev.exports, fn)
		exports = append(exports, orbital.NativeExport{Export: e, Func: func(ctx context.Context, args []byte) ([]byte, error) {
			return dev.call(ctx, fn, args)
		}})
	}
	dev.drv, err = k.AttachDriver(orbital.DriverSpec{Name: dev.name, Version: dev.version, Exports: exports})
	if err != nil {
		return nil, err
	}
	dev.sup = supervisor.New(context.Background(), supervisor.Config{MaxRestarts: opts.MaxRestarts, Within: opts.Within,
		Logger: dev.log, Events: dev.event})
	return dev, nil
}

// event records the supervisor's news about the driver.
func (dev *device) event(ev supervisor.Event) {
	dev.mu.Lock()
	defer dev.mu.Unlock()
	switch ev.Kind {
	case supervisor.EventStarted, supervisor.EventRestarted:
		dev.state, dev.startedAt, dev.restarts = api.StateRunning, ev.Time, ev.Restarts
		dev.endedAt = time.Time{}
	case supervisor.EventCrashed:
		dev.state, dev.reason, dev.endedAt = api.StateCrashed, ev.Reason, ev.Time
		dev.log.Warn("driver crashed", "reason", ev.Reason, "restarts", ev.Restarts)
	case supervisor.EventExited:
		dev.state, dev.reason, dev.endedAt = api.StateExited, ev.Reason, ev.Time
	case supervisor.EventStopped:
		dev.state, dev.reason, dev.endedAt = api.StateStopped, ev.Reason, ev.Time
	case supervisor.EventGaveUp:
		dev.state, dev.reason = api.StateCrashed, "gave up restarting: "+ev.Reason
		dev.log.Error("driver given up", "reason", ev.Reason)
	}
}

func (dev *device) info() api.ProcessInfo {
	dev.mu.Lock()
	defer dev.mu.Unlock()
	mode := "in-process"
	pid := 0
	if dev.builtin == nil {
		mode = "process"
		if dev.link != nil {
			pid = dev.link.pid
		}
	}
	st := &api.DriverStats{Device: dev.name, Mode: mode, PID: pid, Exports: dev.exports, Resources: dev.resources,
		Published: dev.published.Load(), Bytes: dev.bytes.Load(), Dropped: dev.dropped.Load(), Calls: dev.calls.Load(),
		Failures: dev.failures.Load(), Protocol: dev.protocol.Load(), Hangs: dev.hangs.Load(), Floods: dev.floods.Load(),
		BlobBytes: dev.drv.BlobBytes()}
	if mode == "process" {
		st.Sandbox, _ = sandbox()
	}
	return api.ProcessInfo{Name: dev.name, Module: dev.module, State: dev.state, Reason: dev.reason,
		StartedAt: dev.startedAt, EndedAt: dev.endedAt, Restarts: dev.restarts, Driver: st}
}

// errNotRunning fails calls while the driver is down.
func (dev *device) errNotRunning() error {
	return fmt.Errorf("driver %s is not running: %w", dev.name, api.ErrClosed)
}

// call serves a call of fn by the current incarnation.
func (dev *device) call(ctx context.Context, fn string, args []byte) ([]byte, error) {
	dev.calls.Add(1)
	dev.mu.Lock()
	h, l := dev.handlers[fn], dev.link
	dev.mu.Unlock()
	var out []byte
	var err error
	switch {
	case dev.builtin != nil && h != nil:
		out, err = safeCall(ctx, h, args)
	case dev.builtin != nil && dev.handlers != nil:
		err = fmt.Errorf("driver %s serves no %s yet", dev.name, fn)
	case l != nil:
		out, err = l.call(ctx, fn, args)
	default:
		err = dev.errNotRunning()
	}
	if err != nil {
		dev.failures.Add(1)
	}
	return out, err
}

// safeCall runs an in-process handler, turning a panic into an error.
func safeCall(ctx context.Context, f drivers.Func, args []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("driver panicked: %v", r)
		}
	}()
	return f(ctx, args)
}

// errFlood is returned to a driver publishing over its rate.
var errFlood = fmt.Errorf("%w: over the driver's message rate", api.ErrLimit)

// publish publishes for the driver, within its rate. flooded is set when
// the driver has dropped more than a second's worth of messages within
// one second: its incarnation is cut off.
func (dev *device) publish(subject string, header, frame []byte) (flooded bool, err error) {
	if !dev.lim.Allow() {
		dev.dropped.Add(1)
		dev.mu.Lock()
		now := time.Now()
		if now.Sub(dev.flood.window) > time.Second {
			dev.flood.window, dev.flood.drops = now, 0
		}
		dev.flood.drops++
		flooded = dev.flood.drops > dev.cfg.Rate
		dev.mu.Unlock()
		return flooded, errFlood
	}
	dev.published.Add(1)
	dev.bytes.Add(uint64(len(header) + len(frame)))
	if frame == nil {
		return false, dev.drv.Conn().Publish(subject, header)
	}
	return false, dev.drv.PublishFrame(subject, header, frame)
}

// start starts one incarnation.
func (dev *device) start(ctx context.Context) (supervisor.Child, error) {
	if dev.builtin != nil {
		return dev.startInProcess(ctx), nil
	}
	return dev.startProcess(ctx)
}
