package orbital

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/Masterminds/semver/v3"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/library"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// RemoteFunc carries one call of a library that runs elsewhere (another
// node): function fn with args until ctx ends. Errors should wrap an api
// class; api.ErrUnavailable says no provider could be reached.
type RemoteFunc func(ctx context.Context, fn string, args []byte) ([]byte, error)

// ProvideRemote registers a library that runs elsewhere, so that local
// callers bind and call it exactly as a local one: the same permissions,
// shapes (checked here, before the bytes leave), deadlines and errors.
// where names its providers in listings. A local library of the same name
// and version may exist too; SetPreferAny says which one calls bind.
func (k *Kernel) ProvideRemote(name, version string, exports []Export, call RemoteFunc, where func() []string) (*Library, error) {
	if err := manifest.ValidateName(name); err != nil {
		return nil, fmt.Errorf("provide remote %s: %w: %v", name, api.ErrInvalid, err)
	}
	decl := make([]library.Export, len(exports))
	for i, e := range exports {
		ex, err := e.internal()
		if err != nil {
			return nil, fmt.Errorf("provide remote %s: %w", name, err)
		}
		decl[i] = ex
	}
	lib, err := library.NewRemote(name, version, decl, library.RemoteFunc(call), where)
	if err != nil {
		return nil, fmt.Errorf("provide remote: %w", err)
	}
	if err := k.libs.Add(lib); err != nil {
		return nil, fmt.Errorf("provide remote: %w", err)
	}
	return &Library{k: k, lib: lib}, nil
}

// SetPreferAny says where calls go when a library runs both here and
// elsewhere: false (the default, "local") binds a local version in the
// caller's range if there is one; true ("any") binds the highest version
// in range wherever it runs (local on a tie).
func (k *Kernel) SetPreferAny(any bool) { k.libs.SetPreferAny(any) }

// CallLocal calls lib.fn for a caller elsewhere: only a library running
// here, of a version in versions (a semver range; "" any), serves it; it is
// never carried on to another node. Errors are as for Call.
func (k *Kernel) CallLocal(ctx context.Context, lib, versions, fn string, args []byte) ([]byte, error) {
	var c *semver.Constraints
	if versions != "" {
		var err error
		if c, err = parseRange(versions); err != nil {
			return nil, fmt.Errorf("%s.%s: %w: version range %q: %v", lib, fn, api.ErrInvalid, versions, err)
		}
	}
	return k.libs.CallLocal(ctx, lib, c, fn, args)
}

// ranges caches parsed version ranges (parsing one costs more than a call).
var (
	ranges  sync.Map // string → *semver.Constraints
	nranges atomic.Int32
)

func parseRange(s string) (*semver.Constraints, error) {
	if v, ok := ranges.Load(s); ok {
		return v.(*semver.Constraints), nil
	}
	c, err := semver.NewConstraint(s)
	if err != nil {
		return nil, err
	}
	if nranges.Add(1) > 4096 {
		ranges.Clear()
		nranges.Store(0)
	}
	ranges.Store(s, c)
	return c, nil
}

// LibraryDecl is a library as other nodes learn of it: its name, version
// and functions with their shapes.
type LibraryDecl struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Exports []Export `json:"exports"`
}

// LocalLibraries declares every library that runs here (remote ones left
// out), by name then highest version first.
func (k *Kernel) LocalLibraries() []LibraryDecl {
	var out []LibraryDecl
	for _, l := range k.libs.Libraries() {
		if l.Remote() {
			continue
		}
		d := LibraryDecl{Name: l.Name(), Version: l.Version().String()}
		for _, e := range l.Exports() {
			x := Export{Name: e.Name, Description: e.Description}
			if e.Args != nil && !e.Args.IsBytes() {
				x.Args = e.Args.String()
			}
			if e.Result != nil && !e.Result.IsBytes() {
				x.Result = e.Result.String()
			}
			d.Exports = append(d.Exports, x)
		}
		out = append(out, d)
	}
	return out
}
