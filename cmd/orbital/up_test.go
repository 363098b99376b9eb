package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/control"
)

// TestBinaryUp starts the real `orbital up` with the bundled demo system and
// drives it with the CLI: ps, request, pub/sub, kill (restarted), stop,
// restart, bad input, then a graceful SIGTERM shutdown.
func TestBinaryUp(t *testing.T) {
	home := newHome(t)
	wasmDir := filepath.Dir(wasm(t, "echo"))
	// The demo config looks in $ORBITAL_HOME/modules and ./build/wasm.
	if err := os.Symlink(wasmDir, filepath.Join(home, "modules")); err != nil {
		t.Fatal(err)
	}
	c := startDemo(t)
	checkFor(t, time.Minute, "node.json", func() bool {
		_, err := os.Stat(control.InfoPath(home))
		return err == nil
	})
	ps := func() map[string]api.ProcessInfo { return psByName(t) }
	checkFor(t, time.Minute, "the demo processes running", func() bool {
		m := ps()
		for _, n := range []string{"ticker", "stats", "echo", "flaky", "camera", "facecam", "lumen", "fallback", "webserver", "fetcher"} {
			if m[n].State != api.StateRunning {
				return false
			}
		}
		return true
	})
	if code, out, _ := runBinary(t, "", "ps"); code != 0 || !strings.Contains(out, "RESTARTS") || !strings.Contains(out, "ticker") {
		t.Fatalf("ps table: %d\n%s", code, out)
	}
	// Sockets, granted: the Go web server in wasm answers a real client on
	// the address the demo grants, and the Go client in wasm fetches it.
	web := ps()["webserver"]
	if web.Net == nil || len(web.Net.Listen) != 1 || web.Net.Listen[0] != "127.0.0.1:8765" {
		t.Fatalf("webserver's network: %+v", web.Net)
	}
	checkFor(t, time.Minute, "the webserver to answer", func() bool {
		resp, err := http.Get("http://127.0.0.1:8765/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200 && strings.HasPrefix(string(body), "hello from wasm #")
	})
	checkFor(t, time.Minute, "the fetcher to fetch it", func() bool {
		_, out, _ := runBinary(t, "", "logs", "fetcher")
		return strings.Contains(out, "200 OK hello from wasm #")
	})
	checkFor(t, time.Minute, "ps to count the web server's bytes", func() bool {
		_, out, _ := runBinary(t, "", "ps")
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[1] == "webserver" && strings.Contains(l, "127.0.0.1:8765 ") && !strings.Contains(l, " 0B/0B") {
				return true
			}
		}
		return false
	})
	if code, out, errOut := runBinary(t, "", "request", "demo.echo", "ping over the bus"); code != 0 || strings.TrimSpace(out) != "ping over the bus" {
		t.Fatalf("request demo.echo: %d %q %s", code, out, errOut)
	}
	// The ticker publishes demo.tick; sub sees it.
	if code, out, errOut := runBinary(t, "", "sub", "-n", "2", "demo.tick"); code != 0 || strings.Count(out, "demo.tick tick") != 2 {
		t.Fatalf("sub: %d %q %s", code, out, errOut)
	}
	// A message published from the CLI reaches stats.
	if code, _, errOut := runBinary(t, "", "pub", "demo.cli", "x"); code != 0 {
		t.Fatalf("pub: %d %s", code, errOut)
	}
	checkFor(t, time.Minute, "stats to count demo.cli", func() bool {
		_, out, _ := runBinary(t, "", "request", "demo.stats")
		return strings.Contains(out, `"demo.cli":1`)
	})
	// Libraries: the host calls them like functions; facecam (Go) and
	// lumen (C) call vision from wasm.
	checkFor(t, time.Minute, "the demo libraries running", func() bool {
		m := ps()
		return m["vision"].Library != nil && m["vision"].State == api.StateRunning && m["kv"].State == api.StateRunning
	})
	if code, out, errOut := runBinary(t, "", "call", "vision", "brightness", "abcdABCD"); code != 0 || strings.TrimSpace(out) != `{"mean":82,"min":66,"max":98}` {
		t.Fatalf("call vision brightness: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := runBinary(t, "", "request", "lumen.measure", "abcdABCD"); code != 0 || !strings.Contains(out, `"mean":82`) {
		t.Fatalf("request lumen.measure (C caller of vision): %d %q %s", code, out, errOut)
	}
	// The camera → vision → display slice: the camera driver's frames,
	// the face model in the vision library's wasm, facecam's reports.
	checkFor(t, time.Minute, "facecam to report a face found in a camera frame", func() bool {
		_, out, _ := runBinary(t, "", "sub", "-n", "1", "demo.faces")
		return strings.Contains(out, `"label":"face"`)
	})
	if m := ps(); m["camera"].Driver == nil || m["camera"].Driver.Published == 0 || m["facecam"].State != api.StateRunning {
		t.Fatalf("ps: camera %+v, facecam %+v", m["camera"], m["facecam"])
	}
	if code, _, errOut := runBinary(t, "", "call", "kv", "get", "not json"); code != exitBadInput || !strings.Contains(errOut, "shape") {
		t.Fatalf("call with arguments that do not match the shape: %d %s", code, errOut)
	}
	if code, _, errOut := runBinary(t, "", "call", "vision", "grayscale", "abc"); code != exitFailure || !strings.Contains(errOut, "want RGBA pixels") {
		t.Fatalf("call failing in the library: %d %s", code, errOut)
	}
	if code, _, _ := runBinary(t, "", "call", "nosuch", "fn"); code != exitUsage {
		t.Fatalf("call of a missing library: exit %d, want %d", code, exitUsage)
	}
	if code, _, errOut := runBinary(t, "", "sub", "-n", "1", "demo.greeting"); code != 0 {
		t.Fatalf("fallback's plain greeting: %d %s", code, errOut)
	}
	// kill: the supervisor restarts echo.
	before := ps()["echo"]
	if code, _, errOut := runBinary(t, "", "kill", "echo"); code != 0 {
		t.Fatalf("kill: %d %s", code, errOut)
	}
	checkFor(t, time.Minute, "echo restarted", func() bool {
		p := ps()["echo"]
		return p.Restarts == before.Restarts+1 && p.State == api.StateRunning && p.ID != before.ID
	})
	// stop: listed as stopped, not restarted; start brings it back.
	if code, _, errOut := runBinary(t, "", "stop", "flaky"); code != 0 {
		t.Fatalf("stop: %d %s", code, errOut)
	}
	if p := ps()["flaky"]; p.State != api.StateStopped {
		t.Fatalf("flaky after stop: %+v, want state stopped", p)
	}
	if code, _, errOut := runBinary(t, "", "start", "echo"); code != exitFailure || !strings.Contains(errOut, "running") {
		t.Fatalf("start of a running process: %d %s", code, errOut)
	}
	if code, out, errOut := runBinary(t, "", "start", "flaky"); code != 0 || !strings.Contains(out, "flaky: started") {
		t.Fatalf("start: %d %q %s", code, out, errOut)
	}
	checkFor(t, time.Minute, "flaky started again", func() bool { return ps()["flaky"].State != api.StateStopped })
	// logs: the node's records about a process and its own output.
	if code, out, errOut := runBinary(t, "", "logs", "flaky"); code != 0 || !strings.Contains(out, "started by the operator") {
		t.Fatalf("logs flaky: %d %q %s", code, out, errOut)
	}
	if code, _, errOut := runBinary(t, "", "logs", "nosuch"); code != exitUsage {
		t.Fatalf("logs of an unknown process: %d %s", code, errOut)
	}
	if code, _, _ := runBinary(t, "", "restart", "nosuch"); code != exitUsage {
		t.Fatalf("restart of an unknown process: exit %d, want %d", code, exitUsage)
	}
	if code, _, errOut := runBinary(t, "", "pub", "$sys.fake", "x"); code == 0 {
		t.Fatalf("publishing on a reserved subject succeeded: %s", errOut)
	}
	// Without the token the API refuses.
	data, _ := os.ReadFile(control.InfoPath(home))
	var info api.ControlInfo
	_ = json.Unmarshal(data, &info)
	if info.Token == "" || !strings.HasPrefix(info.Addr, "127.0.0.1:") {
		t.Fatalf("node.json = %s", data)
	}
	if st, err := os.Stat(control.InfoPath(home)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("node.json mode: %v %v", st.Mode(), err)
	}
	for _, tok := range []string{"", "wrong-token"} {
		req, _ := http.NewRequest("GET", "http://"+info.Addr+"/api/v1/processes", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("token %q: status %d, want 401", tok, resp.StatusCode)
		}
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.wait(t); code != 0 {
		t.Fatalf("orbital up exited %d after SIGTERM\n%s", code, c.stderr)
	}
	_, shutdown, _ := strings.Cut(c.stderr.String(), "shutting down")
	if !strings.Contains(shutdown, "node down") || strings.Contains(shutdown, "state=killed") || !strings.Contains(shutdown, "process=ticker") {
		t.Errorf("shutdown was not graceful:\n%s", c.stderr)
	}
	if _, err := os.Stat(control.InfoPath(home)); err == nil {
		t.Error("node.json left behind after shutdown")
	}
	if code, _, errOut := runBinary(t, "", "ps"); code == 0 || !strings.Contains(errOut, "orbital up") {
		t.Fatalf("ps with no node: %d %s", code, errOut)
	}
}

// TestUpRefusesRemoteControlWithoutToken: a control address off loopback
// needs allow_remote and a provisioned token; without them (or with a token
// file others can read) `orbital up` refuses to start, before anything runs.
func TestUpRefusesRemoteControlWithoutToken(t *testing.T) {
	home := newHome(t)
	dir := t.TempDir()
	open := writeFile(t, dir, "open.token", []byte(strings.Repeat("a", 40)))
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, node, want string }{
		{"not allowed", `control = "0.0.0.0:0"`, "allow_remote"},
		{"no token", "control = \"0.0.0.0:0\"\nallow_remote = true", "token_file"},
		{"token readable by others", "control = \"0.0.0.0:0\"\nallow_remote = true\ntoken_file = \"" + open + "\"", "lets others read it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeFile(t, dir, "node.toml", []byte("[node]\n"+tc.node+"\n"))
			code, _, errOut := runBinary(t, "", "up", cfg)
			if code != exitBadInput || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s", code, exitBadInput, tc.want, errOut)
			}
			if _, err := os.Stat(control.InfoPath(home)); err == nil {
				t.Fatal("node.json written: the node started")
			}
		})
	}
}
