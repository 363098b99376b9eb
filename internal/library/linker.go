package library

import (
	"github.com/Masterminds/semver/v3"

	"github.com/orbitalfoundation/orbital/internal/engine"
)

// Permit decides whether a caller may call lib.fn and which versions of
// lib it accepts (nil: any). Errors wrap api.ErrPermissionDenied.
type Permit func(lib, fn string) (*semver.Constraints, error)

// Linker binds the calls of one caller (engine.Linker).
type Linker struct {
	reg    *Registry
	permit Permit
}

// Linker returns the linker for a caller whose calls permit allows.
func (r *Registry) Linker(permit Permit) *Linker { return &Linker{reg: r, permit: permit} }

// Bind implements engine.Linker: permission first, then resolution.
func (l *Linker) Bind(lib, fn string) (engine.Target, error) {
	c, err := l.permit(lib, fn)
	if err != nil {
		return nil, err
	}
	b, err := l.reg.Bind(lib, fn, c)
	if err != nil {
		return nil, err
	}
	return b, nil
}
