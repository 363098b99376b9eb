package main

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/orbitalfoundation/orbital/internal/control"
	"github.com/orbitalfoundation/orbital/internal/pack"
)

// TestAdminInBrowser drives the admin panel of a real `orbital up` (the demo
// system) in headless Chromium: log in with the link of `orbital admin url`,
// see the demo processes, kill, stop, start and restart processes from the
// page and watch their rows change live over SSE, follow a process's log,
// install a module through the URL bar from a local HTTPS server (deny the
// permission prompt first: nothing is installed; a package by an untrusted
// key cannot be approved; then approve: it runs and its output appears),
// open its detail page, visit every page, and check that a state-changing
// request without the CSRF token is refused.
//
// Screenshots of each page go to $ORBITAL_ARTIFACTS (default: a temporary
// directory); with ORBITAL_UPDATE_SCREENSHOTS=1 they also replace
// docs/admin/*.png. Without Chromium the test is skipped, unless $CI is set.
func TestAdminInBrowser(t *testing.T) {
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not found (scripts/install-deps.sh chromium installs it)")
		}
		t.Skip("chromium not found; install it with scripts/install-deps.sh chromium")
	}
	artifacts := os.Getenv("ORBITAL_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	} else if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	home := newHome(t)
	// The demo config looks in $ORBITAL_HOME/modules and ./build/wasm.
	if err := os.Symlink(filepath.Dir(wasm(t, "echo")), filepath.Join(home, "modules")); err != nil {
		t.Fatal(err)
	}
	// Packages for the URL bar, made with the real CLI: beacon signed by a
	// publisher this device trusts, and by one it does not.
	pkgs := t.TempDir()
	mustRun := func(args ...string) {
		t.Helper()
		if code, out, errOut := runBinary(t, "", args...); code != 0 {
			t.Fatalf("orbital %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	mustRun("keygen", "-o", filepath.Join(pkgs, "alice"))
	mustRun("keygen", "-o", filepath.Join(pkgs, "mallory"))
	pub, err := pack.LoadPublicKey(filepath.Join(pkgs, "alice.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pol := pack.DefaultPolicy()
	if err := pol.Trust("alice", pub, "beacon"); err != nil {
		t.Fatal(err)
	}
	if err := pol.Save(filepath.Join(home, pack.PolicyFile)); err != nil {
		t.Fatal(err)
	}
	for _, signer := range []string{"alice", "mallory"} {
		out := filepath.Join(pkgs, "beacon-"+signer+".orb")
		mustRun("pack", wasm(t, "beacon"), "-o", out)
		mustRun("sign", "--key", filepath.Join(pkgs, signer+".key"), out)
	}
	web := httptest.NewTLSServer(http.FileServer(http.Dir(pkgs)))
	defer web.Close()
	// The node trusts the test server's certificate the standard way.
	t.Setenv("SSL_CERT_FILE", writeFile(t, pkgs, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: web.Certificate().Raw})))

	node := startDemo(t)
	checkFor(t, time.Minute, "node.json", func() bool {
		_, err := os.Stat(control.InfoPath(home))
		return err == nil
	})
	code, out, errOut := runBinary(t, "", "admin", "url")
	link := strings.TrimSpace(out)
	if code != 0 || !strings.Contains(link, "/admin/login?token=") {
		t.Fatalf("orbital admin url: %d %q %s", code, out, errOut)
	}

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()

	// The first run starts the browser; it must not have a timeout (that
	// would stop the browser with it).
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	fail := func(what string, err error) {
		t.Helper()
		t.Fatalf("%s: %v\norbital up stderr:\n%s", what, err, node.stderr)
	}
	// run runs steps bounded by 30 s, failing the test with what.
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := browse(browser, chromedp.Steps(steps...)); err != nil {
			fail(what, err)
		}
	}
	// until waits for a JavaScript expression to become true.
	until := func(what, expr string) {
		t.Helper()
		if _, err := browse(browser, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(25*time.Second))); err != nil {
			fail(what, err)
		}
	}
	// see waits for an element matching the CSS selector sel to be shown.
	see := func(sel string) {
		t.Helper()
		until(sel, `((e) => !!e && e.getClientRects().length > 0)(document.querySelector(`+jsString(sel)+`))`)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := browse(browser, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			fail("text of "+sel, err)
		}
		return s
	}
	// status POSTs to path from page JavaScript with the session cookie
	// and the extra fetch options opts, and returns the HTTP status.
	status := func(path, opts string) int {
		t.Helper()
		n, err := browse(browser, chromedp.Evaluate[int](`fetch(`+jsString(path)+`, Object.assign({method: 'POST', credentials: 'same-origin'}, `+opts+`)).then((r) => r.status)`, chromedp.EvalAwaitPromise))
		if err != nil {
			fail("POST "+path, err)
		}
		return n
	}
	shot := func(name string) {
		t.Helper()
		// Quality 100: PNG.
		png, err := browse(browser, chromedp.FullScreenshot(100))
		if err != nil {
			fail("screenshot "+name, err)
		}
		if err := os.WriteFile(filepath.Join(artifacts, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if os.Getenv("ORBITAL_UPDATE_SCREENSHOTS") == "1" {
			dir := filepath.Join("..", "..", "docs", "admin")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	view := func(name string) {
		t.Helper()
		run("open "+name, chromedp.Click(chromedp.CSS(`a[data-nav="`+name+`"]`)))
		see(`section[data-view="` + name + `"]`)
	}

	// Log in: the link swaps the token for a session cookie and redirects
	// to /admin/, which connects to the event stream.
	run("log in", chromedp.Navigate(link))
	see(`#conn[data-conn="live"]`)
	loc, err := browse(browser, chromedp.Location())
	if err != nil {
		fail("location", err)
	}
	if strings.Contains(loc, "token=") || !strings.HasSuffix(strings.SplitN(loc, "#", 2)[0], "/admin/") {
		t.Fatalf("after login the page is at %s, want /admin/ without the token", loc)
	}

	// Processes: the demo processes running.
	view("processes")
	for _, n := range []string{"ticker", "stats", "echo", "flaky", "camera", "lumen", "fallback", "webserver", "fetcher"} {
		see(`tr[data-process="` + n + `"][data-state="running"]`)
	}
	// The network column: where the web server listens, its bytes, live.
	until("webserver's network", `(() => { const td = document.querySelector('tr[data-process="webserver"] td[data-net]');
		return !!td && td.textContent.startsWith('127.0.0.1:8765 · ') && !td.textContent.includes('0 B in / 0 B out'); })()`)
	shot("processes")

	// Kill echo from the page (accepting the confirm dialog): the
	// supervisor restarts it and the row's restart count goes up, live.
	restarts := text(`tr[data-process="echo"] td:nth-child(10)`)
	run("kill echo",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`window.confirm = () => true; true`)(ctx, tg)
			return err
		}),
		chromedp.Click(chromedp.CSS(`tr[data-process="echo"] button[data-action="kill"]`)))
	until("echo restarted", `(() => { const r = document.querySelector('tr[data-process="echo"]');
		return !!r && r.dataset.state === 'running' && r.children[9].textContent !== `+jsString(restarts)+`; })()`)

	// Stop stats: its row says stopped (a stopped process is not
	// restarted) and offers start, which brings it back.
	run("stop stats", chromedp.Click(chromedp.CSS(`tr[data-process="stats"] button[data-action="stop"]`)))
	see(`tr[data-process="stats"][data-state="stopped"] button[data-action="start"]`)
	run("start stats", chromedp.Click(chromedp.CSS(`tr[data-process="stats"] button[data-action="start"]`)))
	see(`tr[data-process="stats"][data-state="running"]`)

	// A process's log, live: flaky logs every tick it gets.
	run("open flaky's log", chromedp.Click(chromedp.CSS(`tr[data-process="flaky"] button[data-logs]`)))
	see(`#proc-logs[data-logs-for="flaky"]`)
	until("flaky's log lines", `[...document.querySelectorAll('#proc-logs [data-log="flaky"] .line')].some((l) => l.textContent.includes('got tick'))`)
	first := text(`#proc-logs [data-log="flaky"] .line:last-child`)
	until("a new log line", `document.querySelector('#proc-logs [data-log="flaky"] .line:last-child').textContent !== `+jsString(first))
	shot("process-logs")

	// Restart echo from the page: it comes back running.
	run("restart echo", chromedp.Click(chromedp.CSS(`tr[data-process="echo"] button[data-action="restart"]`)))
	until("echo running again", `(() => { const r = document.querySelector('tr[data-process="echo"]');
		return !!r && r.dataset.state === 'running' && document.querySelector('#toast').textContent === 'restart: echo'; })()`)

	// CSRF: a POST from page JavaScript with the session cookie but
	// without X-CSRF-Token is refused, and does nothing.
	if n := status("/api/v1/processes/ticker/stop", "{}"); n != 403 {
		t.Fatalf("POST without the CSRF token: status %d, want 403", n)
	}
	if n := status("/api/v1/processes/ticker/stop", "{headers: {'X-CSRF-Token': 'nope'}}"); n != 403 {
		t.Fatalf("POST with a wrong CSRF token: status %d, want 403", n)
	}
	run("wait for an update", chromedp.Sleep(600*time.Millisecond))
	see(`tr[data-process="ticker"][data-state="running"]`)

	// The URL bar: paste a module URL, see what it asks for, deny: nothing
	// is installed.
	installed := func() string {
		t.Helper()
		s, err := browse(browser, chromedp.Evaluate[string](`fetch('/api/v1/modules').then((r) => r.text())`, chromedp.EvalAwaitPromise))
		if err != nil {
			fail("GET /api/v1/modules", err)
		}
		return s
	}
	goURL := func(u string) {
		t.Helper()
		run("go to "+u, chromedp.SetValue(chromedp.CSS(`#url-input`), u), chromedp.Click(chromedp.CSS(`#urlbar [data-action="preview"]`)))
		see(`dialog#prompt[open][data-module="beacon"]`)
	}
	goURL(web.URL + "/beacon-alice.orb")
	see(`#prompt [data-signature="trusted"]`)
	see(`#prompt li[data-capability="stdout"][data-granted="true"]`)
	see(`#prompt li[data-capability="fs:/data (optional)"][data-granted="false"]`)
	until("approve enabled", `!document.querySelector('#prompt button[data-action="approve"]').disabled`)
	shot("install-prompt")
	run("deny", chromedp.Click(chromedp.CSS(`#prompt button[data-action="deny"]`)))
	until("denied", `document.querySelector('#toast').textContent === 'denied: nothing installed' && !document.querySelector('dialog#prompt[open]')`)
	if s := installed(); strings.Contains(s, "beacon") {
		t.Fatalf("after deny the registry lists %s", s)
	}

	// Signed by a key this device does not trust: the prompt says so and
	// cannot be approved.
	goURL(web.URL + "/beacon-mallory.orb")
	see(`#prompt [data-signature="refused"]`)
	until("approve disabled", `document.querySelector('#prompt button[data-action="approve"]').disabled`)
	shot("install-refused")
	run("deny the untrusted one", chromedp.Click(chromedp.CSS(`#prompt button[data-action="deny"]`)))
	until("denied again", `!document.querySelector('dialog#prompt[open]')`)
	if s := installed(); strings.Contains(s, "beacon") {
		t.Fatalf("after denying an untrusted package the registry lists %s", s)
	}

	// Approve: it installs, runs, and its output appears in its tab.
	goURL(web.URL + "/beacon-alice.orb")
	run("approve", chromedp.Click(chromedp.CSS(`#prompt button[data-action="approve"]`)))
	see(`section[data-view="apps"] button[data-tab="beacon"]`)
	see(`[data-app-state="running"]`)
	until("beacon's output", `[...document.querySelectorAll('[data-log="beacon"] .line')].some((l) => l.textContent.includes('beacon: hello #'))`)
	shot("apps")
	if s := installed(); !strings.Contains(s, `"beacon"`) {
		t.Fatalf("after approve the registry lists %s", s)
	}
	view("processes")
	see(`tr[data-process="beacon"][data-state="running"]`)

	// The other pages (once the action's toast is gone, for the screenshots).
	until("toast hidden", `document.querySelector('#toast').hidden`)
	view("modules")
	see(`#mod-body tr[data-module="beacon"]`)
	run("open beacon's detail", chromedp.Click(chromedp.CSS(`#mod-body tr[data-module="beacon"]`)))
	see(`#mod-detail[data-module="beacon"]`)
	until("beacon's manifest", `document.querySelector('#mod-manifest').textContent.includes('beacon.ping')`)
	until("its signature verdict", `(document.querySelector('#mod-detail [data-verdict]').dataset.verdict || '').includes('alice')`)
	see(`#mod-detail li[data-capability="stdout"][data-granted="true"]`)
	see(`#mod-detail li[data-capability="fs:/data (optional)"][data-granted="false"]`)
	shot("modules")

	view("libraries")
	see(`#lib-body tr[data-library="vision"]`)
	see(`#lib-body tr[data-library="kv"]`)
	shot("libraries")

	// A node alone: the Nodes page lists it and says it is in no cluster.
	view("nodes")
	see(`#nodes-body tr[data-state="up"]`)
	see(`#nodes-alone:not([hidden])`)
	until("its processes counted", `parseInt(document.querySelector('#nodes-body td[data-processes]').dataset.processes) > 5`)

	view("bus")
	see(`tr[data-subject="demo.tick"]`)
	see(`[data-bus="published"]`)
	// Who subscribes to what, and live rates per subject.
	until("subscribers", `(document.querySelector('tr[data-endpoint="echo"] td[data-subscriptions]') || {}).textContent === 'demo.echo'`)
	until("demo.tick's rate", `parseFloat(document.querySelector('tr[data-subject="demo.tick"] td[data-rate]').textContent) > 0`)
	shot("bus")

	view("dashboard")
	see(`[data-count-state="running"]`)
	see(`#node-health[data-health="ok"] [data-node="uptime"]`)
	// Samples on every plot: one a second, CPU and heap one per node event (2 s).
	until("sparklines drawn", `(() => { const ls = [...document.querySelectorAll('[data-spark] svg path.l')];
		return ls.length === 6 && ls.every((l) => (l.getAttribute('d').match(/L/g) || []).length >= 4); })()`)
	shot("dashboard")

	// A small screen (a phone, a head-mounted display's panel): the page
	// reflows instead of scrolling sideways; wide tables scroll in their
	// panels.
	run("small screen", chromedp.EmulateViewport(420, 860))
	for _, v := range []string{"dashboard", "processes", "apps"} {
		view(v)
		until(v+" fits a small screen", `document.documentElement.scrollWidth <= window.innerWidth + 1`)
	}
	view("dashboard")
	shot("small-screen")

	cancelBrowser()
	_ = node.cmd.Process.Signal(syscall.SIGTERM)
	if code := node.wait(t); code != 0 {
		t.Fatalf("orbital up exited %d after SIGTERM\n%s", code, node.stderr)
	}
	t.Logf("screenshots in %s", artifacts)
}

// jsString quotes s as a JavaScript string literal (for plain text).
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

// browse runs one action in the chromedp context ctx, bounded by 30 s.
func browse[T any](ctx context.Context, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, a)
}
