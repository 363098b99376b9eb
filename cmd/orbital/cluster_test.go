package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/control"
	"github.com/orbitalfoundation/orbital/internal/pack"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// freePort returns a loopback address nobody listens on (just now).
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// clusterNode is one `orbital up` process of a cluster test.
type clusterNode struct {
	name, home string
	args       []string
	bin        string
	c          *child
}

func (n *clusterNode) start(t *testing.T) {
	t.Helper()
	c := &child{cmd: exec.Command(n.bin, n.args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), "ORBITAL_HOME="+n.home)
	c.cmd.Stdout, c.cmd.Stderr = io.Discard, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-c.done:
			case <-time.After(10 * time.Second):
				_ = c.cmd.Process.Kill()
				<-c.done
			}
		}
		if t.Failed() {
			t.Logf("node %s stderr:\n%s", n.name, c.stderr)
		}
	})
	n.c = c
	checkFor(t, time.Minute, "node "+n.name+" up", func() bool {
		select {
		case <-c.done:
			t.Fatalf("node %s exited: %v\n%s", n.name, c.err, c.stderr)
		default:
		}
		_, err := os.Stat(control.InfoPath(n.home))
		return err == nil && strings.Contains(c.stderr.String(), "node up")
	})
}

// kill9 kills the node at once: no goodbye, no cleanup.
func (n *clusterNode) kill9(t *testing.T) {
	t.Helper()
	_ = n.c.cmd.Process.Signal(syscall.SIGKILL)
	<-n.c.done
	_ = os.Remove(control.InfoPath(n.home))
}

// cli runs the device binary's command against this node.
func (n *clusterNode) cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runBinary(t, "", append([]string{args[0], "--home", n.home}, args[1:]...)...)
}

func (n *clusterNode) client(t *testing.T) *control.Client {
	t.Helper()
	c, err := control.Dial(n.home)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (n *clusterNode) nodes(t *testing.T) map[string]api.NodeInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := n.client(t).Nodes(ctx)
	if err != nil {
		return nil
	}
	out := map[string]api.NodeInfo{}
	for _, in := range v.Nodes {
		out[in.Name] = in
	}
	return out
}

func (n *clusterNode) request(t *testing.T, subject, data string, timeout time.Duration) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	r, err := n.client(t).Request(ctx, subject, data, int(timeout.Milliseconds()))
	return r, err
}

const clusterConfig = `
[node]
module_path = [%q]
grace = "1s"

[cluster]
name = "t"
libraries = ["vision"]
control = true
heartbeat = "200ms"

[bus]
export = ["demo.>", "work.*", "worker.*.count", "lumen.>"]

[[process]]
name = "ticker"
module = "ticker"
node = "a"

[[process]]
name = "asker"
module = "peer"
node = "a"
config = { role = "asker" }

[[process]]
name = "lumen"
module = "lumen"
node = "a"
calls = ["vision.brightness", "kv"]

[[process]]
name = "stats"
module = "stats"
node = "b"

[[process]]
name = "worker-b"
module = "peer"
node = "b"
config = { role = "worker", id = "b" }

[[process]]
name = "kv"
module = "kv"
node = "b"

[[process]]
name = "worker-c"
module = "peer"
node = "c"
config = { role = "worker", id = "c" }

[[process]]
name = "echo"
module = "echo"
node = "c"
`

// TestBinaryCluster: three real nodes (separate orbital-server processes)
// on loopback, their embedded NATS servers routed into one cluster, one
// shared config placing the processes. The vision library is installed
// on b as a package, so that it can be upgraded while calls flow.
func TestBinaryCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	wasmDir := filepath.Dir(wasm(t, "peer"))
	cfgPath := writeFile(t, t.TempDir(), "cluster.toml", fmt.Appendf(nil, clusterConfig, wasmDir))
	names := []string{"a", "b", "c"}
	client, route := map[string]string{}, map[string]string{}
	for _, n := range names {
		client[n], route[n] = freePort(t), freePort(t)
	}
	nodes := map[string]*clusterNode{}
	for _, n := range names {
		var routes []string
		for _, o := range names {
			if o != n {
				routes = append(routes, "nats://"+route[o])
			}
		}
		nodes[n] = &clusterNode{name: n, home: testwasm.Home(t), bin: serverBin(), args: []string{"up", "--name", n,
			"--cluster", "t", "--cluster-listen", client[n], "--route-listen", route[n], "--routes", strings.Join(routes, ","), cfgPath}}
	}
	a, b, c := nodes["a"], nodes["b"], nodes["c"]
	// vision on b is an installed, signed package (see upgradeVision).
	installVision(t, b, "1.3.0")
	for _, n := range names {
		nodes[n].start(t)
	}
	allUp := func(from *clusterNode, want ...string) func() bool {
		return func() bool {
			m := from.nodes(t)
			for _, w := range want {
				if m[w].State != api.NodeUp {
					return false
				}
			}
			return true
		}
	}
	for _, n := range names {
		checkFor(t, time.Minute, n+" sees a, b and c", allUp(nodes[n], "a", "b", "c"))
	}
	// What runs where: the placement of the shared config (a node's list
	// reaches the others with its next heartbeat after "node up").
	var m map[string]api.NodeInfo
	has := func(in api.NodeInfo, proc string) bool {
		for _, p := range in.Processes {
			if p.Name == proc {
				return true
			}
		}
		return false
	}
	placed := func() bool {
		m = a.nodes(t)
		return has(m["a"], "asker") && !has(m["a"], "echo") && has(m["c"], "echo") && has(m["b"], "worker-b")
	}
	deadline := time.Now().Add(30 * time.Second)
	for !placed() {
		if time.Now().After(deadline) {
			t.Fatalf("placement: %+v", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, out, errOut := a.cli(t, "nodes"); code != 0 || !strings.Contains(out, "a") || strings.Count(out, " up ") < 3 {
		t.Fatalf("orbital nodes: %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := a.cli(t, "ps", "--all"); code != 0 || !strings.Contains(out, "NODE") || !strings.Contains(out, "worker-c") || !strings.Contains(out, "echo") {
		t.Fatalf("orbital ps --all: %d\n%s%s", code, out, errOut)
	}

	// Pub/sub across nodes: stats on b counts the ticks of a's ticker.
	checkFor(t, time.Minute, "stats on b to count a's ticks", func() bool {
		out, err := b.request(t, "demo.stats", "", 2*time.Second)
		return err == nil && strings.Contains(out, `"demo.tick":`)
	})
	// Request/reply from a wasm module on a to a wasm responder on c.
	checkFor(t, time.Minute, "asker on a to reach echo on c", func() bool {
		out, err := a.request(t, "asker.ask", "over the cluster", 5*time.Second)
		return err == nil && out == "asked: over the cluster"
	})
	// A library call from a C guest on a to the Go library on b.
	measure := func() (string, error) { return a.request(t, "lumen.measure", "abcdABCD", 5*time.Second) }
	checkFor(t, time.Minute, "lumen on a to call vision on b", func() bool {
		out, err := measure()
		return err == nil && strings.Contains(out, `"mean":82`)
	})
	// A library not exported to the cluster is not reachable.
	if code, _, errOut := a.cli(t, "call", "kv", "get", `{"key":"x"}`); code == 0 || !strings.Contains(errOut, "not found") {
		t.Fatalf("call of b's unexported kv from a: %d %s", code, errOut)
	}
	if code, out, _ := b.cli(t, "call", "kv", "get", `{"key":"x"}`); code != 0 || !strings.Contains(out, `"found":false`) {
		t.Fatalf("kv on b itself: %d %s", code, out)
	}

	// A queue group spread over two nodes: jobs published on a go to one
	// worker each, on b or c.
	checkFor(t, time.Minute, "both workers known to a", func() bool {
		out, err := a.request(t, "worker.b.count", "", 2*time.Second)
		out2, err2 := a.request(t, "worker.c.count", "", 2*time.Second)
		return err == nil && err2 == nil && out == "0" && out2 == "0"
	})
	const jobs = 60
	ctx := context.Background()
	for i := range jobs {
		if err := a.client(t).Publish(ctx, "work.job", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	var nb, nc int
	checkFor(t, time.Minute, "every job taken once", func() bool {
		ob, err := a.request(t, "worker.b.count", "", 2*time.Second)
		oc, err2 := a.request(t, "worker.c.count", "", 2*time.Second)
		if err != nil || err2 != nil {
			return false
		}
		nb, _ = strconv.Atoi(ob)
		nc, _ = strconv.Atoi(oc)
		if nb+nc > jobs {
			t.Fatalf("%d+%d deliveries of %d jobs", nb, nc, jobs)
		}
		return nb+nc == jobs
	})
	if nb == 0 || nc == 0 {
		t.Fatalf("the queue group was not spread: b %d, c %d", nb, nc)
	}

	// Upgrade the library on b while a's C guest calls it: no call fails.
	var calls, failures atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := measure()
			calls.Add(1)
			if err != nil || !strings.Contains(out, `"mean":82`) {
				failures.Add(1)
				lastErr.Store(fmt.Sprintf("%q %v", out, err))
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	installVision(t, b, "1.3.1")
	checkFor(t, time.Minute, "a to see vision 1.3.1 on b", func() bool {
		for _, l := range a.nodes(t)["b"].Libraries {
			if l == "vision@1.3.1" {
				return true
			}
		}
		return false
	})
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failures.Load() > 0 || calls.Load() < 5 {
		t.Fatalf("during the upgrade %d of %d calls failed (last: %v)", failures.Load(), calls.Load(), lastErr.Load())
	}

	// Placement by the operator: stop and start a process on c from a.
	if code, _, errOut := a.cli(t, "stop", "--node", "c", "worker-c"); code != 0 {
		t.Fatalf("stop --node c: %d %s", code, errOut)
	}
	checkFor(t, time.Minute, "worker-c stopped", func() bool { return procState(c, t, "worker-c") == api.StateStopped })
	if code, _, errOut := a.cli(t, "start", "--node", "c", "worker-c"); code != 0 {
		t.Fatalf("start --node c: %d %s", code, errOut)
	}
	checkFor(t, time.Minute, "worker-c running", func() bool { return procState(c, t, "worker-c") == api.StateRunning })

	// kill -9 c mid-traffic: a's requests to its echo fail promptly, the
	// others keep serving, and a and b mark c down.
	c.kill9(t)
	checkFor(t, time.Minute, "a to mark c down", func() bool { return a.nodes(t)["c"].State == api.NodeDown })
	start := time.Now()
	// (b's stats subscribes to demo.> and never answers, so the asker's
	// own 5 s deadline is what ends its request: it must, and answer.)
	out, err := a.request(t, "asker.ask", "anyone?", 10*time.Second)
	if err != nil || !strings.HasPrefix(out, "error: ") {
		t.Fatalf("asker with echo gone: %q %v", out, err)
	}
	if time.Since(start) > 8*time.Second {
		t.Fatal("a request to a dead node hung past its deadline")
	}
	if out, err := measure(); err != nil || !strings.Contains(out, `"mean":82`) {
		t.Fatalf("vision on b after c died: %q %v", out, err)
	}
	for i := range 10 { // all jobs go to b now
		if err := a.client(t).Publish(ctx, "work.job", "after-"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	checkFor(t, time.Minute, "b to take the jobs c cannot", func() bool {
		ob, err := a.request(t, "worker.b.count", "", 2*time.Second)
		n, _ := strconv.Atoi(ob)
		return err == nil && n == nb+10
	})
	// c comes back: it rejoins, is listed again, and serves again.
	c.start(t)
	checkFor(t, time.Minute, "a to see c again", allUp(a, "c"))
	checkFor(t, time.Minute, "echo on c to answer again", func() bool {
		out, err := a.request(t, "asker.ask", "again", 5*time.Second)
		return err == nil && out == "asked: again"
	})
}

func procState(n *clusterNode, t *testing.T, name string) api.State {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ps, err := n.client(t).Processes(ctx)
	if err != nil {
		return ""
	}
	for _, p := range ps {
		if p.Name == name {
			return p.State
		}
	}
	return ""
}

// installVision installs the vision example as a signed package of
// version on node n (running: an upgrade; not yet: installed for boot).
func installVision(t *testing.T, n *clusterNode, version string) {
	t.Helper()
	keyDir := filepath.Join(n.home, "test-keys")
	key := filepath.Join(keyDir, "pub")
	if _, err := os.Stat(key + ".key"); err != nil {
		if err := os.MkdirAll(keyDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := runBinary(t, "", "keygen", "-o", key); code != 0 {
			t.Fatalf("keygen: %s", errOut)
		}
		pub, err := pack.LoadPublicKey(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		pol := pack.DefaultPolicy()
		if err := pol.Trust("cluster test", pub, "*"); err != nil {
			t.Fatal(err)
		}
		if err := pol.Save(filepath.Join(n.home, pack.PolicyFile)); err != nil {
			t.Fatal(err)
		}
	}
	manifest, err := os.ReadFile(filepath.Join(filepath.Dir(wasm(t, "vision")), "vision.orbital.toml"))
	if err != nil {
		t.Fatal(err)
	}
	manifest = bytes.Replace(manifest, []byte(`version = "1.3.0"`), fmt.Appendf(nil, "version = %q", version), 1)
	dir := t.TempDir()
	mpath := writeFile(t, dir, "vision.toml", manifest)
	pkg := filepath.Join(dir, "vision-"+version+".orbital.wasm")
	if code, _, errOut := runBinary(t, "", "pack", "--manifest", mpath, "-o", pkg, wasm(t, "vision")); code != 0 {
		t.Fatalf("pack: %s", errOut)
	}
	if code, _, errOut := runBinary(t, "", "sign", "--key", key+".key", pkg); code != 0 {
		t.Fatalf("sign: %s", errOut)
	}
	cmd := exec.Command(orbitalBin(), "install", pkg)
	cmd.Env = append(os.Environ(), "ORBITAL_HOME="+n.home)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install vision %s: %v\n%s", version, err, out)
	}
}

const externalConfig = `
[node]
module_path = [%q]
grace = "1s"

[cluster]
name = "ext"
heartbeat = "200ms"

[bus]
export = ["demo.>"]

[[process]]
name = "echo"
module = "echo"
node = "x"

[[process]]
name = "stats"
module = "stats"
node = "x"

[[process]]
name = "ticker"
module = "ticker"
node = "y"

[[process]]
name = "asker"
module = "peer"
node = "y"
config = { role = "asker" }
`

// natsServerBin builds the nats-server command from the Go module this
// repository pins, once per test binary.
var natsServerBin = sync.OnceValues(func() (string, error) {
	out := filepath.Join(testDir, "nats-server")
	cmd := exec.Command("go", "build", "-o", out, "github.com/nats-io/nats-server/v2")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building nats-server: %v\n%s", err, b)
	}
	return out, nil
})

// startNATS runs the external nats-server on addr.
func startNATS(t *testing.T, addr string) *child {
	t.Helper()
	bin, err := natsServerBin()
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	c := &child{cmd: exec.Command(bin, "-a", host, "-p", port), stderr: &syncBuffer{}, done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = io.Discard, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	checkFor(t, 30*time.Second, "nats-server listening", func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	return c
}

// TestBinaryClusterExternalNATS: two device-build nodes (no embedded
// server) join a real, separate nats-server built from its Go module; the
// server restarts under them and they carry on.
func TestBinaryClusterExternalNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts nats-server")
	}
	addr := freePort(t)
	srv := startNATS(t, addr)
	cfgPath := writeFile(t, t.TempDir(), "ext.toml", fmt.Appendf(nil, externalConfig, filepath.Dir(wasm(t, "peer"))))
	x := &clusterNode{name: "x", home: testwasm.Home(t), bin: orbitalBin(),
		args: []string{"up", "--name", "x", "--cluster-url", "nats://" + addr, "--cluster", "ext", cfgPath}}
	y := &clusterNode{name: "y", home: testwasm.Home(t), bin: orbitalBin(),
		args: []string{"up", "--name", "y", "--cluster-url", "nats://" + addr, "--cluster", "ext", cfgPath}}
	x.start(t)
	y.start(t)
	checkFor(t, time.Minute, "y sees x", func() bool { return y.nodes(t)["x"].State == api.NodeUp })
	ask := func(s string) (string, error) { return y.request(t, "asker.ask", s, 3*time.Second) }
	checkFor(t, time.Minute, "asker on y to reach echo on x", func() bool {
		out, err := ask("hi")
		return err == nil && out == "asked: hi"
	})
	checkFor(t, time.Minute, "stats on x to count y's ticks", func() bool {
		out, err := x.request(t, "demo.stats", "", 2*time.Second)
		return err == nil && strings.Contains(out, `"demo.tick":`)
	})

	// The NATS server goes away: requests fail promptly instead of hanging.
	_ = srv.cmd.Process.Kill()
	<-srv.done
	checkFor(t, time.Minute, "y to notice x is unreachable", func() bool {
		out, err := ask("lost?")
		return err == nil && strings.HasPrefix(out, "error: ")
	})
	// It comes back on the same address: the nodes reconnect, announce
	// themselves again and every request gets exactly its own answer.
	startNATS(t, addr)
	checkFor(t, time.Minute, "y to see x again", func() bool { return y.nodes(t)["x"].State == api.NodeUp })
	checkFor(t, time.Minute, "requests to flow again", func() bool {
		out, err := ask("back")
		return err == nil && out == "asked: back"
	})
	for i := range 20 {
		want := fmt.Sprintf("n%d", i)
		if out, err := ask(want); err != nil || out != "asked: "+want {
			t.Fatalf("request %d after the restart: %q %v", i, out, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := y.client(t).Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.Stats.Reconnects == 0 || !v.Stats.Connected {
		t.Fatalf("y's cluster stats after the server restart: %+v", v.Stats)
	}
}
