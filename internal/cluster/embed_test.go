//go:build embednats

package cluster

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/internal/testwait"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestEmbeddedRoutedCluster: two nodes, each with its own embedded NATS
// server, routed to each other over TLS with a shared token: a message
// crosses, and a third node with the wrong token cannot join.
func TestEmbeddedRoutedCluster(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := testCA(t, dir)
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("a-shared-secret-of-the-cluster"), 0o600); err != nil {
		t.Fatal(err)
	}
	ra, rb := freeAddr(t), freeAddr(t)
	mk := func(name, listen, route, peer string) Config {
		return Config{Node: name, Name: "t", Embedded: true, Listen: listen, RouteListen: route,
			Routes: []string{"nats://" + peer}, TokenFile: tok, TLSCert: certFile, TLSKey: keyFile, TLSCA: caFile,
			Heartbeat: 50 * time.Millisecond, Export: []string{"sensors.>"}}
	}
	ctx := context.Background()
	start := func(cfg Config) (*orbital.Kernel, *Cluster) {
		k, err := orbital.NewKernel(ctx, orbital.NewConfig().WithHome(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k.Close(ctx) })
		c, err := Start(ctx, k, fakeHost{cfg.Node}, cfg, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close(ctx) })
		return k, c
	}
	ka, ca := start(mk("a", freeAddr(t), ra, rb))
	kb, _ := start(mk("b", freeAddr(t), rb, ra))
	sub, err := kb.Connect("sub", orbital.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Subscribe("sensors.>", ""); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 20*time.Second, "a to want sensors.x for b", func() bool { return ca.wantsSubject("sensors.x") })
	pub, err := ka.Connect("pub", orbital.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish("sensors.x", []byte("over TLS routes")); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := sub.Recv(rctx)
	if err != nil || string(m.Data) != "over TLS routes" || m.From != "pub@a" {
		t.Fatalf("got %q from %q: %v", m.Data, m.From, err)
	}
	// A node with the wrong token cannot join a's server.
	wrong := filepath.Join(dir, "wrong")
	_ = os.WriteFile(wrong, []byte("guess"), 0o600)
	k, err := orbital.NewKernel(ctx, orbital.NewConfig().WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close(ctx)
	if c, err := Start(ctx, k, fakeHost{"x"}, Config{Node: "x", Name: "t", URL: "tls://" + ca.cfg.Listen,
		TokenFile: wrong, TLSCA: caFile}, nil, Options{}); err == nil {
		_ = c.Close(ctx)
		t.Fatal("joined with the wrong token")
	}
}
