package registry

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// Package is a package as the trust gate opened and verified it: its
// bytes, its parsed manifest, its module digest (hex sha256 over the
// package without its signature sections; a "sha256:" prefix is accepted)
// and the gate's verdict on its signatures, for humans ("signed by acme",
// "unsigned (allowed)").
type Package struct {
	Data     []byte
	Manifest *manifest.Manifest
	Digest   string
	Verdict  string
}

// Options configure Open.
type Options struct {
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

// Trigger kinds (see the manifest's [triggers]).
const (
	TriggerBoot     = api.TriggerBoot
	TriggerSubject  = api.TriggerSubject
	TriggerRoute    = api.TriggerRoute
	TriggerSchedule = api.TriggerSchedule
	TriggerOnDemand = api.TriggerOnDemand
)

// The registry's records and query answers are the control API's wire
// types (package api), under the registry's own names.
type (
	Trigger    = api.Trigger
	Dependency = api.ResolvedDependency
	Record     = api.ModuleRecord
	Summary    = api.ModuleSummary
	ExportRef  = api.ExportRef
	Firing     = api.Firing
	Dependent  = api.Dependent
	Grant      = api.CapabilityHolder
)

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

// ModuleInfo is what Info returns: a record with its manifest, the other
// versions of its name and who depends on the name.
type ModuleInfo struct {
	Record
	Manifest   *manifest.Manifest `json:"manifest"`
	Versions   []string           `json:"versions"`
	Dependents []Dependent        `json:"dependents"`
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
