package control_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	ociregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/admin"
	"github.com/orbitalfoundation/orbital/internal/control"
	"github.com/orbitalfoundation/orbital/internal/fetch"
	"github.com/orbitalfoundation/orbital/internal/node"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/pack"
	"github.com/orbitalfoundation/orbital/internal/testwait"
)

// The test node runs two processes of testdata/greeter.wasm (see
// greeter.wat): each prints "greeter: hello" to stdout when it starts, then
// prints the data of every message sent to it.
const (
	greeting  = "greeter: hello"
	nodeGrace = "300ms"
)

// rig is a real node behind a real control listener.
type rig struct {
	n     *node.Node
	srv   *control.Server
	home  string
	base  string // http://ADDR
	token string
}

type rigOptions struct {
	fetch   fetch.Options
	home    string // default a fresh temporary directory
	cluster string // extra node config: a [cluster] table
}

// greeterHex is testdata/greeter.wat assembled by wat2wasm (the repository
// keeps no .wasm files; TestGreeterIsTheWAT checks the two agree).
const greeterHex = "0061736d0100000001180460047f7f7f7f017f60037f7f7f017f60027f7f0060000002350216776173695f736e617073" +
	"686f745f70726576696577310866645f777269746500000a6f72626974616c5f76310472656376000103030202030503" +
	"010001071302066d656d6f72790200065f737461727400030a67021b0041002000360200410420013602004101410041" +
	"01410810001a0b4901017f418004410f100203404180084180f803417f1001210020004100480d012000450d00419c08" +
	"41800828020441800828020841800828020c6a6a6a41800828021010020c000b0b0b1601004180040b0f677265657465" +
	"723a2068656c6c6f0a"

func greeterWasm(t *testing.T) []byte {
	t.Helper()
	b, err := hex.DecodeString(greeterHex)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// greeterPath writes the test module and its manifest
// (testdata/greeter.orbital.toml) to a temporary directory and returns the
// module's path.
func greeterPath(t *testing.T) string {
	t.Helper()
	mf, err := os.ReadFile(filepath.Join("testdata", "greeter.orbital.toml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "greeter.wasm")
	if err := os.WriteFile(p, greeterWasm(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "greeter.orbital.toml"), mf, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGreeterIsTheWAT: greeterHex is what wat2wasm makes of
// testdata/greeter.wat (skipped where wat2wasm is not installed; make
// examples needs it anyway).
func TestGreeterIsTheWAT(t *testing.T) {
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm not installed")
	}
	out := filepath.Join(t.TempDir(), "greeter.wasm")
	if msg, err := exec.Command(tool, filepath.Join("testdata", "greeter.wat"), "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v: %s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, greeterWasm(t)) {
		t.Fatalf("greeterHex is stale; set it to the hex of wat2wasm's output:\n%x", got)
	}
}

// startNode starts a node running "greeter" and "quiet" (both the greeter
// module) in a fresh home; it is closed when the test ends.
func startNode(t *testing.T, o rigOptions) (*node.Node, string) {
	t.Helper()
	home := o.home
	if home == "" {
		home = t.TempDir()
	}
	mod := greeterPath(t)
	toml := fmt.Sprintf("[node]\nname = \"n1\"\ngrace = %q\n[[process]]\nname = \"greeter\"\nmodule = %q\n[[process]]\nname = \"quiet\"\nmodule = %q\n", nodeGrace, mod, mod) + o.cluster
	cfg, err := config.Parse([]byte(toml), "test.toml", t.TempDir(), home)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n, err := node.Start(context.Background(), cfg, home, log, node.Options{Fetch: o.fetch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("node close: %v", err)
		}
	})
	return n, home
}

// startRig starts a node and serves it with control.Listen on a loopback
// address with a fresh token, which it reads back from node.json.
func startRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	n, home := startNode(t, o)
	srv, err := serve(control.Options{Home: home}, n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Close(ctx) // before the node's cleanup (cleanups run last first)
	})
	info := readInfo(t, home)
	if info.Addr != srv.Addr() || info.PID != os.Getpid() || len(info.Token) < control.MinTokenLen {
		t.Fatalf("node.json %+v does not describe the server at %s", info, srv.Addr())
	}
	r := &rig{n: n, srv: srv, home: home, base: "http://" + srv.Addr(), token: info.Token}
	r.waitState(t, "greeter", api.StateRunning)
	r.waitState(t, "quiet", api.StateRunning)
	return r
}

func readInfo(t *testing.T, home string) api.ControlInfo {
	t.Helper()
	data, err := os.ReadFile(control.InfoPath(home))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(control.InfoPath(home)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("node.json mode: %v %v, want 0600", st.Mode().Perm(), err)
	}
	var info api.ControlInfo
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitFor polls cond until it holds, failing the test after a generous
// bound (a hang, not a slow machine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 30*time.Second, what, cond)
}

// noRedirect is a client that hands back redirects instead of following
// them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// call makes one request with the given headers and returns the status and
// body.
func call(t *testing.T, method, url string, body any, hdr map[string]string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, ok := body.([]byte)
		if !ok {
			raw, _ = json.Marshal(body)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func (r *rig) bearer() map[string]string {
	return map[string]string{"Authorization": "Bearer " + r.token}
}

// api makes an authenticated request to path and decodes a 200 answer into
// out (when not nil); it returns the status and the error class of any
// other answer.
func (r *rig) api(t *testing.T, method, path string, body, out any) (int, string) {
	t.Helper()
	code, data := call(t, method, r.base+path, body, r.bearer())
	if code != http.StatusOK {
		var e struct{ Error, Class string }
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("%s %s: %d with a body that is not a JSON error: %q", method, path, code, data)
		}
		if e.Error == "" {
			t.Fatalf("%s %s: %d without an error message: %q", method, path, code, data)
		}
		return code, e.Class
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %q", method, path, err, data)
		}
	}
	return code, ""
}

// wantAPI is api that fails the test unless the answer has status code
// (and class, when one is given).
func (r *rig) wantAPI(t *testing.T, method, path string, body, out any, code int, class string) {
	t.Helper()
	got, gotClass := r.api(t, method, path, body, out)
	if got != code || gotClass != class {
		t.Fatalf("%s %s: %d %q, want %d %q", method, path, got, gotClass, code, class)
	}
}

// process returns the row of name in the process table served over HTTP.
func (r *rig) process(t *testing.T, name string) (api.ProcessInfo, bool) {
	t.Helper()
	var ps []api.ProcessInfo
	r.wantAPI(t, "GET", "/api/v1/processes", nil, &ps, http.StatusOK, "")
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return api.ProcessInfo{}, false
}

func (r *rig) waitState(t *testing.T, name string, want api.State) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s %s", name, want), func() bool { p, _ := r.process(t, name); return p.State == want })
}

type logsReply struct {
	Lines []api.LogLine `json:"lines"`
	Next  uint64        `json:"next"`
}

func (r *rig) logs(t *testing.T, name string, query string) logsReply {
	t.Helper()
	var out logsReply
	r.wantAPI(t, "GET", "/api/v1/processes/"+name+"/logs"+query, nil, &out, http.StatusOK, "")
	return out
}

// waitLine polls name's logs after after until a line with text and
// source appears, and returns it.
func (r *rig) waitLine(t *testing.T, name string, after uint64, text, source string) api.LogLine {
	t.Helper()
	var found api.LogLine
	waitFor(t, fmt.Sprintf("%s logging %q", name, text), func() bool {
		for _, l := range r.logs(t, name, fmt.Sprintf("?after=%d", after)).Lines {
			if l.Text == text && l.Source == source {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

// say sends data to a process over the bus: greeter prints it.
func (r *rig) say(t *testing.T, to, data string) {
	t.Helper()
	r.wantAPI(t, "POST", "/api/v1/bus/send", map[string]string{"to": to, "data": data}, nil, http.StatusOK, "")
}

const provisioned = "0123456789abcdef0123456789abcdef0123456789" // 42 characters

// freePort returns a TCP port that was free on every interface a moment
// ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestListenNeedsAProvisionedTokenOffLoopback: Listen refuses a
// non-loopback address without a provisioned token (closing what it
// opened and writing no node.json), and any provisioned token shorter than
// MinTokenLen; with a long enough token it serves on any address, and
// node.json carries that token.
func TestListenNeedsAProvisionedTokenOffLoopback(t *testing.T) {
	n, _ := startNode(t, rigOptions{})
	for _, tc := range []struct {
		name, host, token string
		wantErr           error // nil: it listens
	}{
		{"all interfaces, no token", "0.0.0.0", "", api.ErrPermissionDenied},
		{"all interfaces, short token", "0.0.0.0", provisioned[:control.MinTokenLen-1], api.ErrInvalid},
		{"loopback, short token", "127.0.0.1", provisioned[:control.MinTokenLen-1], api.ErrInvalid},
		{"all interfaces, token of MinTokenLen", "0.0.0.0", provisioned[:control.MinTokenLen], nil},
		{"all interfaces, long token", "0.0.0.0", provisioned, nil},
		{"loopback, no token", "127.0.0.1", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "home") // Listen creates it
			port := freePort(t)
			srv, err := serve(control.Options{Addr: net.JoinHostPort(tc.host, port), Home: home, Token: tc.token}, n)
			if tc.wantErr != nil {
				if err == nil {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					_ = srv.Close(ctx)
					t.Fatalf("Listen on %s:%s with token %q succeeded", tc.host, port, tc.token)
				}
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want one wrapping %v", err, tc.wantErr)
				}
				if _, err := os.Stat(control.InfoPath(home)); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("node.json after a refused Listen: %v", err)
				}
				// Nothing is left listening on the port.
				ln, err := net.Listen("tcp", net.JoinHostPort(tc.host, port))
				if err != nil {
					t.Fatalf("port %s still taken after a refused Listen: %v", port, err)
				}
				ln.Close()
				return
			}
			if err != nil {
				t.Fatalf("Listen: %v", err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Close(ctx)
				if _, err := os.Stat(control.InfoPath(home)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("node.json left after Close: %v", err)
				}
			})
			info := readInfo(t, home)
			if tc.token != "" && info.Token != tc.token {
				t.Fatalf("node.json token %q, want the provisioned one", info.Token)
			}
			base := "http://" + net.JoinHostPort("127.0.0.1", port)
			if code, _ := call(t, "GET", base+"/api/v1/processes", nil, map[string]string{"Authorization": "Bearer " + info.Token}); code != http.StatusOK {
				t.Fatalf("GET processes with the token: %d", code)
			}
			if code, _ := call(t, "GET", base+"/api/v1/processes", nil, nil); code != http.StatusUnauthorized {
				t.Fatalf("GET processes without the token: %d", code)
			}
			// The CLI's client finds the node through node.json.
			c, err := control.Dial(home)
			if err != nil {
				t.Fatal(err)
			}
			ps, err := c.Processes(context.Background())
			if err != nil || len(ps) != 2 {
				t.Fatalf("client Processes: %v %v", ps, err)
			}
		})
	}
}

// TestReadTokenFile: only a file nobody else may read, holding one token
// of at least MinTokenLen characters (white space around it ignored), is
// accepted.
func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		content string
		mode    os.FileMode
		want    string // "" : refused
		wantErr error
	}{
		{"0600 with white space around", "\n  " + provisioned + " \r\n\t", 0o600, provisioned, nil},
		{"0400", provisioned, 0o400, provisioned, nil},
		{"exactly MinTokenLen", provisioned[:control.MinTokenLen] + "\n", 0o600, provisioned[:control.MinTokenLen], nil},
		{"group readable", provisioned, 0o640, "", api.ErrInvalid},
		{"other readable", provisioned, 0o604, "", api.ErrInvalid},
		{"group writable only", provisioned, 0o620, "", api.ErrInvalid},
		{"empty", "", 0o600, "", api.ErrInvalid},
		{"white space only", " \n\t\n", 0o600, "", api.ErrInvalid},
		{"too short", provisioned[:control.MinTokenLen-1], 0o600, "", api.ErrInvalid},
		{"two tokens", provisioned + " " + provisioned, 0o600, "", api.ErrInvalid},
		{"two lines", provisioned + "\n" + provisioned + "\n", 0o600, "", api.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // no umask
				t.Fatal(err)
			}
			got, err := control.ReadTokenFile(path)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("ReadTokenFile: %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !errors.Is(err, tc.wantErr) {
				t.Fatalf("ReadTokenFile: %q, %v; want an error wrapping %v", got, err, tc.wantErr)
			}
			if got != "" {
				t.Fatalf("a refused file still returned a token %q", got)
			}
			if strings.Contains(err.Error(), provisioned[:control.MinTokenLen-1]) {
				t.Fatalf("the error shows the token: %v", err)
			}
		})
	}
	if _, err := control.ReadTokenFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestAuthentication: every route but /healthz needs the bearer token,
// exactly as "Bearer TOKEN"; a refused request changes nothing.
func TestAuthentication(t *testing.T) {
	r := startRig(t, rigOptions{})
	routes := []struct {
		method, path string
		stream       bool
	}{
		{"GET", "/api/v1/processes", false},
		{"GET", "/api/v1/processes/greeter/logs", false},
		{"GET", "/api/v1/modules", false},
		{"GET", "/api/v1/bus", false},
		{"GET", "/metrics", false},
		{"POST", "/api/v1/bus/publish", false},
		{"GET", "/api/v1/events", true},
		{"GET", "/api/v1/processes/greeter/logs/stream", true},
		{"POST", "/api/v1/processes/quiet/stop", false}, // last: the accepted one stops quiet
	}
	creds := []struct {
		name   string
		header string // the Authorization header; "" none
		want   int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong token", "Bearer " + strings.Repeat("x", len(r.token)), http.StatusUnauthorized},
		{"token with a byte more", "Bearer " + r.token + "x", http.StatusUnauthorized},
		{"token without Bearer", r.token, http.StatusUnauthorized},
		{"basic scheme", "Basic " + r.token, http.StatusUnauthorized},
		{"empty bearer", "Bearer ", http.StatusUnauthorized},
		{"right token", "Bearer " + r.token, http.StatusOK},
	}
	for _, rt := range routes {
		for _, cr := range creds {
			t.Run(rt.method+" "+rt.path+"/"+cr.name, func(t *testing.T) {
				if cr.want == http.StatusOK && rt.path == "/api/v1/processes/quiet/stop" {
					// Every refused request before left quiet running.
					if p, _ := r.process(t, "quiet"); p.State != api.StateRunning {
						t.Fatalf("quiet is %s after refused stops", p.State)
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var body io.Reader
				if rt.method == "POST" {
					body = strings.NewReader(`{"subject":"nobody.listens","data":"x"}`)
				}
				req, err := http.NewRequestWithContext(ctx, rt.method, r.base+rt.path, body)
				if err != nil {
					t.Fatal(err)
				}
				if cr.header != "" {
					req.Header.Set("Authorization", cr.header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close() // a stream: its headers are all we read
				if resp.StatusCode != cr.want {
					t.Fatalf("status %d, want %d", resp.StatusCode, cr.want)
				}
				if cr.want == http.StatusOK && rt.stream && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
					t.Fatalf("stream served as %q", resp.Header.Get("Content-Type"))
				}
				if cr.want == http.StatusUnauthorized {
					data, _ := io.ReadAll(resp.Body)
					if bytes.Contains(data, []byte(r.token)) {
						t.Fatal("the 401 answer shows the token")
					}
				}
			})
		}
	}
	// The accepted stop did stop quiet.
	r.waitState(t, "quiet", api.StateStopped)
	// /healthz needs nothing.
	if code, body := call(t, "GET", r.base+"/healthz", nil, nil); code != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([0-9a-f]+)">`)

// TestCSRFThroughTheListener: a request authenticated by the admin
// session cookie that changes state needs the session's CSRF token and a
// same-origin browser; refused ones change nothing.
func TestCSRFThroughTheListener(t *testing.T) {
	r := startRig(t, rigOptions{})
	// Log in with the one-time link; the redirect is not followed.
	if admin.LoginURL(r.srv.Addr(), r.token) != r.base+"/admin/login?token="+r.token {
		t.Fatalf("LoginURL %q", admin.LoginURL(r.srv.Addr(), r.token))
	}
	req, _ := http.NewRequest("GET", admin.LoginURL(r.srv.Addr(), r.token), nil)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "orbital_session" {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || cookie == nil || cookie.Value == r.token {
		t.Fatalf("login: %d, cookie %v", resp.StatusCode, cookie)
	}
	withCookie := func(h map[string]string) map[string]string {
		out := map[string]string{"Cookie": cookie.Name + "=" + cookie.Value}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	// The panel embeds the session's CSRF token.
	code, page := call(t, "GET", admin.URL(r.srv.Addr()), nil, withCookie(nil))
	m := csrfMeta.FindSubmatch(page)
	if code != http.StatusOK || m == nil {
		t.Fatalf("GET /admin/: %d, no csrf-token meta in %.300q", code, page)
	}
	csrf := string(m[1])
	// A cookie authenticates a GET without anything else.
	if code, _ := call(t, "GET", r.base+"/api/v1/processes", nil, withCookie(nil)); code != http.StatusOK {
		t.Fatalf("GET processes with the cookie: %d", code)
	}
	same := r.base
	stop := r.base + "/api/v1/processes/greeter/stop"
	for _, tc := range []struct {
		name string
		hdr  map[string]string
	}{
		{"no CSRF token", map[string]string{"Origin": same}},
		{"wrong CSRF token", map[string]string{"X-CSRF-Token": strings.Repeat("0", len(csrf)), "Origin": same}},
		{"the control token as CSRF token", map[string]string{"X-CSRF-Token": r.token, "Origin": same}},
		{"right token, foreign Origin", map[string]string{"X-CSRF-Token": csrf, "Origin": "http://evil.example"}},
		{"right token, foreign Origin on the same host name", map[string]string{"X-CSRF-Token": csrf, "Origin": "http://127.0.0.1:1"}},
		{"right token, no Origin nor Sec-Fetch-Site", map[string]string{"X-CSRF-Token": csrf}},
		{"right token, cross-site fetch", map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}},
		{"right token, same Origin but cross-site fetch", map[string]string{"X-CSRF-Token": csrf, "Origin": same, "Sec-Fetch-Site": "same-site"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, "POST", stop, nil, withCookie(tc.hdr))
			if code != http.StatusForbidden {
				t.Fatalf("status %d (%s), want 403", code, body)
			}
			var e struct{ Class string }
			if err := json.Unmarshal(body, &e); err != nil || e.Class != "permission_denied" {
				t.Fatalf("class %q in %s", e.Class, body)
			}
			if p, _ := r.process(t, "greeter"); p.State != api.StateRunning {
				t.Fatalf("greeter is %s after a refused stop", p.State)
			}
		})
	}
	// A wrong cookie is no session at all.
	if code, _ := call(t, "POST", stop, nil, map[string]string{"Cookie": cookie.Name + "=" + strings.Repeat("a", 64), "X-CSRF-Token": csrf, "Origin": same}); code != http.StatusUnauthorized {
		t.Fatalf("stop with an unknown session: %d, want 401", code)
	}
	if p, _ := r.process(t, "greeter"); p.State != api.StateRunning {
		t.Fatalf("greeter is %s after refused stops", p.State)
	}
	// Right token and same origin: accepted.
	if code, body := call(t, "POST", stop, nil, withCookie(map[string]string{"X-CSRF-Token": csrf, "Origin": same})); code != http.StatusOK {
		t.Fatalf("stop with token and origin: %d %s", code, body)
	}
	r.waitState(t, "greeter", api.StateStopped)
	// So is a same-origin fetch without Origin.
	if code, body := call(t, "POST", r.base+"/api/v1/processes/greeter/start", nil, withCookie(map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-origin"})); code != http.StatusOK {
		t.Fatalf("start with token and Sec-Fetch-Site: %d %s", code, body)
	}
	r.waitState(t, "greeter", api.StateRunning)
}

// streamWait bounds the wait for a line on a log stream. It is generous
// for a line that is sent at once, and below the stream's 15 s heartbeat,
// so a stream that sends new lines only when its heartbeat wakes it up
// (not when the line is logged) fails.
const streamWait = 10 * time.Second

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	id, event, data string
}

// readEvents parses Server-Sent Events from body onto a channel, closed
// when the body ends.
func readEvents(body io.Reader) <-chan sseEvent {
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" || ev.event != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return ch
}

// nextLine waits for the next "log" event and decodes its line.
func nextLine(t *testing.T, events <-chan sseEvent) (api.LogLine, string) {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the log stream ended")
		}
		if ev.event != "log" {
			t.Fatalf("event %q, want log", ev.event)
		}
		var l api.LogLine
		if err := json.Unmarshal([]byte(ev.data), &l); err != nil {
			t.Fatalf("event data %q: %v", ev.data, err)
		}
		return l, ev.id
	case <-time.After(streamWait):
		t.Fatal("no log event")
	}
	return api.LogLine{}, ""
}

// openStream opens a process's log stream with extra headers.
func (r *rig) openStream(t *testing.T, ctx context.Context, name, query string, hdr map[string]string) <-chan sseEvent {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", r.base+"/api/v1/processes/"+name+"/logs/stream"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return readEvents(resp.Body)
}

// TestLogs: a process's stdout lines are served by the logs route, paged
// by ?after= and ?limit=, and streamed as Server-Sent Events: first the
// kept lines, then new ones as they are logged.
func TestLogs(t *testing.T) {
	r := startRig(t, rigOptions{})
	hello := r.waitLine(t, "greeter", 0, greeting, "stdout")
	if hello.Level != "INFO" || hello.Seq == 0 || hello.Time.IsZero() {
		t.Fatalf("greeting line %+v", hello)
	}
	all := r.logs(t, "greeter", "")
	if all.Next < hello.Seq || all.Lines[len(all.Lines)-1].Seq != all.Next {
		t.Fatalf("next %d, last line %+v", all.Next, all.Lines[len(all.Lines)-1])
	}
	// The other process's lines are its own.
	for _, l := range all.Lines {
		if strings.Contains(l.Text, "quiet") {
			t.Fatalf("greeter's logs hold a line about quiet: %+v", l)
		}
	}

	// A message makes greeter print a new line: ?after=next returns it
	// and nothing older.
	r.say(t, "greeter", "second line")
	second := r.waitLine(t, "greeter", all.Next, "second line", "stdout")
	newer := r.logs(t, "greeter", fmt.Sprintf("?after=%d", all.Next))
	for _, l := range newer.Lines {
		if l.Seq <= all.Next {
			t.Fatalf("after=%d returned line %+v", all.Next, l)
		}
	}
	if newer.Next < second.Seq {
		t.Fatalf("next %d before the new line's seq %d", newer.Next, second.Seq)
	}
	if empty := r.logs(t, "greeter", fmt.Sprintf("?after=%d", newer.Next)); len(empty.Lines) != 0 || empty.Next != newer.Next {
		t.Fatalf("after the last line: %+v", empty)
	}
	if one := r.logs(t, "greeter", "?limit=1"); len(one.Lines) != 1 || one.Next != one.Lines[0].Seq || one.Lines[0].Seq != all.Lines[0].Seq {
		t.Fatalf("limit=1: %+v", one)
	}
	// A known process that never logged has an empty list, not null.
	if code, body := call(t, "GET", r.base+"/api/v1/processes/greeter/logs?after=999999999", nil, r.bearer()); code != http.StatusOK || !bytes.Contains(body, []byte(`"lines":[]`)) {
		t.Fatalf("no lines: %d %s", code, body)
	}
	// Unknown processes.
	for _, path := range []string{"/api/v1/processes/nobody/logs", "/api/v1/processes/nobody/logs/stream"} {
		r.wantAPI(t, "GET", path, nil, nil, http.StatusNotFound, "not_found")
	}

	// The stream: the kept lines first (in order), then new ones.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := r.openStream(t, ctx, "greeter", "", nil)
	var backlog []api.LogLine
	for len(backlog) == 0 || backlog[len(backlog)-1].Seq < newer.Next {
		l, id := nextLine(t, events)
		if id != fmt.Sprint(l.Seq) {
			t.Fatalf("event id %q for line seq %d", id, l.Seq)
		}
		backlog = append(backlog, l)
	}
	if !slices.ContainsFunc(backlog, func(l api.LogLine) bool { return l.Text == greeting }) ||
		!slices.ContainsFunc(backlog, func(l api.LogLine) bool { return l.Text == "second line" }) {
		t.Fatalf("backlog %+v lacks the kept lines", backlog)
	}
	r.say(t, "greeter", "third line")
	for {
		l, _ := nextLine(t, events)
		if l.Seq <= backlog[len(backlog)-1].Seq {
			t.Fatalf("stream went back: %d after %d", l.Seq, backlog[len(backlog)-1].Seq)
		}
		if l.Text == "third line" {
			if l.Source != "stdout" {
				t.Fatalf("streamed line %+v", l)
			}
			break
		}
	}

	// A reconnecting EventSource sends Last-Event-ID: the stream resumes
	// after it (and ?after= is overridden).
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	resumed := r.openStream(t, ctx2, "greeter", "?after=0", map[string]string{"Last-Event-ID": fmt.Sprint(second.Seq)})
	if l, _ := nextLine(t, resumed); l.Seq <= second.Seq {
		t.Fatalf("resumed stream sent seq %d, not after %d", l.Seq, second.Seq)
	}
}

// TestClientLogs: control.Dial finds the node through node.json; the
// client's Logs pages and FollowLogs streams, here the node's own record
// about a process started by the operator.
func TestClientLogs(t *testing.T) {
	r := startRig(t, rigOptions{})
	c, err := control.Dial(r.home)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != r.srv.Addr() {
		t.Fatalf("client at %s, server at %s", c.Addr(), r.srv.Addr())
	}
	ctx := context.Background()
	r.waitLine(t, "quiet", 0, greeting, "stdout")
	lines, next, err := c.Logs(ctx, "quiet", 0, 0)
	if err != nil || len(lines) == 0 || next != lines[len(lines)-1].Seq {
		t.Fatalf("client Logs: %d lines, next %d, %v", len(lines), next, err)
	}
	if _, _, err := c.Logs(ctx, "nobody", 0, 0); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("client Logs of an unknown process: %v", err)
	}
	if err := c.Op(ctx, "quiet", "stop"); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, "quiet", api.StateStopped)
	_, next, err = c.Logs(ctx, "quiet", 0, 0)
	if err != nil {
		t.Fatal(err)
	}

	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan api.LogLine, 64)
	followed := make(chan error, 1)
	go func() {
		followed <- c.FollowLogs(fctx, "quiet", next, func(l api.LogLine) error { got <- l; return nil })
	}()
	if err := c.Op(ctx, "quiet", "start"); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for done := false; !done; {
		select {
		case l := <-got:
			if l.Seq <= next {
				t.Fatalf("FollowLogs after %d sent %+v", next, l)
			}
			seen = append(seen, l.Source+": "+l.Text)
			done = l.Source == "node" && l.Text == "started by the operator"
		case err := <-followed:
			t.Fatalf("FollowLogs ended: %v (saw %q)", err, seen)
		case <-time.After(streamWait):
			t.Fatalf("no 'started by the operator' line; saw %q", seen)
		}
	}
	cancel()
	select {
	case err := <-followed:
		if err != nil {
			t.Fatalf("FollowLogs after its context ended: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("FollowLogs did not return when its context ended")
	}
	if err := c.FollowLogs(ctx, "nobody", 0, func(api.LogLine) error { return nil }); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("FollowLogs of an unknown process: %v", err)
	}
}

// TestStartStop: a stopped process stays in the table as stopped until it
// is started again; starting a running one is a conflict, an unknown one
// not found.
func TestStartStop(t *testing.T) {
	r := startRig(t, rigOptions{})
	for _, tc := range []struct {
		name, path string
		code       int
		class      string
		after      api.State // quiet's state afterwards
	}{
		{"start a running process", "/api/v1/processes/quiet/start", http.StatusConflict, "exists", api.StateRunning},
		{"stop", "/api/v1/processes/quiet/stop", http.StatusOK, "", api.StateStopped},
		{"start", "/api/v1/processes/quiet/start", http.StatusOK, "", api.StateRunning},
		{"start again", "/api/v1/processes/quiet/start", http.StatusConflict, "exists", api.StateRunning},
		{"stop again", "/api/v1/processes/quiet/stop", http.StatusOK, "", api.StateStopped},
		{"restart a stopped process starts it", "/api/v1/processes/quiet/restart", http.StatusOK, "", api.StateRunning},
		{"start an unknown process", "/api/v1/processes/nobody/start", http.StatusNotFound, "not_found", api.StateRunning},
		{"stop an unknown process", "/api/v1/processes/nobody/stop", http.StatusNotFound, "not_found", api.StateRunning},
		{"unknown operation", "/api/v1/processes/quiet/pause", http.StatusNotFound, "not_found", api.StateRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.wantAPI(t, "POST", tc.path, nil, nil, tc.code, tc.class)
			r.waitState(t, "quiet", tc.after)
			p, listed := r.process(t, "quiet")
			if !listed {
				t.Fatal("quiet left the process table")
			}
			if p.State == api.StateStopped && p.Reason == "" {
				t.Fatalf("stopped without a reason: %+v", p)
			}
			// greeter is never touched.
			if g, _ := r.process(t, "greeter"); g.State != api.StateRunning {
				t.Fatalf("greeter is %s", g.State)
			}
		})
	}
	// Each start ran quiet anew: it greeted at boot, at start and at
	// restart, and no more.
	greetings := func() int {
		n := 0
		for _, l := range r.logs(t, "quiet", "").Lines {
			if l.Text == greeting && l.Source == "stdout" {
				n++
			}
		}
		return n
	}
	waitFor(t, "three greetings from quiet", func() bool { return greetings() >= 3 })
	if n := greetings(); n != 3 {
		t.Fatalf("quiet greeted %d times, want 3 (boot, start, restart)", n)
	}
}

// packageServer serves packages over TLS by path; anything else is 404.
func packageServer(t *testing.T, pkgs map[string][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		data, ok := pkgs[req.URL.Path]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/wasm")
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// manifestFor is the greeter's manifest under another name: it asks for
// stdout, the clock and an optional read-only /data.
func manifestFor(name, version string) string {
	return fmt.Sprintf(`name = %q
version = %q
kind = "service"
description = "greets"

[entry]
type = "command"
start = "_start"

[capabilities]
clock = true

[[capabilities.fs]]
path = "/data"
access = "ro"
optional = true

[bus]
listen = [%q]
subscribe = [%q]
`, name, version, name+".say", name+".say")
}

func makePackage(t *testing.T, key *pack.Key, name, version string) []byte {
	t.Helper()
	p, _, err := pack.Pack(greeterWasm(t), []byte(manifestFor(name, version)))
	if err != nil {
		t.Fatal(err)
	}
	if key != nil {
		if p, err = pack.Sign(p, key); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func digestOf(t *testing.T, pkg []byte) string {
	t.Helper()
	p, err := pack.Open(pkg)
	if err != nil {
		t.Fatal(err)
	}
	return p.Digest.String()
}

// installRig is a node whose trust.toml trusts the publisher "tester" for
// module "webgreeter", with a TLS server of packages it can fetch from.
type installRig struct {
	*rig
	pkgs     *httptest.Server
	good     []byte    // webgreeter 1.2.3 signed by tester
	stranger *pack.Key // signs /untrusted.wasm; not in the trust policy
}

func startInstallRig(t *testing.T) *installRig {
	t.Helper()
	home := t.TempDir()
	key, err := pack.GenerateKey("tester-signer")
	if err != nil {
		t.Fatal(err)
	}
	other, err := pack.GenerateKey("stranger")
	if err != nil {
		t.Fatal(err)
	}
	pol := pack.DefaultPolicy()
	if err := pol.Trust("tester", key.Public(), "webgreeter"); err != nil {
		t.Fatal(err)
	}
	if err := pol.Save(filepath.Join(home, pack.PolicyFile)); err != nil {
		t.Fatal(err)
	}
	ir := &installRig{good: makePackage(t, key, "webgreeter", "1.2.3"), stranger: other}
	ir.pkgs = packageServer(t, map[string][]byte{
		"/webgreeter.wasm": ir.good,
		"/unsigned.wasm":   makePackage(t, nil, "webgreeter", "1.2.4"),
		"/untrusted.wasm":  makePackage(t, other, "webgreeter", "1.2.5"),
		"/othername.wasm":  makePackage(t, key, "othername", "1.0.0"),
		"/garbage.wasm":    []byte("this is not a wasm module"),
	})
	ir.rig = startRig(t, rigOptions{home: home, fetch: fetch.Options{HTTPClient: ir.pkgs.Client()}})
	return ir
}

func (r *rig) modules(t *testing.T) []api.ModuleSummary {
	t.Helper()
	var out []api.ModuleSummary
	r.wantAPI(t, "GET", "/api/v1/modules", nil, &out, http.StatusOK, "")
	return out
}

func (r *rig) preview(t *testing.T, ref string) api.InstallPreview {
	t.Helper()
	var pv api.InstallPreview
	r.wantAPI(t, "POST", "/api/v1/install/preview", map[string]string{"ref": ref}, &pv, http.StatusOK, "")
	if pv.ID == "" || !pv.Expires.After(time.Now()) {
		t.Fatalf("preview of %s: id %q expires %v", ref, pv.ID, pv.Expires)
	}
	return pv
}

func capability(pv api.InstallPreview, name string) (api.CapabilityRequest, bool) {
	for _, c := range pv.Caps {
		if c.Name == name {
			return c, true
		}
	}
	return api.CapabilityRequest{}, false
}

// TestInstallFromURL: the URL-bar flow over HTTP. A preview fetches and
// describes a package without installing it; denying drops it; approving
// installs exactly it, and its process runs and logs.
func TestInstallFromURL(t *testing.T) {
	r := startInstallRig(t)
	ref := r.pkgs.URL + "/webgreeter.wasm"

	pv := r.preview(t, ref)
	if pv.Name != "webgreeter" || pv.Version != "1.2.3" || pv.Kind != "service" || pv.Description != "greets" || pv.Ref != ref {
		t.Fatalf("preview names %s@%s (%s, %q) from %s", pv.Name, pv.Version, pv.Kind, pv.Description, pv.Ref)
	}
	if pv.Size != len(r.good) || pv.Digest != digestOf(t, r.good) {
		t.Fatalf("preview size %d digest %s, want %d %s", pv.Size, pv.Digest, len(r.good), digestOf(t, r.good))
	}
	if !pv.Signature.Signed || !pv.Signature.Trusted || pv.Publisher != "tester" || len(pv.Signature.Signers) != 1 ||
		pv.Signature.Signers[0].Status != string(pack.StatusTrusted) || pv.Signature.Signers[0].Publisher != "tester" {
		t.Fatalf("preview signature %+v, publisher %q", pv.Signature, pv.Publisher)
	}
	for _, want := range []api.CapabilityRequest{
		{Name: "stdout", Granted: true},
		{Name: "clock", Granted: true},
		{Name: "fs:/data (read-only) (optional)", Granted: false},
		{Name: "bus subscribe: webgreeter.say", Granted: true},
	} {
		got, ok := capability(pv, want.Name)
		if !ok || got.Granted != want.Granted {
			t.Errorf("capability %q: %+v (listed %v), want granted=%v; all: %+v", want.Name, got, ok, want.Granted, pv.Caps)
		}
		if ok && !got.Granted && got.Note == "" {
			t.Errorf("capability %q is refused without a note", want.Name)
		}
	}
	if !pv.Installable || len(pv.Problems) != 0 || !slices.Contains(pv.Triggers, "boot (starts at once)") || pv.Installed != "" {
		t.Fatalf("preview installable %v, problems %q, triggers %q, installed %q", pv.Installable, pv.Problems, pv.Triggers, pv.Installed)
	}
	// Nothing is installed or running by a preview.
	if mods := r.modules(t); len(mods) != 0 {
		t.Fatalf("registry after a preview: %+v", mods)
	}
	if _, listed := r.process(t, "webgreeter"); listed {
		t.Fatal("webgreeter runs after a preview")
	}

	// Deny: dropped; the id is gone.
	r.wantAPI(t, "DELETE", "/api/v1/install/"+pv.ID, nil, nil, http.StatusOK, "")
	r.wantAPI(t, "DELETE", "/api/v1/install/"+pv.ID, nil, nil, http.StatusNotFound, "not_found")
	r.wantAPI(t, "POST", "/api/v1/install/"+pv.ID, nil, nil, http.StatusNotFound, "not_found")
	if mods := r.modules(t); len(mods) != 0 {
		t.Fatalf("registry after a denial: %+v", mods)
	}
	if _, listed := r.process(t, "webgreeter"); listed {
		t.Fatal("webgreeter runs after a denial")
	}

	// Preview again and approve: installed and running.
	pv = r.preview(t, ref)
	var inst api.Installed
	r.wantAPI(t, "POST", "/api/v1/install/"+pv.ID, nil, &inst, http.StatusOK, "")
	if inst.Name != "webgreeter" || inst.Version != "1.2.3" || inst.Process != "webgreeter" {
		t.Fatalf("installed %+v", inst)
	}
	r.waitState(t, "webgreeter", api.StateRunning)
	mods := r.modules(t)
	if len(mods) != 1 || mods[0].Name != "webgreeter" || !slices.Equal(mods[0].Versions, []string{"1.2.3"}) {
		t.Fatalf("registry after approval: %+v", mods)
	}
	var info api.ModuleDetail
	r.wantAPI(t, "GET", "/api/v1/modules/webgreeter", nil, &info, http.StatusOK, "")
	if !strings.Contains(inst.Digest, strings.TrimPrefix(pv.Digest, "sha256:")) {
		t.Fatalf("installed digest %q, previewed %q", inst.Digest, pv.Digest)
	}
	// Its stdout reaches its logs.
	r.waitLine(t, "webgreeter", 0, greeting, "stdout")
	r.say(t, "webgreeter", "installed from a URL")
	r.waitLine(t, "webgreeter", 0, "installed from a URL", "stdout")
	// An approved preview is used up.
	r.wantAPI(t, "POST", "/api/v1/install/"+pv.ID, nil, nil, http.StatusNotFound, "not_found")
	// A new preview of the same package says it is installed already.
	again := r.preview(t, ref)
	if again.Installed != "1.2.3" || !slices.ContainsFunc(again.Problems, func(p string) bool { return strings.Contains(p, "installed already") }) {
		t.Fatalf("preview of the installed version: installed %q, problems %q", again.Installed, again.Problems)
	}
}

// TestInstallRefusesUntrustedPackages: a package the trust policy does not
// accept is described (the operator sees why) but cannot be approved, and
// nothing is installed.
func TestInstallRefusesUntrustedPackages(t *testing.T) {
	r := startInstallRig(t)
	// publisher: the trust policy's name for a key it lists (even when not
	// for this name), else the signer's own name; signerPublisher: the
	// policy's name for the key, when it lists it.
	for _, tc := range []struct {
		name, path                 string
		signed                     bool
		signerStatus               string
		publisher, signerPublisher string
	}{
		{"unsigned", "/unsigned.wasm", false, "", "", ""},
		{"signed by an unknown key", "/untrusted.wasm", true, string(pack.StatusUntrusted), "stranger", ""},
		{"trusted key, name it may not sign", "/othername.wasm", true, string(pack.StatusWrongName), "tester", "tester"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pv := r.preview(t, r.pkgs.URL+tc.path)
			if pv.Installable || pv.Signature.Trusted || pv.Signature.Signed != tc.signed {
				t.Fatalf("installable %v, signature %+v", pv.Installable, pv.Signature)
			}
			if !slices.ContainsFunc(pv.Problems, func(p string) bool { return strings.HasPrefix(p, "refused:") }) {
				t.Fatalf("problems %q lack a refusal", pv.Problems)
			}
			if tc.signed && (len(pv.Signature.Signers) != 1 || pv.Signature.Signers[0].Status != tc.signerStatus ||
				pv.Signature.Signers[0].Publisher != tc.signerPublisher) {
				t.Fatalf("signers %+v, want one %s known as %q", pv.Signature.Signers, tc.signerStatus, tc.signerPublisher)
			}
			if !tc.signed && len(pv.Signature.Signers) != 0 {
				t.Fatalf("unsigned, but signers %+v", pv.Signature.Signers)
			}
			if pv.Publisher != tc.publisher {
				t.Fatalf("publisher %q, want %q", pv.Publisher, tc.publisher)
			}
			// Refused, and it stays staged (the panel still shows why)
			// until it is denied.
			for range 2 {
				r.wantAPI(t, "POST", "/api/v1/install/"+pv.ID, nil, nil, http.StatusForbidden, "permission_denied")
			}
			if mods := r.modules(t); len(mods) != 0 {
				t.Fatalf("registry after a refused approval: %+v", mods)
			}
			if _, listed := r.process(t, pv.Name); listed {
				t.Fatalf("%s runs after a refused approval", pv.Name)
			}
			r.wantAPI(t, "DELETE", "/api/v1/install/"+pv.ID, nil, nil, http.StatusOK, "")
			r.wantAPI(t, "DELETE", "/api/v1/install/"+pv.ID, nil, nil, http.StatusNotFound, "not_found")
			r.wantAPI(t, "POST", "/api/v1/install/"+pv.ID, nil, nil, http.StatusNotFound, "not_found")
		})
	}
}

// anyError in a table's status column accepts any error status.
const anyError = -1

// TestInstallPreviewRefs: only https:// and oci:// references are fetched
// for the browser; bad ones are the client's error, a missing package is
// not found.
func TestInstallPreviewRefs(t *testing.T) {
	r := startInstallRig(t)
	httpRef := "http" + strings.TrimPrefix(r.pkgs.URL, "https") + "/webgreeter.wasm"
	for _, tc := range []struct {
		name  string
		body  any
		code  int
		class string
	}{
		{"file URL", map[string]string{"ref": "file:///etc/passwd"}, http.StatusBadRequest, "invalid"},
		{"plain path", map[string]string{"ref": "/etc/passwd"}, http.StatusBadRequest, "invalid"},
		{"relative path", map[string]string{"ref": "testdata/greeter.wasm"}, http.StatusBadRequest, "invalid"},
		{"plain http", map[string]string{"ref": httpRef}, http.StatusBadRequest, "invalid"},
		{"unknown scheme", map[string]string{"ref": "ftp://example.com/x.wasm"}, http.StatusBadRequest, "invalid"},
		{"empty", map[string]string{"ref": ""}, http.StatusBadRequest, "invalid"},
		{"credentials in the URL", map[string]string{"ref": "https://user:pw@" + strings.TrimPrefix(r.pkgs.URL, "https://") + "/webgreeter.wasm"}, http.StatusBadRequest, "invalid"},
		{"not JSON", []byte("ref=https://example.com"), http.StatusBadRequest, "invalid"},
		{"missing package", map[string]string{"ref": r.pkgs.URL + "/missing.wasm"}, http.StatusNotFound, "not_found"},
		// The class is what matters to a client; the status is 500 today
		// (control.reply maps no status for bad_module), so any error
		// status is accepted here.
		{"not a package", map[string]string{"ref": r.pkgs.URL + "/garbage.wasm"}, anyError, "bad_module"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.code == anyError {
				code, class := r.api(t, "POST", "/api/v1/install/preview", tc.body, nil)
				if code == http.StatusOK || class != tc.class {
					t.Fatalf("%d %q, want an error of class %q", code, class, tc.class)
				}
				return
			}
			r.wantAPI(t, "POST", "/api/v1/install/preview", tc.body, nil, tc.code, tc.class)
		})
	}
	// Nothing was installed, and nothing waits for approval under any of
	// those: the registry is empty.
	if mods := r.modules(t); len(mods) != 0 {
		t.Fatalf("registry: %+v", mods)
	}
}

// TestNodeHealth: GET /api/v1/node reports the node itself (the degraded
// status of a given-up process is tested in internal/node).
func TestNodeHealth(t *testing.T) {
	r := startRig(t, rigOptions{})
	var h api.NodeHealth
	r.wantAPI(t, "GET", "/api/v1/node", nil, &h, http.StatusOK, "")
	if h.Status != "ok" || h.PID != os.Getpid() || h.Version == "" || h.Processes != 2 || h.Running != 2 ||
		h.Goroutines == 0 || h.HeapBytes == 0 || h.SysBytes < h.HeapBytes || h.NumCPU == 0 || len(h.GaveUp) != 0 ||
		h.Uptime <= 0 || h.Started.After(time.Now()) {
		t.Fatalf("health %+v", h)
	}
	if runtime.GOOS == "linux" && h.CPUSeconds <= 0 {
		t.Fatalf("cpu seconds %v on linux", h.CPUSeconds)
	}
}

// TestInstallFromOCI: the URL bar takes an oci:// reference too — the
// package pushed as an OCI artifact to a real registry (over TLS) is
// previewed with the same verdict and installs on approval.
func TestInstallFromOCI(t *testing.T) {
	r := startInstallRig(t)
	reg := httptest.NewTLSServer(ociregistry.New()) // httptest's certificate: the rig's client trusts it
	t.Cleanup(reg.Close)
	ref := "oci://" + strings.TrimPrefix(reg.URL, "https://") + "/demo/webgreeter:1.2.3"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := fetch.Push(ctx, ref, r.good, fetch.Options{HTTPClient: r.pkgs.Client()}); err != nil {
		t.Fatal(err)
	}
	pv := r.preview(t, ref)
	if pv.Name != "webgreeter" || pv.Digest != digestOf(t, r.good) || !pv.Signature.Trusted || !pv.Installable {
		t.Fatalf("preview of %s: %+v", ref, pv)
	}
	var out api.Installed
	r.wantAPI(t, "POST", "/api/v1/install/"+pv.ID, nil, &out, http.StatusOK, "")
	if out.Name != "webgreeter" || out.Version != "1.2.3" {
		t.Fatalf("approved: %+v", out)
	}
	r.waitState(t, "webgreeter", api.StateRunning)
	// An unknown tag is not found, before anything is staged.
	r.wantAPI(t, "POST", "/api/v1/install/preview", map[string]string{"ref": strings.Replace(ref, ":1.2.3", ":9.9.9", 1)}, nil, http.StatusNotFound, "not_found")
}

// TestTrustPolicyEditCountsAtOnce: trusting a new publisher in trust.toml
// on a running node makes its package installable from the URL bar at
// once — the prompt and the install read the same, current policy.
func TestTrustPolicyEditCountsAtOnce(t *testing.T) {
	r := startInstallRig(t)
	ref := r.pkgs.URL + "/untrusted.wasm"
	if pv := r.preview(t, ref); pv.Installable || pv.Signature.Trusted {
		t.Fatalf("before the edit: %+v", pv)
	}
	path := filepath.Join(r.home, pack.PolicyFile)
	pol, err := pack.LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pol.Trust("stranger", r.stranger.Public(), "webgreeter"); err != nil {
		t.Fatal(err)
	}
	if err := pol.Save(path); err != nil {
		t.Fatal(err)
	}
	pv := r.preview(t, ref)
	if !pv.Installable || !pv.Signature.Trusted || pv.Publisher != "stranger" {
		t.Fatalf("after the edit: %+v", pv)
	}
	var out api.Installed
	r.wantAPI(t, "POST", "/api/v1/install/"+pv.ID, nil, &out, http.StatusOK, "")
	if out.Name != "webgreeter" || out.Version != "1.2.5" {
		t.Fatalf("approved: %+v", out)
	}
}

// serve serves a node's control API and admin panel as `orbital up` does.
func serve(o control.Options, n *node.Node) (*control.Server, error) {
	srv, err := control.Listen(o)
	if err != nil {
		return nil, err
	}
	admin.Serve(srv, n.Backends())
	return srv, nil
}

// TestClusterRoutes: a node in a (one-node) cluster on a real nats-server:
// GET /api/v1/nodes lists it, ps?all=1 names the node of every process,
// operations on another node are refused clearly, and /metrics has the
// cluster's counters; a node alone answers /api/v1/nodes with itself.
func TestClusterRoutes(t *testing.T) {
	alone := startRig(t, rigOptions{})
	var v api.ClusterView
	alone.wantAPI(t, "GET", "/api/v1/nodes", nil, &v, http.StatusOK, "")
	if v.Stats.Cluster != "" || len(v.Nodes) != 1 || !v.Nodes[0].Self || v.Nodes[0].State != api.NodeUp || len(v.Nodes[0].Processes) != 2 {
		t.Fatalf("a node alone: %+v", v)
	}
	alone.wantAPI(t, "POST", "/api/v1/processes/greeter/stop?node=n2", nil, nil, http.StatusBadRequest, "invalid")

	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	defer srv.Shutdown()
	r := startRig(t, rigOptions{cluster: fmt.Sprintf("[cluster]\nname = \"t\"\nurl = %q\n", srv.ClientURL())})
	r.wantAPI(t, "GET", "/api/v1/nodes", nil, &v, http.StatusOK, "")
	if v.Stats.Cluster != "t" || v.Stats.Node != "n1" || !v.Stats.Connected || len(v.Nodes) != 1 || v.Nodes[0].Name != "n1" {
		t.Fatalf("a node in a cluster: %+v", v)
	}
	var ps []api.ProcessInfo
	r.wantAPI(t, "GET", "/api/v1/processes?all=1", nil, &ps, http.StatusOK, "")
	if len(ps) != 2 || ps[0].Node != "n1" || ps[1].Node != "n1" {
		t.Fatalf("ps --all: %+v", ps)
	}
	r.wantAPI(t, "POST", "/api/v1/processes/greeter/stop?node=n2", nil, nil, http.StatusNotFound, "not_found")
	r.wantAPI(t, "POST", "/api/v1/processes/greeter/kill?node=n1", nil, nil, http.StatusBadRequest, "invalid")
	r.wantAPI(t, "POST", "/api/v1/processes/greeter/stop?node=n1", nil, nil, http.StatusOK, "")
	r.waitState(t, "greeter", api.StateStopped)
	c, err := control.Dial(r.home)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.OpOn(ctx, "n1", "greeter", "start"); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, "greeter", api.StateRunning)
	if v, err := c.Nodes(ctx); err != nil || v.Stats.Cluster != "t" {
		t.Fatalf("client Nodes: %+v %v", v, err)
	}
	if ps, missing, err := c.ProcessesAll(ctx); err != nil || len(ps) != 2 || len(missing) != 0 {
		t.Fatalf("client ProcessesAll: %+v %v %v", ps, missing, err)
	}
	req, _ := http.NewRequest("GET", r.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"orbital_cluster_nodes_up 1", "orbital_cluster_connected 1", "orbital_cluster_calls_total 0"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
