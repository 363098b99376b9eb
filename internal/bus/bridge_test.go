package bus

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

// TestBridge: the bridge gets one copy of a publish only when it wants the
// subject; injected messages reach only the named pattern or group, never
// the bridge; requests from elsewhere are answered through a callback; a
// forwarded local request can be failed.
func TestBridge(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	br, err := b.Register("bridge", 1, AllowAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int64
	b.SetBridge(br, func(s string) bool { asked.Add(1); return s == "far.away" })
	var changes atomic.Int64
	b.WatchSubscriptions(func() { changes.Add(1) })

	sub, _ := b.Register("sub", 2, AllowAll, nil)
	all, _ := b.Register("all", 3, AllowAll, nil)
	w1, _ := b.Register("w1", 4, AllowAll, nil)
	pub, _ := b.Register("pub", 5, AllowAll, nil)
	for _, s := range []struct {
		e    *Endpoint
		p, q string
	}{{sub, "far.away", ""}, {all, "far.>", ""}, {w1, "far.*", "g"}} {
		if _, err := s.e.Subscribe(s.p, s.q); err != nil {
			t.Fatal(err)
		}
	}
	if changes.Load() != 3 {
		t.Fatalf("%d subscription changes seen, want 3", changes.Load())
	}
	if got := len(b.Subscriptions()); got != 3 {
		t.Fatalf("Subscriptions: %d", got)
	}
	for range 3 {
		if err := pub.Publish("far.away", Message{Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish("far.near", Message{Data: []byte("y")}); err != nil {
			t.Fatal(err)
		}
	}
	if n := br.Mailbox().Len(); n != 3 {
		t.Fatalf("the bridge holds %d messages, want the 3 on the subject it wants", n)
	}
	if asked.Load() != 2 {
		t.Fatalf("Wants asked %d times, want once per subject", asked.Load())
	}
	if g := b.LocalGroups("far.away"); len(g) != 1 || g[0] != "g" {
		t.Fatalf("LocalGroups = %v", g)
	}
	drain := func(e *Endpoint) int {
		n := 0
		for {
			if _, ok := e.Mailbox().TryRecv(); !ok {
				return n
			}
			n++
		}
	}
	drain(sub)
	drain(all)
	drain(w1)
	drain(br)

	// Inject to the pattern far.> only: all gets it, sub (far.away) does not.
	n, err := br.Inject("far.>", "", Message{Subject: "far.away", From: "x@b", Data: []byte("in")})
	if err != nil || n != 1 {
		t.Fatalf("Inject: %d %v", n, err)
	}
	if m, ok := all.Mailbox().TryRecv(); !ok || m.From != "x@b" || string(m.Data) != "in" {
		t.Fatalf("all got %+v %v", m, ok)
	}
	if drain(sub) != 0 || drain(br) != 0 || drain(w1) != 0 {
		t.Fatal("an injected message reached another pattern, the group or the bridge")
	}
	if n, _ := br.Inject("far.*", "g", Message{Subject: "far.away", From: "x@b"}); n != 1 || drain(w1) != 1 {
		t.Fatal("a queue-group inject did not reach the member")
	}
	for _, bad := range []string{"$sys.x", "_inbox.abc.1", "a..b"} {
		if _, err := br.Inject(">", "", Message{Subject: bad}); err == nil {
			t.Fatalf("Inject of %q accepted", bad)
		}
	}
	if _, err := br.Inject(">", "", Message{Subject: "far.away", Data: make([]byte, DefaultMaxMessageSize+1)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized inject: %v", err)
	}

	// A request from elsewhere: the local responder's answer comes back
	// through the callback, with the responder's name.
	go func() {
		m, err := sub.Mailbox().Recv(context.Background())
		if err == nil {
			_ = sub.Reply(m, append([]byte("re:"), m.Data...))
		}
	}()
	got := make(chan Message, 1)
	br.InjectRequestFunc("far.away", "", Message{Subject: "far.away", From: "asker@b", Data: []byte("q")}, 5*time.Second,
		func(m Message, err error) {
			if err != nil {
				t.Error(err)
			}
			got <- m
		})
	select {
	case m := <-got:
		if string(m.Data) != "re:q" || m.From != "sub" {
			t.Fatalf("answer %q from %q", m.Data, m.From)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
	}
	// Nobody on the pattern: no responders at once; nobody answering: a timeout.
	errs := make(chan error, 2)
	br.InjectRequestFunc("nobody.>", "", Message{Subject: "far.away"}, time.Second, func(_ Message, err error) { errs <- err })
	if err := <-errs; !errors.Is(err, ErrNoResponders) {
		t.Fatalf("no responders: %v", err)
	}
	br.InjectRequestFunc("far.away", "", Message{Subject: "far.away"}, 50*time.Millisecond, func(_ Message, err error) { errs <- err })
	if err := <-errs; !errors.Is(err, api.ErrTimeout) {
		t.Fatalf("unanswered: %v", err)
	}
	drain(sub)

	// A local request the bridge carried away, failed by it.
	done := make(chan error, 1)
	go func() {
		_, err := pub.Request(context.Background(), "far.away", nil) // sub never answers; the bridge has a copy
		done <- err
	}()
	m, err := br.Mailbox().Recv(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.Deadline != 0 {
		t.Fatalf("a request without a deadline carries %d", m.Deadline)
	}
	if err := b.FailRequest(m.Reply, ErrNoResponders); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrNoResponders) {
		t.Fatalf("failed request: %v", err)
	}
	if err := b.FailRequest(m.Reply, ErrNoResponders); !errors.Is(err, ErrNoRequest) {
		t.Fatalf("failing twice: %v", err)
	}

	// Without the bridge the bus is local again.
	b.SetBridge(nil, nil)
	_ = pub.Publish("far.away", Message{})
	if drain(br) != 0 {
		t.Fatal("a removed bridge still gets copies")
	}
}
