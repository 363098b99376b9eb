// Package library runs shared-library modules and routes calls between
// modules: the late binding of a caller's `call(library, function, args)`
// to a running implementation.
//
// A Registry knows every library of the node by name and version. A
// caller's Linker (one per process, from its manifest dependencies and
// grants) binds lib.fn to a Binding: permission and the version range are
// checked once, at bind time, and again whenever the set of libraries
// changes (a Binding re-resolves when the registry's generation moves, so
// a library replaced by a newer compatible version is picked up without
// touching its callers). A call then goes to the library's implementation:
// a Pool of wasm workers (stateless: several in parallel; stateful: one,
// calls serialized) or native Go functions — the same path either way.
package library

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/engine"
	"github.com/orbitalfoundation/orbital/internal/shape"
)

// DefaultMaxCall caps arguments and results of one call when the registry
// is made with 0.
const DefaultMaxCall = 16 << 20

// Registry is the set of libraries a node offers. It is safe for
// concurrent use.
type Registry struct {
	maxCall int

	mu   sync.RWMutex
	libs map[string][]*Library // by name, highest version first, local before remote
	gen  atomic.Uint64         // bumped on every change; Bindings re-resolve

	preferAny atomic.Bool // the highest version wherever it runs, not local first
}

// SetPreferAny sets where calls go when a library runs both here and
// elsewhere: false (the default, "local") binds a local version in range
// if there is one, a remote one otherwise; true ("any") binds the highest
// version in range wherever it runs (local on a tie).
func (r *Registry) SetPreferAny(any bool) {
	r.preferAny.Store(any)
	r.gen.Add(1)
}

// NewRegistry returns an empty registry. maxCall caps the arguments and
// the result of one call in bytes (0: DefaultMaxCall).
func NewRegistry(maxCall int) *Registry {
	if maxCall <= 0 {
		maxCall = DefaultMaxCall
	}
	return &Registry{maxCall: maxCall, libs: map[string][]*Library{}}
}

// MaxCall is the size cap of arguments and results.
func (r *Registry) MaxCall() int { return r.maxCall }

// Add makes lib available. A library with the same name and version is
// refused (api.ErrExists).
func (r *Registry) Add(lib *Library) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.libs[lib.name] {
		if l.version.Equal(lib.version) && l.remote == lib.remote {
			return fmt.Errorf("library %s@%s: %w", lib.name, lib.version, api.ErrExists)
		}
	}
	list := append(r.libs[lib.name], lib)
	sort.SliceStable(list, func(a, b int) bool {
		if !list[a].version.Equal(list[b].version) {
			return list[a].version.GreaterThan(list[b].version)
		}
		return !list[a].remote && list[b].remote
	})
	r.libs[lib.name] = list
	r.gen.Add(1)
	return nil
}

// Remove withdraws lib; calls already running finish, later ones
// re-resolve.
func (r *Registry) Remove(lib *Library) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.libs[lib.name]
	if i := slices.Index(list, lib); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(r.libs, lib.name)
	} else {
		r.libs[lib.name] = list
	}
	r.gen.Add(1)
}

// Libraries returns every library, by name then highest version first.
func (r *Registry) Libraries() []*Library {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*Library
	for _, list := range r.libs {
		out = append(out, list...)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].name < out[b].name })
	return out
}

// Resolve returns the highest version of name that satisfies c (nil: any).
// Errors wrap api.ErrNotFound (no such library) or api.ErrVersion (no
// version in range), naming what is available.
func (r *Registry) Resolve(name string, c *semver.Constraints) (*Library, error) {
	return r.resolve(name, c, !r.preferAny.Load(), false)
}

// ResolveLocal is Resolve among the libraries that run here only (a call
// that came from another node is never sent on).
func (r *Registry) ResolveLocal(name string, c *semver.Constraints) (*Library, error) {
	return r.resolve(name, c, true, true)
}

func (r *Registry) resolve(name string, c *semver.Constraints, localFirst, localOnly bool) (*Library, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	list := r.libs[name]
	if len(list) == 0 {
		return nil, fmt.Errorf("library %s: %w", name, api.ErrNotFound)
	}
	if localFirst {
		for _, l := range list {
			if !l.remote && (c == nil || c.Check(l.version)) {
				return l, nil
			}
		}
	}
	if !localOnly {
		for _, l := range list {
			if c == nil || c.Check(l.version) {
				return l, nil
			}
		}
	}
	if localOnly {
		list = slices.DeleteFunc(slices.Clone(list), func(l *Library) bool { return l.remote })
		if len(list) == 0 {
			return nil, fmt.Errorf("library %s: %w here", name, api.ErrNotFound)
		}
	}
	have := make([]string, len(list))
	for i, l := range list {
		have[i] = l.version.String()
	}
	return nil, fmt.Errorf("library %s: %w for %s (available: %v)", name, api.ErrVersion, c, have)
}

// Binding is one caller's bound library function: the engine's Target for
// call. A Binding is used by one caller at a time.
type Binding struct {
	reg        *Registry
	name, fn   string
	constraint *semver.Constraints
	local      bool // resolve among local libraries only
	gen        uint64
	lib        *Library
	exp        *export
}

// Bind binds name.fn for a caller allowed versions in c (nil: any). The
// permission check is the caller's (see Linker).
func (r *Registry) Bind(name, fn string, c *semver.Constraints) (*Binding, error) {
	b := &Binding{reg: r, name: name, fn: fn, constraint: c}
	if err := b.resolve(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Binding) resolve() error {
	gen := b.reg.gen.Load()
	resolve := b.reg.Resolve
	if b.local {
		resolve = b.reg.ResolveLocal
	}
	lib, err := resolve(b.name, b.constraint)
	if err != nil {
		return err
	}
	exp := lib.exports[b.fn]
	if exp == nil {
		return fmt.Errorf("%s.%s: %w: %s@%s exports %v", b.name, b.fn, api.ErrNotFound, lib.name, lib.version, lib.ExportNames())
	}
	b.lib, b.exp, b.gen = lib, exp, gen
	return nil
}

// Library returns the library the binding currently resolves to.
func (b *Binding) Library() *Library { return b.lib }

// Invoke implements engine.Target.
func (b *Binding) Invoke(c *engine.Call) error {
	if b.gen != b.reg.gen.Load() {
		if err := b.resolve(); err != nil {
			return err
		}
	}
	lib, exp := b.lib, b.exp
	if c.Chain.Has(lib.name) {
		return fmt.Errorf("%s.%s: %w: %s → %s", b.name, b.fn, api.ErrCycle, c.Chain, lib.name)
	}
	if len(c.Args) > b.reg.maxCall {
		return fmt.Errorf("%s.%s: %w: arguments of %d bytes exceed the maximum of %d", b.name, b.fn, api.ErrTooLarge, len(c.Args), b.reg.maxCall)
	}
	if exp.args != nil {
		if err := exp.args.Validate(c.Args); err != nil {
			return fmt.Errorf("%s.%s: %w: arguments: %v", b.name, b.fn, api.ErrInvalid, err)
		}
	}
	c.Function, c.Check, c.MaxResult = b.fn, exp.check, b.reg.maxCall
	lib.calls.Add(1)
	err := lib.impl.invoke(lib, c)
	if err != nil {
		lib.failures.Add(1)
	}
	return err
}

// Library is one version of a library module.
type Library struct {
	name    string
	version *semver.Version
	exports map[string]*export
	impl    impl
	remote  bool

	calls, failures atomic.Uint64
}

// Export declares a function of a library: its name and the shapes its
// arguments and result must have (nil: bytes, unchecked).
type Export struct {
	Name         string
	Args, Result *shape.Shape
	Description  string
}

type export struct {
	Export
	args  *shape.Shape // nil when unchecked
	check func([]byte) error
}

// impl runs calls: a Pool of wasm workers or native Go functions.
type impl interface {
	invoke(lib *Library, c *engine.Call) error
	info(*api.LibraryInfo)
}

func newLibrary(name, version string, exports []Export, im impl) (*Library, error) {
	v, err := semver.StrictNewVersion(version)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w: version %q: %v", name, api.ErrInvalid, version, err)
	}
	if len(exports) == 0 {
		return nil, fmt.Errorf("library %s: %w: no exports", name, api.ErrInvalid)
	}
	l := &Library{name: name, version: v, exports: map[string]*export{}, impl: im}
	for _, e := range exports {
		if _, dup := l.exports[e.Name]; dup {
			return nil, fmt.Errorf("library %s: %w: export %s declared twice", name, api.ErrInvalid, e.Name)
		}
		x := &export{Export: e}
		if e.Args != nil && !e.Args.IsBytes() {
			x.args = e.Args
		}
		if e.Result != nil && !e.Result.IsBytes() {
			x.check = e.Result.Validate
		}
		l.exports[e.Name] = x
	}
	return l, nil
}

// Name returns the library's name.
func (l *Library) Name() string { return l.name }

// Version returns the library's version.
func (l *Library) Version() *semver.Version { return l.version }

// ExportNames returns the names of the library's functions, sorted.
func (l *Library) ExportNames() []string {
	names := make([]string, 0, len(l.exports))
	for n := range l.exports {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Exports returns the library's functions, sorted by name.
func (l *Library) Exports() []Export {
	out := make([]Export, 0, len(l.exports))
	for _, n := range l.ExportNames() {
		out = append(out, l.exports[n].Export)
	}
	return out
}

// Info reports the library's state and counters.
func (l *Library) Info() api.LibraryInfo {
	in := api.LibraryInfo{Name: l.name, Version: l.version.String(), Exports: l.ExportNames(),
		Calls: l.calls.Load(), Failures: l.failures.Load(), State: api.LibraryRunning}
	l.impl.info(&in)
	return in
}

// Call is a call made by the host itself (the control API, an embedder),
// allowed every library. The result is a copy.
func (r *Registry) Call(ctx context.Context, name, fn string, args []byte) ([]byte, error) {
	b, err := r.Bind(name, fn, nil)
	if err != nil {
		return nil, err
	}
	return r.call(ctx, b, name, fn, args)
}

// CallLocal is Call for a call that came from another node: only a
// library running here, in the version range c (nil: any), serves it.
func (r *Registry) CallLocal(ctx context.Context, name string, c *semver.Constraints, fn string, args []byte) ([]byte, error) {
	b := &Binding{reg: r, name: name, fn: fn, constraint: c, local: true}
	if err := b.resolve(); err != nil {
		return nil, err
	}
	return r.call(ctx, b, name, fn, args)
}

func (r *Registry) call(ctx context.Context, b *Binding, name, fn string, args []byte) ([]byte, error) {
	c := engine.NewCall(ctx, args)
	if dl, ok := ctx.Deadline(); ok {
		c.Due = engine.Now() + int64(time.Until(dl))
	}
	c.Chain = &engine.Frame{Name: "host"}
	// A host caller that goes away (a client that disconnects, an embedder
	// that cancels) abandons the call: the callee gets AbandonGrace to
	// answer, then it is stopped, as for a guest caller that is killed.
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, c.Abandon)
		defer stop()
	}
	if err := b.Invoke(c); err != nil {
		if errors.Is(ctx.Err(), context.Canceled) && !errors.Is(err, api.ErrClosed) {
			return nil, fmt.Errorf("%s.%s: %w: the caller was stopped (%w)", name, fn, api.ErrClosed, err)
		}
		return nil, err
	}
	return c.Result(), nil
}
