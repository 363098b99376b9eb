package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// testDir is the package's scratch directory, made by TestMain: it holds the
// orbital binary built for the black-box tests.
var testDir string

// newHome points ORBITAL_HOME at a fresh t.TempDir, seeded from the
// compile cache the packages' tests share (testwasm.Home), and returns it.
// It uses t.Setenv, so no caller may be parallel.
func newHome(t *testing.T) string {
	t.Helper()
	home := testwasm.Home(t)
	t.Setenv("ORBITAL_HOME", home)
	return home
}

// emptyHome is newHome without the seeding: the compile cache starts empty.
func emptyHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("ORBITAL_HOME", home)
	return home
}

// runCLI runs the orbital command in-process with stdin as its input and
// returns its exit code and output. The test must have called newHome.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if !strings.HasPrefix(os.Getenv("ORBITAL_HOME"), os.TempDir()) {
		t.Fatal("runCLI: call newHome(t) first, so nothing touches ~/.orbital")
	}
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	t.Logf("orbital %s → %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

// wasm returns the path of an example module built by `make examples`.
func wasm(t *testing.T, name string) string { t.Helper(); return testwasm.Path(t, name) }

// lines splits output into lines, without the final newline's empty line.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// checkFor polls cond every 20ms until it holds, failing the test with what
// after timeout. Use it instead of sleeping.
func checkFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a child process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*syncBuffer)(nil)

// writeFile writes data to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ---- hand-assembled wasm: no toolchain is needed at test time ---------------

func uleb(n uint64) []byte { return binary.AppendUvarint(nil, n) }

func sleb(n int64) []byte {
	var b []byte
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if (n == 0 && c&0x40 == 0) || (n == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func wname(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func section(id byte, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	return append(append([]byte{id}, uleb(uint64(len(body)))...), body...)
}

// exitModule is a WASI command whose _start calls proc_exit(code).
func exitModule(code int32) []byte {
	body := bytes.Join([][]byte{{0x00, 0x41}, sleb(int64(code)), {0x10, 0x00, 0x0b}}, nil) // no locals; i32.const code; call 0; end
	return bytes.Join([][]byte{
		{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00},
		section(1, []byte{0x02, 0x60, 0x01, 0x7f, 0x00, 0x60, 0x00, 0x00}), // types: (i32)->(), ()->()
		section(2, []byte{0x01}, wname("wasi_snapshot_preview1"), wname("proc_exit"), []byte{0x00, 0x00}),
		section(3, []byte{0x01, 0x01}),                                // one function of type 1
		section(7, []byte{0x01}, wname("_start"), []byte{0x00, 0x01}), // export func 1
		section(10, []byte{0x01}, uleb(uint64(len(body))), body),
	}, nil)
}

// manifestModule is a command whose _start returns at once, carrying toml in
// its "orbital.manifest" custom section.
func manifestModule(toml string) []byte {
	return bytes.Join([][]byte{
		{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00},
		section(1, []byte{0x01, 0x60, 0x00, 0x00}),
		section(3, []byte{0x01, 0x00}),
		section(7, []byte{0x01}, wname("_start"), []byte{0x00, 0x00}),
		section(10, []byte{0x01, 0x02, 0x00, 0x0b}),
		section(0, wname("orbital.manifest"), []byte(toml)),
	}, nil)
}

// psByName runs `orbital ps --json` against the running node and returns
// its processes by name, failing the test when ps fails.
func psByName(t *testing.T) map[string]api.ProcessInfo {
	t.Helper()
	code, out, errOut := runBinary(t, "", "ps", "--json")
	if code != 0 {
		t.Fatalf("ps: %d %s", code, errOut)
	}
	var list []api.ProcessInfo
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("ps --json: %v\n%s", err, out)
	}
	m := make(map[string]api.ProcessInfo, len(list))
	for _, p := range list {
		m[p.Name] = p
	}
	return m
}
