// Package modules keeps a running node's installed modules in step with
// the device's registry. One flow installs, upgrades, rolls back and
// removes: a package passes the trust gate once (package install), is
// stored (package registry), and the node's process of that name is made
// to match the registry's active version — started, switched to the other
// version without losing its messages (runner.Replace), or stopped. The
// admin panel's URL bar feeds the same flow through previews: a package
// fetched into memory, described, and installed only when approved.
package modules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/fetch"
	"github.com/orbitalfoundation/orbital/internal/install"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/node/runner"
	"github.com/orbitalfoundation/orbital/internal/node/table"
	"github.com/orbitalfoundation/orbital/internal/node/trigger"
	"github.com/orbitalfoundation/orbital/internal/registry"
)

// RegistryDir is where the device keeps its installed modules.
func RegistryDir(home string) string { return filepath.Join(home, "registry") }

// OpenRegistry opens the device's registry under home.
func OpenRegistry(ctx context.Context, home string, log *slog.Logger) (*registry.Registry, error) {
	reg, err := registry.Open(ctx, RegistryDir(home), registry.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return reg, nil
}

// InstalledGrant is what an installed module may have without an entry in
// the node config: stdout/stderr (as logs), the clock, randomness, the bus
// as its manifest asks, and calls to its declared dependencies. File
// system areas, environment and network need a [[process]] entry.
func InstalledGrant() orbital.Grant {
	return orbital.Grant{Stdout: installed.Stdout, Stderr: installed.Stderr, Clock: installed.Clock, Random: installed.Random,
		Calls: slices.Clone(installed.Calls)}
}

// installed is InstalledGrant as the capability resolver reads it (the
// install prompt's "requested and granted").
var installed = capability.Grant{Stdout: true, Stderr: true, Clock: true, Random: true, Calls: []string{"*"}}

// Modules is the installed-modules part of a running node.
type Modules struct {
	k        *orbital.Kernel
	reg      *registry.Registry
	gate     *install.Gate
	tab      *table.Table
	run      *runner.Runner
	trig     *trigger.Triggers
	log      *slog.Logger
	fetch    fetch.Options
	progress func(api.CompileEvent)
	previews *previews

	mu sync.Mutex // serializes Install, Remove and Pin
}

// Options are what New needs.
type Options struct {
	Kernel   *orbital.Kernel
	Registry *registry.Registry
	Gate     *install.Gate
	Table    *table.Table
	Runner   *runner.Runner
	Triggers *trigger.Triggers
	Logger   *slog.Logger
	// Fetch configures the retrieval of packages for previews (TLS roots,
	// an HTTP client). Its Logger is the node's.
	Fetch fetch.Options
	// Progress, if set, is told of every module compile (boot, install,
	// upgrade); it must be safe for concurrent use.
	Progress func(api.CompileEvent)
}

// New returns the installed-modules part of a node.
func New(o Options) *Modules {
	return &Modules{k: o.Kernel, reg: o.Registry, gate: o.Gate, tab: o.Table, run: o.Runner, trig: o.Triggers,
		log: o.Logger, fetch: o.Fetch, progress: o.Progress, previews: newPreviews()}
}

// Registry returns the device's registry.
func (m *Modules) Registry() *registry.Registry { return m.reg }

// Close closes the registry.
func (m *Modules) Close() error { return m.reg.Close() }

// load reads name@version from the registry, judges it again (a key may
// have been revoked since it was installed) and compiles it.
func (m *Modules) load(ctx context.Context, name, version string) (*orbital.Module, registry.Record, error) {
	data, rec, err := m.reg.Read(name, version)
	if err != nil {
		return nil, rec, err
	}
	if _, err := m.gate.Open(data); err != nil {
		return nil, rec, fmt.Errorf("%s: %w", rec.Ref(), err)
	}
	mod, err := m.k.LoadWith(ctx, name, data, orbital.LoadOptions{Progress: m.progress})
	return mod, rec, err
}

// Boot loads the active version of every installed module that the node
// config does not run already (configured says which names it does) and
// returns their records, prepared and not yet started. A module that
// cannot start is logged and left out; the node boots without it.
func (m *Modules) Boot(ctx context.Context, configured func(name string) bool) ([]*table.Record, error) {
	list, err := m.reg.List()
	if err != nil {
		return nil, err
	}
	// Resolve the active versions, then compile them all at once on every
	// core (independent modules), then prepare them in registry order.
	var recs []registry.Record
	for _, s := range list {
		if configured(s.Name) {
			m.log.Warn("installed module shadowed by the node config", "module", s.Name)
			continue
		}
		rec, err := m.reg.Resolve(s.Name, "")
		if err != nil {
			m.log.Warn("installed module not started", "module", s.Name, "err", err)
			continue
		}
		recs = append(recs, rec)
	}
	mods := make([]*orbital.Module, len(recs))
	errs := make([]error, len(recs))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, rec := range recs {
		g.Go(func() error {
			mods[i], _, errs[i] = m.load(ctx, rec.Name, rec.Version)
			return nil
		})
	}
	_ = g.Wait()
	var out []*table.Record
	for i, rec := range recs {
		if errs[i] != nil {
			m.log.Warn("installed module not started", "module", rec.Ref(), "err", errs[i])
			continue
		}
		r := table.New(processConfig(rec), mods[i], rec.Version)
		if err := m.run.Prepare(ctx, r); err != nil {
			m.log.Warn("installed module not started", "module", rec.Ref(), "err", err)
			continue
		}
		if err := m.tab.Add(r); err != nil {
			m.log.Warn("installed module not started", "module", rec.Ref(), "err", err)
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// processConfig is the process an installed module runs as.
func processConfig(rec registry.Record) config.Process {
	return config.Process{Name: rec.Name, Module: "registry:" + rec.Ref(), Grant: InstalledGrant()}
}

// Install verifies a package at the trust gate, stores it in the registry
// and runs it: at once if it starts at boot, otherwise when its trigger
// fires. A newer version of a module already running replaces it (an
// upgrade).
func (m *Modules) Install(ctx context.Context, data []byte, force bool) (api.ModuleRecord, error) {
	p, err := m.gate.Open(data)
	if err != nil {
		return api.ModuleRecord{}, fmt.Errorf("install: %w", err)
	}
	return m.install(ctx, p, force)
}

// install stores and runs a package the gate has accepted.
func (m *Modules) install(ctx context.Context, p *install.Package, force bool) (api.ModuleRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, err := m.reg.Install(ctx, p.Registry(), registry.InstallOptions{Force: force})
	if err != nil {
		return rec, err
	}
	return rec, m.activate(ctx, rec.Name, p)
}

// Remove uninstalls name@version ("" = every version); a removed active
// version stops, and another installed version, if any, takes over.
func (m *Modules) Remove(ctx context.Context, name, version string, force bool) ([]api.ModuleRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, err := m.reg.Remove(name, version, force)
	if err != nil {
		return nil, err
	}
	return recs, m.activate(ctx, name, nil)
}

// Pin makes version the active version of name (a rollback when it is an
// older one; "" unpins: the highest version is active) and restarts the
// module on it.
func (m *Modules) Pin(ctx context.Context, name, version string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.reg.Pin(name, version); err != nil {
		return err
	}
	return m.activate(ctx, name, nil)
}

// activate makes the node's process name match the registry's active
// version: start it, switch it to another version, or stop it. p is the
// package just installed, used (not read and judged again) when it is the
// active version.
func (m *Modules) activate(ctx context.Context, name string, p *install.Package) error {
	cur := m.tab.Lookup(name)
	if cur != nil && !cur.Installed() {
		return fmt.Errorf("module %s: %w: a process of that name comes from the node config", name, api.ErrExists)
	}
	rec, err := m.reg.Resolve(name, "")
	switch {
	case errors.Is(err, api.ErrNotFound):
		if cur != nil {
			m.run.Remove(cur)
		}
		return nil
	case err != nil:
		return err
	case cur != nil && rec.Version == cur.Version():
		return nil
	}
	var mod *orbital.Module
	if p != nil && p.Manifest.Name == rec.Name && p.Manifest.Version.String() == rec.Version {
		mod, err = m.k.LoadWith(ctx, name, p.Bytes(), orbital.LoadOptions{Progress: m.progress})
	} else {
		mod, _, err = m.load(ctx, rec.Name, rec.Version)
	}
	if err != nil {
		return err
	}
	pc := processConfig(rec)
	if cur == nil { // a new module
		r := table.New(pc, mod, rec.Version)
		if err := m.run.Prepare(ctx, r); err != nil {
			return err
		}
		if err := m.tab.Add(r); err != nil {
			return err
		}
		if err := m.run.StartGroup([]*table.Record{r}); err != nil {
			m.run.Remove(r)
			return err
		}
		return m.wire(r)
	}
	// Another version: the running one hands its bus connection over;
	// its triggers stay wired (a subject relay keeps relaying) if the new
	// version has the same ones.
	if err := m.run.Replace(ctx, cur, pc, mod, rec.Version); err != nil {
		return err
	}
	return m.wire(cur)
}

// wire makes a record's trigger wiring match its module's triggers.
func (m *Modules) wire(r *table.Record) error {
	old, oldTr := r.Wiring()
	tr, triggered := r.Triggered()
	switch {
	case !triggered:
		if old != nil {
			r.SetWiring(nil, orbital.Triggers{})
			old.Stop()
		}
		return nil
	case old != nil && oldTr.Equal(tr) && !tr.OnDemand:
		return nil // still wired
	}
	if old != nil {
		r.SetWiring(nil, orbital.Triggers{})
		old.Stop() // its relay is gone before the new one connects
	}
	w, err := m.trig.Wire(r.Name(), tr, r.Library())
	if err != nil {
		return err
	}
	r.SetWiring(w, tr)
	return nil
}

// Installed reports the installed module's active version on this node,
// or "" (for PreviewInstall and the prompt's "comes from the node config").
func (m *Modules) installedVersion(name string) (version string, configured bool) {
	r := m.tab.Lookup(name)
	if r == nil {
		return "", false
	}
	return r.Version(), !r.Installed()
}

// List lists the installed modules.
func (m *Modules) List() ([]api.ModuleSummary, error) { return m.reg.List() }

// Counts reports how many module names and versions the registry holds
// (read from the index at each call, for the metrics endpoint).
func (m *Modules) Counts() (modules, versions int, err error) {
	list, err := m.reg.List()
	if err != nil {
		return 0, 0, fmt.Errorf("registry counts: %w", err)
	}
	for _, s := range list {
		versions += len(s.Versions)
	}
	return len(list), versions, nil
}

// Detail describes installed module name at version ("" the active one):
// its registry record, manifest, versions and dependents, and what it
// asks for with whether an installed module is granted each.
func (m *Modules) Detail(name, version string) (api.ModuleDetail, error) {
	return Detail(m.reg, name, version)
}

// Detail is Modules.Detail on any open registry (the CLI uses it when no
// node is running).
func Detail(reg *registry.Registry, name, version string) (api.ModuleDetail, error) {
	info, err := reg.Info(name, version)
	if err != nil {
		return api.ModuleDetail{}, err
	}
	d := api.ModuleDetail{ModuleRecord: info.Record, Versions: info.Versions, Dependents: info.Dependents,
		Capabilities: []api.CapabilityRequest{}}
	if info.Manifest != nil {
		if d.Manifest, err = jsonOf(info.Manifest); err != nil {
			return api.ModuleDetail{}, err
		}
		d.Capabilities, _ = InstalledCapabilities(info.Manifest)
	}
	return d, nil
}

// WhoExports lists the installed library versions that export fn.
func (m *Modules) WhoExports(fn string) ([]api.ExportRef, error) { return m.reg.WhoExports(fn) }

// WhatFires lists what a message on subject starts or reaches.
func (m *Modules) WhatFires(subject string) ([]api.Firing, error) { return m.reg.WhatFires(subject) }

// Triggered lists the modules with trigger kind kind.
func (m *Modules) Triggered(kind string) ([]api.Firing, error) { return m.reg.Triggered(kind) }

// Dependents lists what depends on library lib.
func (m *Modules) Dependents(lib string) ([]api.Dependent, error) { return m.reg.Dependents(lib) }

// WhoMay lists the modules that may touch capability c.
func (m *Modules) WhoMay(c string) ([]api.CapabilityHolder, error) { return m.reg.WhoMay(c) }

// redacted is what the logs may show of a reference.
func redacted(ref string) string {
	r, err := fetch.ParseRef(ref)
	if err != nil {
		return "(unparsable reference)"
	}
	return r.Redacted()
}

// blocking problems are prefixed with "refused:" or "cannot run:"; the
// others are warnings.
func blocking(p string) bool {
	return strings.HasPrefix(p, "refused: ") || strings.HasPrefix(p, "cannot run: ")
}
