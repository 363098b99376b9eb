package modules

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/fetch"
	"github.com/orbitalfoundation/orbital/internal/install"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// Limits of the URL-bar install flow.
const (
	// PreviewTTL is how long a fetched package waits for approval.
	PreviewTTL = 10 * time.Minute
	// MaxPreviews bounds the packages waiting for approval; the oldest is
	// dropped first.
	MaxPreviews = 8
	// MaxPreviewBytes bounds the bytes of the packages waiting for
	// approval, together; the oldest are dropped first.
	MaxPreviewBytes = 128 << 20
)

type staged struct {
	p   api.InstallPreview
	pkg *install.Package // opened and judged by the gate
	n   int              // its bytes
}

// size is the bytes the staged package holds.
func (s *staged) size() int { return s.n }

// previews holds the packages waiting for approval.
type previews struct {
	mu   sync.Mutex
	byID map[string]*staged
	now  func() time.Time
}

func newPreviews() *previews {
	return &previews{byID: map[string]*staged{}, now: time.Now}
}

func (ps *previews) put(s *staged) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.expireLocked()
	held := func() (n int) {
		for _, o := range ps.byID {
			n += o.size()
		}
		return n
	}
	for len(ps.byID) > 0 && (len(ps.byID) >= MaxPreviews || held()+s.size() > MaxPreviewBytes) {
		var oldest *staged
		for _, o := range ps.byID {
			if oldest == nil || o.p.Expires.Before(oldest.p.Expires) {
				oldest = o
			}
		}
		delete(ps.byID, oldest.p.ID)
	}
	ps.byID[s.p.ID] = s
}

// take removes and returns the staged package id; with keep it stays
// staged.
func (ps *previews) take(id string, keep bool) (*staged, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.expireLocked()
	s := ps.byID[id]
	if s == nil {
		return nil, fmt.Errorf("preview %q: %w: unknown or expired (fetch it again)", id, api.ErrNotFound)
	}
	if !keep {
		delete(ps.byID, id)
	}
	return s, nil
}

func (ps *previews) expireLocked() {
	now := ps.now()
	for id, s := range ps.byID {
		if now.After(s.p.Expires) {
			delete(ps.byID, id)
		}
	}
}

// Preview fetches the package that ref names (an https:// URL or an
// oci:// reference; local files and plain HTTP are refused: the caller is
// a browser, not the device's operator at a shell) and describes it: its
// manifest, its signature verdict under the device's trust policy and the
// capabilities it asks for with whether an installed module gets them. The
// package waits, in memory, for Approve or Deny, at most PreviewTTL.
// Nothing is written to disk.
func (m *Modules) Preview(ctx context.Context, ref string) (api.InstallPreview, error) {
	r, err := fetch.ParseRef(strings.TrimSpace(ref))
	if err != nil {
		return api.InstallPreview{}, err
	}
	if r.Scheme != fetch.SchemeHTTPS && r.Scheme != fetch.SchemeOCI {
		return api.InstallPreview{}, fmt.Errorf("preview %s: %w: only https:// and oci:// references can be installed this way (local files: orbital install FILE)", r, api.ErrInvalid)
	}
	fo := m.fetch
	fo.Logger, fo.AllowHTTP = m.log, false
	res, err := fetch.Fetch(ctx, r.String(), fo)
	if err != nil {
		return api.InstallPreview{}, err
	}
	p, err := m.gate.Inspect(res.Data)
	if err != nil {
		return api.InstallPreview{}, fmt.Errorf("preview %s: %w", r, err)
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	pv := api.InstallPreview{ID: hex.EncodeToString(id[:]), Ref: res.Source, Expires: m.previews.now().Add(PreviewTTL),
		Size: len(res.Data), Digest: p.Digest.String(), Caps: []api.CapabilityRequest{}, Triggers: []string{}, Exports: []string{},
		Deps: []string{}, Problems: []string{}}
	mf := p.Manifest
	pv.Name, pv.Version, pv.Kind, pv.Description = mf.Name, mf.Version.String(), string(mf.Kind), mf.Description
	pv.Signature, pv.Publisher = p.Verdict.Signature(p.Signed()), p.Verdict.Publisher
	if msg := p.Verdict.Refusal(); msg != "" {
		pv.Problems = append(pv.Problems, msg)
	}
	m.describe(&pv, mf)
	pv.Installable = !slices.ContainsFunc(pv.Problems, blocking)
	m.previews.put(&staged{p: pv, pkg: p, n: len(res.Data)})
	m.log.Info("package fetched for approval", "module", mf.String(), "ref", r.Redacted(), "bytes", len(res.Data), "installable", pv.Installable)
	return pv, nil
}

// InstalledCapabilities lists what a module's manifest asks for and
// whether an installed module (InstalledGrant) gets each: stdio, clock,
// random, env, network, file-system areas, bus subjects, library calls and
// memory. The error says why such a module cannot start at all (a
// required capability that is not granted).
func InstalledCapabilities(m *manifest.Manifest) ([]api.CapabilityRequest, error) {
	set, err := capability.Resolve(m, installed)
	out := []api.CapabilityRequest{}
	c := m.Capabilities
	add := func(name string, asked, granted bool, note string) {
		if asked {
			if granted {
				note = ""
			}
			out = append(out, api.CapabilityRequest{Name: name, Granted: granted, Note: note})
		}
	}
	const needsEntry = "needs a [[process]] entry in the node config"
	add("stdout", c.Stdout, set.Stdout, needsEntry)
	add("stderr", c.Stderr, set.Stderr, needsEntry)
	// stdin is left out: an installed module reads end-of-file, which
	// grants nothing (and manifests ask for it by default).
	add("args", c.Args, false, needsEntry)
	add("clock", c.Clock, set.Clock, needsEntry)
	add("random", c.Random, set.Random, needsEntry)
	for _, e := range c.Env {
		add("env:"+e, true, false, needsEntry)
	}
	for _, nw := range c.Network {
		add("network:"+nw, true, false, needsEntry)
	}
	for _, f := range c.FS {
		name := "fs:" + f.Path
		if f.ReadOnly {
			name += " (read-only)"
		}
		if f.Optional {
			name += " (optional)"
		}
		add(name, true, false, needsEntry)
	}
	b := m.Bus
	for _, s := range b.Publish {
		add("bus publish: "+s, true, true, "")
	}
	for _, s := range b.Subscribe {
		add("bus subscribe: "+s, true, true, "")
	}
	for _, s := range b.Send {
		add("bus send to: "+s, true, true, "")
	}
	for _, d := range m.DependencyList() {
		name := "calls: " + d.Name + " " + d.Range
		if len(d.Functions) > 0 {
			name += " (" + strings.Join(d.Functions, ", ") + ")"
		}
		add(name, true, true, "") // installed modules may call their declared dependencies
	}
	if mem := m.Limits.MemoryBytes; mem > 0 {
		add(fmt.Sprintf("memory up to %d MiB", mem>>20), true, true, "")
	}
	return out, err
}

// describe lists what the package asks for and what an installed module
// gets of it, its triggers, exports and dependencies.
func (mo *Modules) describe(pv *api.InstallPreview, m *manifest.Manifest) {
	caps, err := InstalledCapabilities(m)
	if err != nil {
		pv.Problems = append(pv.Problems, "cannot run: "+err.Error())
	}
	pv.Caps = caps
	for _, d := range m.DependencyList() {
		dep := d.Name + " " + d.Range
		if rec, err := mo.reg.Resolve(d.Name, d.Range); err == nil {
			dep += " → " + rec.Version
		} else if d.Optional {
			dep += " (optional, not installed)"
		} else {
			dep += " (not installed)"
			pv.Problems = append(pv.Problems, "cannot run: it needs library "+d.Name+" "+d.Range+", which is not installed")
		}
		pv.Deps = append(pv.Deps, dep)
	}
	t := m.Triggers
	if t.StartsAtBoot() {
		pv.Triggers = append(pv.Triggers, "boot (starts at once)")
	}
	for _, s := range t.Subjects {
		pv.Triggers = append(pv.Triggers, "subject "+s)
	}
	for _, s := range t.Routes {
		pv.Triggers = append(pv.Triggers, "route "+s)
	}
	for _, s := range t.Schedule {
		pv.Triggers = append(pv.Triggers, "schedule "+s)
	}
	if t.OnDemand {
		pv.Triggers = append(pv.Triggers, "on demand (first call)")
	}
	for _, e := range m.ExportList() {
		pv.Exports = append(pv.Exports, e.Name)
	}
	if rec, err := mo.reg.Resolve(m.Name, ""); err == nil {
		pv.Installed = rec.Version
		if rec.Version == pv.Version {
			pv.Problems = append(pv.Problems, "this version is installed already")
		}
	}
	if _, configured := mo.installedVersion(m.Name); configured {
		pv.Problems = append(pv.Problems, "cannot run: a process named "+m.Name+" comes from the node config")
	}
}

// Approve installs the package a preview fetched, exactly those bytes,
// and runs it (see Install). The package is not judged again unless the
// trust policy changed since the preview.
func (m *Modules) Approve(ctx context.Context, id string) (api.Installed, error) {
	s, err := m.previews.take(id, true)
	if err != nil {
		return api.Installed{}, err
	}
	if !s.p.Installable { // it stays staged until denied or expired
		return api.Installed{}, fmt.Errorf("install %s@%s: %w: %s", s.p.Name, s.p.Version, api.ErrPermissionDenied, strings.Join(s.p.Problems, "; "))
	}
	if s, err = m.previews.take(id, false); err != nil { // approved twice at once
		return api.Installed{}, err
	}
	if err := m.gate.Recheck(s.pkg); err != nil {
		return api.Installed{}, fmt.Errorf("install: %w", err)
	}
	rec, err := m.install(ctx, s.pkg, false)
	if err != nil {
		return api.Installed{}, err
	}
	m.log.Info("installed from the admin panel", "module", rec.Ref(), "ref", redacted(s.p.Ref))
	out := api.Installed{Name: rec.Name, Version: rec.Version, Digest: rec.Digest, Process: rec.Name, State: api.StateStarting}
	for _, p := range m.run.Processes() {
		if p.Name == rec.Name {
			out.State = p.State
		}
	}
	return out, nil
}

// Deny drops a preview's package: nothing is installed.
func (m *Modules) Deny(id string) error {
	s, err := m.previews.take(id, false)
	if err != nil {
		return err
	}
	m.log.Info("install denied", "module", s.p.Name+"@"+s.p.Version, "ref", redacted(s.p.Ref))
	return nil
}

// jsonOf encodes a manifest for the wire.
func jsonOf(m *manifest.Manifest) (json.RawMessage, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", m, err)
	}
	return data, nil
}
