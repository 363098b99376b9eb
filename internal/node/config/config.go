// Package config parses a node's configuration file (`orbital up
// NODE.toml`): the [node] settings, the [supervisor] strategy and budget,
// and each [[process]] with what it is granted. Parsing is strict: unknown
// keys and bad values are errors naming the file and the key.
package config

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/cluster"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	"github.com/orbitalfoundation/orbital/internal/supervisor"
)

// Demo is the node configuration used when none is given: the bundled
// example system (see examples/), found in the module path.
//
//go:embed demo.toml
var Demo []byte

// Config is a parsed node configuration.
type Config struct {
	Source string

	Control     string        // control API listen address (loopback by default)
	AllowRemote bool          // allow a non-loopback control address
	TokenFile   string        // a provisioned control token (required off loopback)
	HTTP        string        // where the node serves route triggers (loopback by default)
	MaxMessage  int           // bytes
	Grace       time.Duration // how long processes get to stop
	LogLevel    string
	ModulePath  []string // directories searched for NAME.wasm
	MaxRunning  int      // guests executing at once (0: GOMAXPROCS-1)

	Strategy    supervisor.Strategy
	MaxRestarts int
	Within      time.Duration

	// Name is the node's name (in a cluster: unique there); default the
	// host name.
	Name string
	// Cluster is the node's [cluster], nil for a node alone. Its Export
	// comes from [bus] export.
	Cluster *cluster.Config

	Processes []Process
	// Drivers are the device drivers the node runs ([[driver]]).
	Drivers []Driver

	// Screen is the node's [screen]: the compositor's size and rate and
	// the displays it shows on. Always set (the defaults: 1280x720, 60
	// fps, no native display — the admin panel's Screen view and
	// `orbital screenshot` still show it).
	Screen Screen

	pendingExport []string // [bus] export until a cluster is set
}

// Screen is the [screen] section.
type Screen struct {
	Width, Height int
	FPS           int
	// Displays are the native displays to open: "x11" (a window on the
	// X server X11, default $DISPLAY; in builds with -tags x11, such as
	// bin/orbital-server), "fbdev" (the Linux framebuffer Fbdev, default
	// /dev/fb0).
	Displays []string
	X11      string
	Fbdev    string
}

// Process is one [[process]] of the node configuration.
type Process struct {
	Name    string
	Module  string // a module name found in the module path, or a path to a .wasm file
	Restart supervisor.Restart
	Grant   orbital.Grant // Grant.Calls from calls = ["vision", "kv.get"]
	// Config is the module's configuration, config = { key = "value", n = 3 }:
	// strings, integers, floats and booleans; nil when absent or empty.
	Config map[string]any
	// ConfigJSON is Config encoded as a JSON object (keys sorted), at most
	// MaxConfigJSON bytes; nil when Config is.
	ConfigJSON []byte
	// Node places the process on the node of that name ("" runs it
	// wherever the config is used). A cluster's nodes can share one config.
	Node string
}

// MaxConfigJSON bounds a process's module configuration, encoded as JSON.
const MaxConfigJSON = 64 << 10

type rawConfig struct {
	Node struct {
		Control     string   `toml:"control"`
		AllowRemote bool     `toml:"allow_remote"`
		TokenFile   string   `toml:"token_file"`
		HTTP        string   `toml:"http"`
		MaxMessage  string   `toml:"max_message"`
		Grace       string   `toml:"grace"`
		LogLevel    string   `toml:"log_level"`
		ModulePath  []string `toml:"module_path"`
		MaxRunning  int      `toml:"max_running"`
		Name        string   `toml:"name"`
	} `toml:"node"`
	Cluster *struct {
		Name        string   `toml:"name"`
		URL         string   `toml:"url"`
		Embedded    *bool    `toml:"embedded"`
		Listen      string   `toml:"listen"`
		RouteListen string   `toml:"route_listen"`
		Routes      []string `toml:"routes"`
		TokenFile   string   `toml:"token_file"`
		Creds       string   `toml:"creds"`
		NKeySeed    string   `toml:"nkey_seed"`
		TLSCert     string   `toml:"tls_cert"`
		TLSKey      string   `toml:"tls_key"`
		TLSCA       string   `toml:"tls_ca"`
		Prefix      string   `toml:"prefix"`
		Libraries   []string `toml:"libraries"`
		Prefer      string   `toml:"prefer"`
		Control     bool     `toml:"control"`
		Heartbeat   string   `toml:"heartbeat"`
	} `toml:"cluster"`
	Bus struct {
		Export []string `toml:"export"`
	} `toml:"bus"`
	Screen *struct {
		Size     string   `toml:"size"`
		FPS      int      `toml:"fps"`
		Displays []string `toml:"displays"`
		X11      string   `toml:"x11"`
		Fbdev    string   `toml:"fbdev"`
	} `toml:"screen"`
	Supervisor struct {
		Strategy    string `toml:"strategy"`
		MaxRestarts *int   `toml:"max_restarts"`
		Within      string `toml:"within"`
	} `toml:"supervisor"`
	Process []struct {
		Name      string            `toml:"name"`
		Module    string            `toml:"module"`
		Restart   string            `toml:"restart"`
		Args      []string          `toml:"args"`
		Env       map[string]string `toml:"env"`
		Dirs      []string          `toml:"dirs"`
		Clock     bool              `toml:"clock"`
		Random    bool              `toml:"random"`
		Memory    string            `toml:"memory"`
		Deadline  string            `toml:"deadline"`
		OpenFiles int               `toml:"open_files"`
		Calls     []string          `toml:"calls"`
		Net       []string          `toml:"net"`
		Display   string            `toml:"display"`
		Input     bool              `toml:"input"`
		Devices   []string          `toml:"devices"`
		Config    any               `toml:"config"`
		Node      string            `toml:"node"`
	} `toml:"process"`
	Driver []struct {
		Name      string   `toml:"name"`
		Driver    string   `toml:"driver"`
		Exec      string   `toml:"exec"`
		Args      []string `toml:"args"`
		Manifest  string   `toml:"manifest"`
		Resources []string `toml:"resources"`
		Restart   string   `toml:"restart"`
		Memory    string   `toml:"memory"`
		OpenFiles int      `toml:"open_files"`
		Rate      int      `toml:"rate"`
		HangAfter string   `toml:"hang_after"`
		Config    any      `toml:"config"`
	} `toml:"driver"`
}

// Driver is a [[driver]] of the node config: a device driver the node
// runs, in its own process (Builtin: compiled into the binary, from the
// drivers registry) or as a child process (Exec).
type Driver struct {
	// Name is the device's name; default the driver's manifest name.
	Name string
	// Builtin names an in-process driver of the drivers registry.
	Builtin string
	// Exec is the program of an out-of-process driver (absolute), Args
	// its arguments, Manifest its orbital.toml (default EXEC.orbital.toml,
	// else orbital.toml beside it).
	Exec     string
	Args     []string
	Manifest string
	// Resources are the host paths granted (each must be one the
	// manifest's [driver] resources asks for).
	Resources []string
	Restart   supervisor.Restart
	// Memory bounds an out-of-process driver's address space (bytes;
	// default 1 GiB), OpenFiles its file descriptors (default 256).
	Memory    uint64
	OpenFiles int
	// Rate is how many messages a second it may publish (default 1000);
	// beyond that they are dropped and counted, and a driver that keeps
	// flooding is cut off and restarted.
	Rate int
	// HangAfter: an out-of-process driver that answers no ping for this
	// long is killed and restarted (default 5s).
	HangAfter time.Duration
	// ConfigJSON is its config table as a JSON object ("{}" when none).
	ConfigJSON []byte
}

// Parse parses a node configuration. Unknown keys and bad values are
// errors that name the file and key. Relative paths in module_path and dirs
// are resolved against dir; ${ORBITAL_HOME} expands to home.
func Parse(data []byte, source, dir, home string) (*Config, error) {
	var raw rawConfig
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", source, api.ErrInvalid, err)
	}
	var unknown []string
	for _, k := range md.Undecoded() {
		// Keys inside a process's config are checked below, with a better
		// message than "unknown key" for a nested table.
		if len(k) > 2 && (k[0] == "process" || k[0] == "driver") && k[1] == "config" {
			continue
		}
		unknown = append(unknown, k.String())
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s: %w: unknown keys: %s", source, api.ErrInvalid, strings.Join(unknown, ", "))
	}
	c := &Config{Source: source, Control: "127.0.0.1:0", MaxMessage: 1 << 20, Grace: 2 * time.Second,
		LogLevel: "info", Strategy: supervisor.OneForOne, MaxRestarts: 5, Within: 10 * time.Second}
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("%s: %s: %w: %s", source, key, api.ErrInvalid, fmt.Sprintf(format, args...))
	}
	c.Screen = Screen{Width: 1280, Height: 720, FPS: 60, Fbdev: "/dev/fb0"}
	if sc := raw.Screen; sc != nil {
		if sc.Size != "" {
			sz, err := orbital.ParseSize(sc.Size)
			if err != nil {
				return nil, bad("screen.size", "%v", err)
			}
			c.Screen.Width, c.Screen.Height = sz.Width, sz.Height
		}
		if sc.FPS < 0 || sc.FPS > 240 {
			return nil, bad("screen.fps", "%d: want 1 to 240", sc.FPS)
		}
		if sc.FPS > 0 {
			c.Screen.FPS = sc.FPS
		}
		for i, d := range sc.Displays {
			if d != "x11" && d != "fbdev" {
				return nil, bad(fmt.Sprintf("screen.displays[%d]", i), "%q: want \"x11\" or \"fbdev\" (the browser view is always there)", d)
			}
		}
		c.Screen.Displays = sc.Displays
		c.Screen.X11 = sc.X11
		if sc.Fbdev != "" {
			c.Screen.Fbdev = sc.Fbdev
		}
	}
	n := raw.Node
	if n.Control != "" {
		c.Control = n.Control
	}
	c.AllowRemote = n.AllowRemote
	c.HTTP = "127.0.0.1:0"
	if n.HTTP != "" {
		c.HTTP = n.HTTP
	}
	if !c.AllowRemote && !loopback(c.HTTP) {
		return nil, bad("node.http", "%q is not a loopback address; route triggers are served off-loopback only with allow_remote = true", c.HTTP)
	}
	if n.MaxRunning < 0 {
		return nil, bad("node.max_running", "must not be negative")
	}
	c.MaxRunning = n.MaxRunning
	if !c.AllowRemote && !loopback(c.Control) {
		return nil, bad("node.control", "%q is not a loopback address; the control API is never open to the network unless allow_remote = true", c.Control)
	}
	if n.TokenFile != "" {
		c.TokenFile = abs(dir, expandHome(n.TokenFile, home))
	}
	if !loopback(c.Control) && c.TokenFile == "" {
		return nil, bad("node.token_file", "the control API on %q is off loopback: every request needs a token you provision; set token_file to a file (mode 0600) holding at least 32 random characters, e.g. openssl rand -hex 32", c.Control)
	}
	if n.MaxMessage != "" {
		v, err := manifest.ParseSize(n.MaxMessage)
		if err != nil || v == 0 || v > 64<<20 {
			return nil, bad("node.max_message", "%q: want a size up to 64MiB", n.MaxMessage)
		}
		c.MaxMessage = int(v)
	}
	if n.Grace != "" {
		if c.Grace, err = time.ParseDuration(n.Grace); err != nil || c.Grace <= 0 {
			return nil, bad("node.grace", "%q is not a positive duration", n.Grace)
		}
	}
	if n.LogLevel != "" {
		switch n.LogLevel {
		case "debug", "info", "warn", "error":
			c.LogLevel = n.LogLevel
		default:
			return nil, bad("node.log_level", "%q: want debug, info, warn or error", n.LogLevel)
		}
	}
	for _, p := range n.ModulePath {
		c.ModulePath = append(c.ModulePath, abs(dir, expandHome(p, home)))
	}
	if n.Name != "" {
		if err := cluster.ValidNodeName(n.Name); err != nil {
			return nil, bad("node.name", "%v", err)
		}
		c.Name = n.Name
	}
	if rc := raw.Cluster; rc != nil {
		cc := &cluster.Config{Node: c.Name, Name: rc.Name, URL: rc.URL, Listen: rc.Listen, RouteListen: rc.RouteListen,
			Routes: rc.Routes, Prefix: rc.Prefix, Libraries: rc.Libraries, Prefer: rc.Prefer, Control: rc.Control,
			Export: raw.Bus.Export}
		if rc.Embedded != nil {
			cc.Embedded = *rc.Embedded
			if !cc.Embedded && cc.URL == "" {
				return nil, bad("cluster.embedded", "false needs a url to join")
			}
		}
		for _, f := range []struct {
			in  string
			out *string
		}{{rc.TokenFile, &cc.TokenFile}, {rc.Creds, &cc.Creds},
			{rc.NKeySeed, &cc.NKeySeed}, {rc.TLSCert, &cc.TLSCert}, {rc.TLSKey, &cc.TLSKey}, {rc.TLSCA, &cc.TLSCA}} {
			if f.in != "" {
				*f.out = abs(dir, expandHome(f.in, home))
			}
		}
		if rc.Heartbeat != "" {
			if cc.Heartbeat, err = time.ParseDuration(rc.Heartbeat); err != nil {
				return nil, bad("cluster.heartbeat", "%q is not a duration", rc.Heartbeat)
			}
		}
		if err := c.SetCluster(cc); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
	} else if len(raw.Bus.Export) > 0 {
		c.pendingExport = raw.Bus.Export
	}
	s := raw.Supervisor
	switch s.Strategy {
	case "", "one-for-one":
	case "one-for-all":
		c.Strategy = supervisor.OneForAll
	case "rest-for-one":
		c.Strategy = supervisor.RestForOne
	default:
		return nil, bad("supervisor.strategy", "%q: want one-for-one, one-for-all or rest-for-one", s.Strategy)
	}
	if s.MaxRestarts != nil {
		if *s.MaxRestarts < 0 {
			return nil, bad("supervisor.max_restarts", "must not be negative")
		}
		c.MaxRestarts = *s.MaxRestarts
	}
	if s.Within != "" {
		if c.Within, err = time.ParseDuration(s.Within); err != nil || c.Within <= 0 {
			return nil, bad("supervisor.within", "%q is not a positive duration", s.Within)
		}
	}
	seen := map[string]bool{}
	for i, p := range raw.Process {
		key := fmt.Sprintf("process[%d]", i)
		if p.Name == "" || strings.ContainsAny(p.Name, " .*>#\t") {
			return nil, bad(key+".name", "%q is not a process name", p.Name)
		}
		if seen[p.Name] {
			return nil, bad(key+".name", "%q is used twice", p.Name)
		}
		seen[p.Name] = true
		if p.Module == "" {
			return nil, bad(key+".module", "missing")
		}
		pc := Process{Name: p.Name, Module: p.Module, Restart: supervisor.Permanent,
			Grant: orbital.Grant{Args: p.Args, Env: p.Env, Stdout: true, Stderr: true, Clock: p.Clock, Random: p.Random}}
		if strings.ContainsAny(p.Module, "/\\") || strings.HasSuffix(p.Module, ".wasm") {
			pc.Module = abs(dir, p.Module)
		}
		switch p.Restart {
		case "", "permanent":
		case "transient":
			pc.Restart = supervisor.Transient
		case "temporary":
			pc.Restart = supervisor.Temporary
		default:
			return nil, bad(key+".restart", "%q: want permanent, transient or temporary", p.Restart)
		}
		for _, d := range p.Dirs {
			// Relative host directories are relative to the config file.
			if host, rest, ok := strings.Cut(d, ":"); ok && host != "" && !filepath.IsAbs(host) {
				d = abs(dir, host) + ":" + rest
			}
			g, err := orbital.ParseDir(d)
			if err != nil {
				return nil, bad(key+".dirs", "%v", err)
			}
			pc.Grant.Dirs = append(pc.Grant.Dirs, g)
		}
		if p.Memory != "" {
			v, err := manifest.ParseSize(p.Memory)
			if err != nil {
				return nil, bad(key+".memory", "%v", err)
			}
			pc.Grant.Limits.MemoryPages = uint32((v + 65535) / 65536)
		}
		if p.Deadline != "" {
			d, err := time.ParseDuration(p.Deadline)
			if err != nil || d <= 0 {
				return nil, bad(key+".deadline", "%q is not a positive duration", p.Deadline)
			}
			pc.Grant.Limits.Deadline = d
		}
		if p.OpenFiles < 0 {
			return nil, bad(key+".open_files", "must not be negative")
		}
		pc.Grant.Limits.OpenFiles = p.OpenFiles
		for j, call := range p.Calls {
			if err := capability.ValidateCall(call); err != nil {
				return nil, bad(fmt.Sprintf("%s.calls[%d]", key, j), "%v", err)
			}
		}
		pc.Grant.Calls = p.Calls
		for j, n := range p.Net {
			if err := capability.ValidateNet(n); err != nil {
				return nil, bad(fmt.Sprintf("%s.net[%d]", key, j), "%v", err)
			}
		}
		pc.Grant.Network = p.Net
		if p.Display != "" {
			sz, err := orbital.ParseSize(p.Display)
			if err != nil {
				return nil, bad(key+".display", "%v", err)
			}
			pc.Grant.Display = sz
		}
		pc.Grant.Input = p.Input
		for j, d := range p.Devices {
			if err := manifest.ValidateDeviceName(d); err != nil {
				return nil, bad(fmt.Sprintf("%s.devices[%d]", key, j), "%v", err)
			}
		}
		pc.Grant.Devices = p.Devices
		cfg, cfgJSON, cerr := moduleConfig(p.Config)
		if cerr != nil {
			return nil, bad(key+".config"+cerr.key, "%s", cerr.msg)
		}
		pc.Config, pc.ConfigJSON = cfg, cfgJSON
		if p.Node != "" {
			if err := cluster.ValidNodeName(p.Node); err != nil {
				return nil, bad(key+".node", "%v", err)
			}
			pc.Node = p.Node
		}
		c.Processes = append(c.Processes, pc)
	}
	drivers := map[string]bool{}
	for i, d := range raw.Driver {
		key := fmt.Sprintf("driver[%d]", i)
		dc := Driver{Name: d.Name, Builtin: d.Driver, Args: d.Args, Restart: supervisor.Permanent,
			Memory: 1 << 30, OpenFiles: 256, Rate: 1000, HangAfter: 5 * time.Second}
		switch {
		case (d.Driver == "") == (d.Exec == ""):
			return nil, bad(key, "set exactly one of driver = \"NAME\" (compiled in) and exec = \"PROGRAM\" (a child process)")
		case d.Driver != "" && (len(d.Args) > 0 || d.Manifest != ""):
			return nil, bad(key, "args and manifest are for exec drivers")
		}
		if d.Name != "" {
			if err := manifest.ValidateDeviceName(d.Name); err != nil {
				return nil, bad(key+".name", "%v", err)
			}
		}
		if d.Exec != "" {
			dc.Exec = abs(dir, d.Exec)
			if d.Manifest != "" {
				dc.Manifest = abs(dir, d.Manifest)
			}
		}
		for j, r := range d.Resources {
			if r == "" || strings.Contains(r, "\x00") {
				return nil, bad(fmt.Sprintf("%s.resources[%d]", key, j), "%q: want a host path", r)
			}
			dc.Resources = append(dc.Resources, abs(dir, r)) // relative to the config file
		}
		switch d.Restart {
		case "", "permanent":
		case "transient":
			dc.Restart = supervisor.Transient
		case "temporary":
			dc.Restart = supervisor.Temporary
		default:
			return nil, bad(key+".restart", "%q: want permanent, transient or temporary", d.Restart)
		}
		if d.Memory != "" {
			v, err := manifest.ParseSize(d.Memory)
			if err != nil || v < 16<<20 {
				return nil, bad(key+".memory", "%q: want a size of at least 16MiB", d.Memory)
			}
			dc.Memory = v
		}
		if d.OpenFiles < 0 || d.Rate < 0 {
			return nil, bad(key, "open_files and rate must not be negative")
		}
		if d.OpenFiles > 0 {
			dc.OpenFiles = d.OpenFiles
		}
		if d.Rate > 0 {
			dc.Rate = d.Rate
		}
		if d.HangAfter != "" {
			h, err := time.ParseDuration(d.HangAfter)
			if err != nil || h < 100*time.Millisecond {
				return nil, bad(key+".hang_after", "%q: want a duration of at least 100ms", d.HangAfter)
			}
			dc.HangAfter = h
		}
		_, cfgJSON, cerr := moduleConfig(d.Config)
		if cerr != nil {
			return nil, bad(key+".config"+cerr.key, "%s", cerr.msg)
		}
		if cfgJSON == nil {
			cfgJSON = []byte("{}")
		}
		dc.ConfigJSON = cfgJSON
		if dc.Name != "" {
			if drivers[dc.Name] {
				return nil, bad(key+".name", "%q is used twice", dc.Name)
			}
			drivers[dc.Name] = true
		}
		c.Drivers = append(c.Drivers, dc)
	}
	return c, nil
}

// SetCluster makes the node part of cluster cc (its Node defaults to the
// config's Name, its Export to [bus] export) after checking it. An
// address off loopback needs a token or TLS: nothing is open by default.
func (c *Config) SetCluster(cc *cluster.Config) error {
	if cc.Node == "" {
		cc.Node = c.Name
	}
	if cc.Export == nil {
		cc.Export = c.pendingExport
	}
	if err := cc.Check(); err != nil {
		return err
	}
	if cc.Embedded && cc.TokenFile == "" && cc.TLSCert == "" {
		for _, a := range []string{cc.Listen, cc.RouteListen} {
			if a != "" && !loopback(a) {
				return fmt.Errorf("cluster: %w: %q is off loopback: set token_file or tls_cert/tls_key so that only your nodes join", api.ErrInvalid, a)
			}
		}
	}
	c.Name, c.Cluster = cc.Node, cc
	return nil
}

// Here reports whether process p runs on this node (placement).
func (c *Config) Here(p Process) bool { return p.Node == "" || p.Node == c.NodeName() }

// NodeName is the node's name: [node] name, else the cluster's, else the
// host's.
func (c *Config) NodeName() string {
	switch {
	case c.Name != "":
		return c.Name
	case c.Cluster != nil:
		return c.Cluster.Node
	}
	return cluster.DefaultNodeName()
}

// configError is a problem in a process's config table; key is the path
// below it (".name"), empty for the table itself.
type configError struct{ key, msg string }

// moduleConfig checks a process's config table — a flat table of strings,
// integers, finite floats and booleans — and encodes it as JSON.
func moduleConfig(v any) (map[string]any, []byte, *configError) {
	if v == nil {
		return nil, nil, nil
	}
	cfg, ok := v.(map[string]any)
	if !ok {
		return nil, nil, &configError{"", fmt.Sprintf("must be a table such as { key = \"value\", n = 3 }, got %s", tomlType(v))}
	}
	if len(cfg) == 0 {
		return nil, nil, nil
	}
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub := "." + tomlKey(k)
		switch v := cfg[k].(type) {
		case string, int64, bool:
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, &configError{sub, "must be a finite number (JSON has no nan or inf)"}
			}
		default:
			return nil, nil, &configError{sub, fmt.Sprintf("must be a string, number or boolean, got %s", tomlType(v))}
		}
	}
	data, err := json.Marshal(cfg)
	if err != nil { // cannot happen for the types above
		return nil, nil, &configError{"", err.Error()}
	}
	if len(data) > MaxConfigJSON {
		return nil, nil, &configError{"", fmt.Sprintf("too large (%d bytes as JSON, at most %s)", len(data), manifest.FormatSize(MaxConfigJSON))}
	}
	return cfg, data, nil
}

// tomlKey renders a key as it would be written in TOML: bare when possible.
func tomlKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return strconv.Quote(k)
		}
	}
	return k
}

// tomlType names the TOML type of a decoded value.
func tomlType(v any) string {
	switch v.(type) {
	case []any, []map[string]any:
		return "array"
	case map[string]any:
		return "table"
	case time.Time:
		return "date-time"
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", v)
}

// Load reads a node configuration file.
func Load(path, home string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("node config: %w", err)
	}
	return Parse(data, path, filepath.Dir(path), home)
}

func abs(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// expandHome expands ${ORBITAL_HOME} to home and other ${VAR}s from the
// environment.
func expandHome(p, home string) string {
	return os.Expand(p, func(k string) string {
		if k == "ORBITAL_HOME" {
			return home
		}
		return os.Getenv(k)
	})
}

func loopback(addr string) bool {
	host := addr
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		host = addr[:i]
	}
	host = strings.Trim(host, "[]")
	return host == "127.0.0.1" || host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

// FindModule resolves a process's module to a .wasm path.
func (c *Config) FindModule(module string) (string, error) {
	if strings.HasSuffix(module, ".wasm") {
		return module, nil
	}
	for _, dir := range c.ModulePath {
		p := filepath.Join(dir, module+".wasm")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("module %q: %w in module path %v", module, api.ErrNotFound, c.ModulePath)
}
