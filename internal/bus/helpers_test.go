package bus

import (
	"context"
	"sync"
	"testing"
	"time"
)

// eventLog collects Events for assertions.
type eventLog struct {
	mu sync.Mutex
	ev []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) of(kind EventKind) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.ev {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func newTestBus(t testing.TB, o Options) (*Bus, *eventLog) {
	t.Helper()
	log := &eventLog{}
	if o.Events == nil {
		o.Events = log.add
	}
	return New(o), log
}

func register(t testing.TB, b *Bus, name string, id uint64, p Permissions, c MailboxConfig) *Endpoint {
	t.Helper()
	e, err := b.Register(name, id, p, NewMailbox(c))
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return e
}

func subscribe(t testing.TB, e *Endpoint, pattern, queue string) *Subscription {
	t.Helper()
	s, err := e.Subscribe(pattern, queue)
	if err != nil {
		t.Fatalf("%s subscribe %q: %v", e.Name(), pattern, err)
	}
	return s
}

func publish(t testing.TB, e *Endpoint, subject string, data string) {
	t.Helper()
	if err := e.Publish(subject, Message{Data: []byte(data)}); err != nil {
		t.Fatalf("%s publish %q: %v", e.Name(), subject, err)
	}
}

// drain returns every queued message without waiting.
func drain(mb *Mailbox) []Message {
	var out []Message
	for {
		m, ok := mb.TryRecv()
		if !ok {
			return out
		}
		out = append(out, m)
	}
}

func datas(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Data)
	}
	return out
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds (or fails the test after 10 s). It is
// for waiting on another goroutine's progress, never for asserting timing.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func perms(pub, sub []string, sendTo ...string) Permissions {
	return Permissions{Publish: Rules{Allow: pub}, Subscribe: Rules{Allow: sub}, SendTo: sendTo}
}
