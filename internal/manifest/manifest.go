// Package manifest parses and validates orbital.toml, the manifest that names
// a wasm module and lists the capabilities it requests.
//
// Parsing is strict: unknown keys, values of the wrong TOML type and invalid
// values (names, versions, globs, paths, sizes, durations, …) are errors.
// Every error wraps ErrInvalid and names the file and line it refers to, e.g.
//
//	orbital.toml:7: capabilities.fs[0].access: must be "ro" or "rw", got "rx"
//
// A manifest only requests capabilities; package capability decides what a
// process actually gets by combining the request with what the operator or
// node grants.
//
// The schema, with every key that is accepted:
//
//	name = "shrink"            # required; lowercase dot-separated segments, optional "/name"; at most 128 characters
//	version = "1.2.0"          # required; strict semantic version 2.0.0
//	kind = "app"               # required; app | library | driver | service
//	description = "…"          # optional
//
//	[entry]                    # optional
//	type = "command"           # command (default) | reactor
//	start = "_start"           # command only; default "_start"
//	init = "_initialize"       # reactor only; optional
//	exports = ["handle"]       # reactor only; exported functions the module offers
//
//	[io.in]                    # typed inputs/outputs handled by the host
//	type = "stream"            # required; only "stream" for now
//	direction = "in"           # in | out; may be omitted when the io is named "in" or "out"
//	bind = "stdio"             # stdio (default) | file (the guest sees /io/<name>)
//	description = "…"
//
//	[capabilities]
//	args = true                # may receive argv beyond argv[0]; default false
//	env = ["LANG", "APP_*"]    # variable name globs (path.Match syntax)
//	stdin = true               # stdin, stdout, stderr default to true
//	stdout = true
//	stderr = true
//	clock = true               # wall clock, monotonic clock, sleep; default false
//	random = true              # cryptographic randomness; default false
//	network = ["tcp://api.example.com:443", "tcp-listen://127.0.0.1:*"]
//	                           # sockets: tcp://HOST:PORT it may dial (orbital_v1.sock_connect),
//	                           # tcp-listen://HOST:PORT the kernel listens on for it (a preopened
//	                           # listener); HOST or PORT may be *; what it gets is this ∩ the grant
//
//	[capabilities.net]         # the same requests, by kind (added to network's)
//	connect = ["api.example.com:443"]
//	listen = ["127.0.0.1:*"]
//
//	[[capabilities.fs]]        # file-system areas, by guest path
//	path = "/data"             # required; clean: absolute, or a relative preopen name ("data")
//	access = "ro"              # required; ro | rw
//	optional = false           # if true the module runs without it when not granted
//
//	[limits]                   # requests the node may lower
//	memory = "64MiB"           # bytes, or integer with KiB/MiB/GiB; multiple of 64KiB; at most 4GiB
//	deadline = "5s"            # CPU deadline per call into the guest (time.ParseDuration)
//	open_files = 64            # 1..65536
//
//	[bus]                      # message bus permissions; see Bus
//	publish = ["demo.>"]       # subject patterns: '*' one token, '>' the rest
//	subscribe = ["demo.*"]
//	deny_publish = []          # deny wins over allow
//	deny_subscribe = []
//	listen = ["demo.echo"]     # subscribed before the guest runs
//	send = ["logger"]          # process names (may contain '*')
//	mailbox = 256              # 1..1048576 messages; default: the node's
//	overflow = "drop-newest"   # drop-newest | drop-oldest | block
//	block_timeout = "100ms"
//	max_message = "64KiB"
//
//	[library]                  # kind = "library" only
//	stateful = false           # default false: stateless, the kernel may run several instances in parallel
//	instances = 4              # stateless only: at most this many parallel instances, 1..256; 0 or omitted: kernel default
//
//	[exports.grayscale]        # functions offered to other modules: at least one for kind = "library", none otherwise
//	args = "bytes"             # shape of the arguments (package shape); default "bytes"
//	result = "{w: int, h: int, pixels: [int]}"   # shape of the result; default "bytes"
//	description = "…"          # optional
//
//	[dependencies]             # libraries this module calls, by module name
//	vision = "^1.2"            # semantic version range (Masterminds/semver constraint syntax)
//	kv = { version = "^1", functions = ["get", "put"], optional = true }
//	                           # functions: the ones called (default: any); optional: informational, the module copes without it
//
// Function names (the NAME of [exports.NAME], and functions entries) are
// lowercase identifiers [a-z_][a-z0-9_]* of at most 64 characters. A manifest
// embedded in a wasm binary (custom section "orbital.manifest") is parsed the
// same way.
package manifest

import (
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Kind is what sort of module a manifest describes.
type Kind string

// Module kinds.
const (
	KindApp     Kind = "app"
	KindLibrary Kind = "library"
	KindDriver  Kind = "driver"
	KindService Kind = "service"
)

// Entry types.
const (
	EntryCommand = "command" // the host runs the Start export to completion
	EntryReactor = "reactor" // the host calls Init once, then Exports on demand
)

// Values of IO.Type, IO.Direction and IO.Bind.
const (
	IOStream     = "stream"
	DirectionIn  = "in"
	DirectionOut = "out"
	BindStdio    = "stdio" // "in" becomes the guest's stdin, "out" its stdout
	BindFile     = "file"  // the guest sees the stream as /io/<name>
)

// Limits on manifest contents.
const (
	MaxNameLen   = 128
	PageSize     = 64 * KiB // one wasm memory page
	MaxMemory    = 4 * GiB  // the wasm32 address space
	MaxOpenFiles = 65536
	MaxFileSize  = 1 * MiB // Parse rejects larger manifests
)

// Manifest is a parsed and validated orbital.toml. Defaults are filled in:
// Entry.Type is never empty, Entry.Start is "_start" for commands, the stdio
// capabilities default to true, and every IO has its Direction and Bind set.
type Manifest struct {
	Name         string          `json:"name"`
	Version      *semver.Version `json:"version"`
	Kind         Kind            `json:"kind"`
	Description  string          `json:"description,omitempty"`
	Entry        Entry           `json:"entry"`
	IO           map[string]IO   `json:"io,omitempty"` // keyed by IO.Name; see IOs for a sorted list
	Capabilities Capabilities    `json:"capabilities"`
	Limits       Limits          `json:"limits"`
	Bus          Bus             `json:"bus"`
	Triggers     Triggers        `json:"triggers"`
	Library      LibrarySpec     `json:"library,omitzero"` // kind "library" only
	Driver       DriverSpec      `json:"driver,omitzero"`  // kind "driver" only
	// Exports are the functions a library offers, keyed by Export.Name; see
	// ExportList for a sorted list. Non-empty exactly for kind "library".
	Exports map[string]Export `json:"exports,omitempty"`
	// Dependencies are the libraries the module calls, keyed by
	// Dependency.Name; see DependencyList for a sorted list.
	Dependencies map[string]Dependency `json:"dependencies,omitempty"`
	Source       string                `json:"source"` // the file name given to Parse or Load
}

// Entry says how the host starts the module.
type Entry struct {
	Type    string   `json:"type"`              // EntryCommand or EntryReactor
	Start   string   `json:"start,omitempty"`   // command only: export run to completion
	Init    string   `json:"init,omitempty"`    // reactor only: optional initialisation export
	Exports []string `json:"exports,omitempty"` // reactor only: exported functions offered
}

// IO is a typed input or output that the host opens and hands to the guest.
type IO struct {
	Name        string `json:"name"`
	Type        string `json:"type"`      // IOStream
	Direction   string `json:"direction"` // DirectionIn or DirectionOut
	Bind        string `json:"bind"`      // BindStdio or BindFile
	Description string `json:"description,omitempty"`
}

// Capabilities is what the module requests. Nothing here is granted by
// itself; see package capability.
type Capabilities struct {
	Args    bool        `json:"args"`
	Env     []string    `json:"env,omitempty"` // variable-name globs in path.Match syntax
	Stdin   bool        `json:"stdin"`
	Stdout  bool        `json:"stdout"`
	Stderr  bool        `json:"stderr"`
	Clock   bool        `json:"clock"`
	Random  bool        `json:"random"`
	Network []string    `json:"network,omitempty"` // tcp://HOST:PORT (dial) and tcp-listen://HOST:PORT (listen) requests
	FS      []FSRequest `json:"fs,omitempty"`
	// Display asks for surfaces to draw into ([capabilities.display]);
	// nil: none.
	Display *DisplayRequest `json:"display,omitempty"`
	// Input asks for the keyboard, pointer and touch events of the
	// module's window while it has the focus.
	Input bool `json:"input"`
	// Devices are the devices (drivers, by name) the module uses: it may
	// call their functions and subscribe to their subjects NAME.>.
	Devices []string `json:"devices,omitempty"`
}

// DisplayRequest is the size range of the surfaces a module asks for:
// Max bounds every surface it creates; the operator's grant may lower it,
// but not below Min.
type DisplayRequest struct {
	MinWidth  int  `json:"min_width,omitempty"`
	MinHeight int  `json:"min_height,omitempty"`
	MaxWidth  int  `json:"max_width"`
	MaxHeight int  `json:"max_height"`
	Optional  bool `json:"optional,omitempty"` // without a grant the module runs with no display
}

// FSRequest asks for a file-system area at a guest path.
type FSRequest struct {
	Path     string `json:"path"` // absolute, clean guest path
	ReadOnly bool   `json:"read_only"`
	Optional bool   `json:"optional"`
}

// Limits are ceilings the module declares for itself; zero means unset. The
// node may lower them further.
type Limits struct {
	MemoryBytes uint64        `json:"memory_bytes"` // a multiple of PageSize
	Deadline    time.Duration `json:"deadline_ns"`  // CPU deadline per call into the guest
	OpenFiles   int           `json:"open_files"`
}

// String returns "name@version".
func (m *Manifest) String() string {
	if m == nil {
		return "<nil>"
	}
	v := "?"
	if m.Version != nil {
		v = m.Version.String()
	}
	return m.Name + "@" + v
}

// IOs returns the module's inputs and outputs sorted by name.
func (m *Manifest) IOs() []IO {
	out := make([]IO, 0, len(m.IO))
	for _, io := range m.IO {
		out = append(out, io)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Load reads and parses the manifest at path. Errors name path as the source.
func Load(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return Parse(data, path)
}
