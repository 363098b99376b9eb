package orbital_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

func newKernel(t testing.TB) *orbital.Kernel {
	t.Helper()
	k, err := orbital.NewKernel(context.Background(), orbital.NewConfig().WithHome(testwasm.Home(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close(context.Background()) })
	return k
}

// runModule loads build/wasm/NAME.wasm (with its manifest) and runs it to the end.
func runModule(t *testing.T, k *orbital.Kernel, name string, opts orbital.SpawnOptions) (api.ProcessInfo, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mod, err := k.LoadFile(ctx, testwasm.Path(t, name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	var stdout, stderr bytes.Buffer
	if opts.Stdout == nil {
		opts.Stdout = &stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = &stderr
	}
	p, err := k.Spawn(ctx, mod, opts)
	if err != nil {
		t.Fatalf("spawn %s: %v", name, err)
	}
	info, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("wait %s: %v", name, err)
	}
	return info, stdout.String(), stderr.String()
}

// TestConfinementProbe runs a C guest that tries every way out of its two
// areas and checks, line by line, the errno it got and that nothing outside
// was read or written.
func TestConfinementProbe(t *testing.T) {
	root := t.TempDir()
	data, ro := filepath.Join(root, "data"), filepath.Join(root, "ro")
	for _, d := range []string{data, ro} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "secret.txt"), "top secret")
	write(filepath.Join(data, "inside.txt"), "inside")
	write(filepath.Join(ro, "file.txt"), "read only")
	if err := os.Symlink("../secret.txt", filepath.Join(ro, "outlink")); err != nil {
		t.Fatal(err)
	}

	k := newKernel(t)
	info, out, errOut := runModule(t, k, "escape", orbital.SpawnOptions{Grant: orbital.Grant{
		Stdout: true, Stderr: true,
		Dirs: []orbital.Dir{{Host: data, Guest: "/data"}, {Host: ro, Guest: "/ro", ReadOnly: true}},
	}})
	if info.State != api.StateExited || info.ExitCode != 0 {
		t.Fatalf("probe ended %s (%s)\n%s%s", info.State, info.Reason, out, errOut)
	}
	want := map[string]string{
		"dotdot":         "EPERM",
		"dotdot-deep":    "EPERM",
		"absolute":       "ENOTCAPABLE", // no area is mounted at /
		"symlink-create": "ok",          // making a link is allowed; following it out is not
		"symlink-follow": "EPERM",
		"symlink-write":  "EPERM",
		"host-symlink":   "EPERM",
		"ro-write":       "EROFS",
		"ro-create":      "EROFS",
		"ro-unlink":      "EROFS",
		"ro-mkdir":       "EROFS",
		"hardlink-out":   "EPERM",
		"rename-out":     "EPERM",
		"fd-exhaustion":  "EMFILE after 16", // the manifest's open_files = 16
		"fd-after-close": "ok",
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, " ")
		got[k] = v
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	// Nothing outside changed.
	if b, _ := os.ReadFile(filepath.Join(root, "secret.txt")); string(b) != "top secret" {
		t.Errorf("secret changed: %q", b)
	}
	entries, _ := os.ReadDir(root)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "data,ro,secret.txt" {
		t.Errorf("files outside the areas: %v", names)
	}
	if b, _ := os.ReadFile(filepath.Join(ro, "file.txt")); string(b) != "read only" {
		t.Errorf("read-only file changed: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(ro, "new.txt")); err == nil {
		t.Error("a file was created in the read-only area")
	}
}

// TestMetacomputeStreams: the host opens the files named for the manifest's
// io streams; the module has no file-system capability at all.
func TestMetacomputeStreams(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "photo.png"), filepath.Join(dir, "small.png")
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 128, 255})
		}
	}
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()

	k := newKernel(t)
	mod, err := k.LoadFile(context.Background(), testwasm.Path(t, "shrink"))
	if err != nil {
		t.Fatal(err)
	}
	mpath, _ := orbital.FindManifest(testwasm.Path(t, "shrink"))
	mf, err := manifest.Load(mpath)
	if err != nil || mod.Manifest().Name() != mf.Name {
		t.Fatalf("shrink's manifest %s: %v", mpath, err)
	}
	if reqs := mf.Capabilities.FS; len(reqs) != 0 {
		t.Fatalf("shrink requests file-system areas %v; the point is that it needs none", reqs)
	}
	info, _, errOut := runModule(t, k, "shrink", orbital.SpawnOptions{
		Grant:   orbital.Grant{Stderr: true},
		Streams: map[string]string{"in": in, "out": out},
	})
	if info.State != api.StateExited || info.ExitCode != 0 {
		t.Fatalf("shrink ended %s code %d (%s): %s", info.State, info.ExitCode, info.Reason, errOut)
	}
	rf, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	small, err := png.Decode(rf)
	if err != nil {
		t.Fatalf("output is not a PNG: %v", err)
	}
	if b := small.Bounds(); b.Dx() != 32 || b.Dy() != 24 {
		t.Fatalf("output is %dx%d, want 32x24", b.Dx(), b.Dy())
	}

	// Unknown stream names are refused before anything runs.
	_, err = k.Spawn(context.Background(), mod, orbital.SpawnOptions{Streams: map[string]string{"photo": in}})
	if !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("unknown stream: err = %v, want ErrNotFound", err)
	}
}

func TestDenyByDefault(t *testing.T) {
	k := newKernel(t)
	ctx := context.Background()
	notes, err := k.LoadFile(ctx, testwasm.Path(t, "notes"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Spawn(ctx, notes, orbital.SpawnOptions{Grant: orbital.Grant{Stdout: true}})
	if !errors.Is(err, api.ErrPermissionDenied) || !strings.Contains(err.Error(), "--dir HOSTDIR:/data:rw") {
		t.Fatalf("err = %v, want permission denied naming the flag", err)
	}

	// Granted env vars the manifest did not request never reach the guest.
	info, out, _ := runModule(t, k, "hello", orbital.SpawnOptions{Grant: orbital.Grant{
		Stdout: true, Clock: true, Args: []string{"x"},
		Env: map[string]string{"GREETING": "hi", "SECRET_TOKEN": "hunter2"},
	}})
	if info.State != api.StateExited || info.ExitCode != 0 {
		t.Fatalf("hello: %+v", info)
	}
	if !strings.Contains(out, "GREETING=hi") || strings.Contains(out, "hunter2") {
		t.Fatalf("hello saw the wrong environment:\n%s", out)
	}
}

// TestBadInputKernelSurvives feeds the kernel one bad thing after another
// and checks that each gets a clear error and the next module still runs.
func TestBadInputKernelSurvives(t *testing.T) {
	k := newKernel(t)
	ctx := context.Background()
	hello := testwasm.Read(t, "hello")
	loads := []struct {
		name string
		wasm []byte
		want error
	}{
		{"garbage", []byte("not wasm at all"), api.ErrBadModule},
		{"truncated", hello[:1000], api.ErrBadModule},
		{"missing import", testwasm.Read(t, "badimport"), api.ErrBadModule},
	}
	for _, tc := range loads {
		if _, err := k.Load(ctx, tc.name, tc.wasm, nil); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	runs := []struct {
		module string
		grant  orbital.Grant
		state  api.State
		reason string
	}{
		{"spin", orbital.Grant{Limits: orbital.Limits{Deadline: 100 * time.Millisecond}}, api.StateKilled, "deadline"},
		{"memhog", orbital.Grant{Limits: orbital.Limits{MemoryPages: 64}}, api.StateCrashed, "memory limit"},
		{"recurse", orbital.Grant{}, api.StateCrashed, "stack overflow"},
		{"sleeper", orbital.Grant{Clock: true, Limits: orbital.Limits{Deadline: 100 * time.Millisecond}}, api.StateKilled, "deadline"},
	}
	for _, tc := range runs {
		info, _, _ := runModule(t, k, tc.module, orbital.SpawnOptions{Grant: tc.grant})
		if info.State != tc.state || !strings.Contains(info.Reason, tc.reason) {
			t.Errorf("%s: ended %s (%q), want %s with %q", tc.module, info.State, info.Reason, tc.state, tc.reason)
		}
	}
	info, out, _ := runModule(t, k, "hello", orbital.SpawnOptions{Grant: orbital.Grant{Stdout: true, Clock: true}})
	if info.State != api.StateExited || !strings.Contains(out, "hello from orbital") {
		t.Fatalf("the kernel did not run a good module after the bad ones: %+v\n%s", info, out)
	}
	if n := len(k.Processes()); n != len(runs)+1 {
		t.Fatalf("process table has %d entries, want %d", n, len(runs)+1)
	}
}

// TestEmbeddedManifest: a manifest carried in the module's
// "orbital.manifest" custom section is found without a file beside it.
func TestEmbeddedManifest(t *testing.T) {
	manifest := "name = \"embedded-counter\"\nversion = \"2.1.0\"\nkind = \"app\"\n[entry]\ntype = \"reactor\"\nexports = [\"counter_add\"]\n"
	wasm := append(testwasm.Read(t, "counter"), customSection(orbital.ManifestSection, []byte(manifest))...)
	k := newKernel(t)
	mod, err := k.Load(context.Background(), "counter", wasm, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mod.Label() != "embedded-counter@2.1.0" {
		t.Fatalf("label = %q", mod.Label())
	}
	// A broken embedded manifest is a clear error.
	bad := append(testwasm.Read(t, "counter"), customSection(orbital.ManifestSection, []byte("name = 1\n"))...)
	if _, err := k.Load(context.Background(), "counter", bad, nil); !errors.Is(err, api.ErrBadManifest) {
		t.Fatalf("err = %v, want ErrBadManifest", err)
	}
}

func customSection(name string, data []byte) []byte {
	payload := append(uleb(uint32(len(name))), name...)
	payload = append(payload, data...)
	return append(append([]byte{0}, uleb(uint32(len(payload)))...), payload...)
}

func uleb(v uint32) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, b|0x80)
			continue
		}
		return append(out, b)
	}
}

func TestCloseKillsRunningProcesses(t *testing.T) {
	k, err := orbital.NewKernel(context.Background(), orbital.NewConfig().WithHome(testwasm.Home(t)))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := k.LoadFile(context.Background(), testwasm.Path(t, "spin"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.Spawn(context.Background(), mod, orbital.SpawnOptions{Grant: orbital.Grant{Limits: orbital.Limits{Deadline: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if info := p.Info(); info.State != api.StateKilled || !strings.Contains(info.Reason, "shutting down") {
		t.Fatalf("after Close: %+v", info)
	}
	if _, err := k.Spawn(context.Background(), mod, orbital.SpawnOptions{}); !errors.Is(err, api.ErrClosed) {
		t.Fatalf("spawn after Close: err = %v, want ErrClosed", err)
	}
}

// TestKillOfAWaitingProcessReadsKilled: a guest blocked in recv that is
// killed may see ERR_CLOSED and return normally before the kill lands;
// it was still killed, and says so (it once read as a clean exit now and
// then).
func TestKillOfAWaitingProcessReadsKilled(t *testing.T) {
	k := newKernel(t)
	pong, err := k.LoadFile(context.Background(), testwasm.Path(t, "pong"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		p, err := k.Spawn(context.Background(), pong, orbital.SpawnOptions{Name: fmt.Sprint("pong", i)})
		if err != nil {
			t.Fatal(err)
		}
		for p.Info().State != api.StateRunning {
			time.Sleep(time.Millisecond)
		}
		p.Kill(errors.New("test kill"))
		<-p.Done()
		if info := p.Info(); info.State != api.StateKilled || !strings.Contains(info.Reason, "test kill") {
			t.Fatalf("kill %d: %+v", i, info)
		}
	}
}
