package main

// In-process tests of the orbital command: run(args, stdin, stdout, stderr)
// called directly with the example modules that `make examples` builds.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
)

func TestCommandLine(t *testing.T) {
	newHome(t)
	hello, crc := wasm(t, "hello"), wasm(t, "crc")
	missing := filepath.Join(t.TempDir(), "nope.wasm")
	usage := []string{"Usage: orbital COMMAND", "\n  run ", "\n  inspect ", "\n  version ", "\n  help "}
	tests := []struct {
		name   string
		args   []string
		want   int
		stdout []string // substrings of stdout; stderr must then be empty
		stderr []string // substrings of stderr; stdout must then be empty
	}{
		{"version", []string{"version"}, exitOK, []string{"orbital " + orbital.Version + "\n"}, nil},
		{"--version", []string{"--version"}, exitOK, []string{"orbital " + orbital.Version + "\n"}, nil},
		{"--help", []string{"--help"}, exitOK, usage, nil},
		{"help", []string{"help"}, exitOK, usage, nil},
		{"help run", []string{"help", "run"}, exitOK,
			[]string{"Usage: orbital run", "-deadline", "-dir", "-env", "-clock", "124 deadline exceeded"}, nil},
		{"run --help", []string{"run", "--help"}, exitOK, []string{"Usage: orbital run", "-deadline"}, nil},
		{"help inspect", []string{"help", "inspect"}, exitOK, []string{"Usage: orbital inspect", "-json"}, nil},
		{"help version", []string{"help", "version"}, exitOK, []string{"Usage: orbital version"}, nil},
		{"no command", nil, exitUsage, nil, usage},
		{"unknown command", []string{"frobnicate"}, exitUsage, nil, append([]string{`orbital: unknown command "frobnicate"`}, usage...)},
		{"help unknown command", []string{"help", "frobnicate"}, exitUsage, nil,
			[]string{`unknown command "frobnicate"`, "run, up, ps, nodes, windows, screenshot, drivers, start, stop, restart, kill, logs, pub, sub, request, send, admin, call, inspect, version, pack, keygen, sign, verify, install, push, list, info, query, remove, rollback, help"}},
		{"run without module", []string{"run"}, exitUsage, nil, []string{"orbital run: missing MODULE.wasm", "Usage: orbital run"}},
		{"run with flags but no module", []string{"run", "--clock", "--", "a"}, exitUsage, nil, []string{"missing MODULE.wasm"}},
		{"run missing file", []string{"run", missing}, exitUsage, nil, []string{missing, "no such file"}},
		{"run two modules", []string{"run", hello, crc}, exitUsage, nil, []string{"expected one module", crc}},
		{"run unknown flag", []string{"run", hello, "--frobnicate"}, exitUsage, nil, []string{"flag provided but not defined: -frobnicate"}},
		{"run bad --deadline", []string{"run", "--deadline", "soon", hello}, exitUsage, nil, []string{"--deadline", `"soon"`}},
		{"run zero --deadline", []string{"run", "--deadline", "0s", hello}, exitUsage, nil, []string{"--deadline"}},
		{"run bad --dir", []string{"run", "--dir", "nocolon", hello}, exitUsage, nil, []string{"--dir nocolon"}},
		{"run climbing guest --dir", []string{"run", "--dir", ".:../data", hello}, exitUsage, nil, []string{"climbs out"}},
		{"run bad --memory", []string{"run", "--memory", "lots", hello}, exitUsage, nil, []string{"--memory"}},
		{"inspect without module", []string{"inspect"}, exitUsage, nil, []string{"expected exactly one MODULE.wasm"}},
		{"inspect missing file", []string{"inspect", missing}, exitUsage, nil, []string{missing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", tt.args...)
			if code != tt.want {
				t.Errorf("exit code %d, want %d", code, tt.want)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q", s)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q", s)
				}
			}
			if tt.stderr == nil && errOut != "" {
				t.Errorf("unexpected stderr %q", errOut)
			}
			if tt.stdout == nil && out != "" {
				t.Errorf("unexpected stdout %q", out)
			}
		})
	}
}

// inspected is the part of `orbital inspect --json` the tests look at.
type inspected struct {
	Module string `json:"module"`
	Info   struct {
		Digest  string   `json:"digest"`
		Imports []fnSig  `json:"imports"`
		Exports []fnSig  `json:"exports"`
		Implies []string `json:"implies"`
	} `json:"info"`
	Manifest *struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Kind    string `json:"kind"`
		Entry   struct {
			Type    string   `json:"type"`
			Start   string   `json:"start"`
			Exports []string `json:"exports"`
		} `json:"entry"`
	} `json:"manifest"`
}

type fnSig struct {
	Module  string   `json:"module"`
	Name    string   `json:"name"`
	Params  []string `json:"params"`
	Results []string `json:"results"`
}

func (f fnSig) String() string {
	return fmt.Sprintf("%s.%s(%s) %s", f.Module, f.Name, strings.Join(f.Params, ","), strings.Join(f.Results, ","))
}

func fileDigest(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

func inspectJSON(t *testing.T, args ...string) inspected {
	t.Helper()
	code, out, errOut := runCLI(t, "", append([]string{"inspect", "--json"}, args...)...)
	if code != exitOK || errOut != "" {
		t.Fatalf("inspect --json: exit %d, stderr %q", code, errOut)
	}
	var got inspected
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("inspect --json printed invalid JSON: %v", err)
	}
	if dec.More() {
		t.Errorf("inspect --json printed more than one JSON value")
	}
	return got
}

func TestInspectJSON(t *testing.T) {
	home := emptyHome(t)

	t.Run("hello", func(t *testing.T) {
		path := wasm(t, "hello")
		got := inspectJSON(t, path)
		if got.Module != "hello@1.0.0" || got.Info.Digest != fileDigest(t, path) {
			t.Errorf("module %q digest %q, want hello@1.0.0 and the file's sha256", got.Module, got.Info.Digest)
		}
		var exports []string
		for _, f := range got.Info.Exports {
			exports = append(exports, f.String())
		}
		if want := []string{"._start() "}; !slices.Equal(exports, want) {
			t.Errorf("exports %q, want %q", exports, want)
		}
		var imports []string
		for _, f := range got.Info.Imports {
			imports = append(imports, f.String())
			if f.Module != "wasi_snapshot_preview1" {
				t.Errorf("import %s is not from WASI", f)
			}
		}
		for _, want := range []string{
			"wasi_snapshot_preview1.proc_exit(i32) ",
			"wasi_snapshot_preview1.fd_write(i32,i32,i32,i32) i32",
			"wasi_snapshot_preview1.environ_get(i32,i32) i32",
			"wasi_snapshot_preview1.clock_time_get(i32,i64,i32) i32",
		} {
			if !slices.Contains(imports, want) {
				t.Errorf("imports lack %s: %q", want, imports)
			}
		}
		for _, c := range []string{"args", "clock", "env"} {
			if !slices.Contains(got.Info.Implies, c) {
				t.Errorf("implies %q lacks %q", got.Info.Implies, c)
			}
		}
		m := got.Manifest
		if m == nil || m.Name != "hello" || m.Version != "1.0.0" || m.Kind != "app" || m.Entry.Type != "command" || m.Entry.Start != "_start" {
			t.Errorf("manifest %+v, want hello 1.0.0 app, command _start", m)
		}
	})

	t.Run("counter", func(t *testing.T) {
		got := inspectJSON(t, wasm(t, "counter"))
		if got.Module != "counter@1.0.0" {
			t.Errorf("module %q, want counter@1.0.0", got.Module)
		}
		var exports []string
		for _, f := range got.Info.Exports {
			exports = append(exports, f.String())
		}
		want := []string{"._initialize() ", ".counter_add(i32) i32", ".counter_get() i32"}
		if !slices.Equal(exports, want) {
			t.Errorf("exports %q, want %q", exports, want)
		}
		if len(got.Info.Imports) != 0 {
			t.Errorf("imports %v, want none", got.Info.Imports)
		}
		m := got.Manifest
		if m == nil || m.Name != "counter" || m.Kind != "app" || m.Entry.Type != "reactor" ||
			!slices.Equal(m.Entry.Exports, []string{"counter_add", "counter_get"}) {
			t.Errorf("manifest %+v, want counter app, reactor exporting counter_add and counter_get", m)
		}
	})

	t.Run("no manifest", func(t *testing.T) {
		bare := writeFile(t, t.TempDir(), "bare.wasm", exitModule(0))
		got := inspectJSON(t, bare)
		if got.Module != "bare" || got.Manifest != nil {
			t.Errorf("module %q manifest %+v, want bare and no manifest", got.Module, got.Manifest)
		}
	})

	t.Run("embedded manifest", func(t *testing.T) {
		mod := manifestModule("name = \"embedded\"\nversion = \"2.1.0\"\nkind = \"app\"\n\n[entry]\ntype = \"command\"\nstart = \"_start\"\n")
		got := inspectJSON(t, writeFile(t, t.TempDir(), "x.wasm", mod))
		if got.Module != "embedded@2.1.0" || got.Manifest == nil || got.Manifest.Name != "embedded" {
			t.Errorf("module %q manifest %+v, want the embedded manifest embedded@2.1.0", got.Module, got.Manifest)
		}
	})

	// "Inspecting compiles nothing to disk and needs no data directory."
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("inspect wrote to ORBITAL_HOME: %v", entries)
	}
}

func TestInspectText(t *testing.T) {
	newHome(t)
	// Inspecting never uses the compile cache; counter and a hand-made module
	// keep this cheap (hello alone takes ~20s to compile under -race).
	counter := wasm(t, "counter")
	code, out, errOut := runCLI(t, "", "inspect", counter)
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	// The header is a tab-aligned table: compare fields, not spacing.
	fields := map[string]string{}
	header, _, _ := strings.Cut(out, "\n\n")
	for _, l := range lines(header) {
		if f := strings.Fields(l); len(f) == 2 {
			fields[f[0]] = f[1]
		}
	}
	for k, v := range map[string]string{
		"module":   "counter@1.0.0",
		"sha256":   fileDigest(t, counter),
		"kind":     "app",
		"manifest": strings.TrimSuffix(counter, ".wasm") + ".orbital.toml",
		"implies":  "nothing",
	} {
		if fields[k] != v {
			t.Errorf("%s: %q, want %q", k, fields[k], v)
		}
	}
	for _, want := range []string{
		"\nimports (0):\n",
		"\nexports (3):\n  _initialize() \n  counter_add(i32) i32\n  counter_get() i32\n",
		"\nmemories (1):\n  memory: min ",
		"\nmanifest requests:\n  args=false ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	dir := t.TempDir()
	mod := writeFile(t, dir, "app.wasm", exitModule(0))
	writeFile(t, dir, "app.orbital.toml", []byte(`name = "app"
version = "0.3.0"
kind = "app"

[entry]
type = "command"
start = "_start"

[capabilities]
env = ["LANG"]
clock = true

[[capabilities.fs]]
path = "/data"
access = "ro"

[io.in]
type = "stream"

[io.report]
type = "stream"
direction = "out"
bind = "file"
`))
	code, out, _ = runCLI(t, "", "inspect", mod)
	for _, want := range []string{
		"\nimports (1):\n  wasi_snapshot_preview1.proc_exit(i32) \n",
		"\nmanifest requests:\n  args=false env=[LANG] stdin=true stdout=true stderr=true clock=true random=false network=[]\n" +
			"  fs /data (ro)\n  io in: in stream bound to stdio\n  io report: out stream bound to file\n",
	} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("inspect app: exit %d, output lacks %q", code, want)
		}
	}
}

func TestRunHello(t *testing.T) {
	hello := wasm(t, "hello")
	header := func(args ...string) []string {
		l := []string{"hello from orbital", fmt.Sprintf("args (%d):", len(args)+1), `  [0] "hello"`}
		for i, a := range args {
			l = append(l, fmt.Sprintf("  [%d] %q", i+1, a))
		}
		return l
	}
	tests := []struct {
		name    string
		hostEnv map[string]string
		args    []string
		want    []string // stdout lines before the final "time: " line
	}{
		{
			name: "args, granted env, clock",
			args: []string{"run", hello, "--env", "GREETING=hi", "--env", "HOME=/root", "--clock", "--", "a", "b c", "--env", "X=1"},
			want: append(header("a", "b c", "--env", "X=1"), "env (1):", "  GREETING=hi", "GREETING says: hi"),
		},
		{
			name: "flags before the module",
			args: []string{"run", "--clock", "--env=GREETING=yo", hello},
			want: append(header(), "env (1):", "  GREETING=yo", "GREETING says: yo"),
		},
		{
			name:    "host environment is not inherited",
			hostEnv: map[string]string{"GREETING": "from the host", "SECRET_TOKEN": "hunter2"},
			args:    []string{"run", hello, "--clock"},
			want:    append(header(), "env (0):"),
		},
		{
			name:    "--env NAME passes the host's value",
			hostEnv: map[string]string{"GREETING": "from the host", "SECRET_TOKEN": "hunter2"},
			args:    []string{"run", hello, "--clock", "--env", "GREETING", "--env", "SECRET_TOKEN"},
			want:    append(header(), "env (1):", "  GREETING=from the host", "GREETING says: from the host"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newHome(t)
			for k, v := range tt.hostEnv {
				t.Setenv(k, v)
			}
			code, out, _ := runCLI(t, "", tt.args...)
			if code != exitOK {
				t.Fatalf("exit code %d, want 0", code)
			}
			got := lines(out)
			if len(got) == 0 || !slices.Equal(got[:len(got)-1], tt.want) {
				t.Errorf("stdout lines\n%q\nwant\n%q\nthen a time line", got, tt.want)
			}
			if len(got) > 0 {
				// The granted clock is the real one, not a fixed epoch.
				stamp, ok := strings.CutPrefix(got[len(got)-1], "time: ")
				when, err := time.Parse(time.RFC3339, stamp)
				if !ok || err != nil || when.Year() < 2024 {
					t.Errorf("last line %q: want `time: ` and a real RFC 3339 time", got[len(got)-1])
				}
			}
			// Only what the manifest requests (GREETING) may reach the guest.
			env := false
			for _, l := range got {
				if strings.HasPrefix(l, "env (") {
					env = true
				} else if env && strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "  GREETING=") {
					t.Errorf("the guest sees %q, which its manifest does not request", l)
				}
			}
			if strings.Contains(out, "hunter2") || strings.Contains(out, "/root") {
				t.Errorf("an ungranted value reached the guest")
			}
		})
	}

	t.Run("clock requested but not granted", func(t *testing.T) {
		newHome(t)
		code, out, errOut := runCLI(t, "", "run", hello)
		if code != exitNoPerm || out != "" || !strings.Contains(errOut, "grant it with --clock") {
			t.Errorf("exit %d stdout %q stderr %q: want %d, no output, and a hint naming --clock", code, out, errOut, exitNoPerm)
		}
	})
}

func TestRunCRC(t *testing.T) {
	newHome(t)
	crc := wasm(t, "crc")
	big := make([]byte, 200_000) // more than crc's 64 KiB read buffer
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	want := func(data []byte) string { return fmt.Sprintf("%08x %d\n", crc32.ChecksumIEEE(data), len(data)) }
	if got := want([]byte("hello")); got != "3610a686 5\n" { // the example's README
		t.Fatalf("the test's own CRC is wrong: %q", got)
	}
	for _, data := range [][]byte{nil, []byte("hello"), []byte("line one\nline two\n\x00\xff"), big} {
		t.Run(fmt.Sprintf("%d bytes on stdin", len(data)), func(t *testing.T) {
			code, out, _ := runCLI(t, string(data), "run", crc)
			if code != exitOK || out != want(data) {
				t.Errorf("exit %d stdout %q, want 0 and %q", code, out, want(data))
			}
		})
	}
	t.Run("--in replaces stdin", func(t *testing.T) {
		in := writeFile(t, t.TempDir(), "in.bin", big)
		code, out, _ := runCLI(t, "not this", "run", crc, "--in", in)
		if code != exitOK || out != want(big) {
			t.Errorf("exit %d stdout %q, want 0 and %q", code, out, want(big))
		}
	})
	t.Run("--no-stdin", func(t *testing.T) {
		code, out, _ := runCLI(t, "not this", "run", "--no-stdin", crc)
		if code != exitOK || out != want(nil) {
			t.Errorf("exit %d stdout %q, want 0 and %q", code, out, want(nil))
		}
	})
}

func TestRunGuestExitCode(t *testing.T) {
	newHome(t)
	dir := t.TempDir()
	for _, n := range []int32{0, 1, 7, 42, 255} {
		mod := writeFile(t, dir, fmt.Sprintf("exit%d.wasm", n), exitModule(n))
		if code, _, _ := runCLI(t, "", "run", mod); code != int(n) {
			t.Errorf("guest proc_exit(%d): orbital returned %d", n, code)
		}
	}
	code, _, errOut := runCLI(t, "this is not an image", "run", wasm(t, "shrink"))
	if code != 1 || !strings.Contains(errOut, "shrink: decode stdin") {
		t.Errorf("shrink on junk: exit %d, want the guest's own 1 and its message", code)
	}
}

// notesLayout is a directory tree for the notes example: base/x/data is the
// granted directory, and base/etc/passwd is exactly where notes's escape
// attempts ("../../etc/passwd" from /data, or via an /data/escape -> ../..
// symlink) would land if the host followed them.
type notesLayout struct{ base, data, secret string }

const secretText = "outside secret: the guest must never see this\n"

func newNotesLayout(t *testing.T) notesLayout {
	t.Helper()
	base := t.TempDir()
	l := notesLayout{base: base, data: filepath.Join(base, "x", "data"), secret: filepath.Join(base, "etc", "passwd")}
	for _, d := range []string{l.data, filepath.Dir(l.secret)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Dir(l.secret), "passwd", []byte(secretText))
	writeFile(t, filepath.Join(base, "x"), "secret.txt", []byte(secretText))
	return l
}

// check verifies that nothing outside the data directory changed, that the
// data directory holds exactly names, and that the secret did not leak.
func (l notesLayout) check(t *testing.T, out, errOut string, names ...string) {
	t.Helper()
	for _, p := range []string{l.secret, filepath.Join(l.base, "x", "secret.txt")} {
		if b, err := os.ReadFile(p); err != nil || string(b) != secretText {
			t.Errorf("%s changed: %q, %v", p, b, err)
		}
	}
	if strings.Contains(out+errOut, "outside secret") || strings.Contains(out, "ALLOWED") {
		t.Errorf("the guest got outside its directory")
	}
	for _, d := range []string{l.base, filepath.Join(l.base, "x")} {
		if _, err := os.Lstat(filepath.Join(d, "notes.txt")); err == nil {
			t.Errorf("notes.txt was written outside the granted directory, in %s", d)
		}
	}
	entries, err := os.ReadDir(l.data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("data directory holds %q, want %q", got, names)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRunNotes(t *testing.T) {
	newHome(t)
	notes := wasm(t, "notes")
	l := newNotesLayout(t)
	notesTxt := filepath.Join(l.data, "notes.txt")

	t.Run("no --dir", func(t *testing.T) {
		code, out, errOut := runCLI(t, "", "run", notes, "--", "hi")
		if code != exitNoPerm || !strings.Contains(errOut, "--dir HOSTDIR:/data:rw") {
			t.Errorf("exit %d: want %d and a message naming `--dir HOSTDIR:/data:rw`", code, exitNoPerm)
		}
		l.check(t, out, errOut)
	})
	t.Run("another guest path", func(t *testing.T) {
		code, out, errOut := runCLI(t, "", "run", notes, "--dir", l.data+":/other:rw")
		if code != exitNoPerm || !strings.Contains(errOut, "--dir HOSTDIR:/data:rw") {
			t.Errorf("exit %d: want %d, a grant at /other does not satisfy /data", code, exitNoPerm)
		}
		l.check(t, out, errOut)
	})

	escapes := func(t *testing.T, out []string) {
		t.Helper()
		i := slices.Index(out, "escape attempts:")
		if i < 0 || len(out)-i-1 != 5 {
			t.Fatalf("want `escape attempts:` and five attempts, got %q", out)
		}
		for _, a := range out[i+1:] {
			if !strings.Contains(a, " denied (") && !strings.HasPrefix(a, "  symlink ") {
				t.Errorf("escape attempt not denied: %q", a)
			}
		}
	}

	t.Run("rw", func(t *testing.T) {
		code, out, errOut := runCLI(t, "", "run", notes, "--dir", l.data+":/data:rw", "--", "first", "note")
		if code != exitOK {
			t.Errorf("exit code %d, want 0", code)
		}
		got := lines(out)
		want := []string{"/data (0 entries):", "/data/notes.txt:", "first note", "escape attempts:"}
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("stdout starts %q, want %q", got, want)
		}
		escapes(t, got)
		if s := readFile(t, notesTxt); s != "first note\n" {
			t.Errorf("notes.txt holds %q", s)
		}
		l.check(t, out, errOut, "notes.txt") // the escape symlink is gone again
	})
	t.Run("rw appends", func(t *testing.T) {
		code, out, errOut := runCLI(t, "", "run", notes, "--dir", l.data+":/data", "--", "second note")
		want := []string{"/data (1 entries):", "  notes.txt", "/data/notes.txt:", "first note", "second note", "escape attempts:"}
		if got := lines(out); code != exitOK || len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("exit %d stdout %q, want 0 and %q…", code, got, want)
		}
		if s := readFile(t, notesTxt); s != "first note\nsecond note\n" {
			t.Errorf("notes.txt holds %q", s)
		}
		l.check(t, out, errOut, "notes.txt")
	})
	t.Run("ro", func(t *testing.T) {
		before := readFile(t, notesTxt)
		code, out, errOut := runCLI(t, "", "run", notes, "--dir", l.data+":/data:ro", "--", "must not land")
		// The guest lists /data, then its append fails and it exits 1.
		if code != 1 || !strings.Contains(strings.ToLower(errOut), "notes: open /data/notes.txt: read-only file system") {
			t.Errorf("exit %d: want the guest's exit 1 after its open for append fails read-only", code)
		}
		if got := lines(out); !slices.Equal(got, []string{"/data (1 entries):", "  notes.txt"}) {
			t.Errorf("stdout %q: want the read-only listing only", got)
		}
		if after := readFile(t, notesTxt); after != before {
			t.Errorf("notes.txt changed under a read-only grant: %q → %q", before, after)
		}
		l.check(t, out, errOut, "notes.txt")
	})
	t.Run("ro creates nothing", func(t *testing.T) {
		empty := newNotesLayout(t)
		code, out, errOut := runCLI(t, "", "run", notes, "--dir", empty.data+":/data:ro")
		if code != 1 {
			t.Errorf("exit %d, want the guest's 1", code)
		}
		empty.check(t, out, errOut)
	})
}

func TestRunLimits(t *testing.T) {
	newHome(t)
	tests := []struct {
		name   string
		args   []string
		want   int
		stderr string
	}{
		{"spin: manifest deadline", []string{"run", wasm(t, "spin")}, exitDeadline, "orbital: spin killed: deadline of 1s exceeded"},
		{"spin: --deadline lowers it", []string{"run", "--deadline", "300ms", wasm(t, "spin")}, exitDeadline, "deadline of 300ms exceeded"},
		{"spin: --deadline cannot raise it", []string{"run", "--deadline", "1h", wasm(t, "spin")}, exitDeadline, "deadline of 1s exceeded"},
		{"sleeper: blocked in a host call", []string{"run", "--deadline", "200ms", wasm(t, "sleeper"), "--clock"}, exitDeadline, "orbital: sleeper killed: deadline of 200ms exceeded"},
		{"memhog: manifest limit", []string{"run", wasm(t, "memhog")}, exitCrashed, "memhog crashed: wasm error: unreachable (memory limit of 1024 pages reached)"},
		{"memhog: --memory", []string{"run", "--memory", "2MiB", wasm(t, "memhog")}, exitCrashed, "memory limit of 32 pages reached"},
		{"hello: --memory below its initial memory", []string{"run", "--memory", "1MiB", "--clock", wasm(t, "hello")}, exitCrashed, "limit is 16"},
		{"recurse", []string{"run", wasm(t, "recurse")}, exitCrashed, "orbital: recurse crashed: stack overflow"},
		{"badimport", []string{"run", wasm(t, "badimport")}, exitBadInput, "imports not provided by the kernel: [env.does_not_exist]"},
		{"reactor", []string{"run", wasm(t, "counter")}, exitBadInput, "module is a reactor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", tt.args...)
			if code != tt.want || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, want %d with stderr mentioning %q", code, tt.want, tt.stderr)
			}
			if out != "" {
				t.Errorf("unexpected stdout %q", out)
			}
		})
	}
}

func TestRunBadInput(t *testing.T) {
	newHome(t)
	dir := t.TempDir()
	hello := wasm(t, "hello")
	helloBytes, err := os.ReadFile(hello)
	if err != nil {
		t.Fatal(err)
	}
	const goodManifest = "name = \"app\"\nversion = \"1.0.0\"\nkind = \"app\"\n\n[entry]\ntype = \"command\"\nstart = \"_start\"\n"
	manifest := func(name, text string) string { return writeFile(t, dir, name, []byte(text)) }
	unknownKey := manifest("unknown.toml", "name = \"app\"\nversion = \"1.0.0\"\nkind = \"app\"\nbogus = 1\n\n[entry]\ntype = \"command\"\nstart = \"_start\"\n")
	badVersion := manifest("version.toml", "name = \"app\"\nversion = \"one\"\nkind = \"app\"\n\n[entry]\ntype = \"command\"\nstart = \"_start\"\n")
	noExport := manifest("noexport.toml", strings.Replace(goodManifest, `start = "_start"`, `start = "main"`, 1))
	clash := manifest("clash.toml", goodManifest+"\n[io.dir]\ntype = \"stream\"\ndirection = \"in\"\nbind = \"file\"\n")
	// A manifest found beside the module, not named on the command line.
	besideDir := t.TempDir()
	beside := writeFile(t, besideDir, "app.wasm", exitModule(0))
	writeFile(t, besideDir, "app.orbital.toml", []byte("name = \"app\"\nversion = \"1.0.0\"\n\nkind = \"gadget\"\n"))

	tests := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"garbage", []string{writeFile(t, dir, "garbage.wasm", []byte("this is not wasm at all"))}, []string{"bad module", "magic"}},
		{"empty", []string{writeFile(t, dir, "empty.wasm", nil)}, []string{"bad module"}},
		{"truncated", []string{writeFile(t, dir, "truncated.wasm", helloBytes[:len(helloBytes)/2])}, []string{"bad module"}},
		{"unknown manifest key", []string{"--manifest", unknownKey, hello}, []string{unknownKey + ":4:", "bogus", "unknown key"}},
		{"bad manifest version", []string{hello, "--manifest=" + badVersion}, []string{badVersion + ":2:", "version", `"one"`}},
		{"manifest beside the module", []string{beside}, []string{filepath.Join(besideDir, "app.orbital.toml") + ":4:", "kind"}},
		{"manifest names a missing export", []string{"--manifest", noExport, writeFile(t, dir, "noexport.wasm", exitModule(0))}, []string{`names export "main"`}},
		{"io stream clashes with a flag", []string{"--manifest", clash, writeFile(t, dir, "clash.wasm", exitModule(0))}, []string{`io stream "dir"`, "clashes"}},
		{"bad embedded manifest", []string{writeFile(t, dir, "embedded.wasm", manifestModule("name = \"e\"\nversion = \"1.0.0\"\nkind = \"app\"\nwhat = true\n"))},
			[]string{"embedded.wasm#orbital.manifest:4:", "what"}},
	}
	for _, tt := range tests {
		for _, cmd := range []string{"run", "inspect"} {
			if cmd == "inspect" && tt.name == "io stream clashes with a flag" {
				continue // only run has flags to clash with
			}
			t.Run(cmd+" "+tt.name, func(t *testing.T) {
				code, out, errOut := runCLI(t, "", append([]string{cmd}, tt.args...)...)
				if code != exitBadInput {
					t.Errorf("exit code %d, want %d", code, exitBadInput)
				}
				if out != "" {
					t.Errorf("unexpected stdout %q", out)
				}
				for _, s := range tt.stderr {
					if !strings.Contains(errOut, s) {
						t.Errorf("stderr lacks %q", s)
					}
				}
			})
		}
	}
}

// testImage is w×h, made of 2×2 blocks of one opaque colour each, so that
// halving it must give exactly the colour of each block.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, blockColor(x/2, y/2))
		}
	}
	return img
}

func blockColor(bx, by int) color.NRGBA {
	return color.NRGBA{R: uint8(bx * 7), G: uint8(by * 5), B: uint8(bx ^ by), A: 255}
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// checkHalved decodes a PNG and checks it is the halved testImage(w, h).
func checkHalved(t *testing.T, data []byte, w, h int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("output is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != w/2 || b.Dy() != h/2 {
		t.Fatalf("output is %dx%d, want %dx%d", b.Dx(), b.Dy(), w/2, h/2)
	}
	for y := 0; y < h/2; y++ {
		for x := 0; x < w/2; x++ {
			if got, want := color.NRGBAModel.Convert(img.At(x, y)), blockColor(x, y); got != want {
				t.Fatalf("pixel (%d,%d) is %v, want %v", x, y, got, want)
			}
		}
	}
}

func TestRunShrink(t *testing.T) {
	newHome(t)
	shrink := wasm(t, "shrink")
	dir := t.TempDir()

	t.Run("--in and --out", func(t *testing.T) {
		in := writeFile(t, dir, "photo.png", encodePNG(t, testImage(64, 48)))
		// An existing, longer output file must be replaced, not overwritten in place.
		out := writeFile(t, dir, "small.png", bytes.Repeat([]byte("old contents "), 10_000))
		code, stdout, errOut := runCLI(t, "", "run", shrink, "--in", in, "--out", out)
		if code != exitOK || stdout != "" {
			t.Fatalf("exit %d stdout %d bytes: want 0, and the image in --out only", code, len(stdout))
		}
		if !strings.Contains(errOut, "shrink: read png 64x48") || !strings.Contains(errOut, "shrink: wrote png 32x24") {
			t.Errorf("stderr lacks the guest's progress lines")
		}
		data := []byte(readFile(t, out))
		if !bytes.HasSuffix(data, []byte("IEND\xae\x42\x60\x82")) {
			t.Errorf("%s does not end with the PNG's IEND chunk: the old contents were not truncated", out)
		}
		checkHalved(t, data, 64, 48)
	})
	t.Run("odd size on stdin", func(t *testing.T) {
		code, stdout, _ := runCLI(t, string(encodePNG(t, testImage(63, 47))), "run", shrink)
		if code != exitOK {
			t.Fatalf("exit code %d", code)
		}
		checkHalved(t, []byte(stdout), 63, 47)
	})
	t.Run("--in missing", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.png")
		code, _, errOut := runCLI(t, "", "run", shrink, "--in", missing)
		if code != exitUsage || !strings.Contains(errOut, missing) {
			t.Errorf("exit %d: want %d naming %s", code, exitUsage, missing)
		}
	})
	t.Run("undeclared stream", func(t *testing.T) {
		in := writeFile(t, dir, "in2.png", encodePNG(t, testImage(4, 4)))
		code, _, errOut := runCLI(t, "", "run", shrink, "--in", in, "--thumbnail", filepath.Join(dir, "thumb.png"))
		if code != exitUsage || !strings.Contains(errOut, "flag provided but not defined: -thumbnail") {
			t.Errorf("exit %d: want %d, the manifest declares no stream `thumbnail`", code, exitUsage)
		}
		if _, err := os.Stat(filepath.Join(dir, "thumb.png")); err == nil {
			t.Errorf("thumb.png was created")
		}
	})
	t.Run("stream flag for a module without streams", func(t *testing.T) {
		code, _, errOut := runCLI(t, "", "run", "--clock", wasm(t, "hello"), "--out", filepath.Join(dir, "x"))
		if code != exitUsage || !strings.Contains(errOut, "flag provided but not defined: -out") {
			t.Errorf("exit %d: want %d, hello declares no io streams", code, exitUsage)
		}
	})
}
