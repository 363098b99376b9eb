package node

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/testwait"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// moduleWith copies build/wasm/NAME.wasm into a temp dir with the given
// manifest beside it and returns the .wasm path for a [[process]] module.
func moduleWith(t *testing.T, name, manifestTOML string) string {
	t.Helper()
	data, err := os.ReadFile(testwasm.Path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, name+".wasm")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".orbital.toml"), []byte(manifestTOML), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSubjectTriggerStartsAndDelivers(t *testing.T) {
	mod := moduleWith(t, "pong", `name = "pong"
version = "1.0.0"
kind = "service"
[bus]
send = ["*"]
[triggers]
subjects = ["jobs.ping"]
`)
	n := startNode(t, "[[process]]\nname = \"pinger\"\nmodule = \""+mod+"\"\n")
	if info, _ := proc(n, "pinger"); info.State != api.StateIdle {
		t.Fatalf("before its trigger: %+v", info)
	}
	// The first request starts it and is answered: nothing is lost.
	if got, err := request(t, n, "jobs.ping", "first"); err != nil || got != "first" {
		t.Fatalf("first request: %q %v", got, err)
	}
	checkFor(t, "pinger listed as running", func() bool {
		info, _ := proc(n, "pinger")
		return info.State == api.StateRunning
	})
	for i := 0; i < 20; i++ {
		if got, err := request(t, n, "jobs.ping", "again"); err != nil || got != "again" {
			t.Fatalf("request %d: %q %v", i, got, err)
		}
	}
}

func TestRouteTrigger(t *testing.T) {
	mod := moduleWith(t, "pong", `name = "pong"
version = "1.0.0"
kind = "service"
[bus]
subscribe = ["route.web"]
listen = ["route.web"]
[triggers]
routes = ["GET /echo/{x}"]
`)
	n := startNode(t, "[[process]]\nname = \"web\"\nmodule = \""+mod+"\"\n")
	if n.HTTPAddr() == "" {
		t.Fatal("no HTTP address for route triggers")
	}
	resp, err := http.Get("http://" + n.HTTPAddr() + "/echo/abc?q=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"path":"/echo/abc"`) || !strings.Contains(string(body), `"query":"q=1"`) {
		t.Fatalf("route: %d %s", resp.StatusCode, body)
	}
	if resp, err := http.Post("http://"+n.HTTPAddr()+"/echo/abc", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST to a GET route: %v %v", resp.Status, err)
	}
}

func TestRouteTriggerNeedsListen(t *testing.T) {
	mod := moduleWith(t, "pong", "name = \"pong\"\nversion = \"1.0.0\"\nkind = \"service\"\n[triggers]\nroutes = [\"/x\"]\n")
	cfg, err := config.Parse([]byte("[[process]]\nname = \"web\"\nmodule = \""+mod+"\"\n"), "t.toml", t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(context.Background(), cfg, t.TempDir(), nil, Options{}); err == nil || !strings.Contains(err.Error(), "route.web") {
		t.Fatalf("err = %v", err)
	}
}

func TestScheduleTrigger(t *testing.T) {
	mod := moduleWith(t, "hello", `name = "hello"
version = "1.0.0"
kind = "app"
[capabilities]
stdout = true
[triggers]
schedule = ["*/5 * * * *"]
after = "exit"
`)
	clock := testwait.NewClock(time.Date(2026, 11, 25, 12, 1, 0, 0, time.UTC))
	wasmDir := filepath.Dir(testwasm.Path(t, "echo"))
	cfg, err := config.Parse([]byte("[node]\nmodule_path = [\""+wasmDir+"\"]\n[[process]]\nname = \"job\"\nmodule = \""+mod+"\"\n"), "t.toml", t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n, err := Start(context.Background(), cfg, testwasm.Home(t), nil, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	checkFor(t, "the schedule to wait", func() bool { return clock.Pending() == 1 })
	if info, _ := proc(n, "job"); info.State != api.StateIdle {
		t.Fatalf("before 12:05: %+v", info)
	}
	clock.Advance(3 * time.Minute) // 12:04: not yet
	time.Sleep(50 * time.Millisecond)
	if info, _ := proc(n, "job"); info.State != api.StateIdle {
		t.Fatalf("at 12:04: %+v", info)
	}
	clock.Advance(time.Minute) // 12:05: runs once, exits, is not restarted
	checkFor(t, "the first run", func() bool {
		info, _ := proc(n, "job")
		return info.State == api.StateExited && info.ExitCode == 0
	})
	first, _ := proc(n, "job")
	checkFor(t, "the next wait", func() bool { return clock.Pending() == 1 })
	clock.Advance(5 * time.Minute) // 12:10: a second run
	checkFor(t, "the second run", func() bool {
		info, _ := proc(n, "job")
		return info.State == api.StateExited && info.ID != first.ID
	})
}

func TestOnDemandLibrary(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(filepath.Dir(testwasm.Path(t, "calltest")), "calltest.orbital.toml"))
	if err != nil {
		t.Fatal(err)
	}
	mod := moduleWith(t, "calltest", string(data)+"\n[triggers]\non_demand = true\n")
	n := startNode(t, "[[process]]\nname = \"calltest\"\nmodule = \""+mod+"\"\n")
	if info, _ := proc(n, "calltest"); info.State != api.StateIdle {
		t.Fatalf("before the first call: %+v", info)
	}
	got, err := n.Kernel().Call(context.Background(), "calltest", "echo", []byte("wake up"))
	if err != nil || string(got) != "wake up" {
		t.Fatalf("first call: %q %v", got, err)
	}
	checkFor(t, "the library listed as running", func() bool {
		info, _ := proc(n, "calltest")
		return info.State == api.StateRunning
	})
}
