package orbital_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/abi"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// lockedBuffer is a bytes.Buffer a running guest writes while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// netKernel is a kernel with the network guests loaded (compiled once for
// all the subtests: the Go ones are large).
type netKernel struct {
	t                      *testing.T
	k                      *orbital.Kernel
	web, fetcher, netprobe *orbital.Module
	bareProbe              *orbital.Module // netprobe without its manifest
	mu                     sync.Mutex
	spawned                int
}

func newNetKernel(t *testing.T) *netKernel {
	k := newKernel(t)
	ctx := context.Background()
	nk := &netKernel{t: t, k: k}
	for _, m := range []struct {
		name string
		dst  **orbital.Module
	}{{"webserver", &nk.web}, {"fetcher", &nk.fetcher}, {"netprobe", &nk.netprobe}} {
		mod, err := k.LoadFile(ctx, testwasm.Path(t, m.name))
		if err != nil {
			t.Fatalf("load %s: %v", m.name, err)
		}
		*m.dst = mod
	}
	bare, err := k.Load(ctx, "netprobe-bare", testwasm.Read(t, "netprobe"), nil)
	if err != nil {
		t.Fatal(err)
	}
	nk.bareProbe = bare
	return nk
}

// spawn starts m with opts, its stdout and stderr in out.
func (nk *netKernel) spawn(m *orbital.Module, opts orbital.SpawnOptions) (*orbital.Process, *lockedBuffer) {
	nk.t.Helper()
	out := &lockedBuffer{}
	opts.Stdout, opts.Stderr = out, out
	opts.Grant.Stdout, opts.Grant.Stderr = true, true
	nk.mu.Lock()
	nk.spawned++
	if opts.Name == "" {
		opts.Name = fmt.Sprintf("net%d", nk.spawned)
	}
	nk.mu.Unlock()
	p, err := nk.k.Spawn(context.Background(), m, opts)
	if err != nil {
		nk.t.Fatalf("spawn: %v", err)
	}
	nk.t.Cleanup(func() { p.Kill(fmt.Errorf("test over")); _, _ = p.Wait(context.Background()) })
	return p, out
}

// wait waits for p to end.
func wait(t *testing.T, p *orbital.Process) api.ProcessInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("wait %s: %v", p.Name(), err)
	}
	return info
}

// listenAddr returns the address the kernel listens on for p.
func listenAddr(t *testing.T, p *orbital.Process) string {
	t.Helper()
	n := p.Info().Net
	if n == nil || len(n.Listen) == 0 {
		t.Fatalf("%s has no listener: %+v", p.Name(), p.Info())
	}
	return n.Listen[0]
}

// get GETs url and returns the status and body.
func get(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitServing polls url until it answers 200.
func waitServing(t *testing.T, url string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, err := get(c, url)
		if err == nil && code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered: %d %v", url, code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNetwork runs guests with and without network grants: every socket
// call is refused without one; with one, a Go net/http guest serves real
// clients, a Go client guest reaches only the granted address, a C guest
// accepts in blocking mode and is killable there, and hostile peers and a
// socket-hogging guest leave the kernel serving.
func TestNetwork(t *testing.T) {
	nk := newNetKernel(t)
	listenAny := []string{"tcp-listen://127.0.0.1:*"}

	t.Run("refused without a grant", func(t *testing.T) {
		// No manifest and no grant: no socket anywhere, and dialling is
		// refused by the kernel.
		p, out := nk.spawn(nk.bareProbe, orbital.SpawnOptions{Grant: orbital.Grant{Args: []string{"probe"}}})
		if info := wait(t, p); info.State != api.StateExited || info.ExitCode != 0 {
			t.Fatalf("probe: %+v\n%s", info, out)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 41 {
			t.Fatalf("probe printed %d lines, want 41:\n%s", len(lines), out)
		}
		for _, l := range lines[:40] {
			f := strings.Fields(l)
			want := "EBADF"
			if fd := f[1]; fd == "0" || fd == "1" || fd == "2" {
				want = "ENOTSOCK" // stdio: open, but not sockets
			}
			if f[2] != want {
				t.Errorf("%s: want %s", l, want)
			}
		}
		if want := fmt.Sprintf("dial 127.0.0.1:1 rc=%d", abi.ErrDenied); lines[40] != want {
			t.Errorf("got %q, want %q", lines[40], want)
		}
		if n := p.Info().Net; n != nil {
			t.Errorf("a process without a grant has network stats: %+v", n)
		}

		// A manifest asking to listen, without the grant: the module runs
		// (the request is only noted) and finds no listener.
		p, out = nk.spawn(nk.web, orbital.SpawnOptions{Grant: orbital.Grant{Clock: true}})
		if info := wait(t, p); info.ExitCode != 1 || !strings.Contains(out.String(), "no listener was granted") {
			t.Fatalf("webserver without a grant: %+v\n%s", info, out)
		}
	})

	t.Run("a Go guest serves real HTTP on the granted address", func(t *testing.T) {
		p, _ := nk.spawn(nk.web, orbital.SpawnOptions{Grant: orbital.Grant{Clock: true, Network: listenAny}})
		addr := listenAddr(t, p)
		if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
			t.Fatalf("listen address %q: want 127.0.0.1:PORT", addr)
		}
		base := "http://" + addr
		waitServing(t, base+"/health")

		// Concurrent clients, each request counted once by the guest.
		c := &http.Client{Timeout: 10 * time.Second}
		const clients, each = 8, 25
		var wg sync.WaitGroup
		var failures atomic.Int32
		seen := make(chan string, clients*each)
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					code, body, err := get(c, base+"/")
					if err != nil || code != 200 || !strings.HasPrefix(body, "hello from wasm #") {
						failures.Add(1)
						continue
					}
					seen <- strings.TrimSpace(body)
				}
			}()
		}
		wg.Wait()
		close(seen)
		if f := failures.Load(); f != 0 {
			t.Fatalf("%d requests failed", f)
		}
		distinct := map[string]bool{}
		for s := range seen {
			distinct[s] = true
		}
		if len(distinct) != clients*each {
			t.Fatalf("%d distinct answers to %d requests", len(distinct), clients*each)
		}

		// A large body both ways.
		body := bytes.Repeat([]byte("0123456789abcdef"), 1<<14) // 256 KiB
		resp, err := c.Post(base+"/echo", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		echoed, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(echoed, body) {
			t.Fatalf("echo returned %d bytes, want %d", len(echoed), len(body))
		}

		// Hostile peers: garbage, a connection that says nothing, one
		// reset in the middle of a request.
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = raw.Write([]byte("\x00\xff\xfe not http at all\r\n\r\n"))
		_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
		answer, _ := io.ReadAll(raw)
		raw.Close()
		if !strings.HasPrefix(string(answer), "HTTP/1.1 400") {
			t.Errorf("garbage got %q, want a 400", answer)
		}
		silent, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		reset, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = reset.Write([]byte("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\npartial"))
		_ = reset.(*net.TCPConn).SetLinger(0)
		reset.Close()
		if code, _, err := get(c, base+"/health"); err != nil || code != 200 {
			t.Fatalf("after hostile peers: %d %v", code, err)
		}

		n := p.Info().Net
		if n.Accepted < 3 || n.BytesIn < uint64(len(body)) || n.BytesOut < uint64(len(body)) || n.Sockets < 1 {
			t.Errorf("counters: %+v", n)
		}

		// Asked to stop: the kernel closes the listener, the server's
		// Serve returns net.ErrClosed and it exits 0 within the grace.
		p.Stop(fmt.Errorf("test: done"), 20*time.Second)
		if info := wait(t, p); info.State != api.StateExited || info.ExitCode != 0 {
			t.Fatalf("stopped: %+v", info)
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Fatalf("%s still accepts after the kill", addr)
		}
		if n := p.Info().Net; n.Sockets != 0 {
			t.Errorf("%d sockets open after the kill", n.Sockets)
		}
	})

	// A host HTTP server the client guest may or may not reach.
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "host says hi")
	}))
	defer srv.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the ungranted server was reached: %s", r.URL)
	}))
	defer other.Close()
	granted := []string{"tcp://" + srv.Listener.Addr().String()}
	config := func(kv ...string) []byte {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		b, _ := json.Marshal(m)
		return b
	}

	t.Run("a Go client guest dials only the granted address", func(t *testing.T) {
		p, out := nk.spawn(nk.fetcher, orbital.SpawnOptions{Config: config("url", srv.URL+"/", "count", "3", "every", "1ms"),
			Grant: orbital.Grant{Clock: true, Network: granted}})
		if info := wait(t, p); info.State != api.StateExited || info.ExitCode != 0 {
			t.Fatalf("%+v\n%s", info, out)
		}
		if got := strings.Count(out.String(), "200 OK host says hi"); got != 3 || hits.Load() != 3 {
			t.Fatalf("3 fetches: %d answers, %d hits:\n%s", got, hits.Load(), out)
		}
		if n := p.Info().Net; n.Dialled < 1 || n.Denied != 0 || n.BytesIn == 0 {
			t.Errorf("counters: %+v", n)
		}

		p, out = nk.spawn(nk.fetcher, orbital.SpawnOptions{Config: config("url", other.URL+"/", "count", "2", "every", "1ms"),
			Grant: orbital.Grant{Clock: true, Network: granted}})
		wait(t, p)
		if got := strings.Count(out.String(), "not granted"); got != 2 {
			t.Fatalf("want 2 refusals:\n%s", out)
		}
		if n := p.Info().Net; n.Denied != 2 || n.Dialled != 0 {
			t.Errorf("counters: %+v", n)
		}
	})

	t.Run("hogging sockets hits the quota, the kernel keeps serving", func(t *testing.T) {
		p, out := nk.spawn(nk.fetcher, orbital.SpawnOptions{Config: config("url", srv.URL+"/", "hog", "true"),
			Grant: orbital.Grant{Clock: true, Network: granted, Limits: orbital.Limits{OpenFiles: 16}}})
		if info := wait(t, p); info.State != api.StateExited {
			t.Fatalf("%+v\n%s", info, out)
		}
		var got int
		if _, err := fmt.Sscanf(out.String(), "fetcher: hogged %d connections", &got); err != nil || got < 1 || got > 16 {
			t.Fatalf("hog: %v\n%s", err, out)
		}
		if !strings.Contains(out.String(), "limit") {
			t.Errorf("the refusal does not name the limit:\n%s", out)
		}
		// Everyone else is served: a C echo server and its client.
		serve, sout := nk.spawn(nk.netprobe, orbital.SpawnOptions{Grant: orbital.Grant{Args: []string{"serve", "1"}, Network: listenAny}})
		addr := listenAddr(t, serve)
		dial, dout := nk.spawn(nk.netprobe, orbital.SpawnOptions{Grant: orbital.Grant{Args: []string{"dial", addr, "still-here"},
			Network: []string{"tcp://" + addr}}})
		wait(t, dial)
		wait(t, serve)
		if !strings.Contains(dout.String(), "reply still-here") || !strings.Contains(sout.String(), "served 1") {
			t.Fatalf("echo after the hog:\nclient: %s\nserver: %s", dout, sout)
		}
	})

	t.Run("a C guest accepts in blocking mode and is killable there", func(t *testing.T) {
		p, out := nk.spawn(nk.netprobe, orbital.SpawnOptions{Grant: orbital.Grant{Args: []string{"serve", "2"}, Network: listenAny}})
		addr := listenAddr(t, p)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		msg := strings.Repeat("echo me ", 2000)
		go func() { _, _ = io.WriteString(c, msg); _ = c.(*net.TCPConn).CloseWrite() }()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		back, _ := io.ReadAll(c)
		c.Close()
		if string(back) != msg {
			t.Fatalf("echoed %d bytes, want %d", len(back), len(msg))
		}
		// Now it blocks in sock_accept, without its execution slot.
		checkEventually(t, "the first connection's line", func() bool { return strings.Contains(out.String(), "conn 1 echoed") })
		p.Kill(fmt.Errorf("test: kill in accept"))
		if info := wait(t, p); info.State != api.StateKilled {
			t.Fatalf("%+v", info)
		}
	})
}

// checkEventually polls cond for up to 10 s.
func checkEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
