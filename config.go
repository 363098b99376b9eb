package orbital

import (
	"log/slog"
	"os"
	"path/filepath"
)

// Config configures a Kernel. It is immutable: every With… method returns a
// changed copy, so one base config can be shared safely.
//
//	cfg := orbital.NewConfig().WithHome(dir).WithLogger(logger)
type Config struct {
	screen     Screen
	home       string
	logger     *slog.Logger
	maxRunning int
	noCache    bool
	trusted    map[string]bool
	maxMessage int
	maxCall    int
}

// NewConfig returns the default configuration: home from $ORBITAL_HOME or
// ~/.orbital, logs discarded, compiled code cached on disk.
func NewConfig() Config {
	return Config{home: DefaultHome()}
}

// DefaultHome is $ORBITAL_HOME, or ~/.orbital, or ./.orbital when the user
// has no home directory.
func DefaultHome() string {
	if h := os.Getenv("ORBITAL_HOME"); h != "" {
		return h
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return filepath.Join(h, ".orbital")
	}
	return ".orbital"
}

// WithHome sets the data directory (compile cache, later the registry).
func (c Config) WithHome(dir string) Config { c.home = dir; return c }

// WithLogger sets the structured logger for kernel and process events.
func (c Config) WithLogger(l *slog.Logger) Config { c.logger = l; return c }

// WithMaxRunning caps how many guests execute wasm at the same time
// (0 = GOMAXPROCS-1, at least 1). Blocked guests do not count.
func (c Config) WithMaxRunning(n int) Config { c.maxRunning = n; return c }

// WithCompileCache turns the on-disk compile cache on (default) or off.
func (c Config) WithCompileCache(on bool) Config { c.noCache = !on; return c }

// WithTrusted marks module names whose code the node trusts: they are
// compiled without termination checks (faster loops) and so cannot be
// stopped by deadlines or kills while they loop. Use for vetted modules only.
func (c Config) WithTrusted(names ...string) Config {
	t := make(map[string]bool, len(c.trusted)+len(names))
	for k := range c.trusted {
		t[k] = true
	}
	for _, n := range names {
		t[n] = true
	}
	c.trusted = t
	return c
}

// WithMaxMessage bounds the size of one bus message in bytes (default 1 MiB).
// Larger payloads travel as blobs.
func (c Config) WithMaxMessage(n int) Config { c.maxMessage = n; return c }

// WithMaxCall caps the arguments and the result of one call between
// modules, in bytes (default 16 MiB).
func (c Config) WithMaxCall(n int) Config { c.maxCall = n; return c }

// Home returns the data directory.
func (c Config) Home() string { return c.home }
