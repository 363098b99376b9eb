// Package table is the node's process table: one Record per process name
// — configured in the node config or installed in the registry — holding
// everything the node knows about it, and a typed life-cycle state that
// changes only along the transitions the node allows.
//
// The node's state is the intent ("this process waits for its trigger",
// "the operator stopped it"); what the process itself is doing right now
// (running, restarting, crashed) is its supervisor's and its incarnation's
// business, read when a snapshot is taken.
//
// Locking: Table.mu guards the name → record map and the order; each
// Record.mu guards that record's fields. Neither is held while calling out
// of this package, and Table.mu is never taken while holding a Record.mu.
package table

import (
	"fmt"
	"slices"
	"sync"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/supervisor"
)

// State is the node's intent for a process.
type State uint8

const (
	// Waiting: it starts on triggers and no trigger has handed it to its
	// supervisor yet (or the operator stopped it: it waits again).
	Waiting State = iota
	// Supervised: it is in its group; the supervisor keeps it running (or
	// lets it end) according to its restart policy.
	Supervised
	// Stopped: the operator stopped it; nothing starts it but the operator.
	Stopped
	// Replacing: another version of its module is taking over (an upgrade
	// or a rollback); triggers wait for the new version (Record.Replaced).
	Replacing
)

func (s State) String() string {
	switch s {
	case Waiting:
		return "waiting"
	case Supervised:
		return "supervised"
	case Stopped:
		return "stopped"
	case Replacing:
		return "replacing"
	}
	return fmt.Sprintf("State(%d)", s)
}

// allowed lists the transitions: from → the states it may go to.
var allowed = map[State][]State{
	Waiting:    {Supervised, Replacing},
	Supervised: {Waiting, Stopped, Replacing, Supervised},
	Stopped:    {Supervised, Replacing},
	Replacing:  {Waiting, Supervised},
}

// Wiring is what a process's triggers are wired with (package trigger);
// Stop unwires them and returns once nothing fires any more.
type Wiring interface{ Stop() }

// Record is one process of the node.
type Record struct {
	name string

	// Start serializes the starts of a triggered process: a trigger firing
	// while another one starts it waits, then finds it running.
	Start sync.Mutex

	mu       sync.Mutex
	state    State
	cfg      config.Process
	mod      *orbital.Module
	tr       orbital.Triggers // mod's triggers, when it starts on them
	trig     bool             // it starts on triggers, not at boot
	version  string           // the installed version it runs; "" for a configured process
	lib      *orbital.Library // set for a library
	group    *supervisor.Supervisor
	proc     *orbital.Process // current incarnation of a process
	pool     *orbital.Pool    // current incarnation of a library
	gaveUp   string           // why its group gave up; "" if it did not
	handover *orbital.Handover
	replaced chan struct{} // closed when it leaves Replacing
	wiring   Wiring
	wired    orbital.Triggers // what wiring was made for
	firings  uint64
}

// New returns the record of a process that runs mod with cfg; version is
// the installed version ("" for a configured process). A module with
// triggers (and without boot = true) starts Waiting, any other Supervised.
func New(cfg config.Process, mod *orbital.Module, version string) *Record {
	r := &Record{name: cfg.Name, cfg: cfg, mod: mod, version: version, state: Supervised}
	r.tr, r.trig = Triggered(mod)
	if r.trig {
		r.state = Waiting
	}
	return r
}

// Triggered returns the triggers of a module that starts on them rather
// than at boot.
func Triggered(m *orbital.Module) (orbital.Triggers, bool) {
	mf := m.Manifest()
	if mf == nil || mf.Triggers().AtBoot() {
		return orbital.Triggers{}, false
	}
	return mf.Triggers(), true
}

// Name is the process name.
func (r *Record) Name() string { return r.name }

// State returns the node's intent for the process.
func (r *Record) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// To moves the record to state s, or errs (api.ErrInvalid) if the node
// does not allow that transition.
func (r *Record) To(s State) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.toLocked(s)
}

func (r *Record) toLocked(s State) error {
	if s == r.state {
		return nil
	}
	if !slices.Contains(allowed[r.state], s) {
		return fmt.Errorf("process %s: %w: cannot go from %s to %s", r.name, api.ErrInvalid, r.state, s)
	}
	if r.state == Replacing && r.replaced != nil {
		close(r.replaced)
		r.replaced = nil
	}
	if s == Replacing {
		r.replaced = make(chan struct{})
	}
	r.state = s
	return nil
}

// Replaced returns a channel closed when the record leaves Replacing, or
// nil when it is not being replaced.
func (r *Record) Replaced() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != Replacing {
		return nil
	}
	return r.replaced
}

// Triggered reports whether the process starts on triggers, and which.
func (r *Record) Triggered() (orbital.Triggers, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tr, r.trig
}

// Config returns the process's configuration.
func (r *Record) Config() config.Process {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

// Module returns the module it runs.
func (r *Record) Module() *orbital.Module {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mod
}

// Version is the installed version it runs; "" for a configured process.
func (r *Record) Version() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.version
}

// Installed reports whether the process comes from the registry.
func (r *Record) Installed() bool { return r.Version() != "" }

// Replace points the record at another version of its module (during
// Replacing): its configuration, module and version, and the library it
// provides (nil for a process).
func (r *Record) Replace(cfg config.Process, mod *orbital.Module, version string, lib *orbital.Library) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg, r.mod, r.version, r.lib = cfg, mod, version, lib
	r.tr, r.trig = Triggered(mod)
	r.proc, r.pool, r.gaveUp = nil, nil, ""
}

// Library returns the library it provides, or nil for a process.
func (r *Record) Library() *orbital.Library {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lib
}

// SetLibrary records the library it provides.
func (r *Record) SetLibrary(l *orbital.Library) {
	r.mu.Lock()
	r.lib = l
	r.mu.Unlock()
}

// Group returns its supervisor, or nil before its group started.
func (r *Record) Group() *supervisor.Supervisor {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.group
}

// SetGroup records its supervisor.
func (r *Record) SetGroup(g *supervisor.Supervisor) {
	r.mu.Lock()
	r.group = g
	r.mu.Unlock()
}

// Incarnation is the process or library pool running now, or nils.
func (r *Record) Incarnation() (*orbital.Process, *orbital.Pool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc, r.pool
}

// Started records a new incarnation (a process or a library pool).
func (r *Record) Started(p *orbital.Process, pool *orbital.Pool) {
	r.mu.Lock()
	r.proc, r.pool = p, pool
	r.mu.Unlock()
}

// Running reports whether its incarnation is alive.
func (r *Record) Running() bool {
	p, pool := r.Incarnation()
	var done <-chan struct{}
	switch {
	case p != nil:
		done = p.Done()
	case pool != nil:
		done = pool.Done()
	default:
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// GaveUp returns why its group gave up, or "".
func (r *Record) GaveUp() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gaveUp
}

// SetGaveUp records why its group gave up ("" clears it).
func (r *Record) SetGaveUp(why string) {
	r.mu.Lock()
	r.gaveUp = why
	r.mu.Unlock()
}

// SetHandover keeps the predecessor's bus connection for the next
// incarnation (during Replacing).
func (r *Record) SetHandover(h *orbital.Handover) {
	r.mu.Lock()
	r.handover = h
	r.mu.Unlock()
}

// TakeHandover returns the kept connection, once.
func (r *Record) TakeHandover() *orbital.Handover {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.handover
	r.handover = nil
	return h
}

// Wiring returns its trigger wiring and the triggers it was made for.
func (r *Record) Wiring() (Wiring, orbital.Triggers) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wiring, r.wired
}

// SetWiring records its trigger wiring; the previous one is returned for
// the caller to stop.
func (r *Record) SetWiring(w Wiring, tr orbital.Triggers) Wiring {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.wiring
	r.wiring, r.wired = w, tr
	return old
}

// Fired counts a trigger firing.
func (r *Record) Fired() {
	r.mu.Lock()
	r.firings++
	r.mu.Unlock()
}

// Firings is how often its triggers fired.
func (r *Record) Firings() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firings
}

// Table is the set of records, in the order they were added.
type Table struct {
	mu     sync.Mutex
	byName map[string]*Record
	order  []*Record
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{byName: map[string]*Record{}} }

// Add adds r; a name that is taken is an error wrapping api.ErrExists.
func (t *Table) Add(r *Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, taken := t.byName[r.name]; taken {
		return fmt.Errorf("process %q: %w", r.name, api.ErrExists)
	}
	t.byName[r.name] = r
	t.order = append(t.order, r)
	return nil
}

// Get returns the record of name, or an error wrapping api.ErrNotFound.
func (t *Table) Get(name string) (*Record, error) {
	if r := t.Lookup(name); r != nil {
		return r, nil
	}
	return nil, fmt.Errorf("process %q: %w", name, api.ErrNotFound)
}

// Lookup returns the record of name, or nil.
func (t *Table) Lookup(name string) *Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byName[name]
}

// Remove forgets r (if it is still the record of its name).
func (t *Table) Remove(r *Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byName[r.name] != r {
		return
	}
	delete(t.byName, r.name)
	t.order = slices.DeleteFunc(t.order, func(o *Record) bool { return o == r })
}

// All returns every record in the order they were added.
func (t *Table) All() []*Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.order)
}
