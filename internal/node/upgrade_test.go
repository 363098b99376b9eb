package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// TestUpgradeLosesNoMessages: requests keep flowing to an installed bus
// service while it is upgraded to a new version; every request is answered
// (the old version hands its mailbox to the new one), and a rollback does
// the same.
func TestUpgradeLosesNoMessages(t *testing.T) {
	home, key := trustedHome(t)
	wasm, err := os.ReadFile(testwasm.Path(t, "pong"))
	if err != nil {
		t.Fatal(err)
	}
	pkg := func(version string) []byte {
		return signedPackage(t, key, wasm, fmt.Sprintf("name = \"svc\"\nversion = %q\nkind = \"service\"\n[bus]\nsubscribe = [\"svc.ping\"]\nlisten = [\"svc.ping\"]\nsend = [\"*\"]\n", version))
	}
	cfg, err := config.Parse([]byte("[node]\ngrace = \"2s\"\n"), "t.toml", t.TempDir(), home)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n, err := Start(context.Background(), cfg, home, log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	ctx := context.Background()
	if _, err := n.Modules().Install(ctx, pkg("1.0.0"), false); err != nil {
		t.Fatal(err)
	}
	checkFor(t, "svc running", func() bool { p, _ := proc(n, "svc"); return p.Module == "svc@1.0.0" })

	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				want := fmt.Sprintf("w%d-%d", w, i)
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				got, err := n.Bus().Request(rctx, "svc.ping", []byte(want))
				cancel()
				if err != nil || string(got) != want {
					errs <- fmt.Errorf("request %s: %q %v", want, got, err)
					return
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := n.Modules().Install(ctx, pkg("1.1.0"), false); err != nil {
		t.Fatal(err)
	}
	checkFor(t, "svc upgraded", func() bool { p, _ := proc(n, "svc"); return p.Module == "svc@1.1.0" })
	time.Sleep(100 * time.Millisecond)
	if err := n.Modules().Pin(ctx, "svc", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	checkFor(t, "svc rolled back", func() bool { p, _ := proc(n, "svc"); return p.Module == "svc@1.0.0" })
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestSignedConfigModuleVerified: a signed package named in the node
// config is verified; one whose bytes were changed after signing stops the
// node before anything runs.
func TestSignedConfigModuleVerified(t *testing.T) {
	home, key := trustedHome(t)
	wasm, err := os.ReadFile(testwasm.Path(t, "pong"))
	if err != nil {
		t.Fatal(err)
	}
	good := signedPackage(t, key, wasm, "name = \"svc\"\nversion = \"1.0.0\"\nkind = \"service\"\n[bus]\nsubscribe = [\"p\"]\nlisten = [\"p\"]\nsend = [\"*\"]\n")
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	start := func(path string) error {
		cfg, err := config.Parse([]byte("[[process]]\nname = \"svc\"\nmodule = \""+path+"\"\n"), "t.toml", dir, home)
		if err != nil {
			t.Fatal(err)
		}
		n, err := Start(context.Background(), cfg, home, nil, Options{})
		if err == nil {
			_ = n.Close(context.Background())
		}
		return err
	}
	if err := start(write("good.wasm", good)); err != nil {
		t.Fatalf("signed and trusted: %v", err)
	}
	bad := append([]byte(nil), good...)
	bad[60] ^= 0x01
	if err := start(write("bad.wasm", bad)); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("tampered: %v", err)
	}
}
