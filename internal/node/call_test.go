package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

// callTestNode runs the WAT library calltest (deadline 2s, 4 instances)
// under the node's supervisor.
func callTestNode(t *testing.T) *Node {
	return startNode(t, `
[[process]]
name = "calltest"
module = "calltest"
calls = ["calltest"]
`)
}

func TestLibraryCallsThroughTheNode(t *testing.T) {
	n := callTestNode(t)
	ctx := context.Background()
	for _, size := range []int{0, 64, 1 << 20} {
		args := bytes.Repeat([]byte{1, 2, 3, 4, 5}, size/5+1)[:size]
		got, err := n.Kernel().Call(ctx, "calltest", "echo", args)
		if err != nil || !bytes.Equal(got, args) {
			t.Fatalf("echo %d bytes: %v", size, err)
		}
	}
	if _, err := n.Kernel().Call(ctx, "calltest", "nosuch", nil); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("unknown function: %v", err)
	}
	if _, err := n.Kernel().Call(ctx, "nolib", "echo", nil); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("missing library: %v", err)
	}
	_, err := n.Kernel().Call(ctx, "calltest", "fail", []byte("out of cheese"))
	if !errors.Is(err, api.ErrFailed) || !strings.Contains(err.Error(), "out of cheese") {
		t.Fatalf("application error: %v", err)
	}
	// The library calls itself: refused as a cycle, returned as its result.
	got, err := n.Kernel().Call(ctx, "calltest", "relay", []byte("calltest"))
	if err != nil || len(got) != 8 || int64(binary.LittleEndian.Uint64(got)) != -9 {
		t.Fatalf("self call: %v %v", got, err)
	}
	info, ok := proc(n, "calltest")
	if !ok || info.Library == nil || info.Library.Calls < 5 || info.State != api.StateRunning {
		t.Fatalf("ps row: %+v", info)
	}
}

func TestLibraryTrapRestartsUnderItsSupervisor(t *testing.T) {
	n := callTestNode(t)
	ctx := context.Background()
	if _, err := n.Kernel().Call(ctx, "calltest", "trap", nil); !errors.Is(err, api.ErrCrashed) {
		t.Fatalf("trap: %v", err)
	}
	// Calls made while the library restarts wait for it.
	got, err := n.Kernel().Call(ctx, "calltest", "echo", []byte("again"))
	if err != nil || string(got) != "again" {
		t.Fatalf("after restart: %q %v", got, err)
	}
	checkFor(t, "restart counted", func() bool {
		info, _ := proc(n, "calltest")
		return info.Restarts >= 1
	})
	// A runaway callee is stopped at the library's deadline (2s) and the
	// library comes back.
	start := time.Now()
	if _, err := n.Kernel().Call(ctx, "calltest", "spin", nil); !errors.Is(err, api.ErrTimeout) {
		t.Fatalf("spin: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("spin stopped after %v", d)
	}
	// The caller's own deadline is shorter: it wins.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := n.Kernel().Call(cctx, "calltest", "spin", nil); !errors.Is(err, api.ErrTimeout) {
		t.Fatalf("spin with a 300ms caller deadline: %v", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("caller deadline not propagated: stopped after %v", d)
	}
	if got, err := n.Kernel().Call(ctx, "calltest", "echo", []byte("ok")); err != nil || string(got) != "ok" {
		t.Fatalf("after timeouts: %q %v", got, err)
	}
}

func TestLibraryGivenUpFailsFast(t *testing.T) {
	n := startNodeWith(t, "", `
[supervisor]
max_restarts = 1
within = "1m"

[[process]]
name = "calltest"
module = "calltest"
`)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, _ = n.Kernel().Call(ctx, "calltest", "trap", nil)
	}
	checkFor(t, "library given up", func() bool {
		info, _ := proc(n, "calltest")
		return info.State == api.StateCrashed && strings.Contains(info.Reason, "given up")
	})
	start := time.Now()
	if _, err := n.Kernel().Call(ctx, "calltest", "echo", nil); !errors.Is(err, api.ErrClosed) || time.Since(start) > time.Second {
		t.Fatalf("call to a given-up library: %v after %v", err, time.Since(start))
	}
}
