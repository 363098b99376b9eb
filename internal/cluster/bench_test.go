package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orbitalfoundation/orbital"
)

var payload64 = make([]byte, 64)

// serveEcho answers every request c receives with its data.
func serveEcho(c *orbital.Conn) {
	for {
		m, err := c.Recv(context.Background())
		if err != nil {
			return
		}
		_ = c.Reply(m, m.Data)
	}
}

// BenchmarkRemoteRequest: a 64 B request from a host connection on node
// a to a responder on node b, both joined to one nats-server over
// loopback TCP. Floor: BenchmarkRawNATSRequest.
func BenchmarkRemoteRequest(b *testing.B) {
	s := runServer(b, 0)
	na := startNode(b, s.ClientURL(), "a", nil)
	nb := startNode(b, s.ClientURL(), "b", nil)
	srv := conn(b, nb, "echo")
	if _, err := srv.Subscribe("svc.echo", ""); err != nil {
		b.Fatal(err)
	}
	go serveEcho(srv)
	cli := conn(b, na, "cli")
	waitInterest(b, na, "svc.echo")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := cli.Request(ctx, "svc.echo", payload64); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawNATSRequest: the floor — nats.go request/reply of 64 B
// between two connections to the same server.
func BenchmarkRawNATSRequest(b *testing.B) {
	s := runServer(b, 0)
	rc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Subscribe("svc.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		b.Fatal(err)
	}
	_ = rc.Flush()
	cc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := cc.Request("svc.echo", payload64, 5*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRemoteCall: a 64 B library call from node a to a native
// library on node b (shapes checked on both sides, deadline carried).
func BenchmarkRemoteCall(b *testing.B) {
	s := runServer(b, 0)
	na := startNode(b, s.ClientURL(), "a", nil)
	nb := startNode(b, s.ClientURL(), "b", nil)
	if _, err := nb.k.ProvideNative("vision", "1.0.0", []orbital.NativeExport{{
		Export: orbital.Export{Name: "echo"},
		Func:   func(_ context.Context, args []byte) ([]byte, error) { return args, nil }}}); err != nil {
		b.Fatal(err)
	}
	waitLibrary(b, na, "vision")
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := na.k.Call(ctx, "vision", "echo", payload64); err != nil {
			b.Fatal(err)
		}
	}
}

func waitLibrary(b testing.TB, n *testNode, name string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range n.k.Libraries() {
			if l.Name == name && l.Remote {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatalf("library %s never seen", name)
}

// BenchmarkRemotePublish: 64 B messages published on node a and received
// by a subscriber on node b; ns/op is per message delivered. Floor:
// BenchmarkRawNATSPublish.
func BenchmarkRemotePublish(b *testing.B) {
	s := runServer(b, 0)
	na := startNode(b, s.ClientURL(), "a", nil)
	nb := startNode(b, s.ClientURL(), "b", nil)
	sub, err := nb.k.Connect("sub", orbital.ConnOptions{Mailbox: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Subscribe("sensors.x", ""); err != nil {
		b.Fatal(err)
	}
	pub := conn(b, na, "pub")
	waitInterest(b, na, "sensors.x")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	const window = 4096 // bounded in flight, below every mailbox
	got := 0
	for i := range b.N {
		if err := pub.Publish("sensors.x", payload64); err != nil {
			b.Fatal(err)
		}
		if i-got >= window {
			if _, err := sub.Recv(ctx); err != nil {
				b.Fatal(err)
			}
			got++
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for got < b.N {
		if _, err := sub.Recv(rctx); err != nil {
			b.Fatalf("%d of %d delivered: %v", got, b.N, err)
		}
		got++
	}
}

// BenchmarkRawNATSPublish: the floor — nats.go publish to a subscriber on
// another connection, per message delivered.
func BenchmarkRawNATSPublish(b *testing.B) {
	s := runServer(b, 0)
	rc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	ch := make(chan *nats.Msg, 1<<16)
	sub, err := rc.ChanSubscribe("sensors.x", ch)
	if err != nil {
		b.Fatal(err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	_ = rc.Flush()
	pc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	b.ReportAllocs()
	b.ResetTimer()
	const window = 4096
	got := 0
	for i := range b.N {
		if err := pc.Publish("sensors.x", payload64); err != nil {
			b.Fatal(err)
		}
		if i-got >= window {
			<-ch
			got++
		}
	}
	_ = pc.Flush()
	for got < b.N {
		select {
		case <-ch:
			got++
		case <-time.After(30 * time.Second):
			b.Fatalf("%d of %d delivered", got, b.N)
		}
	}
}

// BenchmarkLocalPublish: the local one-hop path (a host connection
// publishing to a local subscriber) on a node alone and on a node in a
// cluster — for a subject that is not exported, and for one that is
// exported but that no other node wants: neither touches NATS.
func BenchmarkLocalPublish(b *testing.B) {
	run := func(b *testing.B, k *orbital.Kernel, subject string) {
		sub, err := k.Connect("sub", orbital.ConnOptions{Mailbox: 1 << 16})
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		if _, err := sub.Subscribe(subject, ""); err != nil {
			b.Fatal(err)
		}
		pub, err := k.Connect("pub", orbital.ConnOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer pub.Close()
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := pub.Publish(subject, payload64); err != nil {
				b.Fatal(err)
			}
			if _, err := sub.Recv(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("alone", func(b *testing.B) {
		k, err := orbital.NewKernel(context.Background(), orbital.NewConfig().WithHome(b.TempDir()))
		if err != nil {
			b.Fatal(err)
		}
		defer k.Close(context.Background())
		run(b, k, "sensors.local")
	})
	s := runServer(b, 0)
	na := startNode(b, s.ClientURL(), "a", nil)
	startNode(b, s.ClientURL(), "b", nil)
	b.Run("cluster-not-exported", func(b *testing.B) { run(b, na.k, "local.only") })
	b.Run("cluster-exported-unwanted", func(b *testing.B) { run(b, na.k, "sensors.local") })
}
