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
	wasiErrnoIo      = 29
	wasiErrnoMfile   = 33
	wasiErrnoNotsock = 57
)

// instantiateWASI instantiates wazero's WASI preview1 functions with
// Orbital's corrections:
//
//   - sock_shutdown on an open descriptor that is not a socket returns
//     ENOTSOCK (wazero returns EBADF). Orbital grants no sockets yet, so every
//     open descriptor is "not a socket"; whether a descriptor is open is
//     asked of WASI's own fd_advise with neutral advice, which has no effect.
//   - path_readlink into a buffer shorter than the link target truncates,
//     as POSIX readlink and other runtimes do (wazero returns ERANGE).
//   - path_open refused by the process's open-file quota returns EMFILE;
//     wazero has no EMFILE and would report EIO.
//
// The originals are reached through wazero's public GoFunction of each
// export, never through its internals.
func instantiateWASI(ctx context.Context, rt wazero.Runtime) (wapi.Module, error) {
	b := rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	cm, err := b.Compile(ctx)
	if err != nil {
		return nil, fmt.Errorf("compile WASI: %w", err)
	}
	original := func(name string) (wapi.GoModuleFunction, error) {
		def, ok := cm.ExportedFunctions()[name]
		if !ok {
			return nil, fmt.Errorf("WASI has no %s", name)
		}
		fn, ok := def.GoFunction().(wapi.GoModuleFunction)
		if !ok {
			return nil, fmt.Errorf("WASI %s is not a Go module function", name)
		}
		return fn, nil
	}
	fdAdvise, err := original("fd_advise")
	if err != nil {
		return nil, err
	}
	readlink, err := original("path_readlink")
	if err != nil {
		return nil, err
	}
	pathOpen, err := original("path_open")
	if err != nil {
		return nil, err
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
	b.NewFunctionBuilder().
		WithGoModuleFunction(wapi.GoModuleFunc(func(ctx context.Context, mod wapi.Module, stack []uint64) {
			truncatingReadlink(ctx, mod, stack, readlink)
		}), []wapi.ValueType{i32, i32, i32, i32, i32, i32}, []wapi.ValueType{i32}).
		WithParameterNames("fd", "path", "path_len", "buf", "buf_len", "result.bufused").
		Export("path_readlink")
	i64 := wapi.ValueTypeI64
	b.NewFunctionBuilder().
		WithGoModuleFunction(wapi.GoModuleFunc(func(ctx context.Context, mod wapi.Module, stack []uint64) {
			i := fromContext(ctx)
			if i == nil {
				pathOpen.Call(ctx, mod, stack)
				return
			}
			denied := i.quota.Denied()
			pathOpen.Call(ctx, mod, stack)
			if stack[0] == wasiErrnoIo && i.quota.Denied() > denied {
				stack[0] = wasiErrnoMfile
			}
		}), []wapi.ValueType{i32, i32, i32, i32, i32, i64, i64, i32, i32}, []wapi.ValueType{i32}).
		WithParameterNames("fd", "dirflags", "path", "path_len", "oflags", "fs_rights_base", "fs_rights_inheriting", "fdflags", "result.opened_fd").
		Export("path_open")
	return b.Instantiate(ctx)
}

// maxLink is the longest link target path_readlink returns (Linux PATH_MAX).
const maxLink = 4096

// truncatingReadlink runs wazero's path_readlink with a buffer large enough
// for any target, then truncates the result to the guest's buf_len and puts
// back the guest bytes past it, so the guest sees exactly what a truncating
// readlink writes. Guest memory is not shared between threads, so nothing
// observes the bytes in between.
func truncatingReadlink(ctx context.Context, mod wapi.Module, stack []uint64, readlink wapi.GoModuleFunction) {
	buf, bufLen, used := uint32(stack[3]), uint32(stack[4]), uint32(stack[5])
	mem := mod.Memory()
	if mem == nil || bufLen == 0 || bufLen >= maxLink || uint64(buf)+uint64(bufLen) > uint64(mem.Size()) {
		readlink.Call(ctx, mod, stack) // nothing to widen: wazero's answer stands
		return
	}
	wide := min(uint32(maxLink), mem.Size()-buf)
	saved, _ := mem.Read(buf+bufLen, wide-bufLen)
	saved = append([]byte(nil), saved...)
	stack[4] = uint64(wide)
	readlink.Call(ctx, mod, stack)
	if stack[0] != 0 {
		return
	}
	n, ok := mem.ReadUint32Le(used)
	if !ok {
		return
	}
	mem.Write(buf+bufLen, saved)
	if n > bufLen {
		mem.WriteUint32Le(used, bufLen)
	} else {
		mem.WriteUint32Le(used, n)
	}
}
