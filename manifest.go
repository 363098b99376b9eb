package orbital

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/engine"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// ManifestSection is the custom section that may carry a module's manifest.
const ManifestSection = "orbital.manifest"

// Module kinds (Manifest.Kind).
const (
	KindApp     = "app"
	KindLibrary = "library"
	KindDriver  = "driver"
	KindService = "service"
)

// Manifest is a module's parsed and validated orbital.toml: its name,
// version and kind, and what it requests (capabilities, bus, limits,
// triggers, library exports and dependencies). The kernel resolves the
// requests against the grants given at spawn time. A Manifest is
// immutable; its schema is documented in the README and docs/ABI.md.
type Manifest struct{ m *manifest.Manifest }

// ParseManifest parses an orbital.toml; source names it in errors
// ("orbital.toml:7: capabilities.fs[0].access: …"). Errors wrap
// api.ErrBadManifest.
func ParseManifest(data []byte, source string) (*Manifest, error) {
	m, err := manifest.Parse(data, source)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrBadManifest, err)
	}
	return &Manifest{m}, nil
}

// LoadManifest reads and parses the manifest at path.
func LoadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return ParseManifest(data, path)
}

// ManifestOf returns the manifest a wasm binary carries in its
// "orbital.manifest" custom section, without compiling it: nil (and no
// error) when it has none. Errors wrap api.ErrBadManifest.
func ManifestOf(wasm []byte, source string) (*Manifest, error) {
	data, ok := engine.CustomSection(wasm, ManifestSection)
	if !ok {
		return nil, nil
	}
	return ParseManifest(data, source+"#"+ManifestSection)
}

// FindManifest returns the manifest file that goes with the wasm file at
// path: NAME.orbital.toml beside NAME.wasm, else orbital.toml in the same
// directory. (A manifest embedded in the module's "orbital.manifest"
// custom section is used when neither exists; see Kernel.LoadFile.)
func FindManifest(wasmPath string) (string, bool) {
	dir := filepath.Dir(wasmPath)
	base := strings.TrimSuffix(filepath.Base(wasmPath), filepath.Ext(wasmPath))
	for _, p := range []string{filepath.Join(dir, base+".orbital.toml"), filepath.Join(dir, "orbital.toml")} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
	}
	return "", false
}

// Name is the module's name ("vision", "example.com/thumbs").
func (m *Manifest) Name() string { return m.m.Name }

// Version is the module's semantic version.
func (m *Manifest) Version() string { return m.m.Version.String() }

// Kind is KindApp, KindLibrary, KindDriver or KindService.
func (m *Manifest) Kind() string { return string(m.m.Kind) }

// Description is the manifest's description, if any.
func (m *Manifest) Description() string { return m.m.Description }

// Source is the file name the manifest was parsed from.
func (m *Manifest) Source() string { return m.m.Source }

// String returns "name@version".
func (m *Manifest) String() string { return m.m.String() }

// Requests is what a manifest's [capabilities] asks for. Nothing here is
// granted by itself: a process gets what it requests and its Grant allows.
type Requests struct {
	Args                  bool
	Env                   []string // variable-name globs
	Stdin, Stdout, Stderr bool
	Clock, Random         bool
	Network               []string // SCHEME://HOST:PORT
	FS                    []FSRequest
	Devices               []string // devices (drivers) used
}

// FSRequest asks for a file-system area at a guest path.
type FSRequest struct {
	Path     string
	ReadOnly bool
	Optional bool // the module runs without it when it is not granted
}

// Requests returns what the module asks for.
func (m *Manifest) Requests() Requests {
	c := m.m.Capabilities
	r := Requests{Args: c.Args, Env: slices.Clone(c.Env), Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr,
		Clock: c.Clock, Random: c.Random, Network: slices.Clone(c.Network), Devices: slices.Clone(c.Devices)}
	for _, f := range c.FS {
		r.FS = append(r.FS, FSRequest{Path: f.Path, ReadOnly: f.ReadOnly, Optional: f.Optional})
	}
	return r
}

// DriverResources are the host paths a driver's manifest asks for
// ([driver] resources).
func (m *Manifest) DriverResources() []string { return slices.Clone(m.m.Driver.Resources) }

// MarshalJSON encodes the whole parsed manifest (defaults filled in), as
// `orbital inspect --json` and the control API show it.
func (m *Manifest) MarshalJSON() ([]byte, error) { return json.Marshal(m.m) }

// Stream is one of the typed inputs and outputs a manifest declares ([io]):
// the host opens them and hands the guest streams (SpawnOptions.Streams).
type Stream struct {
	Name        string
	Output      bool // "out"; false for "in"
	File        bool // the guest sees /io/NAME; false: stdin or stdout
	Description string
}

// Streams lists the declared [io] streams, sorted by name.
func (m *Manifest) Streams() []Stream {
	var out []Stream
	for _, io := range m.m.IOs() {
		out = append(out, Stream{Name: io.Name, Output: io.Direction == manifest.DirectionOut,
			File: io.Bind == manifest.BindFile, Description: io.Description})
	}
	return out
}

// Triggers is what starts a module (the manifest's [triggers]): a module
// without the table starts at boot.
type Triggers struct {
	Declared bool     // a [triggers] table was present
	Boot     bool     // boot = true
	Subjects []string // a message on one of these subjects starts it
	Routes   []string // HTTP routes ("GET /thumbs/{id}") the host serves for it
	Schedule []string // cron expressions, or "@every 30s"
	OnDemand bool     // a library: its first call starts it
	Exit     bool     // after = "exit": runs until it returns; the next trigger starts it again
}

// AtBoot reports whether the module starts when its host starts.
func (t Triggers) AtBoot() bool { return !t.Declared || t.Boot }

// Equal reports whether t and o declare the same triggers.
func (t Triggers) Equal(o Triggers) bool {
	return t.Declared == o.Declared && t.Boot == o.Boot && t.OnDemand == o.OnDemand && t.Exit == o.Exit &&
		slices.Equal(t.Subjects, o.Subjects) && slices.Equal(t.Routes, o.Routes) && slices.Equal(t.Schedule, o.Schedule)
}

// Triggers returns the module's [triggers].
func (m *Manifest) Triggers() Triggers {
	t := m.m.Triggers
	return Triggers{Declared: t.Declared, Boot: t.Boot, Subjects: slices.Clone(t.Subjects), Routes: slices.Clone(t.Routes),
		Schedule: slices.Clone(t.Schedule), OnDemand: t.OnDemand, Exit: t.After == manifest.AfterExit}
}

// Listens lists the subjects the kernel subscribes for the module before
// it runs ([bus] listen).
func (m *Manifest) Listens() []string { return slices.Clone(m.m.Bus.Listen) }

// Exports lists the functions a library offers, sorted by name, with the
// shapes of their arguments and results.
func (m *Manifest) Exports() []Export {
	var out []Export
	for _, e := range m.m.ExportList() {
		out = append(out, Export{Name: e.Name, Args: e.Args, Result: e.Result, Description: e.Description})
	}
	return out
}

// bus returns the manifest's [bus] table (zero for a nil manifest).
func (m *Manifest) bus() manifest.Bus {
	if m == nil {
		return manifest.Bus{}
	}
	return m.m.Bus
}

// internal returns the parsed manifest, or nil.
func (m *Manifest) internal() *manifest.Manifest {
	if m == nil {
		return nil
	}
	return m.m
}
