package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/testwait"
)

// runServer starts a real nats-server on a random loopback port.
func runServer(t testing.TB, maxPayload int32) *server.Server {
	t.Helper()
	o := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true, MaxPayload: maxPayload}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(s.Shutdown)
	return s
}

type fakeHost struct{ name string }

func (h fakeHost) Health() api.NodeHealth { return api.NodeHealth{Status: "ok"} }
func (h fakeHost) Processes() []api.ProcessInfo {
	return []api.ProcessInfo{{Name: "p-" + h.name, State: api.StateRunning}}
}
func (h fakeHost) Start(string) error { return nil }
func (h fakeHost) Stop(string) error  { return nil }

type testNode struct {
	k  *orbital.Kernel
	c  *Cluster
	cf Config
}

// startNode starts a kernel joined to url as node name.
func startNode(t testing.TB, url, name string, mod func(*Config)) *testNode {
	t.Helper()
	ctx := context.Background()
	k, err := orbital.NewKernel(ctx, orbital.NewConfig().WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	cf := Config{Node: name, Name: "test", URL: url, Heartbeat: 50 * time.Millisecond,
		Export: []string{"sensors.>", "jobs.*", "svc.>", "big.>"}, Libraries: []string{"vision"}}
	if mod != nil {
		mod(&cf)
	}
	c, err := Start(ctx, k, fakeHost{name}, cf, nil, Options{MaxHeld: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{k: k, c: c, cf: cf}
	t.Cleanup(func() { n.close() })
	return n
}

func (n *testNode) close() {
	if n.c != nil {
		_ = n.c.Close(context.Background())
		n.c = nil
	}
	_ = n.k.Close(context.Background())
}

func conn(t testing.TB, n *testNode, name string) *orbital.Conn {
	t.Helper()
	c, err := n.k.Connect(name, orbital.ConnOptions{Mailbox: 10000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// waitInterest waits until n's bus forwards subject (a peer subscribed).
func waitInterest(t testing.TB, n *testNode, subject string) {
	t.Helper()
	testwait.For(t, 10*time.Second, "remote interest in "+subject, func() bool { return n.c.wantsSubject(subject) })
}

func recv(t testing.TB, c *orbital.Conn, within time.Duration) (orbital.Message, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	m, err := c.Recv(ctx)
	return m, err == nil
}

func TestPubSubAcrossNodes(t *testing.T) {
	s := runServer(t, 0)
	a := startNode(t, s.ClientURL(), "a", nil)
	b := startNode(t, s.ClientURL(), "b", nil)

	sub := conn(t, a, "sub")
	if _, err := sub.Subscribe("sensors.>", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe("secret.>", ""); err != nil {
		t.Fatal(err)
	}
	pub := conn(t, b, "pub")
	waitInterest(t, b, "sensors.temp")
	if b.c.wantsSubject("secret.x") {
		t.Fatal("a subject that is not exported is wanted elsewhere")
	}
	for i := range 100 {
		if err := pub.Publish("sensors.temp", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish("secret.plan", []byte("never leaves")); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		m, ok := recv(t, sub, 5*time.Second)
		if !ok {
			t.Fatalf("message %d did not arrive", i)
		}
		if m.Subject != "sensors.temp" || m.From != "pub@b" || string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d = %q from %q on %q", i, m.Data, m.From, m.Subject)
		}
	}
	if m, ok := recv(t, sub, 300*time.Millisecond); ok {
		t.Fatalf("got %q on %s: a subject not exported crossed", m.Data, m.Subject)
	}
	// A subject nobody elsewhere wants never touches NATS.
	before := b.c.Stats().Forwarded
	local := conn(t, b, "local")
	if _, err := local.Subscribe("jobs.local", ""); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		_ = pub.Publish("jobs.local", []byte("x"))
	}
	if _, ok := recv(t, local, time.Second); !ok {
		t.Fatal("local delivery failed")
	}
	if got := b.c.Stats().Forwarded; got != before {
		t.Fatalf("forwarded %d messages nobody elsewhere wanted", got-before)
	}
}

func TestQueueGroupSpansNodes(t *testing.T) {
	s := runServer(t, 0)
	a := startNode(t, s.ClientURL(), "a", nil)
	b := startNode(t, s.ClientURL(), "b", nil)
	c := startNode(t, s.ClientURL(), "c", nil)
	wb, wc := conn(t, b, "worker"), conn(t, c, "worker")
	for _, w := range []*orbital.Conn{wb, wc} {
		if _, err := w.Subscribe("jobs.*", "workers"); err != nil {
			t.Fatal(err)
		}
	}
	pub := conn(t, a, "pub")
	waitInterest(t, a, "jobs.x")
	testwait.For(t, 5*time.Second, "both workers known", func() bool {
		n := 0
		for _, p := range a.c.Nodes() {
			for _, in := range peerInterest(a.c, p.Name) {
				if in.Queue == "workers" {
					n++
				}
			}
		}
		return n == 2
	})
	const total = 200
	for i := range total {
		if err := pub.Publish("jobs.x", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	var nb, nc int
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < total && time.Now().Before(deadline) {
		if m, ok := recv(t, wb, 20*time.Millisecond); ok {
			seen[string(m.Data)]++
			nb++
		}
		if m, ok := recv(t, wc, 20*time.Millisecond); ok {
			seen[string(m.Data)]++
			nc++
		}
	}
	if len(seen) != total {
		t.Fatalf("%d of %d jobs arrived", len(seen), total)
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("job %s delivered %d times", k, n)
		}
	}
	if nb == 0 || nc == 0 {
		t.Fatalf("queue group not spread: b %d, c %d", nb, nc)
	}
	// A group with a member on the publisher's node is served there, once.
	wa := conn(t, a, "worker")
	if _, err := wa.Subscribe("jobs.*", "workers"); err != nil {
		t.Fatal(err)
	}
	plain := conn(t, c, "watcher") // keeps the subject wanted elsewhere
	if _, err := plain.Subscribe("jobs.*", ""); err != nil {
		t.Fatal(err)
	}
	waitInterest(t, a, "jobs.y")
	time.Sleep(200 * time.Millisecond) // the announcement with the watcher
	for i := range 50 {
		_ = pub.Publish("jobs.y", fmt.Appendf(nil, "y%d", i))
	}
	got := 0
	for range 50 {
		if _, ok := recv(t, plain, 5*time.Second); !ok {
			t.Fatal("the plain subscriber on c missed messages")
		}
	}
	for {
		_, ok1 := recv(t, wa, 100*time.Millisecond)
		_, ok2 := recv(t, wb, 10*time.Millisecond)
		_, ok3 := recv(t, wc, 10*time.Millisecond)
		if !ok1 && !ok2 && !ok3 {
			break
		}
		for _, ok := range []bool{ok1, ok2, ok3} {
			if ok {
				got++
			}
		}
	}
	if got != 50 {
		t.Fatalf("the group got %d deliveries of 50 messages", got)
	}
}

func peerInterest(c *Cluster, name string) []api.Interest {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.peers[name]; p != nil {
		return p.ann.Interest
	}
	return nil
}

func TestRequestReplyAndBlobsAcrossNodes(t *testing.T) {
	s := runServer(t, 64<<10) // a small max payload: large bodies are fetched in chunks
	a := startNode(t, s.ClientURL(), "a", nil)
	b := startNode(t, s.ClientURL(), "b", nil)
	srv := conn(t, b, "echo")
	if _, err := srv.Subscribe("svc.echo", ""); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			m, err := srv.Recv(context.Background())
			if err != nil {
				return
			}
			_ = srv.Reply(m, append([]byte("echo:"), m.Data...))
		}
	}()
	cli := conn(t, a, "cli")
	waitInterest(t, a, "svc.echo")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 20 {
		r, err := cli.Request(ctx, "svc.echo", fmt.Appendf(nil, "%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("echo:%d", i); string(r.Data) != want || r.From != "echo@b" {
			t.Fatalf("reply %q from %q, want %q from echo@b", r.Data, r.From, want)
		}
	}
	// A large request body (above NATS's max payload) crosses too.
	big := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB
	r, err := cli.Request(ctx, "svc.echo", big)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Data, append([]byte("echo:"), big...)) {
		t.Fatalf("large echo: %d bytes back", len(r.Data))
	}
	// A request nobody answers anywhere fails fast, not at the deadline.
	_, err = cli.Request(ctx, "svc.nobody", nil)
	if !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("no responders: %v", err)
	}
	// A blob becomes a blob again on the other side.
	bs := conn(t, a, "blobs")
	if _, err := bs.Subscribe("big.>", ""); err != nil {
		t.Fatal(err)
	}
	waitInterest(t, b, "big.frame")
	pub := conn(t, b, "cam")
	frame := bytes.Repeat([]byte{1, 2, 3, 4}, 300<<10) // 1.2 MiB
	if err := pub.PublishBlob("big.frame", frame); err != nil {
		t.Fatal(err)
	}
	m, ok := recv(t, bs, 10*time.Second)
	if !ok {
		t.Fatal("the blob did not arrive")
	}
	if !bytes.Equal(m.Blob, frame) || len(m.Data) != 0 {
		t.Fatalf("blob of %d bytes (data %d), want %d", len(m.Blob), len(m.Data), len(frame))
	}
}

func TestRemoteLibraryCalls(t *testing.T) {
	s := runServer(t, 0)
	a := startNode(t, s.ClientURL(), "a", nil)
	var onB, onC atomic.Int64
	provide := func(n *testNode, count *atomic.Int64, node string) {
		_, err := n.k.ProvideNative("vision", "1.2.0", []orbital.NativeExport{{
			Export: orbital.Export{Name: "brightness", Args: "{w: int}", Result: "{node: string, w: int}"},
			Func: func(ctx context.Context, args []byte) ([]byte, error) {
				count.Add(1)
				var w int
				_, _ = fmt.Sscanf(string(args), `{"w":%d}`, &w)
				return fmt.Appendf(nil, `{"node":%q,"w":%d}`, node, w), nil
			}}, {
			Export: orbital.Export{Name: "slow"},
			Func: func(ctx context.Context, args []byte) ([]byte, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = n.k.ProvideNative("secret", "1.0.0", []orbital.NativeExport{{
			Export: orbital.Export{Name: "get"},
			Func:   func(context.Context, []byte) ([]byte, error) { return []byte("s3cr3t"), nil }}})
		if err != nil {
			t.Fatal(err)
		}
	}
	b := startNode(t, s.ClientURL(), "b", nil)
	c := startNode(t, s.ClientURL(), "c", nil)
	provide(b, &onB, "b")
	provide(c, &onC, "c")
	testwait.For(t, 5*time.Second, "vision on b and c seen from a", func() bool {
		for _, l := range a.k.Libraries() {
			if l.Name == "vision" && l.Remote && len(l.Nodes) == 2 {
				return true
			}
		}
		return false
	})
	for _, l := range a.k.Libraries() {
		if l.Name == "secret" {
			t.Fatalf("a library not exported to the cluster is offered: %+v", l)
		}
	}
	ctx := context.Background()
	for i := range 20 {
		res, err := a.k.Call(ctx, "vision", "brightness", fmt.Appendf(nil, `{"w":%d}`, i))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(res, fmt.Appendf(nil, `"w":%d`, i)) {
			t.Fatalf("call %d = %s", i, res)
		}
	}
	if onB.Load() == 0 || onC.Load() == 0 {
		t.Fatalf("calls not spread over the providers: b %d, c %d", onB.Load(), onC.Load())
	}
	// Shapes are checked before the bytes leave.
	before := onB.Load() + onC.Load()
	if _, err := a.k.Call(ctx, "vision", "brightness", []byte(`{"w":"wide"}`)); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("bad arguments: %v", err)
	}
	if onB.Load()+onC.Load() != before {
		t.Fatal("a call with bad arguments reached a provider")
	}
	// Deadlines propagate: the callee's context ends.
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	start := time.Now()
	_, err := a.k.Call(dctx, "vision", "slow", nil)
	cancel()
	if !errors.Is(err, api.ErrTimeout) {
		t.Fatalf("slow call: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("a remote call outlived its deadline")
	}
	// A library not exported to the cluster is refused by its node even
	// when asked directly.
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := nats.NewMsg("orbital.lib.b.secret")
	req.Header.Set(hFn, "get")
	r, err := nc.RequestMsg(req, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if e := r.Header.Get(hError); !errors.Is(decodeError("b", e), api.ErrPermissionDenied) || len(r.Data) != 0 {
		t.Fatalf("direct call of an unexported library: error %q, data %q", e, r.Data)
	}
	if b.c.Stats().CallsRefused == 0 {
		t.Fatal("the refusal was not counted")
	}

	// A node that goes away: calls fail over to the other provider.
	b.close()
	for i := range 10 {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		res, err := a.k.Call(cctx, "vision", "brightness", []byte(`{"w":1}`))
		cancel()
		if err != nil {
			t.Fatalf("call %d after b left: %v", i, err)
		}
		if !bytes.Contains(res, []byte(`"node":"c"`)) {
			t.Fatalf("call %d after b left answered by %s", i, res)
		}
	}
	// The last provider gone: a clear error within the deadline.
	c.close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start = time.Now()
	_, err = a.k.Call(cctx, "vision", "brightness", []byte(`{"w":1}`))
	if !errors.Is(err, api.ErrNotFound) && !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("no provider left: %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("a call with no provider hung")
	}
}

// TestNodeGoesDown: a node that stops answering (kill -9: no goodbye) is
// marked down within a few heartbeats, and calls to it end early.
func TestNodeGoesDown(t *testing.T) {
	s := runServer(t, 0)
	a := startNode(t, s.ClientURL(), "a", nil)
	b := startNode(t, s.ClientURL(), "b", nil)
	testwait.For(t, 5*time.Second, "b seen", func() bool { return state(a.c, "b") == api.NodeUp })
	// Simulate a crash: b's connection vanishes without a goodbye.
	b.c.stop()
	b.c.nc.Close()
	testwait.For(t, 5*time.Second, "b down", func() bool { return state(a.c, "b") == api.NodeDown })
}

func state(c *Cluster, name string) string {
	for _, n := range c.Nodes() {
		if n.Name == name {
			return n.State
		}
	}
	return ""
}

// TestSlowRemoteConsumer: a subscriber on b that never reads, flooded from
// a, costs b bounded memory (its mailbox and the NATS subscription's
// pending limits drop the excess, counted) and b keeps serving others.
func TestSlowRemoteConsumer(t *testing.T) {
	s := runServer(t, 0)
	a := startNode(t, s.ClientURL(), "a", nil)
	b := startNode(t, s.ClientURL(), "b", nil)
	slow, err := b.k.Connect("slow", orbital.ConnOptions{Mailbox: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := slow.Subscribe("sensors.>", ""); err != nil {
		t.Fatal(err)
	}
	pub := conn(t, a, "flood")
	waitInterest(t, a, "sensors.flood")
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	payload := bytes.Repeat([]byte("x"), 32<<10)
	const n = 20000 // 640 MiB in all
	for range n {
		if err := pub.Publish("sensors.flood", payload); err != nil {
			t.Fatal(err)
		}
	}
	// Everything published has been carried (or dropped) once a request
	// behind it is answered.
	echo := conn(t, b, "echo")
	if _, err := echo.Subscribe("svc.ping", ""); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			m, err := echo.Recv(context.Background())
			if err != nil {
				return
			}
			_ = echo.Reply(m, []byte("pong"))
		}
	}()
	waitInterest(t, a, "svc.ping")
	cli := conn(t, a, "cli")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if r, err := cli.Request(ctx, "svc.ping", nil); err != nil || string(r.Data) != "pong" {
		t.Fatalf("b stopped serving under the flood: %q %v", r.Data, err)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapInuse) - int64(before.HeapInuse)
	if grown > 200<<20 {
		t.Fatalf("the heap grew by %d MiB for a consumer that never reads", grown>>20)
	}
	if st := slow.Stats(); st.Dropped == 0 {
		t.Fatalf("the slow consumer's mailbox dropped nothing: %+v", st)
	}
}
