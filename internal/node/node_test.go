package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/logring"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/testwait"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// startNode runs a node from a TOML config whose modules come from build/wasm.
func startNode(t testing.TB, toml string) *Node { return startNodeWith(t, "", toml) }

// startNodeWith adds nodeKeys to the [node] table.
func startNodeWith(t testing.TB, nodeKeys, toml string) *Node {
	t.Helper()
	wasmDir := filepath.Dir(testwasm.Path(t, "echo"))
	cfg, err := config.Parse([]byte("[node]\nmodule_path = [\""+wasmDir+"\"]\ngrace = \"2s\"\n"+nodeKeys+"\n"+toml), "test.toml", t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n, err := Start(context.Background(), cfg, testwasm.Home(t), log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// checkFor polls cond until it holds or the bound passes.
func checkFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 30*time.Second, what, cond)
}

func request(t *testing.T, n *Node, subject, data string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := n.Bus().Request(ctx, subject, []byte(data))
	return string(b), err
}

func proc(n *Node, name string) (api.ProcessInfo, bool) {
	for _, p := range n.Runner().Processes() {
		if p.Name == name {
			return p, true
		}
	}
	return api.ProcessInfo{}, false
}

func TestRequestReplyThroughWasm(t *testing.T) {
	n := startNode(t, "[[process]]\nname = \"echo\"\nmodule = \"echo\"\n")
	checkFor(t, "echo running", func() bool { p, _ := proc(n, "echo"); return p.State == api.StateRunning })
	var got string
	checkFor(t, "echo answering", func() bool {
		var err error
		got, err = request(t, n, "demo.echo", "hello bus")
		return err == nil
	})
	if got != "hello bus" {
		t.Fatalf("echo replied %q", got)
	}
	// 64 KiB round trip.
	big := strings.Repeat("x", 64<<10)
	if got, err := request(t, n, "demo.echo", big); err != nil || got != big {
		t.Fatalf("64 KiB echo: %d bytes, err %v", len(got), err)
	}
	// Nobody listens on demo.nobody: a clear error, not a hang.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := n.Bus().Request(ctx, "demo.nobody", nil); !errors.Is(err, api.ErrNotFound) && !errors.Is(err, api.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request without responders: %v", err)
	}
	if p, _ := proc(n, "echo"); p.MsgsIn < 2 || p.MsgsOut < 2 {
		t.Fatalf("echo counters: in %d out %d", p.MsgsIn, p.MsgsOut)
	}
}

func TestWildcardsAndFanOut(t *testing.T) {
	n := startNode(t, "[[process]]\nname = \"stats\"\nmodule = \"stats\"\n[[process]]\nname = \"stats2\"\nmodule = \"stats\"\n")
	checkFor(t, "stats answering", func() bool { _, err := request(t, n, "demo.stats", ""); return err == nil })
	for _, s := range []string{"demo.a", "demo.a", "demo.b.c", "other.x"} {
		if err := n.Bus().Publish(s, []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	counts := map[string]float64{}
	checkFor(t, "counts", func() bool {
		out, err := request(t, n, "demo.stats", "")
		if err != nil {
			return false
		}
		counts = map[string]float64{}
		if err := json.Unmarshal([]byte(out), &counts); err != nil {
			t.Fatalf("stats reply %q: %v", out, err)
		}
		return counts["demo.a"] == 2 && counts["demo.b.c"] == 1
	})
	if _, seen := counts["other.x"]; seen {
		t.Fatalf("stats saw a subject outside demo.>: %v", counts)
	}
	// Both subscribers got every demo.> message (fan-out).
	for _, name := range []string{"stats", "stats2"} {
		p, _ := proc(n, name)
		if p.MsgsIn < 3 {
			t.Errorf("%s received %d messages, want ≥ 3", name, p.MsgsIn)
		}
	}
}

func TestSupervisorRestartsACrashingModule(t *testing.T) {
	n := startNode(t, `
[supervisor]
max_restarts = 100
within = "10s"
[[process]]
name = "flaky"
module = "flaky"
`)
	checkFor(t, "flaky running", func() bool { p, _ := proc(n, "flaky"); return p.State == api.StateRunning })
	crashes := make(chan struct{}, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = n.Bus().Subscribe(ctx, "$sys.process.flaky.crashed", func(api.BusMessage) error { crashes <- struct{}{}; return nil })
	}()
	// flaky traps on every 5th message it handles. Ticks still queued in
	// its mailbox when it traps die with that incarnation (on a loaded
	// machine that can be all of them), so tick until it has been
	// restarted twice rather than a fixed number of times.
	deadline := time.Now().Add(time.Minute)
	for i := 0; ; i++ {
		if p, _ := proc(n, "flaky"); p.Restarts >= 2 {
			break
		}
		if time.Now().After(deadline) {
			p, _ := proc(n, "flaky")
			t.Fatalf("after %d ticks flaky was restarted %d times: %+v", i, p.Restarts, p)
		}
		checkFor(t, "flaky running again", func() bool { p, _ := proc(n, "flaky"); return p.State == api.StateRunning })
		if err := n.Bus().Publish("demo.tick", []byte(fmt.Sprintf("tick %d", i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // let it handle the tick before the next
	}
	select {
	case <-crashes:
	case <-time.After(10 * time.Second):
		t.Fatal("no $sys.process.flaky.crashed event")
	}
	checkFor(t, "flaky running after its restarts", func() bool { p, _ := proc(n, "flaky"); return p.State == api.StateRunning })
}

func TestCrashLoopHitsTheBudget(t *testing.T) {
	n := startNode(t, `
[supervisor]
max_restarts = 3
within = "1m"
[[process]]
name = "recurse"
module = "recurse"
[[process]]
name = "echo"
module = "echo"
`)
	gaveUp := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = n.Bus().Subscribe(ctx, "$sys.process.recurse.gave_up", func(api.BusMessage) error { gaveUp <- struct{}{}; return nil })
	}()
	checkFor(t, "recurse given up", func() bool { _, ok := n.Runner().GaveUp()["recurse"]; return ok })
	p, listed := proc(n, "recurse")
	if !listed || !strings.Contains(p.Reason, "given up after 3 restarts") {
		t.Fatalf("recurse in the table: %v %+v", listed, p)
	}
	// The rest of the node keeps running.
	select {
	case <-n.Done():
		t.Fatal("the node's supervision ended because one process crash-looped")
	default:
	}
	checkFor(t, "echo answering", func() bool { got, err := request(t, n, "demo.echo", "alive"); return err == nil && got == "alive" })
	select {
	case <-gaveUp:
	case <-time.After(10 * time.Second):
		t.Fatal("no $sys.process.recurse.gave_up event")
	}
	if h := n.Health(); h.Status != "degraded" || !slices.Equal(h.GaveUp, []string{"recurse"}) {
		t.Fatalf("health after a give-up: %+v", h)
	}
	// The operator starts it again: the node is healthy until the budget
	// is spent anew.
	if err := n.Runner().Start("recurse"); err != nil {
		t.Fatal(err)
	}
	if h := n.Health(); h.Status != "ok" || len(h.GaveUp) != 0 {
		t.Fatalf("health after starting it again: %+v", h)
	}
}

func TestBlobSharedByThreeIsFreedOnce(t *testing.T) {
	n := startNode(t, "[[process]]\nname = \"sink1\"\nmodule = \"blobsink\"\n[[process]]\nname = \"sink2\"\nmodule = \"blobsink\"\n[[process]]\nname = \"sink3\"\nmodule = \"blobsink\"\n")
	for _, s := range []string{"sink1", "sink2", "sink3"} {
		s := s
		checkFor(t, s+" running", func() bool { p, _ := proc(n, s); return p.State == api.StateRunning })
	}
	acks := make(chan string, 8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ready sync.WaitGroup
	ready.Add(1)
	go func() {
		conn, err := n.Kernel().Connect("acks", orbital.ConnOptions{Mailbox: 64})
		if err != nil {
			t.Error(err)
			ready.Done()
			return
		}
		defer conn.Close()
		if _, err := conn.Subscribe("demo.blob.ack", ""); err != nil {
			t.Error(err)
		}
		ready.Done()
		for {
			m, err := conn.Recv(ctx)
			if err != nil {
				return
			}
			acks <- string(m.Data)
		}
	}()
	ready.Wait()
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i)
	}
	pub, err := n.Kernel().Connect("blobber", orbital.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.PublishBlob("demo.blob", data); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		select {
		case a := <-acks:
			if a != fmt.Sprint(len(data)) {
				t.Fatalf("ack %q, want the blob length", a)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of 3 sinks acknowledged", i)
		}
	}
	checkFor(t, "blob freed", func() bool { count, bytes := n.Kernel().Blobs(); return count == 0 && bytes == 0 })
}

func TestGracefulShutdownAndManyProcesses(t *testing.T) {
	var cfg strings.Builder
	const procs = 200
	for i := range procs {
		fmt.Fprintf(&cfg, "[[process]]\nname = \"pong%d\"\nmodule = \"pong\"\n", i)
	}
	n := startNode(t, cfg.String())
	checkFor(t, "all running", func() bool {
		running := 0
		for _, p := range n.Runner().Processes() {
			if p.State == api.StateRunning {
				running++
			}
		}
		return running == procs
	})
	// Soak: every process answers requests from many concurrent callers.
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				want := fmt.Sprintf("%d-%d", i, j)
				got, err := request(t, n, "ping", want)
				if err != nil || got != want {
					errs <- fmt.Errorf("ping %s: %q %v", want, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ended := n.k.Processes()
	if len(ended) != procs {
		t.Fatalf("kernel table has %d processes, want %d", len(ended), procs)
	}
	for _, p := range ended {
		if p.State != api.StateExited {
			t.Errorf("%s ended %s (%s), want a graceful exit", p.Name, p.State, p.Reason)
		}
	}
}

// TestBusyGuestDoesNotStarveOthers: with two execution slots, a guest
// spinning in a loop holds one; the others keep being served on the other,
// and the spinner is bounded by its deadline (then restarted).
func TestBusyGuestDoesNotStarveOthers(t *testing.T) {
	n := startNodeWith(t, "max_running = 2", `
[supervisor]
max_restarts = 1000
within = "1s"
[[process]]
name = "spin"
module = "spin"
[[process]]
name = "echo"
module = "echo"
[[process]]
name = "stats"
module = "stats"
`)
	checkFor(t, "spin running", func() bool { p, _ := proc(n, "spin"); return p.State == api.StateRunning })
	// While spin loops (its manifest deadline is 1s, then it is restarted),
	// echo and stats answer every request.
	for i := range 50 {
		want := fmt.Sprint("req-", i)
		if got, err := request(t, n, "demo.echo", want); err != nil || got != want {
			t.Fatalf("echo while spin spins: %q %v", got, err)
		}
		if _, err := request(t, n, "demo.stats", ""); err != nil {
			t.Fatalf("stats while spin spins: %v", err)
		}
	}
	checkFor(t, "spin stopped by its deadline and restarted", func() bool { p, _ := proc(n, "spin"); return p.Restarts >= 1 })
}

// TestFloodIsBoundedAndCounted: one publisher floods a slow consumer with a
// small drop-oldest mailbox; the consumer's queue stays bounded, drops are
// counted, and another process keeps answering.
func TestFloodIsBoundedAndCounted(t *testing.T) {
	n := startNode(t, `
[[process]]
name = "sink"
module = "blobsink"
[[process]]
name = "echo"
module = "echo"
`)
	checkFor(t, "sink running", func() bool { p, _ := proc(n, "sink"); return p.State == api.StateRunning })
	checkFor(t, "echo running", func() bool { p, _ := proc(n, "echo"); return p.State == api.StateRunning })
	payload := make([]byte, 1024)
	const flood = 50000
	for range flood {
		if err := n.Bus().Publish("demo.blob", payload); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := proc(n, "sink")
	if p.Mailbox > bus.DefaultCapacity {
		t.Fatalf("sink mailbox holds %d messages; its capacity bounds it", p.Mailbox)
	}
	checkFor(t, "drops counted", func() bool { p, _ := proc(n, "sink"); return p.Dropped > 0 && p.MsgsIn+p.Dropped >= flood })
	if got, err := request(t, n, "demo.echo", "still here"); err != nil || got != "still here" {
		t.Fatalf("echo during the flood: %q %v", got, err)
	}
}

// TestPushModel: a reactor without _start is driven by the kernel calling its
// orbital_on_message export once per message.
func TestPushModel(t *testing.T) {
	n := startNode(t, "[[process]]\nname = \"push\"\nmodule = \"pushecho\"\n")
	checkFor(t, "push running", func() bool { p, _ := proc(n, "push"); return p.State == api.StateRunning })
	for i := range 20 {
		want := strings.Repeat(fmt.Sprint(i), 1+i*500) // up to ~10 KiB: grows its memory
		if got, err := request(t, n, "demo.push", want); err != nil || got != want {
			t.Fatalf("push request %d: %d bytes, err %v", i, len(got), err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range n.k.Processes() {
		if p.State != api.StateExited {
			t.Fatalf("push ended %s (%s), want a graceful exit", p.State, p.Reason)
		}
	}
}

// TestStartBringsBackEndedProcesses: a process the operator stopped stays
// listed as stopped; a temporary one that was killed (dropped by its
// supervisor) and a transient one that exited stay listed with their last
// state; start brings each back, and refuses one that runs.
func TestStartBringsBackEndedProcesses(t *testing.T) {
	n := startNode(t, `
[[process]]
name = "perm"
module = "pong"

[[process]]
name = "temp"
module = "pong"
restart = "temporary"
`)
	running := func(name string) func() bool {
		return func() bool { p, ok := proc(n, name); return ok && p.State == api.StateRunning }
	}
	checkFor(t, "both running", func() bool { return running("perm")() && running("temp")() })
	if err := n.Runner().Start("perm"); !errors.Is(err, api.ErrExists) {
		t.Fatalf("start of a running process: %v, want ErrExists", err)
	}
	if err := n.Runner().Stop("perm"); err != nil {
		t.Fatal(err)
	}
	if p, ok := proc(n, "perm"); !ok || p.State != api.StateStopped {
		t.Fatalf("after stop: %+v %v, want listed as stopped", p, ok)
	}
	if err := n.Runner().Kill("temp"); err != nil {
		t.Fatal(err)
	}
	checkFor(t, "temp killed and still listed", func() bool { p, ok := proc(n, "temp"); return ok && p.State == api.StateKilled })
	for _, name := range []string{"perm", "temp"} {
		if err := n.Runner().Start(name); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		checkFor(t, name+" running again", running(name))
	}
	if err := n.Runner().Start("nosuch"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("start of an unknown process: %v", err)
	}
	lines, _, err := n.Runner().Logs("perm", 0, 0)
	if err != nil || !slices.ContainsFunc(lines, func(l logring.Line) bool { return l.Text == "started by the operator" && l.Source == "node" }) {
		t.Fatalf("perm's log %+v %v lacks the operator's start", lines, err)
	}
}
