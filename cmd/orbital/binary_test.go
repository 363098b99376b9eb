package main

// Black-box tests of the real orbital binary: what only a separate process
// shows (signals, exit status, the compile cache across runs).

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// orbitalBin is the binary TestMain builds.
func orbitalBin() string { return filepath.Join(testDir, "orbital") }

// serverBin is the same built with the embedded NATS server and the X11 display (-tags embednats,x11).
func serverBin() string { return filepath.Join(testDir, "orbital-server") }

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "orbital-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testDir = dir
	for _, b := range []struct{ out, tags string }{{orbitalBin(), ""}, {serverBin(), "embednats,x11"}} {
		build := exec.Command("go", "build", "-tags", b.tags, "-o", b.out, ".")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s for the black-box tests: %v\n", b.out, err)
			return 1
		}
	}
	return m.Run()
}

// runBinary runs the built orbital with args and stdin, in the environment of
// the test (so ORBITAL_HOME set by newHome/emptyHome), bounded by a minute.
func runBinary(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, orbitalBin(), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		code = ee.ExitCode()
	default:
		t.Fatalf("orbital %s: %v (stderr: %s)", strings.Join(args, " "), err, errb.String())
	}
	t.Logf("orbital %s → %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

// cacheFiles lists the files of the compile cache under home with their size
// and modification time, so two listings differ if anything was (re)written.
func cacheFiles(t *testing.T, home string) map[string]string {
	t.Helper()
	files := map[string]string{}
	root := filepath.Join(home, "cache", "compiled")
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil || fi.IsDir() {
			return err
		}
		files[p] = fmt.Sprintf("%d bytes, %s", fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestBinaryCompileCache(t *testing.T) {
	home := emptyHome(t)
	hello := wasm(t, "hello")

	code, out, _ := runBinary(t, "", "run", hello, "--clock")
	if code != 0 || !strings.HasPrefix(out, "hello from orbital\n") {
		t.Fatalf("first run: exit %d, stdout %q", code, out)
	}
	first := cacheFiles(t, home)
	if len(first) == 0 {
		t.Fatalf("after the first run, %s/cache/compiled is empty: nothing was cached", home)
	}

	code, out, errOut := runBinary(t, "", "run", hello, "--clock")
	if code != 0 || !strings.HasPrefix(out, "hello from orbital\n") {
		t.Fatalf("second run: exit %d, stdout %q", code, out)
	}
	if strings.Contains(errOut, "compiling") {
		t.Errorf("second run compiled again (or says so): stderr %q", errOut)
	}
	if second := cacheFiles(t, home); fmt.Sprint(second) != fmt.Sprint(first) {
		t.Errorf("second run rewrote the cache:\nbefore %v\nafter  %v", first, second)
	}

	// --no-cache leaves no trace in a fresh home; --home overrides ORBITAL_HOME.
	other := t.TempDir()
	if code, _, _ := runBinary(t, "", "run", "--no-cache", "--home", other, hello, "--clock"); code != 0 {
		t.Fatalf("--no-cache run: exit %d", code)
	}
	if got := cacheFiles(t, other); len(got) != 0 {
		t.Errorf("--no-cache wrote the cache: %v", got)
	}
	if code, _, _ := runBinary(t, "", "run", "--home", other, wasm(t, "crc")); code != 0 {
		t.Fatalf("--home run: exit %d", code)
	}
	if len(cacheFiles(t, other)) == 0 {
		t.Errorf("--home %s: nothing cached there", other)
	}
	if got := cacheFiles(t, home); fmt.Sprint(got) != fmt.Sprint(first) {
		t.Errorf("a run with --home wrote to $ORBITAL_HOME: %v", got)
	}
}

// child is an orbital process started by startBinary.
type child struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{} // closed when cmd.Wait has returned err
	err    error
}

// startBinary starts orbital with stdin, its stderr captured. The process is
// killed when the test ends, if still running.
func startBinary(t *testing.T, stdin io.Reader, args ...string) *child {
	t.Helper()
	return startBinaryIn(t, "", stdin, args...)
}

// startDemo starts `orbital up` with the built-in demo config the way
// `make demo` does: in the repository root, where the demo's relative
// paths (./build/wasm, the camera's sample image) are.
func startDemo(t *testing.T) *child {
	t.Helper()
	return startBinaryIn(t, testwasm.Root(t), nil, "up")
}

// startBinaryIn is startBinary in the working directory dir ("": this
// test's).
func startBinaryIn(t *testing.T, dir string, stdin io.Reader, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(orbitalBin(), args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	c.cmd.Dir = dir
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = stdin, io.Discard, c.stderr
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
	return c
}

// waitRunning waits for the guest to be running: -v logs "process running"
// just before the kernel calls its entry point.
func (c *child) waitRunning(t *testing.T) {
	t.Helper()
	checkFor(t, time.Minute, "the guest to run (the `process running` log line of -v)", func() bool {
		return strings.Contains(c.stderr.String(), "process running")
	})
}

// wait waits, bounded, for the child to exit and returns its exit code.
func (c *child) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("orbital still running after 30s; stderr:\n%s", c.stderr)
	}
	var ee *exec.ExitError
	switch {
	case c.err == nil:
		return 0
	case errors.As(c.err, &ee) && ee.Exited():
		return ee.ExitCode()
	}
	t.Fatalf("orbital did not exit normally: %v; stderr:\n%s", c.err, c.stderr)
	return -1
}

func TestBinarySIGINT(t *testing.T) {
	newHome(t)
	// spin's own manifest sets a 1s deadline, and --deadline can only lower a
	// manifest limit (capability.Resolve takes the smaller), so `--deadline 1h`
	// alone would race the signal against that 1s. Run spin under a manifest
	// without limits, so nothing but the signal can end it.
	dir := t.TempDir()
	noLimits := writeFile(t, dir, "spin.toml", []byte("name = \"spin\"\nversion = \"1.0.0\"\nkind = \"app\"\n\n[entry]\ntype = \"command\"\nstart = \"_start\"\n"))

	c := startBinary(t, nil, "run", "-v", "--deadline", "1h", "--manifest", noLimits, wasm(t, "spin"))
	c.waitRunning(t)
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t); code != exitInterrupts {
		t.Errorf("exit code %d after SIGINT, want %d; stderr:\n%s", code, exitInterrupts, c.stderr)
	}
	if !strings.Contains(c.stderr.String(), "orbital: spin interrupted") {
		t.Errorf("stderr does not say spin was interrupted:\n%s", c.stderr)
	}
}

// A guest blocked reading stdin cannot be woken by a kill; Ctrl-C must still
// end orbital instead of waiting for input that may never come.
func TestBinarySIGINTWhileGuestReadsStdin(t *testing.T) {
	newHome(t)
	r, w, err := os.Pipe() // w stays open: crc's read never sees EOF
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	c := startBinary(t, r, "run", "-v", wasm(t, "crc"))
	c.waitRunning(t)
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t); code != exitInterrupts {
		t.Errorf("exit code %d after SIGINT, want %d; stderr:\n%s", code, exitInterrupts, c.stderr)
	}
}

func TestBinaryExitCodes(t *testing.T) {
	newHome(t)
	data := "the quick brown fox\n"
	tests := []struct {
		name, stdin string
		args        []string
		want        int
		stdout      string // exact, when not empty
		stderr      string // a substring, when not empty
	}{
		{name: "hello exits 0", args: []string{"run", wasm(t, "hello"), "--clock"}, want: 0},
		{name: "crc exits 0", stdin: data, args: []string{"run", wasm(t, "crc")}, want: 0,
			stdout: fmt.Sprintf("%08x %d\n", crc32.ChecksumIEEE([]byte(data)), len(data))},
		{name: "guest exit 1 passes through", stdin: "not an image", args: []string{"run", wasm(t, "shrink")}, want: 1,
			stderr: "shrink: decode stdin"},
		{name: "deadline", args: []string{"run", wasm(t, "spin")}, want: exitDeadline, stderr: "deadline of 1s exceeded"},
		{name: "bad import", args: []string{"run", wasm(t, "badimport")}, want: exitBadInput, stderr: "env.does_not_exist"},
		{name: "not granted", args: []string{"run", wasm(t, "notes")}, want: exitNoPerm, stderr: "--dir HOSTDIR:/data:rw"},
		{name: "unknown command", args: []string{"frobnicate"}, want: exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runBinary(t, tt.stdin, tt.args...)
			if code != tt.want {
				t.Errorf("exit code %d, want %d", code, tt.want)
			}
			if tt.stdout != "" && out != tt.stdout {
				t.Errorf("stdout %q, want %q", out, tt.stdout)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr does not mention %q", tt.stderr)
			}
		})
	}

	// Exit codes the guest chooses, from a hand-assembled proc_exit module.
	dir := t.TempDir()
	for _, n := range []int32{0, 3, 42, 255} {
		p := writeFile(t, dir, fmt.Sprintf("exit%d.wasm", n), exitModule(n))
		if code, _, _ := runBinary(t, "", "run", p); code != int(n) {
			t.Errorf("guest proc_exit(%d): orbital exited %d", n, code)
		}
	}
}

// TestBinaryRunGrantedListener: `orbital run --net tcp-listen://…` opens
// the listener, says where, and the C guest echoes a real client through
// it; a malformed --net is a usage error.
func TestBinaryRunGrantedListener(t *testing.T) {
	newHome(t)
	c := startBinary(t, nil, "run", "-q", "--net", "tcp-listen://127.0.0.1:*", wasm(t, "netprobe"), "--", "serve", "1")
	var addr string
	checkFor(t, time.Minute, "the listening line", func() bool {
		_, rest, ok := strings.Cut(c.stderr.String(), "orbital: netprobe listening on ")
		addr, _, _ = strings.Cut(rest, "\n")
		return ok && strings.Contains(rest, "\n")
	})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %q: %v", addr, err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "through the kernel"); err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	back, _ := io.ReadAll(conn)
	if string(back) != "through the kernel" {
		t.Fatalf("echo %q", back)
	}
	if code := c.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, c.stderr)
	}

	code, _, errOut := runBinary(t, "", "run", "--net", "tcp-listen://127.0.0.1", wasm(t, "netprobe"), "--", "probe")
	if code != exitUsage || !strings.Contains(errOut, "--net tcp-listen://127.0.0.1") {
		t.Fatalf("malformed --net: exit %d, %s", code, errOut)
	}
}
