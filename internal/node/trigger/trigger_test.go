package trigger

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/internal/testwait"
)

// fakeFirer counts firings; the process it "starts" is a host connection
// named like the process, so relayed messages can be read.
type fakeFirer struct {
	mu    sync.Mutex
	fired map[string]int
}

func (f *fakeFirer) Fire(name string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fired[name]++
	return f.fired[name] == 1, nil
}

func (f *fakeFirer) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired[name]
}

func newTriggers(t *testing.T) (*orbital.Kernel, *Triggers, *fakeFirer) {
	t.Helper()
	k, err := orbital.NewKernel(context.Background(), orbital.NewConfig().WithHome(t.TempDir()).WithCompileCache(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close(context.Background()) })
	ctl, err := k.Connect("orbital", orbital.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.Close)
	f := &fakeFirer{fired: map[string]int{}}
	return k, New(k, ctl, f, nil, "127.0.0.1:0", slog.New(slog.DiscardHandler)), f
}

// TestRelayFiresAndForwards: a message on a trigger subject fires the
// process and reaches it by direct send, subject and reply kept; after
// Stop the relay is gone at once, so the same process can be wired again
// without waiting (the ready signal that replaced a retry loop).
func TestRelayFiresAndForwards(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k, trig, f := newTriggers(t)
	proc, err := k.Connect("worker", orbital.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Close()
	pub, err := k.Connect("pub", orbital.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	tr := orbital.Triggers{Declared: true, Subjects: []string{"jobs.*"}}
	for round := 0; round < 20; round++ {
		w, err := trig.Wire("worker", tr, nil)
		if err != nil {
			t.Fatalf("round %d: wire: %v", round, err)
		}
		if err := pub.Publish("jobs.resize", []byte("img")); err != nil {
			t.Fatal(err)
		}
		m, err := proc.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "jobs.resize" || string(m.Data) != "img" || !m.Direct || m.From != "trigger-worker" {
			t.Fatalf("relayed message %+v", m)
		}
		w.Stop()
		// The relay's connection is closed when Stop returns: nobody
		// subscribes to jobs.* now.
		if st := k.BusStats(); st.Subscriptions != 0 {
			t.Fatalf("round %d: %d subscriptions left after Stop", round, st.Subscriptions)
		}
	}
	if f.count("worker") != 20 {
		t.Fatalf("fired %d times, want 20", f.count("worker"))
	}
}

// TestScheduleOnTheClock: a schedule fires at each due time of the
// injected clock, and not after Stop.
func TestScheduleOnTheClock(t *testing.T) {
	_, trig, f := newTriggers(t)
	clock := testwait.NewClock(time.Unix(0, 0))
	trig.clock = clock
	w, err := trig.Wire("cron", orbital.Triggers{Declared: true, Schedule: []string{"@every 1m"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		testwait.For(t, 10*time.Second, "the schedule to wait", func() bool { return clock.Pending() == 1 })
		clock.Advance(time.Minute)
		testwait.For(t, 10*time.Second, "scheduled firing", func() bool { return f.count("cron") == i })
	}
	testwait.For(t, 10*time.Second, "the schedule to wait", func() bool { return clock.Pending() == 1 })
	w.Stop()
	clock.Advance(time.Minute)
	time.Sleep(20 * time.Millisecond) // nothing may fire; a late firing would show below
	if n := f.count("cron"); n != 3 {
		t.Fatalf("fired %d times after Stop, want 3", n)
	}
	if _, err := trig.Wire("bad", orbital.Triggers{Declared: true, Schedule: []string{"not cron"}}, nil); err == nil {
		t.Fatal("a bad schedule was wired")
	}
}

func TestCheckRoutes(t *testing.T) {
	tr := orbital.Triggers{Declared: true, Routes: []string{"GET /x"}}
	if err := Check("web", tr, nil); err == nil {
		t.Fatal("routes without listening on route.web passed")
	}
	if err := Check("web", tr, []string{"route.web"}); err != nil {
		t.Fatal(err)
	}
}
