package engine

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// WASI preview1 errno values used by the overrides below.
const (
	wasiErrnoBadf    = 8
	wasiErrnoInval   = 28
	wasiErrnoNotsock = 57
)

// instantiateWASI instantiates wazero's WASI preview1 functions with
// Orbital's corrections:
//
//   - sock_shutdown on an open descriptor that is not a socket returns
//     ENOTSOCK (wazero returns EBADF). Orbital grants no sockets yet, so every
//     open descriptor is "not a socket"; whether a descriptor is open is
//     asked of WASI's own fd_advise with neutral advice, which has no effect.
func instantiateWASI(ctx context.Context, rt wazero.Runtime) (wapi.Module, error) {
	b := rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	cm, err := b.Compile(ctx)
	if err != nil {
		return nil, fmt.Errorf("compile WASI: %w", err)
	}
	def, ok := cm.ExportedFunctions()["fd_advise"]
	if !ok {
		return nil, fmt.Errorf("WASI has no fd_advise")
	}
	fdAdvise, ok := def.GoFunction().(wapi.GoModuleFunction)
	if !ok {
		return nil, fmt.Errorf("WASI fd_advise is not a Go module function")
	}
	_ = cm.Close(ctx)

	i32 := wapi.ValueTypeI32
	b.NewFunctionBuilder().
		WithGoModuleFunction(wapi.GoModuleFunc(func(ctx context.Context, mod wapi.Module, stack []uint64) {
			fd, how := stack[0], uint32(stack[1])
			probe := []uint64{fd, 0, 0, 0} // fd_advise(fd, offset 0, len 0, normal)
			fdAdvise.Call(ctx, mod, probe)
			switch {
			case probe[0] != 0:
				stack[0] = wasiErrnoBadf
			case how == 0 || how > 3: // neither SHUT_RD nor SHUT_WR
				stack[0] = wasiErrnoInval
			default:
				stack[0] = wasiErrnoNotsock
			}
		}), []wapi.ValueType{i32, i32}, []wapi.ValueType{i32}).
		WithParameterNames("fd", "how").
		Export("sock_shutdown")
	return b.Instantiate(ctx)
}
