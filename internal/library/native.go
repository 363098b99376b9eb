package library

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/engine"
)

// NativeFunc implements a library function in Go. args is valid only
// during the call (it may be a view of the caller's memory): copy what
// must be kept. ctx ends at the call's deadline or when the caller stops.
// An error that wraps no api class reaches the caller as api.ErrFailed with
// its message.
type NativeFunc func(ctx context.Context, args []byte) ([]byte, error)

// NativeExport is one function of a native library.
type NativeExport struct {
	Export
	Func NativeFunc
}

type native struct {
	fns map[string]NativeFunc
}

// NewNative returns a library implemented by Go functions (a driver, a
// host service). Callers reach it exactly as they reach a wasm library,
// with the same permissions, shapes and errors. Native functions run on
// the caller's goroutine without an execution slot and may be called
// concurrently.
func NewNative(name, version string, exports []NativeExport) (*Library, error) {
	n := &native{fns: map[string]NativeFunc{}}
	decl := make([]Export, len(exports))
	for i, e := range exports {
		if e.Func == nil {
			return nil, fmt.Errorf("library %s: %w: export %s has no function", name, api.ErrInvalid, e.Name)
		}
		n.fns[e.Name] = e.Func
		decl[i] = e.Export
	}
	return newLibrary(name, version, decl, n)
}

var apiClasses = []error{api.ErrBadModule, api.ErrBadManifest, api.ErrPermissionDenied, api.ErrLimit,
	api.ErrNotFound, api.ErrClosed, api.ErrInvalid, api.ErrTooLarge, api.ErrTimeout, api.ErrExists,
	api.ErrCycle, api.ErrVersion, api.ErrCrashed, api.ErrFailed, api.ErrUnavailable}

func (n *native) invoke(lib *Library, c *engine.Call) (err error) {
	fn := n.fns[c.Function]
	ctx := c.Ctx
	if c.Due != 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(c.Due-engine.Now()))
		defer cancel()
	}
	var res []byte
	c.Idle(func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%s.%s: %w: panic: %v", lib.name, c.Function, api.ErrCrashed, r)
			}
		}()
		res, err = fn(ctx, c.Args)
	})
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("%s.%s: %w: %v", lib.name, c.Function, api.ErrTimeout, err)
		case errors.Is(err, context.Canceled):
			return fmt.Errorf("%s.%s: %w: the caller was stopped", lib.name, c.Function, api.ErrClosed)
		case classed(err):
			return fmt.Errorf("%s.%s: %w", lib.name, c.Function, err)
		}
		return &engine.CallError{Library: lib.name, Function: c.Function, Message: err.Error()}
	}
	return c.Return(res)
}

func classed(err error) bool {
	for _, e := range apiClasses {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (n *native) info(in *api.LibraryInfo) { in.Native = true }
