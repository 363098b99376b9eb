package supervisor

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

func TestStrategies(t *testing.T) {
	tests := []struct {
		strategy Strategy
		want     []string // what the supervisor does to a, b, c after b crashes
		starts   [3]int   // incarnations of a, b, c at the end
	}{
		{OneForOne, []string{"start:b"}, [3]int{1, 2, 1}},
		{OneForAll, []string{"stop:c", "stop:a", "start:a", "start:b", "start:c"}, [3]int{2, 2, 2}},
		{RestForOne, []string{"stop:c", "start:b", "start:c"}, [3]int{1, 2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.strategy.String(), func(t *testing.T) {
			h := newHarness(t, Config{Strategy: tt.strategy})
			h.add("a", "b", "c")
			mark := h.w.mark()
			h.w.last(t, "b").Crash()
			h.rec.wait(t, EventCrashed, "b", 1)
			if got := h.clk.waitRequests(t, 1); !slices.Equal(got, []time.Duration{10 * time.Millisecond}) {
				t.Fatalf("timers requested %v, want one backoff of 10ms", got)
			}
			h.sync()
			var stops []string
			for _, e := range tt.want {
				if strings.HasPrefix(e, "stop:") {
					stops = append(stops, e)
				}
			}
			if got := h.w.since(mark); !slices.Equal(got, stops) {
				t.Fatalf("before the backoff elapsed: %q, want %q", got, stops)
			}

			h.clk.Advance(10 * time.Millisecond)
			h.w.waitLog(t, mark, len(tt.want))
			h.sync()
			if got := h.w.since(mark); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i, n := range []string{"a", "b", "c"} {
				if got := h.w.starts(n); got != tt.starts[i] {
					t.Errorf("%s started %d times, want %d", n, got, tt.starts[i])
				}
				ci := info(t, h.s, n)
				if !ci.Running || ci.Restarts != tt.starts[i]-1 {
					t.Errorf("%s: %+v, want running with %d restarts", n, ci, tt.starts[i]-1)
				}
			}
			if got := names(h.s.Children()); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Errorf("children order %q", got)
			}
		})
	}
}

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		policy      Restart
		crash       bool
		wantRestart bool
		wantListed  bool
	}{
		{Permanent, true, true, true},
		{Permanent, false, true, true},
		{Transient, true, true, true},
		{Transient, false, false, true},
		{Temporary, true, false, false},
		{Temporary, false, false, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/crash=%v", tt.policy, tt.crash), func(t *testing.T) {
			h := newHarness(t, Config{})
			if err := h.s.Add(h.w.spec("x", tt.policy)); err != nil {
				t.Fatal(err)
			}
			kind := EventExited
			if tt.crash {
				kind = EventCrashed
				h.w.last(t, "x").Crash()
			} else {
				h.w.last(t, "x").Exit()
			}
			h.rec.wait(t, kind, "x", 1)
			h.sync()
			if tt.wantRestart {
				h.clk.Advance(h.clk.waitRequests(t, 1)[0])
				h.rec.wait(t, EventRestarted, "x", 1)
				if n := h.w.starts("x"); n != 2 {
					t.Fatalf("started %d times, want 2", n)
				}
				return
			}
			if reqs := h.clk.requests(); len(reqs) != 0 {
				t.Fatalf("a restart was scheduled: timers %v", reqs)
			}
			h.clk.Advance(time.Hour)
			h.sync()
			if n := h.w.starts("x"); n != 1 {
				t.Fatalf("started %d times, want 1", n)
			}
			listed := slices.Contains(names(h.s.Children()), "x")
			if listed != tt.wantListed {
				t.Fatalf("listed=%v, want %v", listed, tt.wantListed)
			}
			if listed {
				ci := info(t, h.s, "x")
				if ci.Running || ci.LastReason != "exit code 0" || ci.LastFailed || ci.Child != nil {
					t.Fatalf("info %+v", ci)
				}
				// A child that finished is restarted by the operator on request.
				if err := h.s.Restart("x"); err != nil || h.w.starts("x") != 2 {
					t.Fatalf("Restart: %v, starts %d", err, h.w.starts("x"))
				}
			}
		})
	}
}

// In a group restart, temporary siblings are stopped and dropped, transient
// ones are restarted, and children that already finished stay finished.
func TestGroupRestartPolicies(t *testing.T) {
	h := newHarness(t, Config{Strategy: OneForAll})
	for _, s := range []Spec{h.w.spec("a", Permanent), h.w.spec("done", Transient),
		h.w.spec("tr", Transient), h.w.spec("tmp", Temporary), h.w.spec("b", Permanent)} {
		if err := h.s.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	h.w.last(t, "done").Exit()
	h.rec.wait(t, EventExited, "done", 1)
	mark := h.w.mark()
	h.w.last(t, "b").Crash()
	h.clk.Advance(h.clk.waitRequests(t, 1)[0])
	want := []string{"stop:tmp", "stop:tr", "stop:a", "start:a", "start:tr", "start:b"}
	h.w.waitLog(t, mark, len(want))
	h.sync()
	if got := h.w.since(mark); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := names(h.s.Children()); !slices.Equal(got, []string{"a", "done", "tr", "b"}) {
		t.Fatalf("children %q", got)
	}
}

func TestBudgetGiveUp(t *testing.T) {
	h := newHarness(t, Config{MaxRestarts: 2, Within: time.Minute})
	h.add("a", "b", "c")
	downB, _ := h.s.Monitor("b")
	for i := 1; i <= 2; i++ {
		h.w.last(t, "a").Crash()
		h.clk.Advance(h.clk.waitRequests(t, i)[i-1])
		h.rec.wait(t, EventRestarted, "a", i)
	}
	mark := h.w.mark()
	h.w.last(t, "a").Crash() // third restart within a minute: more than 2
	waitDone(t, h.s)

	if !h.s.GaveUp() || !h.s.Failed() || !strings.Contains(h.s.Reason(), "gave up") {
		t.Fatalf("GaveUp=%v Failed=%v Reason=%q", h.s.GaveUp(), h.s.Failed(), h.s.Reason())
	}
	if got := h.w.since(mark); !slices.Equal(got, []string{"stop:c", "stop:b"}) {
		t.Fatalf("after giving up: %q, want c then b stopped", got)
	}
	evs := h.rec.all()
	gi := slices.IndexFunc(evs, func(e Event) bool { return e.Kind == EventGaveUp })
	if gi < 0 || evs[gi].Child != "a" || h.rec.count(EventGaveUp, "") != 1 {
		t.Fatalf("want one gave_up event for a: %+v", evs)
	}
	if !slices.ContainsFunc(evs[gi:], func(e Event) bool { return e.Kind == EventStopped && e.Child == "b" }) {
		t.Fatalf("b's stopped event should follow gave_up: %+v", evs)
	}
	for _, ci := range h.s.Children() {
		if ci.Running || !ci.NextRestart.IsZero() {
			t.Errorf("after giving up: %+v", ci)
		}
	}
	// No more restarts, ever.
	if n := h.clk.pendingTimers(); n != 0 {
		t.Fatalf("%d timers still pending", n)
	}
	h.clk.Advance(time.Hour)
	if n := h.w.starts("a"); n != 3 {
		t.Fatalf("a started %d times, want 3", n)
	}
	if err := h.s.Add(h.w.spec("d", Permanent)); !errors.Is(err, api.ErrClosed) {
		t.Fatalf("Add after giving up: %v", err)
	}
	if d := recvDown(t, downB); d.Name != "b" || d.Failed {
		t.Fatalf("b's monitor: %+v", d)
	}
	select {
	case d, ok := <-downB:
		if ok {
			t.Fatalf("extra notice %+v", d)
		}
	default:
		t.Fatal("monitor channel not closed when the supervisor ended")
	}
	if err := h.s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown of an ended supervisor: %v", err)
	}
}

func TestBudgetWindow(t *testing.T) {
	tests := []struct {
		name       string
		max        int
		gap        time.Duration // time each incarnation runs before crashing
		crashes    int
		wantGiveUp bool
	}{
		{"spaced out of the window", 1, 11 * time.Second, 6, false},
		{"inside the window", 1, time.Second, 2, true},
		{"max zero gives up at once", -1, time.Hour, 1, true},
		{"exactly max", 3, time.Second, 3, false},
		{"one more than max", 3, time.Second, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{MaxRestarts: tt.max, Within: 10 * time.Second})
			h.add("a")
			for i := 1; i <= tt.crashes; i++ {
				h.clk.Advance(tt.gap)
				h.w.last(t, "a").Crash()
				if i == tt.crashes && tt.wantGiveUp {
					break
				}
				h.clk.Advance(h.clk.waitRequests(t, i)[i-1])
				h.rec.wait(t, EventRestarted, "a", i)
			}
			if tt.wantGiveUp {
				waitDone(t, h.s)
				if !h.s.GaveUp() {
					t.Fatal("did not give up")
				}
				return
			}
			h.sync()
			if h.s.GaveUp() || closed(h.s.Done()) || h.rec.count(EventGaveUp, "") != 0 {
				t.Fatalf("gave up: %q", h.s.Reason())
			}
		})
	}
}

func TestBackoffGrowsAndResets(t *testing.T) {
	var mu sync.Mutex
	var attempts []int
	h := newHarness(t, Config{MaxRestarts: 100, Within: time.Minute, StableAfter: 30 * time.Second,
		Backoff: func(n int) time.Duration {
			mu.Lock()
			attempts = append(attempts, n)
			mu.Unlock()
			return DefaultBackoff(n)
		}})
	h.add("a")
	crashAndRestart := func(i int) time.Duration {
		h.w.last(t, "a").Crash()
		d := h.clk.waitRequests(t, i)[i-1]
		h.sync() // the loop serves requests during the backoff: it is not sleeping
		if ci := info(t, h.s, "a"); ci.Running || ci.NextRestart.IsZero() {
			t.Fatalf("during backoff: %+v", ci)
		}
		h.clk.Advance(d)
		h.rec.wait(t, EventRestarted, "a", i)
		return d
	}
	var delays []time.Duration
	for i := 1; i <= 7; i++ {
		d := crashAndRestart(i)
		hi := BackoffBase << (i - 1)
		if d <= hi*4/5-1 || d > hi {
			t.Errorf("attempt %d: delay %v outside (%v, %v]", i, d, hi*4/5, hi)
		}
		if i > 1 && d <= delays[len(delays)-1] {
			t.Errorf("attempt %d: delay %v did not grow from %v", i, d, delays[len(delays)-1])
		}
		delays = append(delays, d)
	}
	// Running stably for StableAfter resets the count.
	h.clk.Advance(30 * time.Second)
	if d := crashAndRestart(8); d > BackoffBase || d < BackoffBase*4/5 {
		t.Errorf("after a stable period: delay %v, want about %v", d, BackoffBase)
	}
	// Running briefly does not.
	h.clk.Advance(29 * time.Second)
	crashAndRestart(9)
	mu.Lock()
	defer mu.Unlock()
	if want := []int{1, 2, 3, 4, 5, 6, 7, 1, 2}; !slices.Equal(attempts, want) {
		t.Fatalf("attempts %v, want %v", attempts, want)
	}
}

func TestDefaultBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		hi      time.Duration
	}{
		{-3, 10 * time.Millisecond},
		{0, 10 * time.Millisecond},
		{1, 10 * time.Millisecond},
		{2, 20 * time.Millisecond},
		{5, 160 * time.Millisecond},
		{9, 2560 * time.Millisecond},
		{10, 5 * time.Second},
		{64, 5 * time.Second},
		{1 << 30, 5 * time.Second},
	}
	for _, tt := range tests {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := DefaultBackoff(tt.attempt)
			if d > tt.hi || d < tt.hi*4/5 {
				t.Fatalf("DefaultBackoff(%d) = %v, want in [%v, %v]", tt.attempt, d, tt.hi*4/5, tt.hi)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("DefaultBackoff(%d): no jitter", tt.attempt)
		}
	}
}

func TestShutdownGraceful(t *testing.T) {
	h := newHarness(t, Config{})
	h.w.setStubborn("b") // ignores Stop
	h.add("a", "b", "c")
	c := h.w.last(t, "c")
	mark := h.w.mark()
	errc := make(chan error, 1)
	go func() { errc <- h.s.Shutdown(context.Background()) }()

	// c stops at once; b ignores Stop, so its 1s grace timer runs.
	if got := h.clk.waitRequests(t, 1); !slices.Equal(got, []time.Duration{time.Second}) {
		t.Fatalf("timers %v, want b's grace of 1s", got)
	}
	if got := h.w.since(mark); !slices.Equal(got, []string{"stop:c", "stop:b"}) {
		t.Fatalf("got %q", got)
	}
	h.clk.Advance(time.Second - time.Millisecond)
	if closed(h.s.Done()) || h.clk.pendingTimers() != 1 {
		t.Fatal("ended before b's grace period")
	}
	h.clk.Advance(time.Millisecond)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	waitDone(t, h.s)
	if got := h.w.since(mark); !slices.Equal(got, []string{"stop:c", "stop:b", "kill:b", "stop:a"}) {
		t.Fatalf("got %q", got)
	}
	if s, k := c.counts(); s != 1 || k != 0 {
		t.Errorf("c: %d stops, %d kills", s, k)
	}
	if h.s.Failed() || h.s.GaveUp() || h.s.Reason() != "stopped: supervisor shutdown" {
		t.Errorf("Failed=%v GaveUp=%v Reason=%q", h.s.Failed(), h.s.GaveUp(), h.s.Reason())
	}
	if n := h.rec.count(EventStopped, ""); n != 3 {
		t.Errorf("%d stopped events, want 3", n)
	}
	for _, n := range []string{"a", "b", "c"} {
		if h.w.last(t, n).ctx.Err() == nil {
			t.Errorf("%s's context not canceled", n)
		}
	}
}

func TestShutdownContextEndsKills(t *testing.T) {
	h := newHarness(t, Config{})
	h.w.setStubborn("b")
	h.add("a", "b", "c")
	mark := h.w.mark()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.s.Shutdown(ctx) }()
	h.clk.waitRequests(t, 1) // b's grace timer
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v", err)
	}
	waitDone(t, h.s)
	// b is killed without waiting out its grace; a is killed without Stop.
	if got := h.w.since(mark); !slices.Equal(got, []string{"stop:c", "stop:b", "kill:b", "kill:a"}) {
		t.Fatalf("got %q", got)
	}
	if !h.s.Failed() || !strings.Contains(h.s.Reason(), "killed") {
		t.Fatalf("Failed=%v Reason=%q", h.s.Failed(), h.s.Reason())
	}
}

func TestKillSupervisor(t *testing.T) {
	h := newHarness(t, Config{})
	h.add("a", "b")
	mark := h.w.mark()
	h.s.Kill(errors.New("power off"))
	waitDone(t, h.s)
	if got := h.w.since(mark); !slices.Equal(got, []string{"kill:b", "kill:a"}) {
		t.Fatalf("got %q", got)
	}
	if !h.s.Failed() || h.s.Reason() != "killed: power off" {
		t.Fatalf("Failed=%v Reason=%q", h.s.Failed(), h.s.Reason())
	}
}

func TestContextCancelStopsChildren(t *testing.T) {
	w, clk := newWorld(), newFakeClock()
	ctx, cancel := context.WithCancel(context.Background())
	s := New(ctx, Config{Clock: clk})
	for _, n := range []string{"a", "b"} {
		if err := s.Add(w.spec(n, Permanent)); err != nil {
			t.Fatal(err)
		}
	}
	mark := w.mark()
	cancel()
	waitDone(t, s)
	if got := w.since(mark); !slices.Equal(got, []string{"stop:b", "stop:a"}) {
		t.Fatalf("got %q", got)
	}
	if s.Failed() || !strings.HasPrefix(s.Reason(), "context ended") {
		t.Fatalf("Failed=%v Reason=%q", s.Failed(), s.Reason())
	}
}

// A child that ignores both Stop and Kill is abandoned after KillWait.
func TestAbandonStuckChild(t *testing.T) {
	h := newHarness(t, Config{})
	z := &zombie{done: make(chan struct{})}
	defer close(z.done)
	if err := h.s.Add(Spec{Name: "z", Shutdown: 2 * time.Second,
		Start: func(context.Context) (Child, error) { return z, nil }}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- h.s.Remove("z") }()
	h.clk.Advance(h.clk.waitRequests(t, 1)[0])
	h.clk.Advance(h.clk.waitRequests(t, 2)[1])
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := h.clk.requests(); !slices.Equal(got, []time.Duration{2 * time.Second, KillWait}) {
		t.Fatalf("timers %v", got)
	}
	e := h.rec.wait(t, EventStopped, "z", 1)
	if !strings.Contains(e.Reason, "abandoned") {
		t.Fatalf("event %+v", e)
	}
	if len(h.s.Children()) != 0 {
		t.Fatalf("children %+v", h.s.Children())
	}
}

type zombie struct{ done chan struct{} }

func (z *zombie) Done() <-chan struct{} { return z.done }
func (z *zombie) Failed() bool          { return false }
func (z *zombie) Reason() string        { return "" }
func (z *zombie) Stop(error)            {}
func (z *zombie) Kill(error)            {}

func recvDown(t *testing.T, ch <-chan Down) Down {
	t.Helper()
	select {
	case d, ok := <-ch:
		if !ok {
			t.Fatal("monitor channel closed")
		}
		return d
	case <-time.After(waitLimit):
		t.Fatal("no Down notice")
	}
	return Down{}
}

func TestMonitors(t *testing.T) {
	h := newHarness(t, Config{})
	h.add("a", "b")
	downA, cancelA := h.s.Monitor("a")
	downA2, _ := h.s.Monitor("a")
	downB, _ := h.s.Monitor("b")
	downC, _ := h.s.Monitor("c") // not added yet

	h.w.last(t, "a").Crash()
	for _, ch := range []<-chan Down{downA, downA2} {
		if d := recvDown(t, ch); d.Name != "a" || !d.Failed || d.Reason != "trap: unreachable" || d.Time.IsZero() {
			t.Fatalf("down %+v", d)
		}
	}
	h.clk.Advance(h.clk.waitRequests(t, 1)[0])
	h.rec.wait(t, EventRestarted, "a", 1)

	cancelA()
	cancelA() // idempotent
	select {
	case _, ok := <-downA:
		if ok {
			t.Fatal("notice on a canceled monitor")
		}
	default:
		t.Fatal("canceled monitor channel still open")
	}
	if err := h.s.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if d := recvDown(t, downA2); d.Failed || d.Reason != "stopped" {
		t.Fatalf("down after Remove: %+v", d)
	}

	if err := h.s.Add(h.w.spec("c", Permanent)); err != nil {
		t.Fatal(err)
	}
	h.w.last(t, "c").Exit()
	if d := recvDown(t, downC); d.Name != "c" || d.Failed {
		t.Fatalf("down for c: %+v", d)
	}
	h.sync()
	select {
	case d := <-downB:
		t.Fatalf("b's monitor got %+v", d)
	default:
	}
}

func TestMonitorOverflowDropsOldest(t *testing.T) {
	h := newHarness(t, Config{Backoff: func(int) time.Duration { return 0 }})
	h.add("a")
	down, _ := h.s.Monitor("a")
	const n = MonitorBuffer + 3
	for i := range n {
		h.w.last(t, "a").End(true, fmt.Sprintf("crash %d", i))
		h.rec.wait(t, EventRestarted, "a", i+1)
	}
	var got []Down
	for range MonitorBuffer {
		got = append(got, recvDown(t, down))
	}
	select {
	case d := <-down:
		t.Fatalf("more than MonitorBuffer notices: %+v", d)
	default:
	}
	if got[0].Reason != "crash 3" || got[len(got)-1].Reason != fmt.Sprintf("crash %d", n-1) || got[len(got)-1].Missed != 3 {
		t.Fatalf("first %+v, last %+v", got[0], got[len(got)-1])
	}
}

func TestMonitorAfterEnd(t *testing.T) {
	s := New(context.Background(), Config{})
	s.Kill(nil)
	waitDone(t, s)
	ch, cancel := s.Monitor("a")
	cancel()
	if _, ok := <-ch; ok {
		t.Fatal("monitor of an ended supervisor is open")
	}
}

func TestNestedSupervisors(t *testing.T) {
	w, clk, rec := newWorld(), newFakeClock(), newRecorder()
	var mu sync.Mutex
	var subs []*Supervisor
	parent := New(context.Background(), Config{Clock: clk, MaxRestarts: 5, Within: time.Minute,
		Backoff: func(int) time.Duration { return 0 }, Events: rec.record})
	defer func() { parent.Kill(nil); waitDone(t, parent) }()
	subSpec := Spec{Name: "sub", Shutdown: time.Minute, Start: func(ctx context.Context) (Child, error) {
		sub := New(ctx, Config{Clock: clk, MaxRestarts: 0, Within: time.Minute}) // gives up on any crash
		for _, n := range []string{"x", "y"} {
			if err := sub.Add(w.spec(n, Permanent)); err != nil {
				sub.Kill(err)
				return nil, err
			}
		}
		mu.Lock()
		subs = append(subs, sub)
		mu.Unlock()
		return sub, nil
	}}
	if err := parent.Add(subSpec); err != nil {
		t.Fatal(err)
	}
	downs, _ := parent.Monitor("sub")

	// x crashes: the sub-supervisor gives up, stops y, ends Failed; the
	// parent restarts the whole subtree.
	firstY := w.last(t, "y")
	w.last(t, "x").Crash()
	if d := recvDown(t, downs); !d.Failed || !strings.Contains(d.Reason, "gave up") {
		t.Fatalf("parent saw %+v", d)
	}
	rec.wait(t, EventRestarted, "sub", 1)
	if !firstY.ended() || w.starts("x") != 2 || w.starts("y") != 2 {
		t.Fatalf("subtree not restarted: y ended=%v, starts x=%d y=%d", firstY.ended(), w.starts("x"), w.starts("y"))
	}
	mu.Lock()
	sub1, sub2 := subs[0], subs[1]
	mu.Unlock()
	if !sub1.GaveUp() || !sub1.Failed() || closed(sub2.Done()) {
		t.Fatalf("sub1 gave up=%v, sub2 done=%v", sub1.GaveUp(), closed(sub2.Done()))
	}
	if ci := info(t, parent, "sub"); ci.Child != Child(sub2) || ci.Restarts != 1 {
		t.Fatalf("parent's view: %+v", ci)
	}

	// Shutting the parent down stops the subtree, leaves first.
	mark := w.mark()
	if err := parent.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.since(mark); !slices.Equal(got, []string{"stop:y", "stop:x"}) {
		t.Fatalf("got %q", got)
	}
	if !closed(sub2.Done()) || sub2.Failed() || parent.Failed() {
		t.Fatalf("sub2 done=%v failed=%v, parent failed=%v", closed(sub2.Done()), sub2.Failed(), parent.Failed())
	}
	if d := recvDown(t, downs); d.Failed {
		t.Fatalf("down on shutdown: %+v", d)
	}
}

// A nested supervisor whose child outlives the parent's grace period is
// killed, and kills its child without waiting out that child's own grace.
func TestNestedKillEscalates(t *testing.T) {
	w, clk := newWorld(), newFakeClock()
	w.setStubborn("z")
	var sub *Supervisor
	parent := New(context.Background(), Config{Clock: clk})
	err := parent.Add(Spec{Name: "sub", Shutdown: time.Second, Start: func(ctx context.Context) (Child, error) {
		sub = New(ctx, Config{Clock: clk})
		spec := w.spec("z", Permanent)
		spec.Shutdown = time.Hour
		return sub, sub.Add(spec)
	}})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- parent.Shutdown(context.Background()) }()
	got := clk.waitRequests(t, 2) // the parent's 1s for sub, sub's 1h for z
	slices.Sort(got)
	if !slices.Equal(got, []time.Duration{time.Second, time.Hour}) {
		t.Fatalf("timers %v", got)
	}
	clk.Advance(time.Second)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if s, k := w.last(t, "z").counts(); s != 1 || k != 1 {
		t.Fatalf("z: %d stops, %d kills", s, k)
	}
	if !sub.Failed() || !strings.Contains(sub.Reason(), "killed") {
		t.Fatalf("sub Failed=%v Reason=%q", sub.Failed(), sub.Reason())
	}
}

func TestOperatorRestartDoesNotSpendBudget(t *testing.T) {
	var mu sync.Mutex
	var attempts []int
	h := newHarness(t, Config{Strategy: OneForAll, MaxRestarts: 2, Within: time.Hour,
		Backoff: func(n int) time.Duration {
			mu.Lock()
			attempts = append(attempts, n)
			mu.Unlock()
			return 10 * time.Millisecond
		}})
	h.add("a", "b")
	mark := h.w.mark()
	for range 5 {
		if err := h.s.Restart("a"); err != nil {
			t.Fatal(err)
		}
	}
	want := slices.Repeat([]string{"stop:a", "start:a"}, 5)
	if got := h.w.since(mark); !slices.Equal(got, want) {
		t.Fatalf("got %q: an operator restart touches only its child, even one_for_all", got)
	}
	if n := len(h.clk.requests()); n != 0 {
		t.Fatalf("operator restarts waited for a backoff (%d timers)", n)
	}
	if ci := info(t, h.s, "a"); ci.Restarts != 5 || h.rec.count(EventRestarted, "a") != 5 {
		t.Fatalf("%+v", ci)
	}

	crash := func(i int) {
		h.w.last(t, "a").Crash()
		h.clk.Advance(h.clk.waitRequests(t, i)[i-1])
		h.rec.wait(t, EventRestarted, "b", i)
	}
	crash(1) // automatic restart 1 of 2
	if err := h.s.Restart("a"); err != nil {
		t.Fatal(err)
	}
	crash(2) // automatic restart 2 of 2; the operator restart reset the backoff
	h.w.last(t, "a").Crash()
	waitDone(t, h.s)
	if !h.s.GaveUp() {
		t.Fatal("did not give up on the third automatic restart")
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(attempts, []int{1, 1}) {
		t.Fatalf("backoff attempts %v, want [1 1]", attempts)
	}
}

func TestAddErrors(t *testing.T) {
	h := newHarness(t, Config{})
	h.add("a")
	startErr := errors.New("no such module")
	tests := []struct {
		name    string
		spec    Spec
		wantIs  error
		wantMsg string
	}{
		{"start error", Spec{Name: "x", Start: func(context.Context) (Child, error) { return nil, startErr }}, startErr, "no such module"},
		{"start panics", Spec{Name: "x", Start: func(context.Context) (Child, error) { panic("boom") }}, nil, "panic: boom"},
		{"nil child", Spec{Name: "x", Start: func(context.Context) (Child, error) { return nil, nil }}, nil, "no child"},
		{"no name", Spec{Start: h.w.starter("x")}, api.ErrInvalid, ""},
		{"no start", Spec{Name: "x"}, api.ErrInvalid, ""},
		{"bad policy", Spec{Name: "x", Start: h.w.starter("x"), Restart: 7}, api.ErrInvalid, ""},
		{"duplicate", h.w.spec("a", Permanent), api.ErrExists, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.s.Add(tt.spec)
			if err == nil || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Add: %v", err)
			}
			if got := names(h.s.Children()); !slices.Equal(got, []string{"a"}) {
				t.Fatalf("children %q", got)
			}
		})
	}
	if h.rec.count(EventStarted, "") != 1 || h.rec.count(EventCrashed, "") != 0 {
		t.Fatalf("events %+v", h.rec.all())
	}
	// A failed Add takes no name and spends no budget: the name is free.
	if err := h.s.Add(h.w.spec("x", Permanent)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(string) error{h.s.Remove, h.s.Restart} {
		if err := f("nope"); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("want not found, got %v", err)
		}
	}
}

// A Start that fails during a restart counts as a crash: backoff grows, the
// budget is charged, and a child that can never start again makes the
// supervisor give up.
func TestStartFailsOnRestart(t *testing.T) {
	var mu sync.Mutex
	var attempts []int
	h := newHarness(t, Config{MaxRestarts: 3, Within: time.Hour, Backoff: func(n int) time.Duration {
		mu.Lock()
		attempts = append(attempts, n)
		mu.Unlock()
		return time.Duration(n) * time.Millisecond
	}})
	h.add("a")
	down, _ := h.s.Monitor("a")
	h.w.failNext("a", 2)
	h.w.last(t, "a").Crash()
	for i := 1; i <= 3; i++ {
		h.clk.Advance(h.clk.waitRequests(t, i)[i-1])
	}
	e := h.rec.wait(t, EventRestarted, "a", 1)
	if h.rec.count(EventCrashed, "a") != 3 {
		t.Fatalf("events %+v", h.rec.all())
	}
	if e2 := h.rec.wait(t, EventCrashed, "a", 2); e2.Reason != "start failed: cannot start a" {
		t.Fatalf("crash event %+v", e2)
	}
	h.sync() // events are emitted inside a loop step; Children's snapshot is published at its end
	if ci := info(t, h.s, "a"); !ci.Running || ci.Restarts != 1 || e.Restarts != 1 {
		t.Fatalf("%+v", ci)
	}
	if got := h.clk.requests(); !slices.Equal(got, []time.Duration{1 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}) {
		t.Fatalf("backoffs %v", got)
	}
	recvDown(t, down) // the crash; failed starts send no Down
	h.sync()
	select {
	case d := <-down:
		t.Fatalf("extra Down %+v", d)
	default:
	}

	// The fourth automatic restart within the hour: give up.
	h.w.failNext("a", 100)
	h.w.last(t, "a").Crash()
	waitDone(t, h.s)
	if !h.s.GaveUp() || h.w.starts("a") != 2 {
		t.Fatalf("GaveUp=%v starts=%d", h.s.GaveUp(), h.w.starts("a"))
	}
}

func TestOperatorRestartStartFails(t *testing.T) {
	h := newHarness(t, Config{})
	h.add("a")
	h.w.failNext("a", 1)
	if err := h.s.Restart("a"); err == nil || !strings.Contains(err.Error(), "cannot start a") {
		t.Fatalf("Restart: %v", err)
	}
	if ci := info(t, h.s, "a"); ci.Running || ci.NextRestart.IsZero() {
		t.Fatalf("want a pending automatic restart: %+v", ci)
	}
	h.clk.Advance(h.clk.waitRequests(t, 1)[0])
	h.rec.wait(t, EventRestarted, "a", 1)
	// The event is recorded as the restart happens; the child's info says
	// running once the supervisor's loop has stored it.
	for deadline := time.Now().Add(10 * time.Second); !info(t, h.s, "a").Running; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not running")
		}
	}
}

// A OneForAll group whose restart fails half-way is stopped and retried as
// a whole.
func TestGroupStartFailure(t *testing.T) {
	h := newHarness(t, Config{Strategy: OneForAll})
	h.add("a", "b", "c")
	h.w.failNext("b", 1)
	mark := h.w.mark()
	h.w.last(t, "c").Crash()
	h.clk.Advance(h.clk.waitRequests(t, 1)[0])
	h.clk.Advance(h.clk.waitRequests(t, 2)[1])
	want := []string{"stop:b", "stop:a", "start:a", "startfail:b", "stop:a", "start:a", "start:b", "start:c"}
	h.w.waitLog(t, mark, len(want))
	h.sync()
	if got := h.w.since(mark); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A crash loop on the real clock with the default config: backoff spaces
// the restarts out (no spinning), the budget ends it, nothing leaks.
func TestCrashLoopRealClock(t *testing.T) {
	before := runtime.NumGoroutine()
	w, rec := newWorld(), newRecorder()
	s := New(context.Background(), Config{Events: rec.record})
	spec := Spec{Name: "loop", Start: func(ctx context.Context) (Child, error) {
		c, _ := w.starter("loop")(ctx)
		c.(*fakeChild).Crash()
		return c, nil
	}}
	t0 := time.Now()
	if err := s.Add(spec); err != nil {
		t.Fatal(err)
	}
	waitDone(t, s)
	took := time.Since(t0)
	if !s.GaveUp() || w.starts("loop") != DefaultMaxRestarts+1 {
		t.Fatalf("GaveUp=%v starts=%d", s.GaveUp(), w.starts("loop"))
	}
	// Backoffs of at least 8+16+32ms separate the four starts.
	if took < 56*time.Millisecond {
		t.Fatalf("crash loop took %v: backoff not applied", took)
	}
	waitGoroutines(t, before)
}

// Many restarts with no backoff: the budget bookkeeping stays bounded and
// no goroutine is left behind.
func TestCrashLoopBoundedState(t *testing.T) {
	before := runtime.NumGoroutine()
	w, clk := newWorld(), newFakeClock()
	const budget = 1000
	s := New(context.Background(), Config{Clock: clk, MaxRestarts: budget, Within: time.Hour,
		Backoff: func(int) time.Duration { return 0 }})
	spec := Spec{Name: "loop", Start: func(ctx context.Context) (Child, error) {
		c, _ := w.starter("loop")(ctx)
		c.(*fakeChild).Crash()
		return c, nil
	}}
	if err := s.Add(spec); err != nil {
		t.Fatal(err)
	}
	waitDone(t, s)
	if !s.GaveUp() || w.starts("loop") != budget+1 {
		t.Fatalf("GaveUp=%v starts=%d", s.GaveUp(), w.starts("loop"))
	}
	if len(s.recent) > budget || len(s.children) != 1 {
		t.Fatalf("state grew: %d restart times, %d children", len(s.recent), len(s.children))
	}
	waitGoroutines(t, before)
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, want at most %d", runtime.NumGoroutine(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// A panicking Events callback or Child method does not take the supervisor
// down.
func TestPanicsContained(t *testing.T) {
	w := newWorld()
	s := New(context.Background(), Config{Clock: newFakeClock(), Events: func(Event) { panic("bad subscriber") }})
	if err := s.Add(Spec{Name: "p", Start: func(context.Context) (Child, error) {
		return &panicky{done: make(chan struct{})}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(w.spec("a", Permanent)); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart("p"); err != nil { // Stop panics after ending the child
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Failed() || w.starts("a") != 1 || !w.last(t, "a").ended() {
		t.Fatalf("Failed=%v Reason=%q", s.Failed(), s.Reason())
	}
}

type panicky struct {
	done chan struct{}
	once sync.Once
}

func (p *panicky) Done() <-chan struct{} { return p.done }
func (p *panicky) Failed() bool          { return false }
func (p *panicky) Reason() string        { return "panicky" }
func (p *panicky) Stop(error)            { p.once.Do(func() { close(p.done) }); panic("stop") }
func (p *panicky) Kill(error)            { panic("kill") }

func TestChildrenSnapshot(t *testing.T) {
	h := newHarness(t, Config{})
	h.add("a", "b")
	a := h.w.last(t, "a")
	got := h.s.Children()
	if len(got) != 2 || got[0].Child != Child(a) || !got[0].Running || got[0].Restart != Permanent {
		t.Fatalf("%+v", got)
	}
	a.Crash()
	h.clk.waitRequests(t, 1)
	h.sync()
	ci := info(t, h.s, "a")
	if ci.Running || ci.Child != nil || !ci.LastFailed || ci.LastReason != "trap: unreachable" ||
		!ci.NextRestart.Equal(h.clk.Now().Add(10*time.Millisecond)) {
		t.Fatalf("%+v", ci)
	}
	if a.ctx.Err() == nil {
		t.Fatal("the ended incarnation's context is not canceled")
	}
	got[0].Name = "mutated" // snapshots are copies
	if info(t, h.s, "a").Name != "a" {
		t.Fatal("snapshot shared")
	}
}
