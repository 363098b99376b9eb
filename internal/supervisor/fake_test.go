package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// waitLimit bounds every wait in the tests; reaching it is a failure, not a
// timing assumption.
const waitLimit = 5 * time.Second

// ---- fake clock -------------------------------------------------------------

// fakeClock only moves when Advance is called. It records every duration a
// timer was requested for, so tests observe backoff and grace periods.
type fakeClock struct {
	mu        sync.Mutex
	now       time.Time
	timers    map[*fakeTimer]struct{}
	requested []time.Duration
	changed   chan struct{} // closed and replaced on every NewTimer
}

type fakeTimer struct {
	clk *fakeClock
	c   chan time.Time
	at  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		timers: make(map[*fakeTimer]struct{}), changed: make(chan struct{})}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{clk: f, c: make(chan time.Time, 1), at: f.now.Add(d)}
	f.requested = append(f.requested, d)
	if d <= 0 {
		t.c <- f.now
	} else {
		f.timers[t] = struct{}{}
	}
	close(f.changed)
	f.changed = make(chan struct{})
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	_, ok := t.clk.timers[t]
	delete(t.clk.timers, t)
	return ok
}

// Advance moves time forward and fires the timers that are due.
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	for t := range f.timers {
		if !t.at.After(f.now) {
			t.c <- f.now
			delete(f.timers, t)
		}
	}
}

// waitRequests waits until at least n timers have been requested and
// returns all requested durations.
func (f *fakeClock) waitRequests(t testing.TB, n int) []time.Duration {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		f.mu.Lock()
		got, ch := slices.Clone(f.requested), f.changed
		f.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("waited for %d timer requests, have %v", n, got)
		}
	}
}

func (f *fakeClock) requests() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requested)
}

func (f *fakeClock) pendingTimers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// ---- fake children ----------------------------------------------------------

// world starts fake children and records, in order, what the supervisor did
// to them: "start:a", "stop:a", "kill:a".
type world struct {
	mu       sync.Mutex
	log      []string
	incs     map[string][]*fakeChild
	failN    map[string]int  // fail the next N starts of a name
	stubborn map[string]bool // these ignore Stop (Kill still works)
	changed  chan struct{}
}

func newWorld() *world {
	return &world{incs: map[string][]*fakeChild{}, failN: map[string]int{},
		stubborn: map[string]bool{}, changed: make(chan struct{})}
}

func (w *world) record(s string) {
	w.mu.Lock()
	w.log = append(w.log, s)
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

func (w *world) spec(name string, r Restart) Spec {
	return Spec{Name: name, Restart: r, Shutdown: time.Second, Start: w.starter(name)}
}

func (w *world) starter(name string) func(context.Context) (Child, error) {
	return func(ctx context.Context) (Child, error) {
		w.mu.Lock()
		if w.failN[name] > 0 {
			w.failN[name]--
			w.mu.Unlock()
			w.record("startfail:" + name)
			return nil, fmt.Errorf("cannot start %s", name)
		}
		c := &fakeChild{w: w, name: name, ctx: ctx, done: make(chan struct{}), stubborn: w.stubborn[name]}
		w.incs[name] = append(w.incs[name], c)
		w.mu.Unlock()
		w.record("start:" + name)
		return c, nil
	}
}

func (w *world) failNext(name string, n int) {
	w.mu.Lock()
	w.failN[name] = n
	w.mu.Unlock()
}

func (w *world) setStubborn(name string) {
	w.mu.Lock()
	w.stubborn[name] = true
	w.mu.Unlock()
}

func (w *world) starts(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.incs[name])
}

func (w *world) last(t testing.TB, name string) *fakeChild {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	incs := w.incs[name]
	if len(incs) == 0 {
		t.Fatalf("%s never started", name)
	}
	return incs[len(incs)-1]
}

func (w *world) entries() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.log)
}

// mark returns the log length, to compare what happened after it.
func (w *world) mark() int { return len(w.entries()) }

func (w *world) since(mark int) []string { return w.entries()[mark:] }

// waitLog waits until the log has at least n entries after mark.
func (w *world) waitLog(t testing.TB, mark, n int) []string {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		w.mu.Lock()
		got, ch := slices.Clone(w.log[mark:]), w.changed
		w.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("waited for %d log entries, have %q", n, got)
		}
	}
}

// fakeChild is an incarnation whose ending the test controls.
type fakeChild struct {
	w        *world
	name     string
	ctx      context.Context
	done     chan struct{}
	once     sync.Once
	stubborn bool

	mu        sync.Mutex
	failed    bool
	reason    string
	stops     int
	kills     int
	stopCause error
}

// End makes the incarnation end by itself.
func (c *fakeChild) End(failed bool, reason string) {
	c.once.Do(func() {
		c.mu.Lock()
		c.failed, c.reason = failed, reason
		c.mu.Unlock()
		close(c.done)
	})
}

func (c *fakeChild) Crash()                { c.End(true, "trap: unreachable") }
func (c *fakeChild) Exit()                 { c.End(false, "exit code 0") }
func (c *fakeChild) Done() <-chan struct{} { return c.done }

func (c *fakeChild) Failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

func (c *fakeChild) Reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

func (c *fakeChild) Stop(cause error) {
	c.mu.Lock()
	c.stops++
	c.stopCause = cause
	c.mu.Unlock()
	c.w.record("stop:" + c.name)
	if !c.stubborn {
		c.End(false, "stopped")
	}
}

func (c *fakeChild) Kill(cause error) {
	c.mu.Lock()
	c.kills++
	c.mu.Unlock()
	c.w.record("kill:" + c.name)
	c.End(true, "killed")
}

func (c *fakeChild) counts() (stops, kills int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stops, c.kills
}

func (c *fakeChild) ended() bool { return closed(c.done) }

// ---- events -----------------------------------------------------------------

type recorder struct {
	mu      sync.Mutex
	events  []Event
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) record(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *recorder) count(kind, name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == kind && (name == "" || e.Child == name) {
			n++
		}
	}
	return n
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// wait waits until at least n events of kind for name ("" = any) were seen
// and returns the last of them.
func (r *recorder) wait(t testing.TB, kind, name string, n int) Event {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		r.mu.Lock()
		var seen []Event
		for _, e := range r.events {
			if e.Kind == kind && (name == "" || e.Child == name) {
				seen = append(seen, e)
			}
		}
		ch := r.changed
		r.mu.Unlock()
		if len(seen) >= n {
			return seen[n-1]
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("waited for %d %q events of %q; events: %+v", n, kind, name, r.all())
		}
	}
}

// ---- helpers ----------------------------------------------------------------

type harness struct {
	t   *testing.T
	clk *fakeClock
	w   *world
	rec *recorder
	s   *Supervisor
}

// newHarness starts a supervisor on a fake clock. Unless cfg says
// otherwise, backoff is a constant 10ms and the budget is large.
func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, clk: newFakeClock(), w: newWorld(), rec: newRecorder()}
	cfg.Clock = h.clk
	cfg.Events = h.rec.record
	if cfg.Backoff == nil {
		cfg.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	}
	if cfg.MaxRestarts == 0 && cfg.Within == 0 {
		cfg.MaxRestarts, cfg.Within = 100, time.Minute
	}
	h.s = New(context.Background(), cfg)
	t.Cleanup(func() {
		h.s.Kill(errors.New("test over"))
		select {
		case <-h.s.Done():
		case <-time.After(waitLimit):
			t.Error("supervisor did not end after Kill")
		}
	})
	return h
}

func (h *harness) add(names ...string) {
	h.t.Helper()
	for _, n := range names {
		if err := h.s.Add(h.w.spec(n, Permanent)); err != nil {
			h.t.Fatalf("Add(%s): %v", n, err)
		}
	}
}

// sync makes a round trip through the event loop: everything the loop was
// doing before (handling an exit, arming a timer) has finished after it.
func (h *harness) sync() {
	h.t.Helper()
	if err := h.s.Remove("\x00no such child"); err == nil {
		h.t.Fatal("sync: Remove of a missing child succeeded")
	}
}

func waitDone(t testing.TB, s *Supervisor) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(waitLimit):
		t.Fatal("supervisor did not end")
	}
}

func info(t testing.TB, s *Supervisor, name string) ChildInfo {
	t.Helper()
	for _, ci := range s.Children() {
		if ci.Name == name {
			return ci
		}
	}
	t.Fatalf("no child %q in %+v", name, s.Children())
	return ChildInfo{}
}

func names(infos []ChildInfo) []string {
	var out []string
	for _, ci := range infos {
		out = append(out, ci.Name)
	}
	return out
}
