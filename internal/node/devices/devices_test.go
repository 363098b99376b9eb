package devices_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/drivers/camera"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/node/devices"
	"github.com/orbitalfoundation/orbital/internal/supervisor"
)

func TestMain(m *testing.M) {
	devices.MaybeLaunch() // this test binary is the out-of-process drivers' launcher
	os.Exit(m.Run())
}

func kernel(t testing.TB) *orbital.Kernel {
	t.Helper()
	k, err := orbital.NewKernel(context.Background(), orbital.NewConfig().WithHome(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close(context.Background()) })
	return k
}

func driverCfg(name string, cfg map[string]any) config.Driver {
	raw, _ := json.Marshal(cfg)
	return config.Driver{Name: name, Restart: supervisor.Permanent, Memory: 1 << 30, OpenFiles: 256, Rate: 1000,
		HangAfter: 2 * time.Second, ConfigJSON: raw}
}

func start(t testing.TB, k *orbital.Kernel, cfgs ...config.Driver) *devices.Devices {
	t.Helper()
	// The drivers' output and the node's records about them show when a
	// test fails (ORBITAL_TEST_LOG=1: on stderr as they happen).
	tl := &testLog{t: t}
	t.Cleanup(tl.stop) // registered first, runs last: after Close
	opts := devices.Options{Logger: slog.New(slog.NewTextHandler(tl, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if os.Getenv("ORBITAL_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	d, err := devices.Start(k, cfgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

// procOf is the ps row of the driver name.
func procOf(t testing.TB, d *devices.Devices, name string) api.ProcessInfo {
	t.Helper()
	for _, p := range d.Processes() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no %s in ps", name)
	return api.ProcessInfo{}
}

// testLog writes log records to the test's log until the test ends.
type testLog struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *testLog) stop() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}

// watch subscribes to pattern and collects what arrives.
type watch struct {
	mu   sync.Mutex
	msgs []orbital.Message
}

func watchBus(t testing.TB, k *orbital.Kernel, pattern string) *watch {
	t.Helper()
	c, err := k.Connect(fmt.Sprintf("watch-%d", time.Now().UnixNano()), orbital.ConnOptions{Mailbox: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(pattern, ""); err != nil {
		t.Fatal(err)
	}
	w := &watch{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); c.Close() })
	go func() {
		for {
			m, err := c.Recv(ctx)
			if err != nil {
				return
			}
			w.mu.Lock()
			w.msgs = append(w.msgs, m)
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *watch) of(suffix string) []orbital.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []orbital.Message
	for _, m := range w.msgs {
		if strings.HasSuffix(m.Subject, suffix) {
			out = append(out, m)
		}
	}
	return out
}

func waitFor(t testing.TB, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkFrames asserts n frames of the camera in order, of the size and
// format configured.
func checkFrames(t *testing.T, frames []orbital.Message, n, w, h int, format string) {
	t.Helper()
	if len(frames) != n {
		t.Fatalf("%d frames, want %d", len(frames), n)
	}
	bpp := map[string]int{"rgba": 4, "gray": 1}[format]
	for i, f := range frames {
		var hd camera.Header
		if err := json.Unmarshal(f.Data, &hd); err != nil {
			t.Fatalf("frame %d header %q: %v", i, f.Data, err)
		}
		if hd.Seq != uint64(i) || hd.Width != w || hd.Height != h || hd.Format != format || hd.Stride != w*bpp || len(f.Blob) != w*h*bpp {
			t.Fatalf("frame %d: header %+v, %d bytes", i, hd, len(f.Blob))
		}
		if i > 0 {
			var prev camera.Header
			_ = json.Unmarshal(frames[i-1].Data, &prev)
			if hd.TS < prev.TS {
				t.Fatalf("frame %d stamped before frame %d", i, i-1)
			}
		}
	}
}

func TestCameraSynthetic(t *testing.T) {
	k := kernel(t)
	w := watchBus(t, k, "camera.>")
	c := driverCfg("camera", map[string]any{"name": "front", "size": "64x48", "fps": 120, "frames": 20})
	c.Builtin = "camera"
	d := start(t, k, c)
	waitFor(t, "20 frames", 10*time.Second, func() bool { return len(w.of(".frames")) >= 20 })
	checkFrames(t, w.of(".frames"), 20, 64, 48, "rgba")
	if g := w.of("front.gap"); len(g) != 1 || !strings.Contains(string(g[0].Data), `"reason":"driver started"`) {
		t.Errorf("gap events %v", g)
	}
	// Consecutive synthetic frames differ (the pattern scrolls).
	f := w.of(".frames")
	if string(f[0].Blob) == string(f[1].Blob) {
		t.Error("frames 0 and 1 are identical")
	}
	snap, err := k.Call(context.Background(), "camera", "snapshot", nil)
	if err != nil || string(snap[:4]) != "RGBA" || binary.LittleEndian.Uint32(snap[4:]) != 64 || len(snap) != 12+64*48*4 {
		t.Fatalf("snapshot: %v, %d bytes", err, len(snap))
	}
	info, err := k.Call(context.Background(), "camera", "info", nil)
	if err != nil || !strings.Contains(string(info), `"frames":20`) || !strings.Contains(string(info), `"state":"ended"`) {
		t.Errorf("info %s %v", info, err)
	}
	ps := d.Processes()
	if len(ps) != 1 || ps[0].Name != "camera" || ps[0].Module != "camera@1.0.0" || ps[0].Driver == nil ||
		ps[0].Driver.Mode != "in-process" || ps[0].Driver.Published < 22 || ps[0].State != api.StateRunning {
		t.Errorf("ps %+v %+v", ps, ps[0].Driver)
	}
}

func TestCameraGray(t *testing.T) {
	k := kernel(t)
	w := watchBus(t, k, "camera.>")
	c := driverCfg("camera", map[string]any{"size": "32x16", "fps": 120, "frames": 5, "format": "gray"})
	c.Builtin = "camera"
	start(t, k, c)
	waitFor(t, "5 frames", 10*time.Second, func() bool { return len(w.of("0.frames")) >= 5 })
	checkFrames(t, w.of("0.frames"), 5, 32, 16, "gray")
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ffmpeg is required in CI (scripts/install-deps.sh media): %v", err)
		}
		t.Skip("ffmpeg not installed (scripts/install-deps.sh media installs it)")
	}
}

// TestCameraVideoFile streams a video file ffmpeg generated: every frame,
// in order, at the configured size, then the stream ends.
func TestCameraVideoFile(t *testing.T) {
	needFFmpeg(t)
	video := filepath.Join(t.TempDir(), "testsrc.y4m")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30",
		"-frames:v", "30", "-pix_fmt", "yuv420p", video).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	k := kernel(t)
	w := watchBus(t, k, "camera.>")
	c := driverCfg("camera", map[string]any{"source": "file", "path": video, "loop": false, "size": "80x60", "fps": 30})
	c.Builtin, c.Resources = "camera", []string{video}
	start(t, k, c)
	waitFor(t, "the end of the file", 20*time.Second, func() bool {
		return len(w.of(".status")) > 0 && strings.Contains(string(w.of(".status")[len(w.of(".status"))-1].Data), "ended")
	})
	checkFrames(t, w.of(".frames"), 30, 80, 60, "rgba")
	// testsrc's frames differ one from the next.
	f := w.of(".frames")
	if string(f[0].Blob) == string(f[15].Blob) {
		t.Error("frames 0 and 15 are identical")
	}
}

// TestCameraDeviceAbsent: a V4L2 device that is not there is reported
// with a clear error and tried again; snapshot says why it has no frame.
func TestCameraDeviceAbsent(t *testing.T) {
	needFFmpeg(t)
	k := kernel(t)
	w := watchBus(t, k, "camera.>")
	dev := "/dev/video-orbital-absent"
	c := driverCfg("camera", map[string]any{"source": "v4l2", "path": dev})
	c.Builtin, c.Resources = "camera", []string{dev}
	start(t, k, c)
	waitFor(t, "two lost reports (a retry)", 10*time.Second, func() bool { return len(w.of(".status")) >= 2 })
	for _, s := range w.of(".status") {
		if !strings.Contains(string(s.Data), `"state":"lost"`) || !strings.Contains(string(s.Data), "device absent") || !strings.Contains(string(s.Data), dev) {
			t.Errorf("status %s", s.Data)
		}
	}
	if len(w.of(".gap")) < 2 {
		t.Errorf("gaps %d: each retry starts a stream", len(w.of(".gap")))
	}
	_, err := k.Call(context.Background(), "camera", "snapshot", nil)
	if err == nil || !strings.Contains(err.Error(), "device absent") {
		t.Errorf("snapshot: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	k := kernel(t)
	for _, tt := range []struct {
		name string
		cfg  config.Driver
		want string
	}{
		{"unknown builtin", config.Driver{Builtin: "nosuch"}, `driver "nosuch": not found: not compiled into this binary (built in: [burster camera]`},
		{"exec missing", config.Driver{Exec: "/nonexistent/driver"}, "its manifest"},
	} {
		if _, err := devices.Start(k, []config.Driver{tt.cfg}, devices.Options{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	// A bad camera config fails its Run: counted as a crash, with the reason.
	c := driverCfg("camera", map[string]any{"size": "7x7"})
	c.Builtin = "camera"
	d := start(t, k, c)
	waitFor(t, "the crash", 10*time.Second, func() bool {
		p := d.Processes()[0]
		return p.State == api.StateCrashed && strings.Contains(p.Reason, `size "7x7"`)
	})
}

// build compiles a driver program into dir with its manifest beside it.
func build(t testing.TB, pkg, manifest, dir string) string {
	t.Helper()
	exe := filepath.Join(dir, filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", exe, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe+".orbital.toml", raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return exe
}

var (
	buildOnce          sync.Once
	cameraExe, testExe string
	buildDir           string
)

func programs(t testing.TB) (cam, test string) {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "orbital-drivers-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = dir
		cameraExe = build(t, "github.com/orbitalfoundation/orbital/drivers/camera/cmd/camera-driver", "../../../drivers/camera/orbital.toml", dir)
		testExe = build(t, "./testdata/testdriver", "testdata/testdriver/orbital.toml", dir)
	})
	if cameraExe == "" {
		t.Fatal("building the driver programs failed")
	}
	return cameraExe, testExe
}

// TestCameraOutOfProcessKill9: the camera as a child process streams; kill
// -9 it and the node restarts it, consumers see a gap event and frames
// again, and the kernel keeps serving.
func TestCameraOutOfProcessKill9(t *testing.T) {
	cam, _ := programs(t)
	k := kernel(t)
	w := watchBus(t, k, "camera.>")
	c := driverCfg("camera", map[string]any{"name": "ext", "size": "64x48", "fps": 60})
	c.Exec = cam
	d := start(t, k, c)
	waitFor(t, "frames", 20*time.Second, func() bool { return len(w.of("ext.frames")) >= 5 })
	p := d.Processes()[0]
	if p.Driver.Mode != "process" || p.Driver.PID == 0 || p.Driver.Sandbox == "" {
		t.Fatalf("ps %+v", p.Driver)
	}
	if err := exec.Command("kill", "-9", fmt.Sprint(p.Driver.PID)).Run(); err != nil {
		t.Fatal(err)
	}
	old := p.Driver.PID
	// On a loaded machine a restarted driver may be restarted again (a slow
	// HELLO): what matters is that it comes back, under a new PID.
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := d.Processes()[0]
		if p.Restarts >= 1 && p.Driver.PID != 0 && p.Driver.PID != old && p.State == api.StateRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not restarted after kill -9: state %s, restarts %d, pid %d (was %d), reason %q", p.State, p.Restarts, p.Driver.PID, old, p.Reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n := len(w.of("ext.frames"))
	waitFor(t, "frames after the restart", 20*time.Second, func() bool { return len(w.of("ext.frames")) >= n+5 })
	gaps := w.of("ext.gap")
	if last := len(gaps) - 1; last < 1 || !strings.Contains(string(gaps[last].Data), `"stream":0`) || !strings.Contains(string(gaps[last].Data), "driver started") {
		t.Errorf("gap events after the restart: %d %v", len(gaps), gaps)
	}
	if p := d.Processes()[0]; p.Driver.PID == 0 || !strings.Contains(p.Reason, "signal 9") {
		t.Errorf("after restart: %+v (reason %q)", p.Driver, p.Reason)
	}
	if _, err := k.Call(context.Background(), "camera", "snapshot", nil); err != nil {
		t.Errorf("snapshot after the restart: %v", err)
	}
}

// TestMisbehavingDrivers: a driver that crashes, hangs, floods the bus or
// speaks garbage is contained, counted and restarted; a well-behaved one
// beside them and the kernel keep serving.
func TestMisbehavingDrivers(t *testing.T) {
	_, exe := programs(t)
	k := kernel(t)
	mk := func(name, mode string) config.Driver {
		c := driverCfg(name, map[string]any{"mode": mode})
		c.Exec, c.HangAfter = exe, 500*time.Millisecond
		return c
	}
	d := start(t, k, mk("good", "ok"), mk("crashy", "crash"), mk("hangy", "hang"), mk("floody", "flood"), mk("junky", "garbage"))
	get := func(name string) api.ProcessInfo { return procOf(t, d, name) }
	waitFor(t, "every failure counted", 30*time.Second, func() bool {
		return get("crashy").Restarts >= 1 && get("hangy").Restarts >= 1 && get("floody").Restarts >= 1 && get("junky").Restarts >= 1
	})
	if get("hangy").Driver.Hangs == 0 || get("floody").Driver.Floods == 0 || get("junky").Driver.Protocol == 0 {
		t.Errorf("counters: hangs %d floods %d protocol errors %d", get("hangy").Driver.Hangs, get("floody").Driver.Floods, get("junky").Driver.Protocol)
	}
	if r := get("crashy").Reason; !strings.Contains(r, "status 3") {
		t.Errorf("crashy reason %q", r)
	}
	if r := get("hangy").Reason; !strings.Contains(r, "hung") {
		t.Errorf("hangy reason %q", r)
	}
	if p := get("floody"); !strings.Contains(p.Reason, "flooding") || p.Driver.Dropped == 0 {
		t.Errorf("floody %q %+v", p.Reason, p.Driver)
	}
	if r := get("junky").Reason; !strings.Contains(r, "protocol error") {
		t.Errorf("junky reason %q", r)
	}
	out, err := k.Call(context.Background(), "good", "echo", []byte("still here"))
	if err != nil || string(out) != "still here" {
		t.Errorf("good.echo: %q %v", out, err)
	}
	if g := get("good"); g.Restarts != 0 || g.State != api.StateRunning {
		t.Errorf("the good driver was disturbed: %+v", g)
	}
	// A call to a driver that is down fails at once with a clear error.
	if _, err := k.Call(context.Background(), "crashy", "echo", nil); err == nil {
		t.Error("a call to the crashing driver succeeded")
	} else if !errors.Is(err, api.ErrClosed) && !errors.Is(err, api.ErrCrashed) && !strings.Contains(err.Error(), "no function") {
		t.Logf("call to the crashing driver: %v", err)
	}
}

// TestDriverMemoryLimit: a driver that allocates past its memory limit
// is stopped by it (the Go runtime's "out of memory" exit), counted and
// restarted, while a well-behaved one under the same limit keeps running:
// the limit is on what a driver uses, not on the address space its
// runtime reserves.
func TestDriverMemoryLimit(t *testing.T) {
	_, exe := programs(t)
	k := kernel(t)
	mk := func(name, mode string) config.Driver {
		c := driverCfg(name, map[string]any{"mode": mode})
		c.Exec, c.Memory = exe, 128<<20
		return c
	}
	d := start(t, k, mk("small", "ok"), mk("hog", "hog"))
	get := func(name string) api.ProcessInfo { return procOf(t, d, name) }
	waitFor(t, "the hog stopped by its limit and restarted", 30*time.Second, func() bool { return get("hog").Restarts >= 1 })
	if r := get("hog").Reason; !strings.Contains(r, "status 2") && !strings.Contains(r, "signal") {
		t.Errorf("hog reason %q: want the runtime's out-of-memory exit", r)
	}
	out, err := k.Call(context.Background(), "small", "echo", []byte("fine"))
	if err != nil || string(out) != "fine" {
		t.Errorf("small.echo under 128 MiB: %q %v", out, err)
	}
	if p := get("small"); p.Restarts != 0 || p.State != api.StateRunning {
		t.Errorf("the driver within its limit was disturbed: %+v (reason %q)", p.Driver, p.Reason)
	}
}

// TestSandbox: an out-of-process driver cannot read host files outside
// its grant where Landlock is available.
func TestSandbox(t *testing.T) {
	_, exe := programs(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := kernel(t)
	w := watchBus(t, k, "probe.>")
	for _, tt := range []struct {
		name    string
		granted bool
	}{{"probe", false}} {
		c := driverCfg(tt.name, map[string]any{"mode": "escape", "probe": secret})
		c.Exec = exe
		d := start(t, k, c)
		waitFor(t, "the probe's report", 20*time.Second, func() bool { return len(w.of(".escape")) > 0 })
		got := string(w.of(".escape")[0].Data)
		sb := d.Processes()[0].Driver.Sandbox
		if strings.Contains(sb, "Landlock ABI") {
			if !strings.HasPrefix(got, "denied") {
				t.Errorf("sandbox %q, yet the driver read %s: %s", sb, secret, got)
			}
		} else {
			t.Logf("no Landlock here (%s); the driver's read: %s", sb, got)
		}
	}
}

// orbitalConnOptions: the benchmarks' sink holds up to 64 frames and
// makes the driver wait beyond that (back-pressure, no frame lost).
func orbitalConnOptions() orbital.ConnOptions {
	return orbital.ConnOptions{Mailbox: 64, Overflow: "block", BlockTimeout: 10 * time.Second}
}
