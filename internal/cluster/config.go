package cluster

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/subject"
)

// Config is a node's [cluster] settings.
type Config struct {
	// Node is this node's name, unique in the cluster (letters, digits,
	// '-' and '_').
	Node string
	// Name is the cluster's name: the embedded server's cluster name, and
	// what a node checks in every announcement it hears.
	Name string
	// URL joins a running NATS server or cluster ("nats://host:4222",
	// comma-separated for several). Empty: Embedded.
	URL string
	// Embedded runs a NATS server inside the node (binaries built with
	// -tags embednats) that other nodes join at Listen, and routes to the
	// embedded servers of Routes.
	Embedded bool
	// Listen is the embedded server's client address (default
	// 127.0.0.1:4222); RouteListen its address for other servers' routes
	// ("" unless Routes or another server route here).
	Listen, RouteListen string
	// Routes are the other embedded servers ("nats://host:6222").
	Routes []string
	// TokenFile holds a shared secret: the embedded server demands it of
	// clients and routes, the client presents it.
	TokenFile string
	// Creds and NKeySeed are a NATS credentials file and an nkey seed file
	// the client authenticates with (accounts and nkeys, as nats.go takes
	// them).
	Creds, NKeySeed string
	// TLSCert, TLSKey and TLSCA turn on TLS: the embedded server serves
	// clients and routes with the certificate, and verifies peers (and the
	// client verifies its server) against the CA.
	TLSCert, TLSKey, TLSCA string
	// Prefix starts every NATS subject the cluster uses (default
	// "orbital"): two clusters can share one NATS account.
	Prefix string
	// Export lists the bus subjects (patterns) that may cross to and from
	// other nodes. Deny by default: nothing else ever leaves the node.
	Export []string
	// Libraries lists the local libraries other nodes may call ("*": all).
	// Deny by default.
	Libraries []string
	// Prefer is where a library call goes when the library runs here and
	// elsewhere: "local" (default) or "any" (the highest version in range
	// wherever it runs).
	Prefer string
	// Control lets other nodes start and stop this node's processes
	// (`orbital start --node`). Off by default.
	Control bool
	// Heartbeat is how often the node announces itself (default 1 s); a
	// node not heard of for three heartbeats is down.
	Heartbeat time.Duration
}

// Enabled reports whether the node is part of a cluster.
func (c *Config) Enabled() bool { return c != nil && (c.Name != "" || c.URL != "" || c.Embedded) }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidNodeName checks a node name: 1–64 letters, digits, '-' or '_' (one
// NATS subject token).
func ValidNodeName(n string) error {
	if !nameRE.MatchString(n) {
		return fmt.Errorf("%w: node name %q: use 1-64 letters, digits, '-' or '_'", api.ErrInvalid, n)
	}
	return nil
}

// DefaultNodeName is the host's name made a valid node name.
func DefaultNodeName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "node"
	}
	h = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '-'
	}, h)
	if len(h) > 64 {
		h = h[:64]
	}
	return h
}

// Check fills defaults and validates c. Errors wrap api.ErrInvalid.
func (c *Config) Check() error {
	if c.Node == "" {
		c.Node = DefaultNodeName()
	}
	if err := ValidNodeName(c.Node); err != nil {
		return err
	}
	if c.Name == "" {
		c.Name = "orbital"
	}
	if err := ValidNodeName(c.Name); err != nil {
		return fmt.Errorf("cluster name: %w", err)
	}
	if c.URL == "" {
		c.Embedded = true
	}
	if c.URL != "" && c.Embedded {
		return fmt.Errorf("%w: cluster: url and embedded exclude each other (join a server, or run one)", api.ErrInvalid)
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:4222"
	}
	for _, a := range []string{c.Listen, c.RouteListen} {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("%w: cluster address %q: %v", api.ErrInvalid, a, err)
		}
	}
	if c.Prefix == "" {
		c.Prefix = "orbital"
	}
	if err := subject.Valid(c.Prefix); err != nil || subject.System(c.Prefix) {
		return fmt.Errorf("%w: cluster prefix %q", api.ErrInvalid, c.Prefix)
	}
	for _, p := range c.Export {
		if err := subject.ValidPattern(p); err != nil {
			return fmt.Errorf("%w: bus export %q: %v", api.ErrInvalid, p, err)
		}
		if subject.System(p) || subject.Reserved(p) || strings.HasPrefix(p, "_inbox") {
			return fmt.Errorf("%w: bus export %q: system and inbox subjects never leave a node", api.ErrInvalid, p)
		}
	}
	for _, l := range c.Libraries {
		if l != "*" && subject.ValidName(l) != nil {
			return fmt.Errorf("%w: cluster library %q", api.ErrInvalid, l)
		}
	}
	switch c.Prefer {
	case "":
		c.Prefer = "local"
	case "local", "any":
	default:
		return fmt.Errorf("%w: cluster prefer %q: want \"local\" or \"any\"", api.ErrInvalid, c.Prefer)
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = time.Second
	}
	if c.Heartbeat < 10*time.Millisecond || c.Heartbeat > time.Minute {
		return fmt.Errorf("%w: cluster heartbeat %v: between 10ms and 1m", api.ErrInvalid, c.Heartbeat)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("%w: cluster tls_cert and tls_key go together", api.ErrInvalid)
	}
	return nil
}

// exported reports whether bus subject s may cross.
func (c *Config) exported(s string) bool {
	for _, p := range c.Export {
		if subject.Match(p, s) {
			return true
		}
	}
	return false
}

// importable reports whether a local subscription on pattern can receive
// anything from elsewhere.
func (c *Config) importable(pattern string) bool {
	if subject.System(pattern) || strings.HasPrefix(pattern, "_inbox") {
		return false
	}
	for _, p := range c.Export {
		if subject.Overlap(p, pattern) {
			return true
		}
	}
	return false
}

// libraryExported reports whether other nodes may call library name.
func (c *Config) libraryExported(name string) bool {
	for _, l := range c.Libraries {
		if l == "*" || l == name {
			return true
		}
	}
	return false
}
