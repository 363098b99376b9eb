package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/control"
	"github.com/orbitalfoundation/orbital/internal/fetch"
	"github.com/orbitalfoundation/orbital/internal/install"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	nodemodules "github.com/orbitalfoundation/orbital/internal/node/modules"
	"github.com/orbitalfoundation/orbital/internal/registry"
)

// modules is the device's registry, through the running node when there
// is one (it holds the registry open) or opened directly otherwise.
type modules interface {
	Install(ctx context.Context, pkg []byte, force bool) (api.ModuleRecord, error)
	List(ctx context.Context) ([]api.ModuleSummary, error)
	Info(ctx context.Context, name, version string) (api.ModuleDetail, error)
	Remove(ctx context.Context, name, version string, force bool) ([]api.ModuleRecord, error)
	Pin(ctx context.Context, name, version string) error
	Query(ctx context.Context, kind, arg string) (any, error)
	Close()
}

type remoteModules struct{ c *control.Client }

func (r remoteModules) Install(ctx context.Context, pkg []byte, force bool) (api.ModuleRecord, error) {
	return r.c.Install(ctx, pkg, force)
}
func (r remoteModules) List(ctx context.Context) ([]api.ModuleSummary, error) {
	return r.c.Modules(ctx)
}
func (r remoteModules) Info(ctx context.Context, name, version string) (api.ModuleDetail, error) {
	return r.c.ModuleInfo(ctx, name, version)
}
func (r remoteModules) Remove(ctx context.Context, name, version string, force bool) ([]api.ModuleRecord, error) {
	return r.c.Remove(ctx, name, version, force)
}
func (r remoteModules) Pin(ctx context.Context, name, version string) error {
	return r.c.Pin(ctx, name, version)
}
func (r remoteModules) Query(ctx context.Context, kind, arg string) (any, error) {
	return r.c.Query(ctx, kind, arg)
}
func (r remoteModules) Close() {}

// localModules is the registry opened by the CLI, behind the same trust
// gate as a node's.
type localModules struct {
	reg  *registry.Registry
	gate *install.Gate
}

func (l localModules) Install(ctx context.Context, pkg []byte, force bool) (api.ModuleRecord, error) {
	p, err := l.gate.Open(pkg)
	if err != nil {
		return api.ModuleRecord{}, fmt.Errorf("install: %w", err)
	}
	return l.reg.Install(ctx, p.Registry(), registry.InstallOptions{Force: force})
}
func (l localModules) List(context.Context) ([]api.ModuleSummary, error) { return l.reg.List() }
func (l localModules) Info(_ context.Context, name, version string) (api.ModuleDetail, error) {
	return nodemodules.Detail(l.reg, name, version)
}
func (l localModules) Remove(_ context.Context, name, version string, force bool) ([]api.ModuleRecord, error) {
	return l.reg.Remove(name, version, force)
}
func (l localModules) Pin(_ context.Context, name, version string) error {
	return l.reg.Pin(name, version)
}
func (l localModules) Query(_ context.Context, kind, arg string) (any, error) {
	return control.Query(l.reg, kind, arg)
}
func (l localModules) Close() { _ = l.reg.Close() }

// modulesCommand parses the flags common to registry commands and opens
// the registry (via the node when one is running).
func modulesCommand(name, usage string, args []string, stdout, stderr io.Writer, extra func(*flag.FlagSet)) (modules, []string, int) {
	home, pos, code := homeCommand(name, usage, args, stdout, stderr, extra)
	if code >= 0 {
		return nil, nil, code
	}
	if _, err := os.Stat(control.InfoPath(home)); err == nil {
		c, err := control.Dial(home)
		if err != nil {
			fmt.Fprintf(stderr, "orbital %s: %v\n", name, err)
			return nil, nil, exitFailure
		}
		return remoteModules{c}, pos, -1
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		fmt.Fprintf(stderr, "orbital %s: %v\n", name, err)
		return nil, nil, exitFailure
	}
	gate := install.NewGate(home)
	if err := gate.Check(); err != nil {
		fmt.Fprintf(stderr, "orbital %s: %v\n", name, err)
		return nil, nil, codeFor(err)
	}
	reg, err := nodemodules.OpenRegistry(context.Background(), home, nil)
	if err != nil {
		fmt.Fprintf(stderr, "orbital %s: %v\n", name, err)
		return nil, nil, codeFor(err)
	}
	return localModules{reg: reg, gate: gate}, pos, -1
}

// registryCode maps registry errors to exit codes.
func registryCode(err error) int {
	switch {
	case errors.Is(err, api.ErrVersion), errors.Is(err, api.ErrExists):
		return exitBadInput
	case errors.Is(err, api.ErrInvalid):
		return exitBadInput
	}
	return codeFor(err)
}

// fetchFlags are the retrieval flags of install and push.
type fetchFlags struct {
	plainHTTP, allowHTTP bool
	caFile               string
	maxSize              string
	timeout              time.Duration
}

func (f *fetchFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.plainHTTP, "plain-http", false, "talk to the OCI registry over plain HTTP (a local development registry)")
	fs.BoolVar(&f.allowHTTP, "allow-http", false, "allow http:// URLs (development only)")
	fs.StringVar(&f.caFile, "ca", "", "PEM file of extra certificate authorities to trust for HTTPS")
	fs.StringVar(&f.maxSize, "max-size", "64MiB", "largest package to download")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up a download after this long")
}

func (f *fetchFlags) options() (fetch.Options, error) {
	o := fetch.Options{PlainHTTP: f.plainHTTP, AllowHTTP: f.allowHTTP, Timeout: f.timeout}
	n, err := manifest.ParseSize(f.maxSize)
	if err != nil {
		return o, fmt.Errorf("--max-size: %w", err)
	}
	o.MaxSize = int64(n)
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return o, fmt.Errorf("--ca: %w", err)
		}
		pool, _ := x509.SystemCertPool()
		if pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return o, fmt.Errorf("--ca %s: no certificates found", f.caFile)
		}
		o.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return o, nil
}

// fetchCode maps retrieval errors to exit codes.
func fetchCode(err error) int {
	switch {
	case errors.Is(err, api.ErrTimeout):
		return exitDeadline
	case errors.Is(err, api.ErrTooLarge), errors.Is(err, api.ErrInvalid):
		return exitBadInput
	}
	return registryCode(err)
}

func cmdInstall(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var (
		force bool
		ff    fetchFlags
	)
	m, pos, code := modulesCommand("install", `Usage: orbital install PACKAGE|https://…|oci://HOST/REPO:TAG|oci://HOST/REPO@sha256:…

Installs a package (made with orbital pack, signed with orbital sign) into
the device's registry: from a file, an HTTPS URL (size-capped, digest
computed while streaming, no compressed bodies) or an OCI registry. Its signatures are checked against the trust policy
($ORBITAL_HOME/trust.toml; without one nothing is trusted and unsigned
packages are refused), its dependencies resolved against what is
installed. With a running node the module starts per its triggers (or
replaces the running version: an upgrade).

Flags:
`, args, stdout, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&force, "force", false, "replace a different package installed under the same name@version")
		ff.register(fs)
	})
	if code >= 0 {
		return code
	}
	defer m.Close()
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "orbital install: expected one PACKAGE")
		return exitUsage
	}
	opts, err := ff.options()
	if err != nil {
		fmt.Fprintf(stderr, "orbital install: %v\n", err)
		return exitUsage
	}
	res, err := fetch.Fetch(context.Background(), pos[0], opts)
	if err != nil {
		fmt.Fprintf(stderr, "orbital install: %v\n", err)
		return fetchCode(err)
	}
	rec, err := m.Install(context.Background(), res.Data, force)
	if err != nil {
		fmt.Fprintf(stderr, "orbital install: %v\n", err)
		return registryCode(err)
	}
	fmt.Fprintf(stdout, "installed %s (%s)\n  digest  %s\n  %s\n", rec.Ref(), rec.Kind, rec.Digest, rec.Verdict)
	for _, d := range rec.Dependencies {
		fmt.Fprintf(stdout, "  needs   %s %s\n", d.Name, d.Range)
	}
	return exitOK
}

func cmdList(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var asJSON bool
	m, pos, code := modulesCommand("list", "Usage: orbital list [--json]\n\nLists the installed modules and their versions.\n\nFlags:\n", args, stdout, stderr,
		func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON") })
	if code >= 0 {
		return code
	}
	defer m.Close()
	if len(pos) != 0 {
		fmt.Fprintln(stderr, "orbital list: takes no arguments")
		return exitUsage
	}
	list, err := m.List(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "orbital list: %v\n", err)
		return registryCode(err)
	}
	if asJSON {
		return printJSON(stdout, list)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tKIND\tACTIVE\tVERSIONS")
	for _, s := range list {
		active := s.Latest
		if s.Pinned != "" {
			active = s.Pinned + " (pinned)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", s.Name, s.Kind, active, strings.Join(s.Versions, " "))
	}
	_ = w.Flush()
	return exitOK
}

func cmdInfo(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	m, pos, code := modulesCommand("info", "Usage: orbital info NAME[@VERSION]\n\nShows an installed module: versions, manifest, exports, triggers, dependencies, dependents (JSON).\n\nFlags:\n", args, stdout, stderr, nil)
	if code >= 0 {
		return code
	}
	defer m.Close()
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "orbital info: expected NAME[@VERSION]")
		return exitUsage
	}
	name, version, _ := strings.Cut(pos[0], "@")
	info, err := m.Info(context.Background(), name, version)
	if err != nil {
		fmt.Fprintf(stderr, "orbital info: %v\n", err)
		return registryCode(err)
	}
	return printJSON(stdout, info)
}

func cmdQuery(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	m, pos, code := modulesCommand("query", `Usage: orbital query KIND ARG

Asks the registry:
  exports FUNCTION      which modules export FUNCTION
  fires SUBJECT         what a message on SUBJECT starts or reaches
  triggers KIND         modules started by boot, subject, route, schedule or on_demand
  dependents LIBRARY    what depends on LIBRARY
  may CAPABILITY        which modules may touch CAPABILITY (clock, random, fs:/data, network, env:HOME, calls:vision, publish:SUBJECT…)

Flags:
`, args, stdout, stderr, nil)
	if code >= 0 {
		return code
	}
	defer m.Close()
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "orbital query: expected KIND ARG")
		return exitUsage
	}
	out, err := m.Query(context.Background(), pos[0], pos[1])
	if err != nil {
		fmt.Fprintf(stderr, "orbital query: %v\n", err)
		if errors.Is(err, api.ErrInvalid) {
			return exitUsage
		}
		return registryCode(err)
	}
	return printJSON(stdout, out)
}

func cmdRemove(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var force bool
	m, pos, code := modulesCommand("remove", "Usage: orbital remove NAME[@VERSION]\n\nUninstalls a module (every version without @VERSION). Refused while another module needs it, unless --force.\n\nFlags:\n", args, stdout, stderr,
		func(fs *flag.FlagSet) {
			fs.BoolVar(&force, "force", false, "remove even if other modules depend on it")
		})
	if code >= 0 {
		return code
	}
	defer m.Close()
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "orbital remove: expected NAME[@VERSION]")
		return exitUsage
	}
	name, version, _ := strings.Cut(pos[0], "@")
	recs, err := m.Remove(context.Background(), name, version, force)
	if err != nil {
		fmt.Fprintf(stderr, "orbital remove: %v\n", err)
		return registryCode(err)
	}
	for _, r := range recs {
		fmt.Fprintf(stdout, "removed %s\n", r.Ref())
	}
	return exitOK
}

func cmdRollback(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	m, pos, code := modulesCommand("rollback", `Usage: orbital rollback NAME[@VERSION]

Makes an installed version the active one (pins it) and, on a running node,
restarts the module on it. Without @VERSION: the version before the active
one. "orbital rollback NAME@latest" unpins.

Flags:
`, args, stdout, stderr, nil)
	if code >= 0 {
		return code
	}
	defer m.Close()
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "orbital rollback: expected NAME[@VERSION]")
		return exitUsage
	}
	ctx := context.Background()
	name, version, _ := strings.Cut(pos[0], "@")
	switch version {
	case "latest":
		version = ""
	case "":
		info, err := m.Info(ctx, name, "")
		if err != nil {
			fmt.Fprintf(stderr, "orbital rollback: %v\n", err)
			return registryCode(err)
		}
		version = previousVersion(info)
		if version == "" {
			fmt.Fprintf(stderr, "orbital rollback: %s has no version before %s\n", name, info.Version)
			return exitUsage
		}
	}
	if err := m.Pin(ctx, name, version); err != nil {
		fmt.Fprintf(stderr, "orbital rollback: %v\n", err)
		return registryCode(err)
	}
	if version == "" {
		fmt.Fprintf(stdout, "%s: unpinned, the highest version is active\n", name)
	} else {
		fmt.Fprintf(stdout, "%s: %s is active\n", name, version)
	}
	return exitOK
}

// previousVersion is the installed version just below the active one.
func previousVersion(info api.ModuleDetail) string {
	prev := ""
	for _, v := range info.Versions { // ascending
		if v == info.Version {
			return prev
		}
		prev = v
	}
	return ""
}

func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return exitFailure
	}
	return exitOK
}

const pushUsage = `Usage: orbital push PACKAGE oci://HOST/REPO[:TAG]

Publishes a package to an OCI registry as an artifact (artifactType
application/vnd.orbital.module.v1, the manifest as config, the package as
one application/wasm layer). Without :TAG it is tagged with its version.

Flags:
`

func cmdPush(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("push", pushUsage, stderr)
	var ff fetchFlags
	ff.register(fs.FlagSet)
	pos, code := fs.parse(args, stdout)
	if code >= 0 {
		return code
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "orbital push: expected PACKAGE oci://HOST/REPO[:TAG]")
		return exitUsage
	}
	opts, err := ff.options()
	if err != nil {
		fmt.Fprintf(stderr, "orbital push: %v\n", err)
		return exitUsage
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "orbital push: %v\n", err)
		return exitUsage
	}
	d, err := fetch.Push(context.Background(), pos[1], data, opts)
	if err != nil {
		fmt.Fprintf(stderr, "orbital push: %v\n", err)
		return fetchCode(err)
	}
	fmt.Fprintf(stdout, "pushed %s\n  manifest %s\n", pos[1], d)
	return exitOK
}
