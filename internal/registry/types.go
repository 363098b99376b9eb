package registry

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// Opener parses and verifies a package (signatures against the node's trust
// policy) and returns its manifest, the module digest (hex sha256 computed
// over the module without signature sections; a "sha256:" prefix is
// accepted) and a verdict on the
// signatures for humans (e.g. "signed by acme", "unsigned (allowed)").
// Errors wrap an api error class; a package the policy refuses must be an
// error, not a verdict.
type Opener func(data []byte) (m *manifest.Manifest, digest string, verdict string, err error)

// Options configure Open.
type Options struct {
	// Open parses and verifies packages. Required.
	Open Opener
	// Logger receives installs, removals and clean-ups; nil discards.
	Logger *slog.Logger
	// Triggers extracts a module's trigger declarations from its manifest;
	// nil means ManifestTriggers.
	Triggers func(*manifest.Manifest) []Trigger
	// MaxPackageSize bounds the bytes of one package; 0 means
	// DefaultMaxPackageSize.
	MaxPackageSize int64
	// LockTimeout bounds the wait for another process holding the index;
	// 0 means DefaultLockTimeout.
	LockTimeout time.Duration
	// Now is the clock for Record.Installed; nil means time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultMaxPackageSize = 256 << 20
	DefaultLockTimeout    = 2 * time.Second
)

// MaxResolveSteps bounds the choices dependency resolution tries before
// giving up with api.ErrLimit.
const MaxResolveSteps = 100_000

// InstallOptions modify an install.
type InstallOptions struct {
	// Force replaces an installed name@version whose module digest differs
	// from the package's (otherwise refused with api.ErrExists).
	Force bool
}

// ErrInUse is returned (wrapped, with the dependent named) by Remove when an
// installed module still needs what would be removed. It wraps
// api.ErrInvalid.
var ErrInUse = fmt.Errorf("%w: in use", api.ErrInvalid)

// errCorrupt marks a blob whose bytes do not match its digest.
var errCorrupt = errors.New("blob is corrupt")

// Trigger kinds: what starts a module (see the manifest's [triggers]).
const (
	TriggerBoot     = "boot"      // started when the node boots
	TriggerSubject  = "subject"   // a message on a bus subject (Value: pattern)
	TriggerRoute    = "route"     // an HTTP route served by the node (Value: route)
	TriggerSchedule = "schedule"  // a cron schedule (Value: cron expression)
	TriggerOnDemand = "on-demand" // a library's first call
)

// Trigger is one declaration of what starts a module.
type Trigger struct {
	Kind  string `json:"kind"`            // Trigger* constants
	Value string `json:"value,omitempty"` // subject pattern, route or schedule
}

// ManifestTriggers returns the trigger declarations of m's [triggers]
// table. A module without the table starts at boot, so it gets a boot
// trigger; Triggers.After is not a trigger and stays in the manifest.
func ManifestTriggers(m *manifest.Manifest) []Trigger {
	t := m.Triggers
	var out []Trigger
	if t.StartsAtBoot() {
		out = append(out, Trigger{Kind: TriggerBoot})
	}
	for _, s := range t.Subjects {
		out = append(out, Trigger{Kind: TriggerSubject, Value: s})
	}
	for _, r := range t.Routes {
		out = append(out, Trigger{Kind: TriggerRoute, Value: r})
	}
	for _, c := range t.Schedule {
		out = append(out, Trigger{Kind: TriggerSchedule, Value: c})
	}
	if t.OnDemand {
		out = append(out, Trigger{Kind: TriggerOnDemand})
	}
	return out
}

// Dependency is one of a module's [dependencies] as resolved at install.
type Dependency struct {
	Name      string   `json:"name"`                // the library
	Range     string   `json:"range"`               // version range as written
	Functions []string `json:"functions,omitempty"` // functions called; empty: any
	Optional  bool     `json:"optional,omitempty"`
	// Resolved is the version chosen at install time; empty for an
	// optional dependency that was left out.
	Resolved string `json:"resolved,omitempty"`
}

// Record is one installed name@version.
type Record struct {
	Name        string        `json:"name"`
	Version     string        `json:"version"`
	Kind        manifest.Kind `json:"kind"`
	Description string        `json:"description,omitempty"`
	// Digest is the module digest reported by the Opener (hex sha256 of the
	// module without signature sections): the module's identity.
	Digest string `json:"digest"`
	// Blob is the hex sha256 of the package bytes as stored: the blob's name.
	Blob         string       `json:"blob"`
	Size         int64        `json:"size"` // package bytes
	Installed    time.Time    `json:"installed"`
	Verdict      string       `json:"verdict"` // the Opener's verdict on the signatures
	Pinned       bool         `json:"pinned,omitempty"`
	Dependencies []Dependency `json:"dependencies,omitempty"`
	Triggers     []Trigger    `json:"triggers,omitempty"`
}

// Ref returns "name@version".
func (r Record) Ref() string { return r.Name + "@" + r.Version }

// Summary describes an installed name: its kind and versions.
type Summary struct {
	Name     string        `json:"name"`
	Kind     manifest.Kind `json:"kind"`
	Versions []string      `json:"versions"` // ascending by semantic version precedence
	Latest   string        `json:"latest"`
	Pinned   string        `json:"pinned,omitempty"`
}

// ModuleInfo is what Info returns: a record with its manifest, the other
// versions of its name and who depends on the name.
type ModuleInfo struct {
	Record
	Manifest   *manifest.Manifest `json:"manifest"`
	Versions   []string           `json:"versions"`
	Dependents []Dependent        `json:"dependents"`
}

// ExportRef is a library function found by WhoExports.
type ExportRef struct {
	Module   string `json:"module"` // name@version
	Name     string `json:"name"`
	Version  string `json:"version"`
	Function string `json:"function"`
	Args     string `json:"args"`   // shape of the arguments
	Result   string `json:"result"` // shape of the result
}

// Firing is a module that a subject (or another trigger) starts or reaches.
type Firing struct {
	Module  string `json:"module"` // name@version
	Name    string `json:"name"`
	Version string `json:"version"`
	Pattern string `json:"pattern"` // the declared pattern or trigger value
	// Via says where the declaration comes from. From WhatFires: "listen"
	// or "subscribe" ([bus]) or "trigger" (a subject trigger). From
	// Triggered: the trigger kind.
	Via string `json:"via"`
}

// Dependent is a module whose [dependencies] name a library.
type Dependent struct {
	Module    string   `json:"module"` // name@version of the dependent
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Library   string   `json:"library"`
	Range     string   `json:"range"`
	Functions []string `json:"functions,omitempty"`
	Optional  bool     `json:"optional,omitempty"`
	// Satisfied is the highest installed version of the library in Range
	// (ignoring the rest of the dependent's closure); empty if none.
	Satisfied string `json:"satisfied,omitempty"`
}

// Grant is a module that requests a capability, found by WhoMay.
type Grant struct {
	Module     string `json:"module"` // name@version
	Name       string `json:"name"`
	Version    string `json:"version"`
	Capability string `json:"capability"` // as indexed, e.g. "fs:/data", "calls:vision", "clock"
	Detail     string `json:"detail,omitempty"`
}

// GCReport says what GC removed.
type GCReport struct {
	Removed []string `json:"removed"` // blob digests
	Temp    int      `json:"temp"`    // temporary files removed
	Freed   int64    `json:"freed"`   // bytes
	Kept    int      `json:"kept"`    // blobs still referenced
}

// Report is the result of Check.
type Report struct {
	Records  int      `json:"records"`
	Blobs    int      `json:"blobs"`
	Orphans  []string `json:"orphans,omitempty"`  // blobs no record references (GC removes them)
	Temp     []string `json:"temp,omitempty"`     // temporary files (Open removes them)
	Problems []string `json:"problems,omitempty"` // inconsistencies: empty when healthy
}

// OK reports whether Check found no inconsistency. Orphan blobs and
// temporary files are not inconsistencies.
func (r Report) OK() bool { return len(r.Problems) == 0 }
