// Package runner runs the node's processes: it hands the records of the
// process table to supervisors, starts the processes that rest on
// triggers when a trigger fires, carries out the operator's start, stop,
// restart and kill, replaces a module's running version by another
// without losing its messages, and reports every supervisor event.
//
// The supervision tree: a root that never restarts anything holds groups
// that do. With one-for-one every process is its own group, so a process
// that spends its restart budget is given up and reported while the rest
// of the node keeps running; with one-for-all or rest-for-one the
// configured processes form one group, as the strategy needs them
// together. Installed modules always get a group of their own.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/logring"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/node/health"
	"github.com/orbitalfoundation/orbital/internal/node/table"
	"github.com/orbitalfoundation/orbital/internal/node/trigger"
	"github.com/orbitalfoundation/orbital/internal/supervisor"
)

// Runner runs the records of a process table under supervisors.
type Runner struct {
	k      *orbital.Kernel
	tab    *table.Table
	cfg    *config.Config
	log    *slog.Logger
	logs   *logring.Book
	events *health.Events
	root   *supervisor.Supervisor
}

// New returns a runner for the records of tab on kernel k; logs are the
// processes' log rings (forgotten when a process is removed).
func New(k *orbital.Kernel, tab *table.Table, cfg *config.Config, log *slog.Logger, logs *logring.Book) *Runner {
	r := &Runner{k: k, tab: tab, cfg: cfg, log: log, logs: logs, events: health.NewEvents(k, log)}
	r.root = supervisor.New(context.Background(), supervisor.Config{MaxRestarts: 1 << 30, Within: time.Hour})
	return r
}

// Prepare readies a record before its group starts: its triggers are
// checked and a library is registered with the kernel (its instances are
// started by its supervisor, or by its first call).
func (r *Runner) Prepare(ctx context.Context, rec *table.Record) error {
	mod := rec.Module()
	if tr, ok := rec.Triggered(); ok {
		if err := trigger.Check(rec.Name(), tr, mod.Manifest().Listens()); err != nil {
			return err
		}
	}
	if mod.IsLibrary() {
		pc := rec.Config()
		lib, err := r.k.Provide(ctx, mod, orbital.ProvideOptions{Name: pc.Name, Grant: pc.Grant, Config: pc.ConfigJSON, Manual: true})
		if err != nil {
			return fmt.Errorf("library %s: %w", pc.Name, err)
		}
		rec.SetLibrary(lib)
	}
	return nil
}

// Groups splits the configured records into supervision groups by the
// node's strategy: one each for one-for-one, all together otherwise.
func (r *Runner) Groups(recs []*table.Record) [][]*table.Record {
	if len(recs) == 0 {
		return nil
	}
	if r.cfg.Strategy != supervisor.OneForOne {
		return [][]*table.Record{recs}
	}
	var out [][]*table.Record
	for _, rec := range recs {
		out = append(out, []*table.Record{rec})
	}
	return out
}

// StartGroup starts a supervisor for recs under the root. Records that
// start on triggers join the group when their trigger fires.
func (r *Runner) StartGroup(recs []*table.Record) error {
	return r.root.Add(supervisor.Spec{Name: groupName(recs[0].Name()), Restart: supervisor.Temporary, Shutdown: r.cfg.Grace + time.Second,
		Start: func(ctx context.Context) (supervisor.Child, error) {
			sup := supervisor.New(ctx, supervisor.Config{
				Strategy: r.cfg.Strategy, MaxRestarts: r.cfg.MaxRestarts, Within: r.cfg.Within, Events: r.event,
			})
			for _, rec := range recs {
				rec.SetGroup(sup)
				if _, triggered := rec.Triggered(); triggered {
					continue
				}
				if err := sup.Add(r.spec(rec)); err != nil {
					_ = sup.Shutdown(context.Background())
					return nil, fmt.Errorf("start %s: %w", rec.Name(), err)
				}
			}
			return sup, nil
		}})
}

func groupName(name string) string { return "group." + name }

// spec is the supervisor's view of a record: how to start an incarnation.
// It captures the module and configuration of the moment, so that a
// restart runs the same version.
func (r *Runner) spec(rec *table.Record) supervisor.Spec {
	pc, mod := rec.Config(), rec.Module()
	if lib := rec.Library(); lib != nil {
		return supervisor.Spec{Name: pc.Name, Restart: pc.Restart, Shutdown: r.cfg.Grace,
			Start: func(ctx context.Context) (supervisor.Child, error) {
				pool, err := lib.Serve(ctx)
				if err != nil {
					return nil, err
				}
				rec.Started(nil, pool)
				return pool, nil
			}}
	}
	return supervisor.Spec{Name: pc.Name, Restart: pc.Restart, Shutdown: r.cfg.Grace,
		Start: func(ctx context.Context) (supervisor.Child, error) {
			p, err := r.k.Spawn(ctx, mod, orbital.SpawnOptions{Name: pc.Name, Grant: pc.Grant, Config: pc.ConfigJSON,
				Handover: rec.TakeHandover(),
				Stdout:   logWriter{r.log, pc.Name, "stdout", slog.LevelInfo}, Stderr: logWriter{r.log, pc.Name, "stderr", slog.LevelWarn}})
			if err != nil {
				return nil, err
			}
			rec.Started(p, nil)
			return child{p: p, grace: r.cfg.Grace, rec: rec}, nil
		},
	}
}

// event reports a supervisor event; a group that gave up marks the
// process (and fails a library's calls at once).
func (r *Runner) event(ev supervisor.Event) {
	if ev.Kind == supervisor.EventGaveUp {
		why := fmt.Sprintf("given up after %d restarts: %s", ev.Restarts, ev.Reason)
		if rec := r.tab.Lookup(ev.Child); rec != nil {
			rec.SetGaveUp(why)
			if lib := rec.Library(); lib != nil {
				lib.Down(why)
			}
		}
	}
	r.events.Report(ev)
}

// Fire makes sure the triggered process name is running, starting it if
// needed (as a trigger firing does), and reports whether it had to. While
// the process is being replaced by another version it waits for that.
func (r *Runner) Fire(name string) (started bool, err error) {
	rec := r.tab.Lookup(name)
	if rec == nil {
		return false, fmt.Errorf("trigger %s: not a triggered process", name)
	}
	if ch := rec.Replaced(); ch != nil {
		t := time.NewTimer(r.cfg.Grace + 10*time.Second)
		select {
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
	if r.tab.Lookup(name) != rec { // removed while being replaced
		return false, fmt.Errorf("trigger %s: not a triggered process", name)
	}
	tr, triggered := rec.Triggered()
	g := rec.Group()
	if !triggered || g == nil {
		return false, fmt.Errorf("trigger %s: not a triggered process", name)
	}
	rec.Start.Lock()
	defer rec.Start.Unlock()
	rec.Fired()
	if rec.Running() {
		return false, nil
	}
	r.log.Info("trigger fired", "process", name)
	if rec.State() == table.Waiting {
		spec := r.spec(rec)
		if tr.Exit { // runs until it returns; the next trigger starts it again
			spec.Restart = supervisor.Transient
		}
		if err := rec.To(table.Supervised); err != nil {
			return false, err
		}
		return true, g.Add(spec)
	}
	return true, g.Restart(name)
}

// Stop stops a process without restarting it: a triggered one waits for
// its trigger again, any other stays stopped until started. A stopped
// library fails its calls at once.
func (r *Runner) Stop(name string) error {
	rec, g, err := r.record(name)
	if err != nil {
		return err
	}
	_, triggered := rec.Triggered()
	if triggered {
		rec.Start.Lock()
		defer rec.Start.Unlock()
		if rec.State() == table.Waiting {
			return nil // idle already
		}
	}
	if lib := rec.Library(); lib != nil {
		lib.Down("stopped by the operator")
	}
	next := table.Stopped
	if triggered {
		next = table.Waiting
		_ = rec.To(next) // before the removal, as a firing must add it again
	}
	if err := g.Remove(name); err != nil {
		return err
	}
	return rec.To(next)
}

// Restart restarts a process (not counted against its restart budget); a
// stopped or idle one is started.
func (r *Runner) Restart(name string) error {
	rec, g, err := r.record(name)
	if err != nil {
		return err
	}
	_, triggered := rec.Triggered()
	if rec.State() == table.Stopped || (triggered && !rec.Running()) {
		return r.Start(name)
	}
	return g.Restart(name)
}

// Start starts a process that is not running: one stopped by the
// operator, one waiting for its trigger (as if it fired), one whose group
// gave up (in a group of its own), a temporary one that ended or a
// transient one that exited. Starting a running process is an error
// wrapping api.ErrExists.
func (r *Runner) Start(name string) error {
	rec, g, err := r.record(name)
	if err != nil {
		return err
	}
	_, triggered := rec.Triggered()
	select {
	case <-g.Done(): // its group gave up: start a new one
		next := table.Supervised
		if triggered {
			next = table.Waiting
		}
		if err := rec.To(next); err != nil {
			return err
		}
		if err := r.StartGroup([]*table.Record{rec}); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		rec.SetGaveUp("")
		r.log.Info("started by the operator", logring.ProcessKey, name)
		if triggered {
			_, err := r.Fire(name)
			return err
		}
		return nil
	default:
	}
	switch {
	case triggered:
		started, err := r.Fire(name)
		if err == nil && !started {
			err = fmt.Errorf("start %s: %w: it is running", name, api.ErrExists)
		}
		return err
	case rec.Running():
		return fmt.Errorf("start %s: %w: it is running (restart it instead)", name, api.ErrExists)
	}
	// Stopped (removed from its group), a temporary process that ended
	// (dropped by its group) or a transient one that exited (still
	// listed): start it again.
	listed := slices.ContainsFunc(g.Children(), func(c supervisor.ChildInfo) bool { return c.Name == name })
	if err := rec.To(table.Supervised); err != nil {
		return err
	}
	if listed {
		err = g.Restart(name)
	} else {
		err = g.Add(r.spec(rec))
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	rec.SetGaveUp("")
	r.log.Info("started by the operator", logring.ProcessKey, name)
	return nil
}

// Kill kills a process's current incarnation; its supervisor restarts it
// according to its restart policy.
func (r *Runner) Kill(name string) error {
	rec := r.tab.Lookup(name)
	if rec == nil {
		return fmt.Errorf("kill %s: %w", name, api.ErrNotFound)
	}
	switch p, pool := rec.Incarnation(); {
	case p != nil:
		p.Kill(errors.New("killed by operator"))
	case pool != nil:
		pool.Kill(errors.New("killed by operator"))
	default:
		return fmt.Errorf("kill %s: %w", name, api.ErrNotFound)
	}
	return nil
}

// record returns the record of name and its group.
func (r *Runner) record(name string) (*table.Record, *supervisor.Supervisor, error) {
	rec := r.tab.Lookup(name)
	if rec == nil || rec.Group() == nil {
		return nil, nil, fmt.Errorf("process %q: %w", name, api.ErrNotFound)
	}
	return rec, rec.Group(), nil
}

// Replace switches the record's process to another version of its module
// (an upgrade, a rollback): the running version hands its bus connection
// over — messages sent meanwhile queue in its mailbox — and the new one
// takes it, in a group of its own. Triggers wait for the new version.
// Its trigger wiring is the caller's (it knows whether it changed).
func (r *Runner) Replace(ctx context.Context, rec *table.Record, cfg config.Process, mod *orbital.Module, version string) error {
	if err := rec.To(table.Replacing); err != nil {
		return err
	}
	r.stop(rec, "replaced or removed")
	rec.Replace(cfg, mod, version, nil)
	next := table.Supervised
	if _, triggered := rec.Triggered(); triggered {
		next = table.Waiting
	}
	err := r.Prepare(ctx, rec)
	if err == nil {
		err = r.StartGroup([]*table.Record{rec})
	}
	if terr := rec.To(next); err == nil {
		err = terr
	}
	return err
}

// Remove stops a record's process (or library) and forgets it: its table
// entry, its trigger wiring and its log.
func (r *Runner) Remove(rec *table.Record) {
	if w, _ := rec.Wiring(); w != nil {
		w.Stop()
	}
	r.stop(rec, "replaced or removed")
	r.tab.Remove(rec)
	r.logs.Forget(rec.Name())
}

// stop ends a record's group (a process being replaced hands its
// connection over) and withdraws its library.
func (r *Runner) stop(rec *table.Record, why string) {
	if lib := rec.Library(); lib != nil {
		lib.Down(why)
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Grace+time.Second)
		_ = lib.Remove(ctx)
		cancel()
	}
	if rec.Group() != nil {
		_ = r.root.Remove(groupName(rec.Name()))
	}
}

// Processes lists every process (its current or last incarnation) with
// its restart count, in table order.
func (r *Runner) Processes() []api.ProcessInfo {
	recs := r.tab.All()
	children := map[string]supervisor.ChildInfo{}
	seen := map[*supervisor.Supervisor]bool{}
	for _, rec := range recs {
		g := rec.Group()
		if g == nil || seen[g] {
			continue
		}
		seen[g] = true
		for _, ci := range g.Children() {
			children[ci.Name] = ci
		}
	}
	var out []api.ProcessInfo
	for _, rec := range recs {
		name := rec.Name()
		if rec.Group() == nil {
			continue // not started yet
		}
		ci, supervised := children[name]
		_, triggered := rec.Triggered()
		p, _ := rec.Incarnation()
		lib := rec.Library()
		var info api.ProcessInfo
		switch {
		case rec.State() == table.Stopped && !supervised:
			out = append(out, api.ProcessInfo{Name: name, Module: rec.Module().Label(), State: api.StateStopped, Reason: "stopped by the operator"})
			continue
		case triggered && !supervised:
			out = append(out, api.ProcessInfo{Name: name, Module: rec.Module().Label(), State: api.StateIdle, Reason: "waits for its trigger"})
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
		if why := rec.GaveUp(); why != "" {
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
	case li.State == api.LibraryDown:
		info.State, info.Reason = api.StateCrashed, li.Reason
	case !running || li.State != api.LibraryRunning:
		info.State = api.StateStarting
	}
	return info
}

// GaveUp lists the processes whose restart budget was spent, with why.
func (r *Runner) GaveUp() map[string]string {
	out := map[string]string{}
	for _, rec := range r.tab.All() {
		if why := rec.GaveUp(); why != "" {
			out[rec.Name()] = why
		}
	}
	return out
}

// Logs returns up to limit of the lines process name logged after
// sequence number after (limit ≤ 0: all kept), and the sequence number to
// ask after next time. Errors wrap api.ErrNotFound for an unknown process.
func (r *Runner) Logs(name string, after uint64, limit int) ([]api.LogLine, uint64, error) {
	lines, next, ok := r.logs.Since(name, after, limit)
	if !ok && r.tab.Lookup(name) == nil {
		return nil, after, fmt.Errorf("logs of %q: %w", name, api.ErrNotFound)
	}
	return lines, next, nil
}

// LogsChanged returns a channel closed when any process logs a new line.
func (r *Runner) LogsChanged() <-chan struct{} { return r.logs.Changed() }

// Done is closed when the supervision tree has ended.
func (r *Runner) Done() <-chan struct{} { return r.root.Done() }

// Close stops every process (each gets the grace period). Libraries are
// marked down first, so callers get an error at once instead of waiting
// for a restart that will not come.
func (r *Runner) Close(ctx context.Context) error {
	for _, rec := range r.tab.All() {
		if lib := rec.Library(); lib != nil {
			lib.Down("the node is shutting down")
		}
	}
	return r.root.Shutdown(ctx)
}

// child adapts a process to the supervisor's Child interface.
type child struct {
	p     *orbital.Process
	grace time.Duration
	rec   *table.Record
}

func (c child) Done() <-chan struct{} { return c.p.Done() }
func (c child) Failed() bool          { return c.p.Failed() }
func (c child) Reason() string        { return c.p.Reason() }

// Stop stops the process; one being replaced hands its bus connection to
// the next version.
func (c child) Stop(cause error) {
	if c.rec.State() == table.Replacing {
		c.rec.SetHandover(c.p.HandOver(cause, c.grace))
		return
	}
	c.p.Stop(cause, c.grace)
}
func (c child) Kill(cause error) { c.p.Kill(cause) }

var (
	_ supervisor.Child = child{}
	_ supervisor.Child = (*orbital.Pool)(nil)
)

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
