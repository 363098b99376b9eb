package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/supervisor"
)

func TestParseConfig(t *testing.T) {
	cfg, err := Parse([]byte(`
[node]
control = "127.0.0.1:7777"
module_path = ["${ORBITAL_HOME}/modules", "mods"]
max_message = "64KiB"
grace = "3s"
max_running = 2
[supervisor]
strategy = "rest-for-one"
max_restarts = 7
within = "1m"
[[process]]
name = "a"
module = "echo"
restart = "transient"
args = ["x"]
env = { K = "V" }
dirs = ["data:/data:ro"]
clock = true
memory = "1MiB"
deadline = "250ms"
open_files = 9
calls = ["vision", "kv.get", "demo.echo.*"]
config = { key = "value", n = 3, f = 1.5, on = true, "odd key" = "" }
[[process]]
name = "b"
module = "./b.wasm"
[[process]]
name = "c"
module = "c"
config = {}
[[process]]
name = "d"
module = "d"
[process.config]
`), "n.toml", "/cfg", "/home/o")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Control != "127.0.0.1:7777" || cfg.MaxMessage != 64<<10 || cfg.Grace != 3*time.Second || cfg.MaxRunning != 2 {
		t.Errorf("node: %+v", cfg)
	}
	if strings.Join(cfg.ModulePath, ",") != "/home/o/modules,/cfg/mods" {
		t.Errorf("module path %v", cfg.ModulePath)
	}
	if cfg.Strategy != supervisor.RestForOne || cfg.MaxRestarts != 7 || cfg.Within != time.Minute {
		t.Errorf("supervisor: %v %d %v", cfg.Strategy, cfg.MaxRestarts, cfg.Within)
	}
	a, b := cfg.Processes[0], cfg.Processes[1]
	g := a.Grant
	if a.Restart != supervisor.Transient || g.Args[0] != "x" || g.Env["K"] != "V" || !g.Clock || g.Random ||
		g.Dirs[0].Host != "/cfg/data" || !g.Dirs[0].ReadOnly || g.Limits.MemoryPages != 16 || g.Limits.Deadline != 250*time.Millisecond || g.Limits.OpenFiles != 9 {
		t.Errorf("process a: %+v", a)
	}
	if b.Module != "/cfg/b.wasm" || b.Restart != supervisor.Permanent {
		t.Errorf("process b: %+v", b)
	}
	if want := []string{"vision", "kv.get", "demo.echo.*"}; !reflect.DeepEqual(g.Calls, want) {
		t.Errorf("calls = %q, want %q", g.Calls, want)
	}
	wantConfig := map[string]any{"key": "value", "n": int64(3), "f": 1.5, "on": true, "odd key": ""}
	if !reflect.DeepEqual(a.Config, wantConfig) {
		t.Errorf("config = %#v", a.Config)
	}
	if want := `{"f":1.5,"key":"value","n":3,"odd key":"","on":true}`; string(a.ConfigJSON) != want {
		t.Errorf("config JSON = %s, want %s", a.ConfigJSON, want)
	}
	for _, p := range cfg.Processes[1:] {
		if p.Config != nil || p.ConfigJSON != nil || p.Grant.Calls != nil {
			t.Errorf("process %s: config %#v, JSON %q, calls %q", p.Name, p.Config, p.ConfigJSON, p.Grant.Calls)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct{ name, toml, want string }{
		{"bad toml", "[node\n", "n.toml"},
		{"unknown key", "[node]\ncontrl = \"x\"\n", "unknown keys: node.contrl"},
		{"remote control", "[node]\ncontrol = \"0.0.0.0:1\"\n", "not a loopback address"},
		{"remote allowed", "[node]\ncontrol = \"0.0.0.0:1\"\nallow_remote = true\ntoken_file = \"tok\"\n[[process]]\n", "process[0].name"},
		{"remote without a token", "[node]\ncontrol = \"0.0.0.0:1\"\nallow_remote = true\n", "node.token_file"},
		{"bad size", "[node]\nmax_message = \"lots\"\n", "node.max_message"},
		{"bad grace", "[node]\ngrace = \"-1s\"\n", "node.grace"},
		{"bad level", "[node]\nlog_level = \"loud\"\n", "node.log_level"},
		{"bad strategy", "[supervisor]\nstrategy = \"all-for-none\"\n", "supervisor.strategy"},
		{"negative budget", "[supervisor]\nmax_restarts = -1\n", "supervisor.max_restarts"},
		{"no name", "[[process]]\nmodule = \"x\"\n", "process[0].name"},
		{"bad name", "[[process]]\nname = \"a.b\"\nmodule = \"x\"\n", "process[0].name"},
		{"duplicate", "[[process]]\nname = \"a\"\nmodule = \"x\"\n[[process]]\nname = \"a\"\nmodule = \"x\"\n", "used twice"},
		{"no module", "[[process]]\nname = \"a\"\n", "process[0].module"},
		{"bad restart", "[[process]]\nname = \"a\"\nmodule = \"x\"\nrestart = \"sometimes\"\n", "process[0].restart"},
		{"bad dir", "[[process]]\nname = \"a\"\nmodule = \"x\"\ndirs = [\"nocolon\"]\n", "process[0].dirs"},
		{"bad deadline", "[[process]]\nname = \"a\"\nmodule = \"x\"\ndeadline = \"soon\"\n", "process[0].deadline"},
		{"bad call", "[[process]]\nname = \"a\"\nmodule = \"x\"\ncalls = [\"vision\", \"Vision.blur\"]\n", `n.toml: process[0].calls[1]: invalid: invalid grant: "Vision.blur" is not LIB, LIB.FUNCTION, LIB.* or *`},
		{"empty call", "[[process]]\nname = \"a\"\nmodule = \"x\"\ncalls = [\"\"]\n", `process[0].calls[0]: invalid: invalid grant: "" is not LIB`},
		{"calls type", "[[process]]\nname = \"a\"\nmodule = \"x\"\ncalls = \"vision\"\n", "n.toml: invalid: toml:"},
		{"config type", "[[process]]\nname = \"a\"\nmodule = \"x\"\nconfig = \"k=v\"\n", `n.toml: process[0].config: invalid: must be a table such as { key = "value", n = 3 }, got string`},
		{"config table", "[[process]]\nname = \"a\"\nmodule = \"x\"\n[process.config]\nok = 1\nsub = { x = 1 }\n", `n.toml: process[0].config.sub: invalid: must be a string, number or boolean, got table`},
		{"config array", "[[process]]\nname = \"a\"\nmodule = \"x\"\nconfig = { list = [1, 2] }\n", `process[0].config.list: invalid: must be a string, number or boolean, got array`},
		{"config date", "[[process]]\nname = \"a\"\nmodule = \"x\"\nconfig = { \"when?\" = 1979-05-27 }\n", `process[0].config."when?": invalid: must be a string, number or boolean, got date-time`},
		{"config nan", "[[process]]\nname = \"a\"\nmodule = \"x\"\nconfig = { x = nan }\n", `process[0].config.x: invalid: must be a finite number (JSON has no nan or inf)`},
		{"config inf", "[[process]]\nname = \"a\"\nmodule = \"x\"\nconfig = { x = -inf }\n", `process[0].config.x: invalid: must be a finite number`},
		{"config too large", "[[process]]\nname = \"a\"\nmodule = \"x\"\nconfig = { a = \"" + strings.Repeat("x", 64<<10) + "\" }\n", `process[0].config: invalid: too large (65544 bytes as JSON, at most 64KiB)`},
		{"bad node name", "[node]\nname = \"a b\"\n", "node.name"},
		{"bad placement", "[[process]]\nname = \"a\"\nmodule = \"x\"\nnode = \"a.b\"\n", "process[0].node"},
		{"cluster unknown key", "[cluster]\nnmae = \"x\"\n", "unknown keys: cluster.nmae"},
		{"export of system subjects", "[node]\nname = \"a\"\n[cluster]\nname = \"t\"\n[bus]\nexport = [\"$sys.>\"]\n", "never leave a node"},
		{"bad export", "[node]\nname = \"a\"\n[cluster]\n[bus]\nexport = [\"a..b\"]\n", "bus export"},
		{"url and embedded", "[node]\nname = \"a\"\n[cluster]\nurl = \"nats://x:1\"\nembedded = true\n", "exclude each other"},
		{"not embedded without url", "[cluster]\nembedded = false\n", "cluster.embedded"},
		{"open cluster", "[node]\nname = \"a\"\n[cluster]\nlisten = \"0.0.0.0:4222\"\n", "off loopback"},
		{"bad prefer", "[node]\nname = \"a\"\n[cluster]\nprefer = \"near\"\n", "prefer"},
		{"bad heartbeat", "[node]\nname = \"a\"\n[cluster]\nheartbeat = \"1h\"\n", "heartbeat"},
		{"config too large escaped", "[[process]]\nname = \"a\"\nmodule = \"x\"\nconfig = { a = \"" + strings.Repeat("<", 11000) + "\" }\n", `process[0].config: invalid: too large (66008 bytes as JSON, at most 64KiB)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.toml), "n.toml", "/cfg", "/home")
			if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

// TestParseCluster: [cluster], [bus] export and placement.
func TestParseCluster(t *testing.T) {
	c, err := Parse([]byte(`
[node]
name = "kitchen"
[cluster]
name = "home"
routes = ["nats://10.0.0.3:6222"]
route_listen = "127.0.0.1:6222"
libraries = ["vision"]
prefer = "any"
token_file = "tok"
heartbeat = "250ms"
[bus]
export = ["sensors.>"]
[[process]]
name = "a"
module = "x"
node = "kitchen"
[[process]]
name = "b"
module = "x"
node = "garage"
[[process]]
name = "c"
module = "x"
`), "n.toml", "/cfg", "/home")
	if err != nil {
		t.Fatal(err)
	}
	cc := c.Cluster
	if cc == nil || cc.Node != "kitchen" || cc.Name != "home" || !cc.Embedded || cc.Listen != "127.0.0.1:4222" ||
		cc.Prefer != "any" || cc.TokenFile != "/cfg/tok" || cc.Heartbeat != 250*time.Millisecond ||
		!reflect.DeepEqual(cc.Export, []string{"sensors.>"}) || !reflect.DeepEqual(cc.Libraries, []string{"vision"}) {
		t.Fatalf("cluster %+v", cc)
	}
	var here []string
	for _, p := range c.Processes {
		if c.Here(p) {
			here = append(here, p.Name)
		}
	}
	if !reflect.DeepEqual(here, []string{"a", "c"}) {
		t.Fatalf("placed here: %v", here)
	}
	// Off loopback with a token is allowed.
	if _, err := Parse([]byte("[node]\nname = \"a\"\n[cluster]\nlisten = \"0.0.0.0:4222\"\ntoken_file = \"t\"\n"), "n.toml", "/cfg", "/home"); err != nil {
		t.Fatal(err)
	}
	// Without [cluster] a node is alone.
	if c, err := Parse([]byte("[bus]\nexport = [\"x.>\"]\n"), "n.toml", "/cfg", "/home"); err != nil || c.Cluster != nil {
		t.Fatalf("alone: %+v %v", c, err)
	}
}

func TestDemoParses(t *testing.T) {
	cfg, err := Parse(Demo, "demo", "/work", "/home")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Processes) < 3 {
		t.Fatalf("demo has %d processes", len(cfg.Processes))
	}
}

// FuzzParseConfig: the node config parser never panics, and what it accepts
// is internally consistent.
func FuzzParseConfig(f *testing.F) {
	f.Add(string(Demo))
	f.Add("[node]\ncontrol = \"127.0.0.1:0\"\n[[process]]\nname = \"a\"\nmodule = \"b\"\n")
	f.Add("[supervisor]\nmax_restarts = 3\nwithin = \"1s\"\n")
	f.Add("[[process]]\nname = \"a\"\nmodule = \"b\"\ncalls = [\"*\", \"vision.blur\", \"demo.echo.*\", \"x.\"]\nconfig = { s = \"v\", n = 1, f = 2.5, b = true, t = { x = 1 } }\n")
	f.Add("[[process]]\nname = \"a\"\nmodule = \"b\"\n[process.config]\nk = nan\n\"q k\" = 1979-05-27\n")
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := Parse([]byte(s), "f.toml", "/d", "/h")
		if err != nil {
			if !errors.Is(err, api.ErrInvalid) {
				t.Fatalf("error without class: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range cfg.Processes {
			if p.Name == "" || p.Module == "" || seen[p.Name] {
				t.Fatalf("accepted a bad process: %+v", p)
			}
			seen[p.Name] = true
			for _, c := range p.Grant.Calls {
				if err := capability.ValidateCall(c); err != nil {
					t.Fatalf("accepted a bad call grant: %v", err)
				}
			}
			if (p.Config == nil) != (p.ConfigJSON == nil) || len(p.ConfigJSON) > MaxConfigJSON {
				t.Fatalf("bad config %#v / %q", p.Config, p.ConfigJSON)
			}
			if p.ConfigJSON != nil {
				var back map[string]any
				if err := json.Unmarshal(p.ConfigJSON, &back); err != nil || len(back) != len(p.Config) {
					t.Fatalf("config JSON %q does not decode to %d keys: %v", p.ConfigJSON, len(p.Config), err)
				}
			}
		}
		if !cfg.AllowRemote && !loopback(cfg.Control) {
			t.Fatalf("accepted a non-loopback control address %q", cfg.Control)
		}
	})
}

// TestParseScreen: [screen] and the display/input grants of a process,
// and their errors (each names the key).
func TestParseScreen(t *testing.T) {
	c, err := Parse([]byte(`
[screen]
size = "800x600"
fps = 24
displays = ["fbdev"]
fbdev = "/dev/fb1"
[[process]]
name = "cube"
module = "cube"
display = "320x240"
input = true
`), "n.toml", "/cfg", "/home")
	if err != nil {
		t.Fatal(err)
	}
	want := Screen{Width: 800, Height: 600, FPS: 24, Displays: []string{"fbdev"}, Fbdev: "/dev/fb1"}
	if !reflect.DeepEqual(c.Screen, want) {
		t.Fatalf("screen %+v", c.Screen)
	}
	if g := c.Processes[0].Grant; g.Display.Width != 320 || g.Display.Height != 240 || !g.Input {
		t.Fatalf("grant %+v", g)
	}
	if d, _ := Parse([]byte("[node]\n"), "n.toml", "/cfg", "/home"); d.Screen.Width != 1280 || d.Screen.FPS != 60 || len(d.Screen.Displays) != 0 {
		t.Fatalf("defaults %+v", d.Screen)
	}
	for _, bad := range []struct{ toml, key string }{
		{"[screen]\nsize = \"800\"\n", "screen.size"},
		{"[screen]\nsize = \"0x600\"\n", "screen.size"},
		{"[screen]\nfps = 1000\n", "screen.fps"},
		{"[screen]\ndisplays = [\"wayland\"]\n", "screen.displays[0]"},
		{"[[process]]\nname = \"a\"\nmodule = \"a\"\ndisplay = \"huge\"\n", "process[0].display"},
		{"[screen]\ncolour = 3\n", "screen.colour"},
	} {
		_, err := Parse([]byte(bad.toml), "n.toml", "/cfg", "/home")
		if err == nil || !strings.Contains(err.Error(), bad.key) {
			t.Errorf("%q: %v (want an error naming %s)", bad.toml, err, bad.key)
		}
	}
}
