package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/fetch"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	"github.com/orbitalfoundation/orbital/internal/pack"
	"github.com/orbitalfoundation/orbital/internal/registry"
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
	p    api.InstallPreview
	data []byte
}

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
			n += len(o.data)
		}
		return n
	}
	for len(ps.byID) > 0 && (len(ps.byID) >= MaxPreviews || held()+len(s.data) > MaxPreviewBytes) {
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

// PreviewInstall fetches the package that ref names (an https:// URL or an
// oci:// reference; local files and plain HTTP are refused: the caller is
// a browser, not the device's operator at a shell) and describes it: its
// manifest, its signature verdict under the device's trust policy and the
// capabilities it asks for with whether an installed module gets them. The
// bytes wait, in memory, for ApproveInstall or DenyInstall, at most
// PreviewTTL. Nothing is written to disk.
func (n *Node) PreviewInstall(ctx context.Context, ref string) (api.InstallPreview, error) {
	r, err := fetch.ParseRef(strings.TrimSpace(ref))
	if err != nil {
		return api.InstallPreview{}, err
	}
	if r.Scheme != fetch.SchemeHTTPS && r.Scheme != fetch.SchemeOCI {
		return api.InstallPreview{}, fmt.Errorf("preview %s: %w: only https:// and oci:// references can be installed this way (local files: orbital install FILE)", r, api.ErrInvalid)
	}
	fo := n.fetchOpts
	fo.Logger, fo.AllowHTTP = n.log, false
	res, err := fetch.Fetch(ctx, r.String(), fo)
	if err != nil {
		return api.InstallPreview{}, err
	}
	p, err := pack.Open(res.Data)
	if err != nil {
		return api.InstallPreview{}, fmt.Errorf("preview %s: %w", r, err)
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	pv := api.InstallPreview{ID: hex.EncodeToString(id[:]), Ref: res.Source, Expires: n.previews.now().Add(PreviewTTL),
		Size: len(res.Data), Digest: p.Digest.String(), Caps: []api.CapabilityRequest{}, Triggers: []string{}, Exports: []string{},
		Deps: []string{}, Problems: []string{}}
	m := p.Manifest
	pv.Name, pv.Version, pv.Kind, pv.Description = m.Name, m.Version.String(), string(m.Kind), m.Description
	n.judge(&pv, p)
	n.describe(&pv, m)
	pv.Installable = !slices.ContainsFunc(pv.Problems, blocking)
	n.previews.put(&staged{p: pv, data: res.Data})
	n.log.Info("package fetched for approval", "module", m.String(), "ref", r.Redacted(), "bytes", len(res.Data), "installable", pv.Installable)
	return pv, nil
}

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

// judge sets the signature verdict and the publisher.
func (n *Node) judge(pv *api.InstallPreview, p *pack.Package) {
	pol, err := LoadPolicy(n.home)
	if err != nil {
		pv.Problems = append(pv.Problems, "refused: trust policy: "+err.Error())
		return
	}
	v, err := pol.Verify(p)
	pv.Signature = api.SignatureVerdict{Signed: p.Signed(), Trusted: err == nil && v.By != nil, Verdict: v.Reason, Signers: []api.Signer{}}
	for _, c := range v.Checks {
		pv.Signature.Signers = append(pv.Signature.Signers, api.Signer{Signer: c.Signature.Signer, KeyID: c.Signature.KeyID,
			Status: string(c.Status), Publisher: c.Publisher})
	}
	// The trust policy's name for a key it lists beats the name a signer
	// gave itself.
	switch {
	case v.By != nil && v.By.Publisher != "":
		pv.Publisher = v.By.Publisher
	case v.By != nil:
		pv.Publisher = v.By.Signature.Signer
	default:
		for _, c := range v.Checks {
			if c.Publisher != "" {
				pv.Publisher = c.Publisher
				break
			}
		}
		if pv.Publisher == "" && len(v.Checks) > 0 {
			pv.Publisher = v.Checks[0].Signature.Signer
		}
	}
	if err != nil {
		msg := v.Reason
		if msg == "" {
			msg = "refused: " + err.Error()
		}
		switch {
		case errors.Is(err, pack.ErrUnsigned):
			msg += "; this device installs packages signed by the publishers in its trust.toml"
		case errors.Is(err, pack.ErrUntrustedKey), errors.Is(err, pack.ErrNameNotTrusted):
			msg += "; to trust this publisher, add its key to trust.toml"
		}
		pv.Problems = append(pv.Problems, msg)
		pv.Signature.Verdict = msg
	}
}

// InstalledCapabilities lists what a module's manifest asks for and
// whether an installed module (InstalledGrant) gets each: stdio, clock,
// random, env, network, file-system areas, bus subjects, library calls and
// memory. The error says why such a module cannot start at all (a
// required capability that is not granted).
func InstalledCapabilities(m *manifest.Manifest) ([]api.CapabilityRequest, error) {
	set, err := capability.Resolve(m, InstalledGrant())
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

// ModuleDetail is an installed module's registry record and manifest with
// what it asks for and is granted.
type ModuleDetail struct {
	registry.ModuleInfo
	Capabilities []api.CapabilityRequest `json:"capabilities"`
}

// ModuleInfo describes installed module name at version ("" the active
// one): its registry record, manifest, versions and dependents, and its
// capabilities requested versus granted.
func (n *Node) ModuleInfo(name, version string) (any, error) {
	info, err := n.reg.Info(name, version)
	if err != nil {
		return nil, err
	}
	d := ModuleDetail{ModuleInfo: info, Capabilities: []api.CapabilityRequest{}}
	if info.Manifest != nil {
		d.Capabilities, _ = InstalledCapabilities(info.Manifest)
	}
	return d, nil
}

// describe lists what the package asks for and what an installed module
// gets of it, its triggers, exports and dependencies.
func (n *Node) describe(pv *api.InstallPreview, m *manifest.Manifest) {
	caps, err := InstalledCapabilities(m)
	if err != nil {
		pv.Problems = append(pv.Problems, "cannot run: "+err.Error())
	}
	pv.Caps = caps
	for _, d := range m.DependencyList() {
		dep := d.Name + " " + d.Range
		if rec, err := n.reg.Resolve(d.Name, d.Range); err == nil {
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
	if rec, err := n.reg.Resolve(m.Name, ""); err == nil {
		pv.Installed = rec.Version
		if rec.Version == pv.Version {
			pv.Problems = append(pv.Problems, "this version is installed already")
		}
	}
	n.mu.Lock()
	_, configured := n.groups[m.Name]
	_, active := n.active[m.Name]
	n.mu.Unlock()
	if configured && !active {
		pv.Problems = append(pv.Problems, "cannot run: a process named "+m.Name+" comes from the node config")
	}
}

// ApproveInstall installs the package a preview fetched, exactly those
// bytes, and runs it (see Install).
func (n *Node) ApproveInstall(ctx context.Context, id string) (api.Installed, error) {
	s, err := n.previews.take(id, true)
	if err != nil {
		return api.Installed{}, err
	}
	if !s.p.Installable { // it stays staged until denied or expired
		return api.Installed{}, fmt.Errorf("install %s@%s: %w: %s", s.p.Name, s.p.Version, api.ErrPermissionDenied, strings.Join(s.p.Problems, "; "))
	}
	if s, err = n.previews.take(id, false); err != nil { // approved twice at once
		return api.Installed{}, err
	}
	rec, err := n.Install(ctx, s.data, false)
	if err != nil {
		return api.Installed{}, err
	}
	n.log.Info("installed from the admin panel", "module", rec.Ref(), "ref", redacted(s.p.Ref))
	out := api.Installed{Name: rec.Name, Version: rec.Version, Digest: rec.Digest, Process: rec.Name, State: api.StateStarting}
	for _, p := range n.Processes() {
		if p.Name == rec.Name {
			out.State = p.State
		}
	}
	return out, nil
}

// DenyInstall drops a preview's package: nothing is installed.
func (n *Node) DenyInstall(id string) error {
	s, err := n.previews.take(id, false)
	if err != nil {
		return err
	}
	n.log.Info("install denied", "module", s.p.Name+"@"+s.p.Version, "ref", redacted(s.p.Ref))
	return nil
}
