package admin

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

const testToken = "0123456789abcdef0123456789abcdef"

// fakeSource is a node with a settable process table; Subscribe keeps the
// callback so a test can play a supervisor event.
type fakeSource struct {
	mu    sync.Mutex
	procs []api.ProcessInfo
	subs  []fakeSub
}

type fakeSub struct {
	pattern string
	fn      func(api.BusMessage) error
}

func (f *fakeSource) Processes() []api.ProcessInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.ProcessInfo(nil), f.procs...)
}

func (f *fakeSource) BusStats() api.BusStats { return api.BusStats{Subscriptions: 2} }

func (f *fakeSource) Subscribe(ctx context.Context, pattern string, fn func(api.BusMessage) error) error {
	f.mu.Lock()
	f.subs = append(f.subs, fakeSub{pattern, fn})
	f.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (f *fakeSource) Health() api.NodeHealth { return api.NodeHealth{Status: "ok"} }

func (f *fakeSource) setState(name string, st api.State) {
	f.mu.Lock()
	for i := range f.procs {
		if f.procs[i].Name == name {
			f.procs[i].State = st
		}
	}
	f.mu.Unlock()
	f.publish("$sys.process."+name+".stopped", "")
}

// publish delivers a message to the subscriptions whose pattern's prefix
// (before the ">") matches subject.
func (f *fakeSource) publish(subject, data string) {
	f.mu.Lock()
	subs := slices.Clone(f.subs)
	f.mu.Unlock()
	for _, s := range subs {
		if strings.HasPrefix(subject, strings.TrimSuffix(s.pattern, ">")) {
			_ = s.fn(api.BusMessage{Subject: subject, Data: data})
		}
	}
}

// newTestServer serves the panel like the control server does: Guard
// around a mux with the panel, a GET and a POST API route.
func newTestServer(t *testing.T) (*Admin, *fakeSource, *httptest.Server) {
	t.Helper()
	src := &fakeSource{procs: []api.ProcessInfo{{Name: "ticker", Module: "ticker@1.0.0", State: api.StateRunning}}}
	a := New(testToken, src)
	mux := http.NewServeMux()
	a.Mount(mux)
	mux.HandleFunc("GET /api/v1/processes", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("[]")) })
	mux.HandleFunc("POST /api/v1/processes/{name}/{op}", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"ok":1}`)) })
	mux.HandleFunc("DELETE /api/v1/modules/{name...}", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`[]`)) })
	srv := httptest.NewServer(a.Guard(mux))
	srv.Config.RegisterOnShutdown(a.Close)
	t.Cleanup(func() { a.Close(); srv.Close() })
	return a, src, srv
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login opens the login link and returns the session cookie.
func login(t *testing.T, srv *httptest.Server) *http.Cookie {
	t.Helper()
	resp, err := noRedirect().Get(srv.URL + LoginPath + "?token=" + testToken)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	t.Fatalf("login: no %s cookie (status %d)", CookieName, resp.StatusCode)
	return nil
}

func TestAdminLogin(t *testing.T) {
	_, _, srv := newTestServer(t)
	for _, tc := range []struct {
		name, query string
		wantStatus  int
		wantCookie  bool
	}{
		{"right token", "?token=" + testToken, http.StatusSeeOther, true},
		{"wrong token", "?token=" + testToken + "x", http.StatusUnauthorized, false},
		{"no token", "", http.StatusUnauthorized, false},
		{"prefix of the token", "?token=" + testToken[:8], http.StatusUnauthorized, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := noRedirect().Get(srv.URL + LoginPath + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			var got *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == CookieName {
					got = c
				}
			}
			if (got != nil) != tc.wantCookie {
				t.Fatalf("cookie %v, want one: %v", got, tc.wantCookie)
			}
			if got == nil {
				return
			}
			if loc := resp.Header.Get("Location"); loc != Prefix {
				t.Errorf("Location %q, want %q", loc, Prefix)
			}
			if !got.HttpOnly || got.SameSite != http.SameSiteStrictMode || got.Path != "/" {
				t.Errorf("cookie attributes: %+v", got)
			}
			if got.Value == "" || strings.Contains(got.Value, testToken) {
				t.Errorf("cookie value must be a session id, not the token: %q", got.Value)
			}
			if got.MaxAge != int(SessionTTL/time.Second) {
				t.Errorf("MaxAge %d", got.MaxAge)
			}
		})
	}
}

func TestAdminAuth(t *testing.T) {
	_, _, srv := newTestServer(t)
	cookie := login(t, srv)
	// The CSRF token is embedded in the page.
	csrf := csrfFromPage(t, srv, cookie)
	origin := srv.URL
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		cookie  string // "" none, "ok" the session, else that value
		headers map[string]string
		want    int
	}{
		{"no auth API", "GET", "/api/v1/processes", "", nil, 401},
		{"no auth page", "GET", "/admin/", "", nil, 401},
		{"no auth events", "GET", EventsPath, "", nil, 401},
		{"healthz open", "GET", "/healthz", "", nil, 404}, // not mounted here; Guard lets it through
		{"no auth static asset", "GET", "/admin/static/app.css", "", nil, 200},
		{"bogus cookie", "GET", "/api/v1/processes", "nope", nil, 401},
		{"cookie GET API", "GET", "/api/v1/processes", "ok", nil, 200},
		{"cookie GET page", "GET", "/admin/", "ok", nil, 200},
		{"bearer GET", "GET", "/api/v1/processes", "", map[string]string{"Authorization": "Bearer " + testToken}, 200},
		{"wrong bearer", "GET", "/api/v1/processes", "", map[string]string{"Authorization": "Bearer x"}, 401},
		{"wrong bearer beats cookie", "GET", "/api/v1/processes", "ok", map[string]string{"Authorization": "Bearer x"}, 401},
		{"token not as bearer", "GET", "/api/v1/processes", "", map[string]string{"Authorization": testToken}, 401},
		{"cookie POST without CSRF", "POST", "/api/v1/processes/ticker/stop", "ok", map[string]string{"Origin": origin}, 403},
		{"cookie POST wrong CSRF", "POST", "/api/v1/processes/ticker/stop", "ok", map[string]string{"Origin": origin, CSRFHeader: "x" + csrf}, 403},
		{"cookie POST cross-site Origin", "POST", "/api/v1/processes/ticker/stop", "ok", map[string]string{"Origin": "http://evil.example", CSRFHeader: csrf}, 403},
		{"cookie POST null Origin", "POST", "/api/v1/processes/ticker/stop", "ok", map[string]string{"Origin": "null", CSRFHeader: csrf}, 403},
		{"cookie POST cross-site fetch", "POST", "/api/v1/processes/ticker/stop", "ok", map[string]string{"Sec-Fetch-Site": "cross-site", CSRFHeader: csrf}, 403},
		{"cookie POST same Origin but cross-site fetch", "POST", "/api/v1/processes/ticker/stop", "ok", map[string]string{"Origin": origin, "Sec-Fetch-Site": "same-site", CSRFHeader: csrf}, 403},
		{"cookie POST no origin information", "POST", "/api/v1/processes/ticker/stop", "ok", map[string]string{CSRFHeader: csrf}, 403},
		{"cookie DELETE without CSRF", "DELETE", "/api/v1/modules/demo", "ok", map[string]string{"Origin": origin}, 403},
		{"cookie POST CSRF and Origin", "POST", "/api/v1/processes/ticker/stop", "ok", map[string]string{"Origin": origin, CSRFHeader: csrf}, 200},
		{"cookie POST CSRF and Sec-Fetch-Site", "POST", "/api/v1/processes/ticker/stop", "ok", map[string]string{"Sec-Fetch-Site": "same-origin", CSRFHeader: csrf}, 200},
		{"cookie DELETE CSRF and Origin", "DELETE", "/api/v1/modules/demo", "ok", map[string]string{"Origin": "http://" + host, "Sec-Fetch-Site": "same-origin", CSRFHeader: csrf}, 200},
		{"bearer POST without CSRF", "POST", "/api/v1/processes/ticker/stop", "", map[string]string{"Authorization": "Bearer " + testToken}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			switch tc.cookie {
			case "":
			case "ok":
				req.AddCookie(cookie)
			default:
				req.AddCookie(&http.Cookie{Name: CookieName, Value: tc.cookie})
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := noRedirect().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
		})
	}
}

func csrfFromPage(t *testing.T, srv *httptest.Server, c *http.Cookie) string {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+Prefix, nil)
	req.AddCookie(c)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	_, rest, ok := strings.Cut(string(page), `<meta name="csrf-token" content="`)
	csrf, _, _ := strings.Cut(rest, `"`)
	if !ok || len(csrf) != 64 {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return csrf
}

func TestAdminSessionExpiresAndLogout(t *testing.T) {
	a, _, srv := newTestServer(t)
	get := func(c *http.Cookie) int {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/processes", nil)
		req.AddCookie(c)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	c := login(t, srv)
	if code := get(c); code != 200 {
		t.Fatalf("fresh session: %d", code)
	}
	a.mu.Lock()
	a.now = func() time.Time { return time.Now().Add(SessionTTL + time.Minute) }
	a.mu.Unlock()
	if code := get(c); code != 401 {
		t.Fatalf("expired session: %d, want 401", code)
	}
	a.mu.Lock()
	a.now = time.Now
	a.mu.Unlock()

	c = login(t, srv)
	csrf := csrfFromPage(t, srv, c)
	req, _ := http.NewRequest("POST", srv.URL+"/admin/logout", nil)
	req.AddCookie(c)
	req.Header.Set(CSRFHeader, csrf)
	req.Header.Set("Origin", srv.URL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if code := get(c); code != 401 {
		t.Fatalf("after logout: %d, want 401", code)
	}
}

func TestAdminSessionTableBounded(t *testing.T) {
	a := New(testToken, &fakeSource{})
	for range MaxSessions + 10 {
		if _, err := a.newSession(); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(a.sessions); n != MaxSessions {
		t.Fatalf("%d sessions, want %d", n, MaxSessions)
	}
}

// readEvent reads the next SSE event (name and data), skipping comments.
func readEvent(t *testing.T, rd *bufio.Reader) (name, data string) {
	t.Helper()
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && name != "":
			return name, data
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func TestAdminEvents(t *testing.T) {
	a, src, srv := newTestServer(t)
	a.interval = time.Hour // only supervisor events may trigger the second snapshot
	c := login(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+EventsPath, nil)
	req.AddCookie(c)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	rd := bufio.NewReader(resp.Body)
	want := []struct{ event, contains string }{
		{EventProcesses, `"name":"ticker"`},
		{EventBus, `"Subscriptions":2`},
		{EventNode, `"status":"ok"`},
	}
	for _, w := range want {
		name, data := readEvent(t, rd)
		if name != w.event || !strings.Contains(data, w.contains) {
			t.Fatalf("got event %q %s, want %q containing %s", name, data, w.event, w.contains)
		}
	}
	// A supervisor event sends the changed table at once (the ticker is an
	// hour); the unchanged bus counters are not sent again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		src.mu.Lock()
		n := len(src.subs)
		src.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stream did not subscribe to supervisor and compile events")
		}
		time.Sleep(10 * time.Millisecond)
	}
	src.setState("ticker", api.StateExited)
	name, data := readEvent(t, rd)
	if name != EventProcesses || !strings.Contains(data, `"state":"exited"`) {
		t.Fatalf("after stop: event %q %s", name, data)
	}
	// Compile progress is forwarded as it comes; garbage on the subject is not.
	src.publish("$sys.compile.facecam", "not json")
	src.publish("$sys.compile.facecam", `{"module":"facecam","size":2612345,"stage":"compiling"}`)
	if name, data = readEvent(t, rd); name != EventCompile || !strings.Contains(data, `"stage":"compiling"`) {
		t.Fatalf("compile progress: event %q %s", name, data)
	}
}

func TestAdminCloseEndsStreams(t *testing.T) {
	a, _, srv := newTestServer(t)
	req, _ := http.NewRequest("GET", srv.URL+EventsPath, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a.Close()
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); done <- err }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream outlived Close")
	}
}

func TestAdminAssets(t *testing.T) {
	_, _, srv := newTestServer(t)
	c := login(t, srv)
	for _, tc := range []struct {
		path, wantType string
		wantStatus     int
	}{
		{"/admin/", "text/html; charset=utf-8", 200},
		{"/admin/static/app.js", "text/javascript; charset=utf-8", 200},
		{"/admin/static/app.css", "text/css; charset=utf-8", 200},
		{"/admin/static/", "", 404},
		{"/admin/static/nope.js", "", 404},
		{"/admin/index.html", "", 404},
	} {
		t.Run(tc.path, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
			req.AddCookie(c)
			resp, err := noRedirect().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantType != "" && resp.Header.Get("Content-Type") != tc.wantType {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tc.wantType)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff header")
			}
			if tc.path == "/admin/" && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
				t.Errorf("CSP %q", resp.Header.Get("Content-Security-Policy"))
			}
		})
	}
}

// The UI stays small: no framework, no CDN.
func TestAdminAssetBudget(t *testing.T) {
	total := 0
	err := fs.WalkDir(uiFS, "ui", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(uiFS, path)
		if err != nil {
			return err
		}
		if strings.Contains(string(data), "https://") {
			t.Errorf("%s refers to an external URL", path)
		}
		total += len(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total > 96<<10 {
		t.Fatalf("assets are %d bytes, budget 96 KiB", total)
	}
}

// TestStaticGzip: browsers that accept gzip get the assets compressed
// (and a fraction of the bytes); others get them as they are.
func TestStaticGzip(t *testing.T) {
	_, _, srv := newTestServer(t)
	for _, gz := range []bool{true, false} {
		req, _ := http.NewRequest("GET", srv.URL+"/admin/static/app.js", nil)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		} else {
			req.Header.Set("Accept-Encoding", "identity")
		}
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want, _ := fs.ReadFile(uiFS, "ui/static/app.js")
		if resp.StatusCode != 200 || resp.Header.Get("Vary") != "Accept-Encoding" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
			t.Fatalf("gzip=%v: %d %v", gz, resp.StatusCode, resp.Header)
		}
		if !gz {
			if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, want) {
				t.Fatalf("identity: encoding %q, %d bytes", resp.Header.Get("Content-Encoding"), len(body))
			}
			continue
		}
		if resp.Header.Get("Content-Encoding") != "gzip" || len(body) > len(want)/3 {
			t.Fatalf("gzip: encoding %q, %d bytes for %d", resp.Header.Get("Content-Encoding"), len(body), len(want))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("gzip body does not decompress to app.js: %v", err)
		}
	}
}

func TestAdminLoginURL(t *testing.T) {
	got := LoginURL("127.0.0.1:4000", "a b")
	u, err := url.Parse(got)
	if err != nil || u.Host != "127.0.0.1:4000" || u.Path != LoginPath || u.Query().Get("token") != "a b" {
		t.Fatalf("LoginURL = %q", got)
	}
	if URL("127.0.0.1:4000") != "http://127.0.0.1:4000/admin/" {
		t.Fatalf("URL = %q", URL("127.0.0.1:4000"))
	}
}
