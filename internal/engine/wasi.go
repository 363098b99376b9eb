package engine

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"

	"github.com/orbitalfoundation/orbital/internal/wasi"
)

// WASIModuleName is the import module of WASI preview 1.
const WASIModuleName = wasi.ModuleName

// instantiateWASI registers Orbital's own WASI preview 1 (package wasi) as
// the host module wasi_snapshot_preview1 of rt: every function finds its
// process's State through the call's context and works on that process's
// memory. A call without a process (none is made: the kernel only calls
// guests through instances) is refused with ENOSYS.
func instantiateWASI(ctx context.Context, rt wazero.Runtime) (wapi.Module, error) {
	b := rt.NewHostModuleBuilder(wasi.ModuleName)
	for _, f := range wasi.Functions() {
		call := f.Call
		f := f
		b.NewFunctionBuilder().
			WithGoModuleFunction(wapi.GoModuleFunc(func(ctx context.Context, mod wapi.Module, stack []uint64) {
				i := fromContext(ctx)
				if i == nil || i.wasi == nil {
					stack[0] = uint64(wasi.ENOSYS)
					return
				}
				var mem wasi.Memory = wasi.NoMemory{}
				if m := mod.Memory(); m != nil {
					mem = m
				}
				if !traceWASI {
					call(i.wasi, mem, stack)
					return
				}
				in := append([]uint64(nil), stack[:len(f.Params)]...)
				call(i.wasi, mem, stack)
				traceCall(f, in, stack[0])
			}), valueTypes2(f.Params), valueTypes2(f.Results)).
			WithParameterNames(f.Names...).
			WithName(f.Name).Export(f.Name)
	}
	mod, err := b.Instantiate(ctx)
	if err != nil {
		return nil, fmt.Errorf("instantiate %s: %w", wasi.ModuleName, err)
	}
	return mod, nil
}

// valueTypes2 turns package wasi's value types into wazero's.
func valueTypes2(ts []wasi.ValType) []wapi.ValueType {
	out := make([]wapi.ValueType, len(ts))
	for i, t := range ts {
		out[i] = wapi.ValueTypeI32
		if t == wasi.I64 {
			out[i] = wapi.ValueTypeI64
		}
	}
	return out
}

// traceWASI, set by ORBITAL_TRACE_WASI=1 in the host's environment,
// writes every WASI call of every guest to stderr: a debugging aid.
var traceWASI = os.Getenv("ORBITAL_TRACE_WASI") != ""

// traceCall writes one call: its arguments by name and its errno.
func traceCall(f wasi.Func, params []uint64, errno uint64) {
	var b strings.Builder
	b.WriteString("wasi: " + f.Name + "(")
	for i, v := range params {
		if i > 0 {
			b.WriteString(", ")
		}
		if f.Params[i] == wasi.I32 {
			v = uint64(uint32(v))
		}
		fmt.Fprintf(&b, "%s=%d", f.Names[i], v)
	}
	fmt.Fprintf(&b, ") = %d\n", uint32(errno))
	os.Stderr.WriteString(b.String())
}
