package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

const runUsage = `Usage: orbital run [flags] MODULE.wasm [--STREAM FILE ...] [-- ARGS...]

Runs a command module to completion. The module gets nothing but stdio
unless its manifest requests more AND a flag grants it (deny by default).
The manifest is NAME.orbital.toml or orbital.toml beside the module, the
module's "orbital.manifest" custom section, or --manifest.

Streams declared in the manifest's [io] table are opened by the host and
handed to the module (it needs no file-system access for them):
  orbital run shrink.wasm --in photo.png --out small.png

The exit code is the guest's; otherwise 64 usage, 65 bad module or
manifest, 77 capability not granted, 124 deadline exceeded, 134 crashed
(trap, stack overflow, memory limit), 137 killed, 130 interrupted.

Flags:
`

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type runFlags struct {
	dirs, envs, nets      multiFlag
	clock, random         bool
	noStdin               bool
	memory, deadline      string
	openFiles             int
	manifest, home        string
	verbose, quiet, trust bool
	noCache               bool
	display               string
	input                 bool
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.dirs, "dir", "grant a host directory: HOST:GUEST[:ro|rw] (repeatable; default rw)")
	fs.Var(&f.envs, "env", "grant an environment variable: K=V, or K to pass the host's value (repeatable)")
	fs.Var(&f.nets, "net", "grant network access the manifest asks for: tcp://HOST:PORT to connect, tcp-listen://HOST:PORT to listen (HOST or PORT may be *; repeatable)")
	fs.BoolVar(&f.clock, "clock", false, "grant the real wall clock, monotonic clock and sleep")
	fs.BoolVar(&f.random, "random", false, "grant cryptographic randomness")
	fs.StringVar(&f.display, "display", "", "grant surfaces up to WxH (the manifest's [capabilities.display]); orbital run has no screen: see orbital up")
	fs.BoolVar(&f.input, "input", false, "grant input events to the module's window")
	fs.BoolVar(&f.noStdin, "no-stdin", false, "do not connect the terminal's stdin")
	fs.StringVar(&f.memory, "memory", "", "memory ceiling, e.g. 64MiB (default 256MiB; can only lower a manifest's limit)")
	fs.StringVar(&f.deadline, "deadline", "", "deadline for the run, e.g. 5s (default none; can only lower a manifest's limit)")
	fs.IntVar(&f.openFiles, "open-files", 0, "open-file quota (default 64; can only lower a manifest's limit)")
	fs.StringVar(&f.manifest, "manifest", "", "manifest file (default: found beside the module)")
	fs.StringVar(&f.home, "home", "", "data directory (default $ORBITAL_HOME or ~/.orbital)")
	fs.BoolVar(&f.trust, "trusted", false, "compile without termination checks (faster; deadlines and kills cannot stop loops)")
	fs.BoolVar(&f.noCache, "no-cache", false, "do not use the on-disk compile cache")
	fs.BoolVar(&f.verbose, "v", false, "log kernel and process events to stderr")
	fs.BoolVar(&f.quiet, "q", false, "no progress messages")
}

func cmdRun(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f runFlags
	fs := flag.NewFlagSet("orbital run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs)
	fs.Usage = func() { fmt.Fprint(fs.Output(), runUsage); fs.PrintDefaults() }

	flagArgs, guestArgs := splitDashDash(args)
	// The module path decides which stream flags exist: find it first.
	modPath, explicitManifest := findPositional(fs, flagArgs)
	if wantsHelp(flagArgs) {
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK
	}
	if modPath == "" {
		fmt.Fprintln(stderr, "orbital run: missing MODULE.wasm")
		fs.Usage()
		return exitUsage
	}
	// The manifest, parsed once: it names the stream flags, and the kernel
	// loads the module with it.
	var m *orbital.Manifest
	mpath := explicitManifest
	if mpath == "" {
		mpath, _ = orbital.FindManifest(modPath)
	}
	if mpath != "" {
		var err error
		if m, err = orbital.LoadManifest(mpath); err != nil {
			fmt.Fprintf(stderr, "orbital run: %v\n", err)
			return exitBadInput
		}
	} else {
		m = embeddedManifest(modPath)
	}
	streams := map[string]*string{}
	if m != nil {
		for _, decl := range m.Streams() {
			if fs.Lookup(decl.Name) != nil {
				fmt.Fprintf(stderr, "orbital run: io stream %q in %s clashes with a flag of orbital run\n", decl.Name, m.Source())
				return exitBadInput
			}
			dir := "in"
			if decl.Output {
				dir = "out"
			}
			streams[decl.Name] = fs.String(decl.Name, "", fmt.Sprintf("host file for the module's %s stream %q", dir, decl.Name))
		}
	}
	positional, err := parseInterleaved(fs, flagArgs)
	if err != nil {
		return exitUsage
	}
	if len(positional) != 1 {
		fmt.Fprintf(stderr, "orbital run: expected one module, got %q (pass guest arguments after --)\n", positional)
		return exitUsage
	}
	grant, err := f.grant(guestArgs)
	if err != nil {
		fmt.Fprintf(stderr, "orbital run: %v\n", err)
		return exitUsage
	}

	logLevel := slog.LevelWarn
	if f.verbose {
		logLevel = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))
	home := f.home
	if home == "" {
		home = orbital.DefaultHome()
	}
	cfg := orbital.NewConfig().WithHome(home).WithLogger(logger).WithCompileCache(!f.noCache)
	if f.trust && m != nil {
		cfg = cfg.WithTrusted(m.Name())
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	var caught os.Signal
	go func() {
		select {
		case caught = <-sigs:
			cancelRun()
		case <-ctx.Done():
		}
	}()

	k, err := orbital.NewKernel(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "orbital run: %v\n", err)
		return exitFailure
	}
	defer func() {
		// Bounded: a guest blocked in a host read (stdin) cannot be woken by
		// a kill, and the interrupted case below has already given up on it.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = k.Close(ctx)
	}()

	// A compile that takes a while says so; quick and cached ones are silent.
	progress := slowCompile(stderr, f.quiet)
	mod, err := k.LoadFileWith(ctx, modPath, orbital.LoadOptions{Manifest: m, Progress: progress})
	if err != nil {
		fmt.Fprintf(stderr, "orbital run: %v\n", err)
		return codeFor(err)
	}
	opts := orbital.SpawnOptions{Grant: grant, Stdout: stdout, Stderr: stderr, Streams: map[string]string{}}
	if !f.noStdin {
		opts.Stdin = stdin
	}
	for name, v := range streams {
		if *v != "" {
			opts.Streams[name] = *v
		}
	}
	p, err := k.Spawn(ctx, mod, opts)
	if err != nil {
		fmt.Fprintf(stderr, "orbital run: %v\n", err)
		return codeFor(err)
	}
	if n := p.Info().Net; n != nil {
		for _, a := range n.Listen {
			fmt.Fprintf(stderr, "orbital: %s listening on %s\n", p.Info().Name, a)
		}
	}
	interrupted := false
	select {
	case <-p.Done():
	case <-ctx.Done():
		interrupted = true
		p.Kill(errors.New("interrupted"))
		select {
		case <-p.Done():
		case <-time.After(2 * time.Second): // blocked in a host read: give up on it
		}
	}
	info := p.Info()
	switch {
	case interrupted:
		fmt.Fprintf(stderr, "orbital: %s interrupted\n", info.Name)
		if caught == syscall.SIGTERM {
			return exitTerminated
		}
		return exitInterrupts
	case info.State == api.StateExited:
		if info.ExitCode > 255 { // the shell would truncate it, maybe to 0: never report false success
			fmt.Fprintf(stderr, "orbital: %s exited with code %d (reported as 255)\n", info.Name, info.ExitCode)
			return 255
		}
		return int(info.ExitCode)
	case info.State == api.StateKilled && errors.Is(p.Err(), orbital.ErrDeadline):
		fmt.Fprintf(stderr, "orbital: %s killed: %s\n", info.Name, info.Reason)
		return exitDeadline
	case info.State == api.StateKilled:
		fmt.Fprintf(stderr, "orbital: %s %s\n", info.Name, info.Reason)
		return exitKilled
	default:
		fmt.Fprintf(stderr, "orbital: %s crashed: %s\n", info.Name, info.Reason)
		return exitCrashed
	}
}

// grant turns the flags into a capability grant. Stdio is always granted to
// ad-hoc runs; everything else only by a flag.
func (f *runFlags) grant(args []string) (orbital.Grant, error) {
	g := orbital.Grant{Args: args, Stdin: !f.noStdin, Stdout: true, Stderr: true,
		Clock: f.clock, Random: f.random, Network: f.nets, Env: map[string]string{}}
	for _, d := range f.dirs {
		dir, err := orbital.ParseDir(d)
		if err != nil {
			return g, fmt.Errorf("--dir %s: %w", d, err)
		}
		g.Dirs = append(g.Dirs, dir)
	}
	if f.display != "" {
		sz, err := orbital.ParseSize(f.display)
		if err != nil {
			return g, fmt.Errorf("--display %s: %w", f.display, err)
		}
		g.Display = sz
	}
	g.Input = f.input
	for _, n := range f.nets {
		if err := capability.ValidateNet(n); err != nil {
			return g, fmt.Errorf("--net %s: %w", n, err)
		}
	}
	for _, e := range f.envs {
		if !strings.Contains(e, "=") {
			v, ok := os.LookupEnv(e)
			if !ok {
				return g, fmt.Errorf("--env %s: not set in this environment (use --env %s=VALUE)", e, e)
			}
			g.Env[e] = v
			continue
		}
		k, v, err := capability.ParseEnvFlag(e)
		if err != nil {
			return g, fmt.Errorf("--env %s: %w", e, err)
		}
		g.Env[k] = v
	}
	if f.memory != "" {
		n, err := manifest.ParseSize(f.memory)
		if err != nil {
			return g, fmt.Errorf("--memory: %w", err)
		}
		g.Limits.MemoryPages = uint32((n + 65535) / 65536)
	}
	if f.deadline != "" {
		d, err := time.ParseDuration(f.deadline)
		if err != nil || d <= 0 {
			return g, fmt.Errorf("--deadline: want a positive duration like 5s, got %q", f.deadline)
		}
		g.Limits.Deadline = d
	}
	if f.openFiles < 0 {
		return g, fmt.Errorf("--open-files must be positive")
	}
	g.Limits.OpenFiles = f.openFiles
	return g, nil
}

// embeddedManifest returns the manifest carried in the module's custom
// section, or nil (a broken one is reported when the kernel loads it).
func embeddedManifest(path string) *orbital.Manifest {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	m, err := orbital.ManifestOf(wasm, path)
	if err != nil {
		return nil
	}
	return m
}

// codeFor maps a load or spawn error to the command's exit code.
func codeFor(err error) int {
	switch {
	case errors.Is(err, api.ErrPermissionDenied):
		return exitNoPerm
	case errors.Is(err, api.ErrBadModule), errors.Is(err, api.ErrBadManifest), errors.Is(err, manifest.ErrInvalid):
		return exitBadInput
	case errors.Is(err, api.ErrLimit):
		return exitCrashed
	case errors.Is(err, os.ErrNotExist), errors.Is(err, api.ErrNotFound):
		return exitUsage
	}
	return exitFailure
}

func splitDashDash(args []string) (flags, rest []string) {
	for i, a := range args {
		if a == "--" {
			return args[:i], args[i+1:]
		}
	}
	return args, nil
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}

// findPositional scans args for the first positional argument and a
// --manifest value, without failing on flags not yet registered (streams).
func findPositional(fs *flag.FlagSet, args []string) (pos, manifestPath string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			if pos == "" {
				pos = a
			}
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		fl := fs.Lookup(name)
		if fl == nil && pos == "" {
			// Stream flags (declared by the manifest) come after the module;
			// an unknown flag before it is a typo: let the parser report it.
			continue
		}
		if fl != nil {
			if bf, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
		}
		if !hasVal && i+1 < len(args) {
			i++
			val = args[i]
		}
		if name == "manifest" {
			manifestPath = val
		}
	}
	return pos, manifestPath
}

// parseInterleaved parses flags that may appear before and after
// positional arguments, and returns the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
