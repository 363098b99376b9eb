// Package supervisor detects, isolates and recovers from faults of the
// things the kernel runs. It knows nothing about wasm: it supervises Child
// values (a wasm process, a native driver, another Supervisor) that a
// Spec's Start function creates, and restarts them with Erlang/OTP
// semantics:
//
//   - Strategies: OneForOne restarts only the child that ended; OneForAll
//     stops every other live child (in reverse order) and restarts them all
//     (in order); RestForOne does that for the child that ended and the
//     children added after it.
//   - Restart policies: Permanent children are always restarted, Transient
//     ones only when they failed, Temporary ones never (and are removed from
//     the supervisor once they end, even when a sibling's failure ended them).
//   - A restart budget: more than MaxRestarts automatic restarts within
//     Within and the supervisor gives up: it reports a gave_up event, stops
//     every child and ends with Failed() true. A crash loop therefore costs
//     at most MaxRestarts+1 starts per window.
//   - Backoff: an automatic restart waits Backoff(attempt), attempt being
//     the child's consecutive automatic restarts; a child that ran for
//     StableAfter without ending starts again from attempt 1. The wait is a
//     timer in the event loop, never a sleep: requests are served meanwhile.
//
// Start errors. Add returns Start's error and adds nothing: there is no
// child to supervise and the caller decides. When Start fails while
// restarting (automatically, or through Restart), it counts as a crash of
// that child: a crashed event with reason "start failed: …", then the usual
// decision for its policy — another restart after a longer backoff, charged
// to the budget, so a child that can never start again makes the supervisor
// give up instead of looping. A panicking Start is a Start error.
//
// Concurrency. Each Supervisor runs one goroutine, its event loop, which
// owns all child state. It selects over requests (Add, Remove, Restart),
// child exits (fan-in: one small watcher goroutine per running incarnation,
// blocked on that Child's Done and gone once it has reported or the
// supervisor has ended), one restart timer (armed for the earliest pending
// restart), and stop/kill signals. The loop calls Start, Stop, Kill and the
// Events callback itself, holding no lock. Children and Monitor never wait
// for the loop: Children reads a snapshot the loop publishes atomically, and
// monitors are a small mutex-guarded registry whose only work under the lock
// is non-blocking channel sends.
//
// Because the loop calls them, Start, the Child methods and Events must not
// call the blocking methods of the same Supervisor (Add, Remove, Restart,
// Shutdown) — that would deadlock — and should return promptly: while Start
// runs, or while a stopping child uses its grace period, requests wait.
// Stop, Kill, Children, Monitor, Done, Failed, Reason and GaveUp are always
// safe to call.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

// Child is one running incarnation of a supervised thing (a wasm process, a
// native driver, a nested Supervisor). Its methods must be safe for
// concurrent use; Stop and Kill must not block and may be called after the
// child has ended.
type Child interface {
	// Done is closed when the incarnation has ended.
	Done() <-chan struct{}
	// Failed is valid after Done: true if it crashed or was killed
	// abnormally, false for a normal exit.
	Failed() bool
	// Reason says why it ended, for events and logs.
	Reason() string
	// Stop asks it to stop gracefully. The supervisor waits for Done up to
	// the Spec's Shutdown grace, then calls Kill.
	Stop(cause error)
	// Kill ends it now.
	Kill(cause error)
}

var _ Child = (*Supervisor)(nil)

// Restart says when a child that ended is started again.
type Restart int

const (
	Permanent Restart = iota // always restarted
	Transient                // restarted only if it Failed
	Temporary                // never restarted; removed once it ends
)

func (r Restart) String() string {
	switch r {
	case Permanent:
		return "permanent"
	case Transient:
		return "transient"
	case Temporary:
		return "temporary"
	}
	return fmt.Sprintf("Restart(%d)", int(r))
}

// Strategy says which children are restarted when one of them has to be.
// Children are ordered as they were added.
type Strategy int

const (
	OneForOne  Strategy = iota // only the child that ended
	OneForAll                  // every live child
	RestForOne                 // the child that ended and the live ones added after it
)

func (s Strategy) String() string {
	switch s {
	case OneForOne:
		return "one_for_one"
	case OneForAll:
		return "one_for_all"
	case RestForOne:
		return "rest_for_one"
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// Defaults.
const (
	DefaultMaxRestarts = 3
	DefaultWithin      = 5 * time.Second
	// DefaultShutdown is the grace period when Spec.Shutdown is 0.
	DefaultShutdown = 5 * time.Second
	// BrutalKill as Spec.Shutdown kills the child without asking it to stop.
	BrutalKill time.Duration = -1
	// KillWait is how long the supervisor waits for Done after Kill. A child
	// still running then is abandoned (logged, reported as stopped with
	// Failed) so that one stuck child cannot wedge the supervisor.
	KillWait = 5 * time.Second
	// MonitorBuffer is the capacity of a Monitor channel. When a slow reader
	// lets it fill up, the oldest notice is dropped and counted in
	// Down.Missed; the supervisor never blocks on a monitor.
	MonitorBuffer = 16
)

// Spec describes one supervised child.
type Spec struct {
	// Name is unique within the supervisor.
	Name string
	// Start starts one incarnation. It is called on the supervisor's
	// goroutine and must return promptly. ctx is the incarnation's lifetime:
	// it is canceled once the incarnation has ended (or been abandoned), and
	// when the supervisor's own context is. A panic counts as an error.
	Start func(ctx context.Context) (Child, error)
	// Restart is the restart policy; the zero value is Permanent.
	Restart Restart
	// Shutdown is the grace period between Stop and Kill: 0 means
	// DefaultShutdown, negative (BrutalKill) means Kill at once. A nested
	// Supervisor needs enough to stop its own children.
	Shutdown time.Duration
}

// Config configures a Supervisor. The zero value is usable: one-for-one,
// at most 3 restarts in 5s, DefaultBackoff, the real clock, no events.
type Config struct {
	Strategy Strategy
	// More than MaxRestarts automatic restarts within Within → give up.
	// Both zero means DefaultMaxRestarts within DefaultWithin; Within ≤ 0
	// alone means DefaultWithin; a negative MaxRestarts means 0 (give up on
	// the first restart). Operator restarts (Restart) are not counted.
	MaxRestarts int
	Within      time.Duration
	// StableAfter: a child that ran this long before ending has its backoff
	// attempt count reset. Default: Within.
	StableAfter time.Duration
	// Backoff gives the delay before the attempt'th consecutive automatic
	// restart of a child (attempt ≥ 1). Default: DefaultBackoff.
	Backoff func(attempt int) time.Duration
	// Clock is the time source. Default: RealClock.
	Clock Clock
	// Events receives every event, on the supervisor's goroutine, in order.
	// It must not block and must not call Add, Remove, Restart or Shutdown.
	Events func(Event)
	Logger *slog.Logger
}

// Event kinds.
const (
	EventStarted   = "started"   // Add started the child
	EventExited    = "exited"    // it ended normally by itself
	EventCrashed   = "crashed"   // it failed by itself, or a restart's Start failed
	EventRestarted = "restarted" // started again, automatically or by Restart
	EventStopped   = "stopped"   // the supervisor stopped it (Remove, Restart, a sibling's restart, shutdown)
	EventGaveUp    = "gave_up"   // the restart budget is spent; Child names the child that spent it
)

// Event is one thing that happened to a child.
type Event struct {
	Kind     string
	Child    string
	Reason   string
	Restarts int // how many times the child has been restarted so far
	Time     time.Time
}

// Down tells a monitor that an incarnation of the child Name has ended.
type Down struct {
	Name   string
	Reason string
	Failed bool
	Time   time.Time
	// Missed counts the notices this monitor has dropped so far because its
	// channel was full.
	Missed uint64
}

// ChildInfo is a snapshot of one child.
type ChildInfo struct {
	Name        string
	Restart     Restart
	Running     bool
	Restarts    int       // automatic and operator restarts so far
	LastReason  string    // why the previous incarnation ended
	LastFailed  bool      // whether it failed
	NextRestart time.Time // when a pending automatic restart is due; zero if none
	Child       Child     // the current incarnation; nil when not running
}

// Supervisor supervises an ordered set of children. It is itself a Child,
// so supervisors nest.
type Supervisor struct {
	cfg    Config
	clock  Clock
	log    *slog.Logger
	ctx    context.Context // parent of every incarnation's context
	cancel context.CancelCauseFunc

	reqs  chan request
	exits chan exitMsg
	done  chan struct{} // closed when the loop has ended

	stopOnce, killOnce sync.Once
	stopCh, killCh     chan struct{}
	stopCause          error // written before stopCh is closed
	killCause          error // written before killCh is closed

	snap atomic.Pointer[[]ChildInfo]
	end  atomic.Pointer[endState] // set just before done is closed

	monMu     sync.Mutex
	monitors  map[string]map[*monitor]struct{}
	monClosed bool

	// Owned by the loop goroutine.
	children []*child
	byName   map[string]*child
	recent   []time.Time // automatic restarts inside the budget window, ≤ MaxRestarts
	timer    Timer       // fires at timerDue, the earliest pending restart
	timerDue time.Time
	ending   bool
	endState endState
	endCause error
}

type endState struct {
	failed, gaveUp bool
	reason         string
}

type child struct {
	spec       Spec
	inc        Child // nil when not running
	cancel     context.CancelCauseFunc
	gen        uint64 // incarnation number, to drop stale exit reports
	startedAt  time.Time
	restarts   int
	attempt    int // consecutive automatic restarts, for backoff
	lastReason string
	lastFailed bool
	pending    bool // an automatic restart is due at due
	due        time.Time
	removed    bool
}

type opKind int

const (
	opAdd opKind = iota
	opRemove
	opRestart
)

type request struct {
	op    opKind
	spec  Spec
	name  string
	reply chan error
}

type exitMsg struct {
	c   *child
	gen uint64
}

type monitor struct {
	ch     chan Down
	missed uint64
}

var errChildEnded = errors.New("supervisor: incarnation ended")

// New starts a supervisor with no children. It runs until Stop, Kill or
// Shutdown, until ctx is canceled (its children are then stopped with their
// grace periods as well; their contexts, derived from ctx, are canceled
// too), or until it gives up.
func New(ctx context.Context, cfg Config) *Supervisor {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.MaxRestarts == 0 && cfg.Within == 0:
		cfg.MaxRestarts, cfg.Within = DefaultMaxRestarts, DefaultWithin
	case cfg.Within <= 0:
		cfg.Within = DefaultWithin
	}
	cfg.MaxRestarts = max(cfg.MaxRestarts, 0)
	if cfg.StableAfter <= 0 {
		cfg.StableAfter = cfg.Within
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Strategy < OneForOne || cfg.Strategy > RestForOne {
		cfg.Logger.Warn("supervisor: unknown strategy, using one_for_one", "strategy", int(cfg.Strategy))
		cfg.Strategy = OneForOne
	}
	rctx, cancel := context.WithCancelCause(ctx)
	s := &Supervisor{
		cfg: cfg, clock: cfg.Clock, log: cfg.Logger, ctx: rctx, cancel: cancel,
		reqs: make(chan request), exits: make(chan exitMsg), done: make(chan struct{}),
		stopCh: make(chan struct{}), killCh: make(chan struct{}),
		monitors: make(map[string]map[*monitor]struct{}),
		byName:   make(map[string]*child),
	}
	s.publish()
	go s.run()
	return s
}

// Add starts spec's child now and supervises it. If Start fails the error
// is returned and nothing is added (see the package comment).
func (s *Supervisor) Add(spec Spec) error { return s.call(request{op: opAdd, spec: spec}) }

// Remove stops the named child with its grace period and forgets it; it is
// not restarted and its siblings are not touched.
func (s *Supervisor) Remove(name string) error { return s.call(request{op: opRemove, name: name}) }

// Restart stops the named child (if running) with its grace period and
// starts it again at once, whatever the strategy: only that child. It does
// not count against the restart budget and resets the child's backoff. If
// Start fails the error is returned and the failure is handled as a crash.
func (s *Supervisor) Restart(name string) error { return s.call(request{op: opRestart, name: name}) }

// Shutdown stops every child in reverse order, each with its grace period,
// and ends the supervisor. If ctx ends first the remaining children are
// killed and ctx's error is returned at once; Done reports the end.
// Shutdown of an ended supervisor returns nil.
func (s *Supervisor) Shutdown(ctx context.Context) error {
	s.Stop(errors.New("supervisor shutdown"))
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.Kill(context.Cause(ctx))
		return fmt.Errorf("supervisor: shutdown: %w", ctx.Err())
	}
}

// Stop asks the supervisor to stop its children gracefully and end; it
// returns at once (Child interface). See Shutdown to wait.
func (s *Supervisor) Stop(cause error) {
	s.stopOnce.Do(func() { s.stopCause = cause; close(s.stopCh) })
}

// Kill makes the supervisor kill its children without grace (interrupting
// a graceful stop in progress) and end, with Failed true; it returns at once.
func (s *Supervisor) Kill(cause error) {
	s.killOnce.Do(func() { s.killCause = cause; close(s.killCh) })
}

// Done is closed when the supervisor has ended and all its children have
// been stopped.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Failed reports, after Done, whether the supervisor gave up, was killed or
// panicked (false when it was stopped or its context canceled).
func (s *Supervisor) Failed() bool {
	e := s.end.Load()
	return e != nil && e.failed
}

// GaveUp reports, after Done, whether the supervisor ended because the
// restart budget was spent.
func (s *Supervisor) GaveUp() bool {
	e := s.end.Load()
	return e != nil && e.gaveUp
}

// Reason says why the supervisor ended; "" while it runs.
func (s *Supervisor) Reason() string {
	if e := s.end.Load(); e != nil {
		return e.reason
	}
	return ""
}

// Children returns a snapshot of the children, in order. It never waits
// for the event loop.
func (s *Supervisor) Children() []ChildInfo { return slices.Clone(*s.snap.Load()) }

// Monitor returns a channel that receives a Down each time an incarnation
// of the named child ends (crashes, exits, or is stopped), and a function
// that cancels the monitor and closes the channel. The name need not exist
// yet. Delivery never blocks the supervisor: the channel holds
// MonitorBuffer notices and drops the oldest when full (see Down.Missed).
// The channel is also closed when the supervisor ends. A Start that fails
// sends no Down: nothing was running.
func (s *Supervisor) Monitor(name string) (<-chan Down, func()) {
	m := &monitor{ch: make(chan Down, MonitorBuffer)}
	s.monMu.Lock()
	defer s.monMu.Unlock()
	if s.monClosed {
		close(m.ch)
		return m.ch, func() {}
	}
	set := s.monitors[name]
	if set == nil {
		set = make(map[*monitor]struct{})
		s.monitors[name] = set
	}
	set[m] = struct{}{}
	return m.ch, func() {
		s.monMu.Lock()
		defer s.monMu.Unlock()
		set := s.monitors[name]
		if _, ok := set[m]; !ok {
			return // already canceled, or closed when the supervisor ended
		}
		delete(set, m)
		if len(set) == 0 {
			delete(s.monitors, name)
		}
		close(m.ch)
	}
}

func (s *Supervisor) call(r request) error {
	r.reply = make(chan error, 1)
	select {
	case s.reqs <- r:
	case <-s.done:
		return fmt.Errorf("supervisor: %w", api.ErrClosed)
	}
	return <-r.reply // every accepted request is answered
}

// ---- the event loop ---------------------------------------------------------

func (s *Supervisor) run() {
	defer s.exit()
	for {
		var timerC <-chan time.Time
		if s.timer != nil {
			timerC = s.timer.C()
		}
		select {
		case r := <-s.reqs:
			s.handle(r)
		case m := <-s.exits:
			s.exited(m)
		case <-timerC:
			s.timer = nil
			s.startDue()
		case <-s.stopCh:
			s.endWith(endState{reason: withCause("stopped", s.stopCause)}, s.stopCause)
		case <-s.killCh:
			s.endWith(endState{failed: true, reason: withCause("killed", s.killCause)}, s.killCause)
		case <-s.ctx.Done():
			cause := context.Cause(s.ctx)
			s.endWith(endState{reason: withCause("context ended", cause)}, cause)
		}
		if s.ending {
			s.finish()
			return
		}
		s.rearm()
		s.publish()
	}
}

func withCause(what string, cause error) string {
	if cause == nil {
		return what
	}
	return what + ": " + cause.Error()
}

// endWith records why the supervisor ends; the first reason wins.
func (s *Supervisor) endWith(e endState, cause error) {
	if s.ending {
		return
	}
	if cause == nil {
		cause = errors.New(e.reason)
	}
	s.ending, s.endState, s.endCause = true, e, cause
}

// finish stops every child in reverse order and cancels pending restarts.
func (s *Supervisor) finish() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	for _, c := range s.children {
		c.pending = false
	}
	for i := len(s.children) - 1; i >= 0; i-- {
		if c := s.children[i]; c.inc != nil {
			s.terminate(c, s.endCause)
		}
	}
	if closed(s.killCh) && !s.endState.failed { // killed while stopping gracefully
		s.endState.failed = true
		s.endState.reason = withCause(s.endState.reason+"; then killed", s.killCause)
	}
	s.publish()
	lvl := slog.LevelInfo
	if s.endState.failed {
		lvl = slog.LevelError
	}
	s.log.Log(context.Background(), lvl, "supervisor ended", "reason", s.endState.reason)
}

// exit runs last on the loop goroutine, also after a panic in it: a bug here
// or in a child's methods ends this supervisor (Failed, children killed),
// not the kernel.
func (s *Supervisor) exit() {
	if r := recover(); r != nil {
		reason := fmt.Sprintf("supervisor panic: %v", r)
		s.log.Error("supervisor panic", "panic", r, "stack", string(debug.Stack()))
		s.endState = endState{failed: true, reason: reason, gaveUp: s.endState.gaveUp}
		for _, c := range s.children {
			if c.inc != nil {
				inc := c.inc
				safely(s.log, "Kill", func() { inc.Kill(errors.New(reason)) })
			}
		}
		s.endCause = errors.New(reason)
	}
	s.cancel(s.endCause)
	s.monMu.Lock()
	s.monClosed = true
	for name, set := range s.monitors {
		for m := range set {
			close(m.ch)
		}
		delete(s.monitors, name)
	}
	s.monMu.Unlock()
	e := s.endState
	s.end.Store(&e)
	close(s.done)
}

func (s *Supervisor) handle(r request) {
	var err error
	switch r.op {
	case opAdd:
		err = s.add(r.spec)
	case opRemove:
		err = s.remove(r.name)
	case opRestart:
		err = s.restartNow(r.name)
	}
	s.publish() // so that Children reflects the change when the caller returns
	r.reply <- err
}

func (s *Supervisor) add(spec Spec) error {
	switch {
	case spec.Name == "":
		return fmt.Errorf("supervisor: child without a name: %w", api.ErrInvalid)
	case spec.Start == nil:
		return fmt.Errorf("supervisor: child %q has no Start: %w", spec.Name, api.ErrInvalid)
	case spec.Restart < Permanent || spec.Restart > Temporary:
		return fmt.Errorf("supervisor: child %q: unknown restart policy %d: %w", spec.Name, int(spec.Restart), api.ErrInvalid)
	}
	if _, dup := s.byName[spec.Name]; dup {
		return fmt.Errorf("supervisor: child %q: %w", spec.Name, api.ErrExists)
	}
	if spec.Shutdown == 0 {
		spec.Shutdown = DefaultShutdown
	}
	c := &child{spec: spec}
	if err := s.start(c); err != nil {
		s.log.Warn("child did not start", "child", spec.Name, "err", err)
		return fmt.Errorf("supervisor: start %q: %w", spec.Name, err)
	}
	s.children = append(s.children, c)
	s.byName[spec.Name] = c
	s.emit(EventStarted, c, "")
	return nil
}

func (s *Supervisor) remove(name string) error {
	c, ok := s.byName[name]
	if !ok {
		return fmt.Errorf("supervisor: child %q: %w", name, api.ErrNotFound)
	}
	if c.inc != nil {
		s.terminate(c, fmt.Errorf("supervisor: %q removed", name))
	}
	s.drop(c)
	return nil
}

func (s *Supervisor) restartNow(name string) error {
	c, ok := s.byName[name]
	if !ok {
		return fmt.Errorf("supervisor: child %q: %w", name, api.ErrNotFound)
	}
	if c.inc != nil {
		s.terminate(c, fmt.Errorf("supervisor: %q restarted by operator", name))
	}
	c.pending, c.attempt = false, 0
	if err := s.start(c); err != nil {
		s.startFailed(c, err)
		return fmt.Errorf("supervisor: restart %q: %w", name, err)
	}
	c.restarts++
	s.emit(EventRestarted, c, "operator restart")
	return nil
}

// start starts one incarnation of c.
func (s *Supervisor) start(c *child) error {
	ctx, cancel := context.WithCancelCause(s.ctx)
	inc, err := callStart(c.spec.Start, ctx)
	if err == nil && inc == nil {
		err = errors.New("Start returned no child")
	}
	if err != nil {
		if inc != nil {
			safely(s.log, "Kill", func() { inc.Kill(err) })
		}
		cancel(err)
		return err
	}
	c.gen++
	c.inc, c.cancel, c.startedAt, c.pending = inc, cancel, s.clock.Now(), false
	go s.watch(c, c.gen, inc.Done())
	return nil
}

func callStart(start func(context.Context) (Child, error), ctx context.Context) (c Child, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return start(ctx)
}

// watch is the fan-in: it reports the end of one incarnation to the loop.
func (s *Supervisor) watch(c *child, gen uint64, done <-chan struct{}) {
	select {
	case <-done:
		select {
		case s.exits <- exitMsg{c, gen}:
		case <-s.done:
		}
	case <-s.done:
	}
}

// exited handles an incarnation that ended by itself.
func (s *Supervisor) exited(m exitMsg) {
	c := m.c
	if c.removed || c.inc == nil || m.gen != c.gen {
		return // stale: the supervisor stopped that incarnation itself
	}
	failed, reason := c.inc.Failed(), c.inc.Reason()
	kind := EventExited
	if failed {
		kind = EventCrashed
	}
	s.ended(c, failed, reason, kind, errChildEnded)
	s.decide(c, failed, reason)
}

// ended records the end of c's incarnation and tells events and monitors.
func (s *Supervisor) ended(c *child, failed bool, reason, kind string, cause error) {
	now := s.clock.Now()
	if now.Sub(c.startedAt) >= s.cfg.StableAfter {
		c.attempt = 0
	}
	c.cancel(cause)
	c.inc, c.cancel = nil, nil
	c.lastReason, c.lastFailed = reason, failed
	s.emit(kind, c, reason)
	s.notify(Down{Name: c.spec.Name, Reason: reason, Failed: failed, Time: now})
}

func (s *Supervisor) startFailed(c *child, err error) {
	reason := "start failed: " + err.Error()
	c.lastReason, c.lastFailed = reason, true
	s.emit(EventCrashed, c, reason)
	s.decide(c, true, reason)
}

// decide applies c's restart policy after it ended by itself.
func (s *Supervisor) decide(c *child, failed bool, reason string) {
	switch {
	case c.spec.Restart == Temporary:
		s.drop(c)
	case c.spec.Restart == Transient && !failed:
		// done with its job: stays listed, not running
	default:
		s.restartAfter(c, reason)
	}
}

// restartAfter charges the budget, stops the siblings the strategy names and
// schedules them and c to start again after c's backoff.
func (s *Supervisor) restartAfter(c *child, reason string) {
	if !s.spend(s.clock.Now()) {
		s.giveUp(c, reason)
		return
	}
	c.attempt++
	group := s.affected(c)
	cause := fmt.Errorf("supervisor: restarting because %q ended: %s", c.spec.Name, reason)
	for i := len(group) - 1; i >= 0; i-- {
		if o := group[i]; o != c && o.inc != nil {
			s.terminate(o, cause)
		}
	}
	due := s.clock.Now().Add(max(s.cfg.Backoff(c.attempt), 0))
	for _, o := range group {
		if o != c && o.spec.Restart == Temporary {
			s.drop(o)
			continue
		}
		o.pending, o.due = true, due
	}
}

// affected lists, in order, the children to restart along with c: c and the
// live siblings (running or already waiting to restart) the strategy names.
func (s *Supervisor) affected(c *child) []*child {
	var from int
	switch s.cfg.Strategy {
	case OneForOne:
		return []*child{c}
	case RestForOne:
		from = slices.Index(s.children, c)
	}
	var group []*child
	for _, o := range s.children[from:] {
		if o == c || o.inc != nil || o.pending {
			group = append(group, o)
		}
	}
	return group
}

// spend charges one automatic restart to the budget, or reports that the
// budget is spent. s.recent never holds more than MaxRestarts times.
func (s *Supervisor) spend(now time.Time) bool {
	cutoff := now.Add(-s.cfg.Within)
	s.recent = slices.DeleteFunc(s.recent, func(t time.Time) bool { return !t.After(cutoff) })
	if len(s.recent) >= s.cfg.MaxRestarts {
		return false
	}
	s.recent = append(s.recent, now)
	return true
}

func (s *Supervisor) giveUp(c *child, reason string) {
	r := fmt.Sprintf("gave up: child %q ended (%s) and the budget of %d restarts within %s is spent",
		c.spec.Name, reason, s.cfg.MaxRestarts, s.cfg.Within)
	s.emit(EventGaveUp, c, r)
	s.endWith(endState{failed: true, gaveUp: true, reason: r}, errors.New(r))
}

// startDue starts, in order, the children whose restart is due.
func (s *Supervisor) startDue() {
	now := s.clock.Now()
	for _, c := range slices.Clone(s.children) {
		if s.ending {
			return
		}
		if c.removed || !c.pending || c.due.After(now) {
			continue
		}
		if err := s.start(c); err != nil {
			s.startFailed(c, err)
			continue
		}
		c.restarts++
		s.emit(EventRestarted, c, c.lastReason)
	}
}

// rearm points the restart timer at the earliest pending restart.
func (s *Supervisor) rearm() {
	var next time.Time
	for _, c := range s.children {
		if c.pending && (next.IsZero() || c.due.Before(next)) {
			next = c.due
		}
	}
	if s.timer != nil && (next.IsZero() || !next.Equal(s.timerDue)) {
		s.timer.Stop()
		s.timer = nil
	}
	if s.timer == nil && !next.IsZero() {
		s.timer, s.timerDue = s.clock.NewTimer(next.Sub(s.clock.Now())), next
	}
}

// terminate stops c's running incarnation: Stop, up to the grace period,
// then Kill, then up to KillWait before abandoning it.
func (s *Supervisor) terminate(c *child, cause error) {
	inc := c.inc
	done := inc.Done()
	ended := closed(done)
	if !ended && c.spec.Shutdown >= 0 && !closed(s.killCh) {
		safely(s.log, "Stop", func() { inc.Stop(cause) })
		if ended = closed(done); !ended {
			t := s.clock.NewTimer(c.spec.Shutdown)
			select {
			case <-done:
				ended = true
			case <-t.C():
				s.log.Warn("child ignored stop, killing it", "child", c.spec.Name, "grace", c.spec.Shutdown)
			case <-s.killCh:
			}
			t.Stop()
		}
	}
	if !ended {
		safely(s.log, "Kill", func() { inc.Kill(cause) })
		if ended = closed(done); !ended {
			t := s.clock.NewTimer(KillWait)
			select {
			case <-done:
				ended = true
			case <-t.C():
			}
			t.Stop()
		}
	}
	failed, reason := true, fmt.Sprintf("abandoned: still running %s after kill", KillWait)
	if ended {
		failed, reason = inc.Failed(), inc.Reason()
	} else {
		s.log.Error("child did not end after kill; abandoned", "child", c.spec.Name)
	}
	s.ended(c, failed, reason, EventStopped, cause)
}

func (s *Supervisor) drop(c *child) {
	c.removed, c.pending = true, false
	delete(s.byName, c.spec.Name)
	s.children = slices.DeleteFunc(s.children, func(o *child) bool { return o == c })
}

func (s *Supervisor) emit(kind string, c *child, reason string) {
	e := Event{Kind: kind, Child: c.spec.Name, Reason: reason, Restarts: c.restarts, Time: s.clock.Now()}
	lvl := slog.LevelInfo
	switch kind {
	case EventCrashed:
		lvl = slog.LevelWarn
	case EventGaveUp:
		lvl = slog.LevelError
	}
	s.log.Log(context.Background(), lvl, "child "+kind, "child", e.Child, "reason", reason, "restarts", e.Restarts)
	if s.cfg.Events != nil {
		safely(s.log, "Events", func() { s.cfg.Events(e) })
	}
}

// notify delivers d to the monitors of d.Name without ever blocking.
func (s *Supervisor) notify(d Down) {
	s.monMu.Lock()
	defer s.monMu.Unlock()
	for m := range s.monitors[d.Name] {
		d.Missed = m.missed
		select {
		case m.ch <- d:
			continue
		default:
		}
		select { // full: drop the oldest; only this goroutine sends, so there is room after
		case <-m.ch:
		default:
		}
		m.missed++
		d.Missed = m.missed
		select {
		case m.ch <- d:
		default:
			m.missed++
		}
	}
}

func (s *Supervisor) publish() {
	infos := make([]ChildInfo, len(s.children))
	for i, c := range s.children {
		infos[i] = ChildInfo{
			Name: c.spec.Name, Restart: c.spec.Restart, Running: c.inc != nil, Restarts: c.restarts,
			LastReason: c.lastReason, LastFailed: c.lastFailed, Child: c.inc,
		}
		if c.pending {
			infos[i].NextRestart = c.due
		}
	}
	s.snap.Store(&infos)
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// safely calls f, turning a panic into a log line: a broken Child or Events
// callback must not take the supervisor down.
func safely(log *slog.Logger, what string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("supervisor: recovered panic", "in", what, "panic", r)
		}
	}()
	f()
}
