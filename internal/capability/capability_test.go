package capability_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// mf parses a manifest made of the standard header plus extra.
func mf(t *testing.T, extra string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse([]byte("name = \"shrink\"\nversion = \"1.2.0\"\nkind = \"app\"\n"+extra), "orbital.toml")
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	return m
}

// stdio is a grant of the three standard streams, as the CLI gives by default.
func stdio() capability.Grant {
	return capability.Grant{Stdin: true, Stdout: true, Stderr: true}
}

func TestResolveWithoutManifest(t *testing.T) {
	g := capability.Grant{
		Dirs:    []capability.Dir{{Host: "/srv/data", Guest: "/data", ReadOnly: true}, {Host: "/tmp/x", Guest: "/x"}},
		Env:     map[string]string{"B": "2", "A": "1=1", "EMPTY": ""},
		Args:    []string{"-v", "file"},
		Stdin:   true,
		Stderr:  true,
		Clock:   true,
		Network: []string{"tcp://h:1"},
	}
	got, err := capability.Resolve(nil, g)
	if err != nil {
		t.Fatal(err)
	}
	want := capability.Set{
		Args:    []string{"-v", "file"},
		Env:     []string{"A=1=1", "B=2", "EMPTY="},
		Stdin:   true,
		Stderr:  true,
		Clock:   true,
		Dirs:    g.Dirs,
		Network: []string{"tcp://h:1"},
		Limits:  capability.DefaultLimits,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve(nil) =\n%+v\nwant\n%+v", got, want)
	}
	// The set must not alias the grant.
	got.Dirs[0].Guest = "/changed"
	got.Args[0] = "changed"
	if g.Dirs[0].Guest != "/data" || g.Args[0] != "-v" {
		t.Error("Resolve result aliases the grant")
	}

	// Nothing granted: nothing at all, not even stdio.
	got, err = capability.Resolve(nil, capability.Grant{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (capability.Set{Limits: capability.DefaultLimits}); !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve(nil, empty grant) = %+v", got)
	}

	// Grant ceilings replace the defaults field by field.
	g = capability.Grant{Limits: capability.Limits{MemoryPages: 16, Deadline: time.Second}}
	got, _ = capability.Resolve(nil, g)
	if want := (capability.Limits{MemoryPages: 16, Deadline: time.Second, OpenFiles: 64}); got.Limits != want {
		t.Errorf("limits = %+v, want %+v", got.Limits, want)
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name     string
		manifest string // appended to the standard header
		grant    capability.Grant
		check    func(t *testing.T, s capability.Set)
		notes    []string // each must be contained in some note, in order; nil = no notes
		err      string   // expected error (exact); empty = success
	}{
		// Stdio.
		{
			name:  "stdio requested by default and granted",
			grant: stdio(),
			check: func(t *testing.T, s capability.Set) {
				if !s.Stdin || !s.Stdout || !s.Stderr {
					t.Errorf("stdio = %v %v %v", s.Stdin, s.Stdout, s.Stderr)
				}
			},
		},
		{
			name:     "stdio not requested is not connected",
			manifest: "[capabilities]\nstdin = false\n",
			grant:    stdio(),
			check: func(t *testing.T, s capability.Set) {
				if s.Stdin || !s.Stdout || !s.Stderr {
					t.Errorf("stdio = %v %v %v", s.Stdin, s.Stdout, s.Stderr)
				}
			},
			notes: []string{"stdin is not connected: the module does not request it"},
		},
		{
			name:  "stdio requested but not granted is a note",
			grant: capability.Grant{Stdout: true},
			check: func(t *testing.T, s capability.Set) {
				if s.Stdin || !s.Stdout || s.Stderr {
					t.Errorf("stdio = %v %v %v", s.Stdin, s.Stdout, s.Stderr)
				}
			},
			notes: []string{"requests stdin which was not granted", "requests stderr which was not granted"},
		},

		// File system.
		{
			name:     "fs exact match",
			manifest: "[[capabilities.fs]]\npath = \"/data\"\naccess = \"rw\"\n",
			grant:    capability.Grant{Stdin: true, Stdout: true, Stderr: true, Dirs: []capability.Dir{{Host: "/srv/d", Guest: "/data"}}},
			check: func(t *testing.T, s capability.Set) {
				if want := []capability.Dir{{Host: "/srv/d", Guest: "/data"}}; !reflect.DeepEqual(s.Dirs, want) {
					t.Errorf("dirs = %+v", s.Dirs)
				}
			},
		},
		{
			name:     "fs read-only request wins over rw grant",
			manifest: "[[capabilities.fs]]\npath = \"/data\"\naccess = \"ro\"\n",
			grant:    capability.Grant{Stdin: true, Stdout: true, Stderr: true, Dirs: []capability.Dir{{Host: "/srv/d", Guest: "/data"}}},
			check: func(t *testing.T, s capability.Set) {
				if want := []capability.Dir{{Host: "/srv/d", Guest: "/data", ReadOnly: true}}; !reflect.DeepEqual(s.Dirs, want) {
					t.Errorf("dirs = %+v", s.Dirs)
				}
			},
		},
		{
			name:     "fs read-only grant wins over rw request",
			manifest: "[[capabilities.fs]]\npath = \"/data\"\naccess = \"rw\"\n",
			grant:    capability.Grant{Stdin: true, Stdout: true, Stderr: true, Dirs: []capability.Dir{{Host: "/srv/d", Guest: "/data", ReadOnly: true}}},
			check: func(t *testing.T, s capability.Set) {
				if want := []capability.Dir{{Host: "/srv/d", Guest: "/data", ReadOnly: true}}; !reflect.DeepEqual(s.Dirs, want) {
					t.Errorf("dirs = %+v", s.Dirs)
				}
			},
			notes: []string{"file-system area /data is requested read-write but granted read-only; it is mounted read-only"},
		},
		{
			name:     "fs required but not granted",
			manifest: "[[capabilities.fs]]\npath = \"/data\"\naccess = \"rw\"\n",
			grant:    stdio(),
			err:      `module "shrink" requests file-system area /data (rw) which was not granted (grant it with --dir HOSTDIR:/data:rw)`,
		},
		{
			name:     "fs parent grant does not satisfy a request",
			manifest: "[[capabilities.fs]]\npath = \"/data/in\"\naccess = \"ro\"\n",
			grant:    capability.Grant{Stdin: true, Stdout: true, Stderr: true, Dirs: []capability.Dir{{Host: "/srv", Guest: "/data"}}},
			err:      `module "shrink" requests file-system area /data/in (ro) which was not granted (grant it with --dir HOSTDIR:/data/in:ro)`,
		},
		{
			name:     "fs optional not granted",
			manifest: "[[capabilities.fs]]\npath = \"/cache\"\naccess = \"rw\"\noptional = true\n",
			grant:    stdio(),
			check: func(t *testing.T, s capability.Set) {
				if len(s.Dirs) != 0 {
					t.Errorf("dirs = %+v", s.Dirs)
				}
			},
			notes: []string{"optional file-system area /cache (rw) was not granted; the module runs without it"},
		},
		{
			name:     "fs granted but not requested is dropped",
			manifest: "[[capabilities.fs]]\npath = \"/a\"\naccess = \"ro\"\n",
			grant: capability.Grant{Stdin: true, Stdout: true, Stderr: true, Dirs: []capability.Dir{
				{Host: "/h/b", Guest: "/b"}, {Host: "/h/a", Guest: "/a", ReadOnly: true},
			}},
			check: func(t *testing.T, s capability.Set) {
				if want := []capability.Dir{{Host: "/h/a", Guest: "/a", ReadOnly: true}}; !reflect.DeepEqual(s.Dirs, want) {
					t.Errorf("dirs = %+v", s.Dirs)
				}
			},
			notes: []string{"granted directory /h/b -> /b is ignored: the module does not request /b"},
		},

		// Environment.
		{
			name:     "env filtered by globs",
			manifest: "[capabilities]\nenv = [\"LANG\", \"APP_*\"]\n",
			grant:    capability.Grant{Stdin: true, Stdout: true, Stderr: true, Env: map[string]string{"LANG": "C", "APP_X": "1", "APP_": "", "HOME": "/root", "PATH": "/bin", "LANGUAGE": "en"}},
			check: func(t *testing.T, s capability.Set) {
				if want := []string{"APP_=", "APP_X=1", "LANG=C"}; !reflect.DeepEqual(s.Env, want) {
					t.Errorf("env = %q, want %q", s.Env, want)
				}
			},
			notes: []string{"environment variables not requested by the module are ignored: HOME, LANGUAGE, PATH"},
		},
		{
			name:  "env not requested at all",
			grant: capability.Grant{Stdin: true, Stdout: true, Stderr: true, Env: map[string]string{"K": "V"}},
			check: func(t *testing.T, s capability.Set) {
				if s.Env != nil {
					t.Errorf("env = %q", s.Env)
				}
			},
			notes: []string{"environment variables not requested by the module are ignored: K"},
		},
		{
			name:     "env requested but not granted is simply absent",
			manifest: "[capabilities]\nenv = [\"LANG\"]\n",
			grant:    stdio(),
			check: func(t *testing.T, s capability.Set) {
				if s.Env != nil {
					t.Errorf("env = %q", s.Env)
				}
			},
		},

		// Arguments.
		{
			name:     "args accepted",
			manifest: "[capabilities]\nargs = true\n",
			grant:    capability.Grant{Stdin: true, Stdout: true, Stderr: true, Args: []string{"a", "b"}},
			check: func(t *testing.T, s capability.Set) {
				if !reflect.DeepEqual(s.Args, []string{"a", "b"}) {
					t.Errorf("args = %q", s.Args)
				}
			},
		},
		{
			name:  "args refused",
			grant: capability.Grant{Stdin: true, Stdout: true, Stderr: true, Args: []string{"a", "b"}},
			err:   `module "shrink" does not accept arguments (its manifest does not set capabilities.args = true), but 2 arguments were given`,
		},
		{
			name:  "no args given to a module without args is fine",
			grant: stdio(),
			check: func(t *testing.T, s capability.Set) {
				if s.Args != nil {
					t.Errorf("args = %q", s.Args)
				}
			},
		},

		// Clock and randomness.
		{
			name:     "clock and random requested and granted",
			manifest: "[capabilities]\nclock = true\nrandom = true\n",
			grant:    capability.Grant{Stdin: true, Stdout: true, Stderr: true, Clock: true, Random: true},
			check: func(t *testing.T, s capability.Set) {
				if !s.Clock || !s.Random {
					t.Errorf("clock %v random %v", s.Clock, s.Random)
				}
			},
		},
		{
			name:     "clock requested not granted",
			manifest: "[capabilities]\nclock = true\n",
			grant:    stdio(),
			err:      `module "shrink" requests the clock which was not granted (grant it with --clock)`,
		},
		{
			name:     "random requested not granted",
			manifest: "[capabilities]\nrandom = true\n",
			grant:    stdio(),
			err:      `module "shrink" requests cryptographic randomness which was not granted (grant it with --random)`,
		},
		{
			name:  "clock and random granted but not requested",
			grant: capability.Grant{Stdin: true, Stdout: true, Stderr: true, Clock: true, Random: true},
			check: func(t *testing.T, s capability.Set) {
				if s.Clock || s.Random {
					t.Errorf("clock %v random %v", s.Clock, s.Random)
				}
			},
			notes: []string{"--clock is ignored: the module does not request the clock", "--random is ignored: the module does not request cryptographic randomness"},
		},

		// Network: requested ∩ granted, "*" matching any host or port.
		{
			name:     "network",
			manifest: "[capabilities]\nnetwork = [\"tcp://a.example:1\", \"tcp://b.example:2\", \"tcp-listen://127.0.0.1:*\", \"udp://d.example:4\"]\n",
			grant: capability.Grant{Stdin: true, Stdout: true, Stderr: true, Network: []string{"tcp://a.example:1", "tcp://c.example:3",
				"tcp-listen://127.0.0.1:8080", "tcp://*:2"}},
			check: func(t *testing.T, s capability.Set) {
				if want := []string{"tcp://a.example:1", "tcp://b.example:2", "tcp-listen://127.0.0.1:8080"}; !reflect.DeepEqual(s.Network, want) {
					t.Errorf("network = %q, want %q", s.Network, want)
				}
			},
			notes: []string{"network address udp://d.example:4 is requested but not granted", "granted network address tcp://c.example:3 is ignored"},
		},
		{
			name:  "network grant malformed",
			grant: capability.Grant{Network: []string{"udp://a:1"}},
			err:   `invalid grant: network "udp://a:1": want tcp://HOST:PORT (connect) or tcp-listen://HOST:PORT (listen), HOST or PORT may be *`,
		},

		// Limits.
		{
			name:  "limits default to node defaults",
			grant: stdio(),
			check: func(t *testing.T, s capability.Set) {
				if s.Limits != capability.DefaultLimits {
					t.Errorf("limits = %+v", s.Limits)
				}
			},
		},
		{
			name:     "limits below the ceiling are kept",
			manifest: "[limits]\nmemory = \"64MiB\"\ndeadline = \"2s\"\nopen_files = 8\n",
			grant:    capability.Grant{Stdin: true, Stdout: true, Stderr: true, Limits: capability.Limits{Deadline: 5 * time.Second}},
			check: func(t *testing.T, s capability.Set) {
				if want := (capability.Limits{MemoryPages: 1024, Deadline: 2 * time.Second, OpenFiles: 8}); s.Limits != want {
					t.Errorf("limits = %+v, want %+v", s.Limits, want)
				}
			},
		},
		{
			name:     "limits above the ceiling are lowered",
			manifest: "[limits]\nmemory = \"1GiB\"\ndeadline = \"10s\"\nopen_files = 1000\n",
			grant:    capability.Grant{Stdin: true, Stdout: true, Stderr: true, Limits: capability.Limits{Deadline: 5 * time.Second, OpenFiles: 100}},
			check: func(t *testing.T, s capability.Set) {
				if want := (capability.Limits{MemoryPages: 4096, Deadline: 5 * time.Second, OpenFiles: 100}); s.Limits != want {
					t.Errorf("limits = %+v, want %+v", s.Limits, want)
				}
			},
			notes: []string{
				"memory limit lowered from the requested 1GiB to the node ceiling of 256MiB",
				"deadline lowered from the requested 10s to the node ceiling of 5s",
				"open-file limit lowered from the requested 1000 to the node ceiling of 100",
			},
		},
		{
			name:     "manifest deadline applies when the node has none",
			manifest: "[limits]\ndeadline = \"1h\"\n",
			grant:    stdio(),
			check: func(t *testing.T, s capability.Set) {
				if s.Limits.Deadline != time.Hour {
					t.Errorf("deadline = %v", s.Limits.Deadline)
				}
			},
		},
		{
			name:  "node deadline applies when the manifest has none",
			grant: capability.Grant{Stdin: true, Stdout: true, Stderr: true, Limits: capability.Limits{Deadline: time.Minute, MemoryPages: 10}},
			check: func(t *testing.T, s capability.Set) {
				if want := (capability.Limits{MemoryPages: 10, Deadline: time.Minute, OpenFiles: 64}); s.Limits != want {
					t.Errorf("limits = %+v, want %+v", s.Limits, want)
				}
			},
		},

		// Several problems are reported together.
		{
			name:     "all refusals at once",
			manifest: "[capabilities]\nclock = true\nrandom = true\n[[capabilities.fs]]\npath = \"/a\"\naccess = \"ro\"\n",
			grant:    capability.Grant{Args: []string{"x"}},
			err: `module "shrink" requests file-system area /a (ro) which was not granted (grant it with --dir HOSTDIR:/a:ro)
module "shrink" does not accept arguments (its manifest does not set capabilities.args = true), but 1 argument was given
module "shrink" requests the clock which was not granted (grant it with --clock)
module "shrink" requests cryptographic randomness which was not granted (grant it with --random)`,
		},

		// Invalid grants.
		{
			name:  "grant duplicate guest",
			grant: capability.Grant{Dirs: []capability.Dir{{Host: "/a", Guest: "/d"}, {Host: "/b", Guest: "/d"}}},
			err:   "invalid grant: guest path /d is granted twice (/a and /b)",
		},
		{
			name:  "grant climbing guest",
			grant: capability.Grant{Dirs: []capability.Dir{{Host: "/a", Guest: "../d"}}},
			err:   `invalid grant: directory /a: guest path "../d" climbs out of the guest's name space`,
		},
		{
			name:  "grant unclean guest",
			grant: capability.Grant{Dirs: []capability.Dir{{Host: "/a", Guest: "/d/"}}},
			err:   `invalid grant: directory /a: guest path "/d/" is not clean (did you mean "/d"?)`,
		},
		{
			name:  "grant empty host",
			grant: capability.Grant{Dirs: []capability.Dir{{Guest: "/d"}}},
			err:   "invalid grant: directory granted at /d has no host path",
		},
		{
			name:  "grant bad env name",
			grant: capability.Grant{Env: map[string]string{"A=B": "x"}},
			err:   `invalid grant: invalid environment variable name "A=B"`,
		},
		{
			name:  "grant memory too large",
			grant: capability.Grant{Limits: capability.Limits{MemoryPages: 65537}},
			err:   "invalid grant: memory ceiling of 65537 pages exceeds the wasm32 maximum of 65536",
		},
		{
			name:  "grant negative limits",
			grant: capability.Grant{Limits: capability.Limits{Deadline: -1, OpenFiles: -1}},
			err:   "invalid grant: negative deadline -1ns\ninvalid grant: negative open-file limit -1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := capability.Resolve(mf(t, tt.manifest), tt.grant)
			if tt.err != "" {
				if err == nil {
					t.Fatalf("Resolve succeeded: %+v", s)
				}
				if err.Error() != tt.err {
					t.Errorf("error:\n%v\nwant:\n%s", err, tt.err)
				}
				sentinel := capability.ErrNotGranted
				if strings.HasPrefix(tt.err, "invalid grant") {
					sentinel = capability.ErrInvalidGrant
				}
				if !errors.Is(err, sentinel) {
					t.Errorf("error does not wrap %v", sentinel)
				}
				if !reflect.DeepEqual(s, capability.Set{}) {
					t.Errorf("non-zero set with an error: %+v", s)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
			checkNotes(t, s.Notes, tt.notes)
		})
	}
}

// checkNotes requires each of want to be contained in the notes, in order,
// and no unexpected notes.
func checkNotes(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("notes = %q, want %d notes like %q", got, len(want), want)
		return
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("note %d = %q, want it to contain %q", i, got[i], want[i])
		}
	}
}

func TestParseDirFlag(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want capability.Dir
		err  string
	}{
		{in: "/srv/data:/data", want: capability.Dir{Host: "/srv/data", Guest: "/data"}},
		{in: "/srv/data:/data:ro", want: capability.Dir{Host: "/srv/data", Guest: "/data", ReadOnly: true}},
		{in: "/srv/data:/data:rw", want: capability.Dir{Host: "/srv/data", Guest: "/data"}},
		{in: "./data:/data:ro", want: capability.Dir{Host: filepath.Join(wd, "data"), Guest: "/data", ReadOnly: true}},
		{in: "data/../x:/", want: capability.Dir{Host: filepath.Join(wd, "x"), Guest: "/"}},
		{in: "/h:/data/", want: capability.Dir{Host: "/h", Guest: "/data"}},
		{in: "/h:/a/../b", want: capability.Dir{Host: "/h", Guest: "/b"}},
		{in: "/h", err: `invalid grant: --dir "/h": want HOST:GUEST[:ro|rw]`},
		{in: "/h:/g:ro:x", err: "want HOST:GUEST[:ro|rw]"},
		{in: "/h:/g:rx", err: `invalid grant: --dir "/h:/g:rx": access must be ro or rw, got "rx"`},
		{in: "/h:/g:", err: `access must be ro or rw, got ""`},
		{in: ":/g", err: "empty host directory"},
		{in: "/h:..", err: `guest path ".." climbs out`},
		{in: "/h:", err: `guest path "" is not a guest path`},
	}
	for _, tt := range tests {
		got, err := capability.ParseDirFlag(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, capability.ErrInvalidGrant) {
				t.Errorf("ParseDirFlag(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseDirFlag(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseEnvFlag(t *testing.T) {
	tests := []struct {
		in, k, v string
		err      string
	}{
		{in: "K=V", k: "K", v: "V"},
		{in: "K=", k: "K", v: ""},
		{in: "K=a=b", k: "K", v: "a=b"},
		{in: "lower_case=1", k: "lower_case", v: "1"},
		{in: "K", err: `invalid grant: --env "K": want NAME=VALUE`},
		{in: "=V", err: `invalid environment variable name ""`},
		{in: "K=\x00", err: "value contains NUL"},
	}
	for _, tt := range tests {
		k, v, err := capability.ParseEnvFlag(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, capability.ErrInvalidGrant) {
				t.Errorf("ParseEnvFlag(%q) = %q, %q, %v; want error containing %q", tt.in, k, v, err, tt.err)
			}
			continue
		}
		if err != nil || k != tt.k || v != tt.v {
			t.Errorf("ParseEnvFlag(%q) = %q, %q, %v; want %q, %q", tt.in, k, v, err, tt.k, tt.v)
		}
	}
}

func TestParseSizeAndMemoryPages(t *testing.T) {
	n, err := capability.ParseSize("256MiB")
	if err != nil || n != 256<<20 {
		t.Fatalf("ParseSize = %d, %v", n, err)
	}
	p, err := capability.MemoryPages(n)
	if err != nil || p != capability.DefaultLimits.MemoryPages {
		t.Errorf("MemoryPages(256MiB) = %d, %v", p, err)
	}
	if p, err := capability.MemoryPages(4 << 30); err != nil || p != 65536 {
		t.Errorf("MemoryPages(4GiB) = %d, %v", p, err)
	}
	for _, bad := range []uint64{0, 1000, 4<<30 + 64<<10} {
		if _, err := capability.MemoryPages(bad); !errors.Is(err, capability.ErrInvalidGrant) {
			t.Errorf("MemoryPages(%d) err = %v", bad, err)
		}
	}
	if _, err := capability.ParseSize("1MB"); err == nil {
		t.Error("ParseSize(1MB) succeeded")
	}
}
