package library

import (
	"context"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/engine"
)

// RemoteFunc carries one call of a library that runs elsewhere (on another
// node of a cluster): function fn with args, until ctx ends. It returns
// the result or an error wrapping an api class (api.ErrUnavailable when no
// provider could be reached).
type RemoteFunc func(ctx context.Context, fn string, args []byte) ([]byte, error)

// remote is a library whose instances run elsewhere. It is a native
// library whose one function forwards every call, so callers get the same
// shapes (checked here, before the bytes leave), deadlines and errors.
type remote struct {
	native
	where func() []string
}

// NewRemote returns a library that runs elsewhere: every call goes to
// call. where names the providers for Info (the nodes). The registry
// prefers a local version over a remote one (see Registry.SetPreferAny).
func NewRemote(name, version string, exports []Export, call RemoteFunc, where func() []string) (*Library, error) {
	r := &remote{native: native{fns: map[string]NativeFunc{}}, where: where}
	for _, e := range exports {
		fn := e.Name
		r.fns[fn] = func(ctx context.Context, args []byte) ([]byte, error) { return call(ctx, fn, args) }
	}
	lib, err := newLibrary(name, version, exports, r)
	if err != nil {
		return nil, err
	}
	lib.remote = true
	return lib, nil
}

func (r *remote) invoke(lib *Library, c *engine.Call) error { return r.native.invoke(lib, c) }

func (r *remote) info(in *api.LibraryInfo) {
	in.Native = false
	in.Remote = true
	if r.where != nil {
		in.Nodes = r.where()
	}
}

// Remote reports whether the library runs elsewhere.
func (l *Library) Remote() bool { return l.remote }
