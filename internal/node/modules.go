package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	"github.com/orbitalfoundation/orbital/internal/pack"
	"github.com/orbitalfoundation/orbital/internal/registry"
	"github.com/orbitalfoundation/orbital/internal/supervisor"
)

// RegistryDir is where the device keeps its installed modules.
func RegistryDir(home string) string { return filepath.Join(home, "registry") }

// LoadPolicy reads the trust policy from home/trust.toml; without the file
// the policy trusts nothing and refuses unsigned packages.
func LoadPolicy(home string) (*pack.Policy, error) {
	pol, err := pack.LoadPolicy(filepath.Join(home, pack.PolicyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return pack.DefaultPolicy(), nil
	}
	return pol, err
}

// Opener returns the registry's package opener: parse the package and
// verify its signatures against pol before anything is stored or run.
func Opener(pol *pack.Policy) registry.Opener {
	return func(data []byte) (*manifest.Manifest, string, string, error) {
		p, err := pack.Open(data)
		if err != nil {
			return nil, "", "", err
		}
		v, err := pol.Verify(p)
		if err != nil {
			return nil, "", "", err
		}
		return p.Manifest, v.Digest.Hex(), v.Reason, nil
	}
}

// OpenRegistry opens the device's registry under home with the trust
// policy of home/trust.toml, read again at every install (so an edit of
// the policy counts at once, for installs as for the install prompt and
// the re-verification at boot).
func OpenRegistry(ctx context.Context, home string, log *slog.Logger) (*registry.Registry, error) {
	if _, err := LoadPolicy(home); err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	open := func(data []byte) (*manifest.Manifest, string, string, error) {
		pol, err := LoadPolicy(home)
		if err != nil {
			return nil, "", "", fmt.Errorf("trust policy: %w", err)
		}
		return Opener(pol)(data)
	}
	reg, err := registry.Open(ctx, RegistryDir(home), registry.Options{Open: open, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return reg, nil
}

// InstalledGrant is what an installed module may have without an entry in
// the node config: stdout/stderr (as logs), the clock, randomness, the bus
// as its manifest asks, and calls to its declared dependencies. File
// system areas, environment and network need a [[process]] entry.
func InstalledGrant() capability.Grant {
	return capability.Grant{Stdout: true, Stderr: true, Clock: true, Random: true, Calls: []string{"*"}}
}

// loadModule reads name@version from the registry, re-verifies it against
// the current trust policy and compiles it.
func (n *Node) loadModule(ctx context.Context, name, version string) (*orbital.Module, registry.Record, error) {
	data, rec, err := n.reg.Read(name, version)
	if err != nil {
		return nil, rec, err
	}
	pol, err := LoadPolicy(n.home)
	if err != nil {
		return nil, rec, err
	}
	if _, _, _, err := Opener(pol)(data); err != nil { // a key may have been revoked since install
		return nil, rec, fmt.Errorf("%s: %w", rec.Ref(), err)
	}
	m, err := n.k.Load(ctx, name, data, nil)
	if err != nil {
		return nil, rec, err
	}
	return m, rec, nil
}

// loadInstalled loads the active version of every installed module that
// the node config does not already run, and prepares it.
func (n *Node) loadInstalled(ctx context.Context, mods map[string]*orbital.Module) ([]ProcessConfig, error) {
	list, err := n.reg.List()
	if err != nil {
		return nil, err
	}
	var out []ProcessConfig
	for _, s := range list {
		if _, configured := mods[s.Name]; configured {
			n.log.Warn("installed module shadowed by the node config", "module", s.Name)
			continue
		}
		rec, err := n.reg.Resolve(s.Name, "")
		if err != nil {
			n.log.Warn("installed module not started", "module", s.Name, "err", err)
			continue
		}
		m, _, err := n.loadModule(ctx, rec.Name, rec.Version)
		if err != nil {
			n.log.Warn("installed module not started", "module", rec.Ref(), "err", err)
			continue
		}
		pc := ProcessConfig{Name: rec.Name, Module: "registry:" + rec.Ref(), Grant: InstalledGrant()}
		if err := n.prepare(ctx, pc, m); err != nil {
			n.log.Warn("installed module not started", "module", rec.Ref(), "err", err)
			continue
		}
		mods[pc.Name] = m
		n.installed(pc.Name, rec.Version)
		out = append(out, pc)
	}
	return out, nil
}

func (n *Node) installed(name, version string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.active == nil {
		n.active = map[string]string{}
	}
	n.active[name] = version
}

// Registry returns the device's registry (queries).
func (n *Node) Registry() *registry.Registry { return n.reg }

// Install installs a package into the registry and runs it: at once if it
// starts at boot, otherwise when its trigger fires. A newer version of a
// module already running replaces it (an upgrade).
func (n *Node) Install(ctx context.Context, data []byte, force bool) (registry.Record, error) {
	n.installMu.Lock()
	defer n.installMu.Unlock()
	rec, err := n.reg.InstallWith(ctx, data, registry.InstallOptions{Force: force})
	if err != nil {
		return rec, err
	}
	return rec, n.activate(ctx, rec.Name)
}

// Remove uninstalls name@version ("" = every version); a removed active
// version stops, and another installed version, if any, takes over.
func (n *Node) Remove(ctx context.Context, name, version string, force bool) ([]registry.Record, error) {
	n.installMu.Lock()
	defer n.installMu.Unlock()
	recs, err := n.reg.Remove(name, version, force)
	if err != nil {
		return nil, err
	}
	return recs, n.activate(ctx, name)
}

// Pin makes version the active version of name (a rollback when it is an
// older one; "" unpins: the highest version is active) and restarts the
// module on it.
func (n *Node) Pin(ctx context.Context, name, version string) error {
	n.installMu.Lock()
	defer n.installMu.Unlock()
	if err := n.reg.Pin(name, version); err != nil {
		return err
	}
	return n.activate(ctx, name)
}

// activate makes the running module name match the registry's active
// version: start it, switch it to another version, or stop it.
func (n *Node) activate(ctx context.Context, name string) error {
	n.mu.Lock()
	cur, running := n.active[name]
	_, configured := n.groups[name]
	n.mu.Unlock()
	if configured && !running {
		return fmt.Errorf("module %s: %w: a process of that name comes from the node config", name, api.ErrExists)
	}
	rec, err := n.reg.Resolve(name, "")
	switch {
	case errors.Is(err, api.ErrNotFound):
		if running {
			n.retire(name)
		}
		return nil
	case err != nil:
		return err
	case running && rec.Version == cur:
		return nil
	}
	m, _, err := n.loadModule(ctx, rec.Name, rec.Version)
	if err != nil {
		return err
	}
	var oldTriggers *manifest.Triggers
	n.mu.Lock()
	if r := n.rest[name]; r != nil && n.trigCancel[name] != nil {
		oldTriggers = &r.tr
	}
	n.mu.Unlock()
	if running {
		// The old version hands its bus connection over: messages sent
		// while the new one starts queue in its mailbox. Its triggers stay
		// wired (a subject relay keeps relaying) if the new version has the
		// same ones.
		n.setUpgrading(name, 1)
		n.retire(name)
		n.setUpgrading(name, 2)
		defer n.setUpgrading(name, 0)
	}
	pc := ProcessConfig{Name: name, Module: "registry:" + rec.Ref(), Grant: InstalledGrant()}
	if err := n.prepare(ctx, pc, m); err != nil {
		return err
	}
	n.installed(name, rec.Version)
	if err := n.startGroup([]ProcessConfig{pc}, map[string]*orbital.Module{name: m}); err != nil {
		return err
	}
	n.mu.Lock()
	r := n.rest[name]
	n.mu.Unlock()
	switch {
	case r != nil && oldTriggers != nil && reflect.DeepEqual(*oldTriggers, r.tr):
		return nil // still wired
	case r != nil:
		return n.wire(n.triggerCtx, name, r)
	}
	n.mu.Lock()
	if c := n.trigCancel[name]; c != nil { // the new version has no triggers
		c()
		delete(n.trigCancel, name)
	}
	n.mu.Unlock()
	return nil
}

func (n *Node) setUpgrading(name string, phase int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if phase == 0 {
		delete(n.upgrading, name)
	} else {
		n.upgrading[name] = phase
	}
}

// handingOver reports whether name is being stopped for an upgrade.
func (n *Node) handingOver(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.upgrading[name] == 1
}

// adopting reports whether name's next start takes over its predecessor's
// bus connection.
func (n *Node) adopting(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.upgrading[name] == 2
}

// retire stops an installed module's process (or library) and forgets it.
func (n *Node) retire(name string) {
	n.mu.Lock()
	g := n.groups[name]
	lib := n.libs[name]
	delete(n.groups, name)
	delete(n.libs, name)
	delete(n.rest, name)
	delete(n.active, name)
	delete(n.procs, name)
	delete(n.pools, name)
	delete(n.configs, name)
	delete(n.stopped, name)
	if n.upgrading[name] == 0 { // removed: its log goes with it (an upgrade keeps it)
		n.logs.Forget(name)
	}
	if c := n.trigCancel[name]; c != nil && n.upgrading[name] == 0 { // an upgrade keeps them (activate decides)
		c()
		delete(n.trigCancel, name)
	}
	n.mu.Unlock()
	if lib != nil {
		lib.Down("replaced or removed")
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Grace+time.Second)
		_ = lib.Remove(ctx)
		cancel()
	}
	if g != nil {
		_ = n.root.Remove("group." + name)
	}
}

var _ = supervisor.Child(nil)

// Query answers the registry's questions: kind is "exports" (who exports
// function ARG), "fires" (what a message on subject ARG starts or
// reaches), "triggers" (modules with trigger kind ARG: boot, subject,
// route, schedule, on_demand), "dependents" (what depends on library ARG)
// or "may" (which modules may touch capability ARG, e.g. clock, fs:/data,
// calls:vision).
func (n *Node) Query(kind, arg string) (any, error) {
	return QueryRegistry(n.reg, kind, arg)
}

// QueryRegistry is Query on any open registry (the CLI uses it when no
// node is running).
func QueryRegistry(reg *registry.Registry, kind, arg string) (any, error) {
	switch kind {
	case "exports":
		return reg.WhoExports(arg)
	case "fires":
		return reg.WhatFires(arg)
	case "triggers":
		return reg.Triggered(arg)
	case "dependents":
		return reg.Dependents(arg)
	case "may":
		return reg.WhoMay(arg)
	}
	return nil, fmt.Errorf("query %q: %w: want exports, fires, triggers, dependents or may", kind, api.ErrInvalid)
}

// checkLocalPackage verifies a module file named in the node config when
// it is a signed package: a tampered or untrusted signature refuses it. An
// unsigned file is the operator's own development module (they named it in
// their config) and runs as before; modules installed in the registry are
// always held to the trust policy.
func checkLocalPackage(path, home string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	p, err := pack.Open(data)
	if err != nil || !p.Signed() {
		return nil // not a package, or unsigned: the loader reports bad modules itself
	}
	pol, err := LoadPolicy(home)
	if err != nil {
		return err
	}
	_, err = pol.Verify(p)
	return err
}
