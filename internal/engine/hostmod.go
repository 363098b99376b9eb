package engine

import (
	"context"
	"log/slog"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
)

// HostModuleName is the import module of Orbital's guest ABI, version 1.
// Its functions are documented in docs/ABI.md.
const HostModuleName = "orbital_v1"

// MaxLogLine caps one guest log message; longer ones are truncated.
const MaxLogLine = 16 << 10

// instantiateHost registers the orbital_v1 host functions in rt. Host
// functions use WithGoModuleFunction (no reflection: ~30 ns per call).
func instantiateHost(ctx context.Context, rt wazero.Runtime) (wapi.Module, error) {
	i32 := wapi.ValueTypeI32
	b := rt.NewHostModuleBuilder(HostModuleName)
	for _, h := range busFunctions() {
		fn := h.fn
		deny := int64(ErrCodeDenied)
		b.NewFunctionBuilder().
			WithGoModuleFunction(wapi.GoModuleFunc(func(ctx context.Context, mod wapi.Module, stack []uint64) {
				i := fromContext(ctx)
				if i == nil || i.port == nil { // not connected to the bus: nothing is permitted
					stack[0] = uint64(deny)
					return
				}
				fn(ctx, i, mod, stack)
			}), h.params, h.results).
			WithName(h.name).Export(h.name)
	}
	for _, h := range callFunctions() {
		fn := h.fn
		b.NewFunctionBuilder().
			WithGoModuleFunction(wapi.GoModuleFunc(func(ctx context.Context, mod wapi.Module, stack []uint64) {
				i := fromContext(ctx)
				if i == nil {
					stack[0] = code(ErrCodeDenied)
					return
				}
				fn(ctx, i, mod, stack)
			}), h.params, h.results).
			WithName(h.name).Export(h.name)
	}
	for _, h := range netFunctions() {
		fn := h.fn
		b.NewFunctionBuilder().
			WithGoModuleFunction(wapi.GoModuleFunc(func(ctx context.Context, mod wapi.Module, stack []uint64) {
				i := fromContext(ctx)
				if i == nil {
					stack[0] = code(ErrCodeDenied)
					return
				}
				fn(ctx, i, mod, stack)
			}), h.params, h.results).
			WithName(h.name).Export(h.name)
	}
	for _, h := range surfaceFunctions() {
		fn := h.fn
		b.NewFunctionBuilder().
			WithGoModuleFunction(wapi.GoModuleFunc(func(ctx context.Context, mod wapi.Module, stack []uint64) {
				i := fromContext(ctx)
				if i == nil || i.surfaces == nil { // no display granted
					stack[0] = code(ErrCodeDenied)
					return
				}
				fn(ctx, i, mod, stack)
			}), h.params, h.results).
			WithName(h.name).Export(h.name)
	}
	for _, h := range serveFunctions() {
		fn := h.fn
		b.NewFunctionBuilder().
			WithGoModuleFunction(wapi.GoModuleFunc(func(ctx context.Context, mod wapi.Module, stack []uint64) {
				i := fromContext(ctx)
				if i == nil || i.worker == nil { // only library workers serve calls
					stack[0] = code(ErrCodeDenied)
					return
				}
				fn(ctx, i, mod, stack)
			}), h.params, h.results).
			WithName(h.name).Export(h.name)
	}
	return b.
		// nop() — does nothing; measures the guest→host call floor.
		NewFunctionBuilder().
		WithGoModuleFunction(wapi.GoModuleFunc(func(context.Context, wapi.Module, []uint64) {}), nil, nil).
		WithName("nop").Export("nop").
		// log(level i32, ptr i32, len i32) — writes one structured log line
		// attributed to the calling process. level: 0 debug, 1 info, 2 warn,
		// 3 error. Out-of-range memory is ignored.
		NewFunctionBuilder().
		WithGoModuleFunction(wapi.GoModuleFunc(hostLog), []wapi.ValueType{i32, i32, i32}, nil).
		WithParameterNames("level", "ptr", "len").
		WithName("log").Export("log").
		// config(buf i32, cap i32) -> i32 — the module's configuration as a
		// JSON object: returns its length (0: none) and writes it to buf
		// only when it fits in cap.
		NewFunctionBuilder().
		WithGoModuleFunction(wapi.GoModuleFunc(hostConfig), []wapi.ValueType{i32, i32}, []wapi.ValueType{i32}).
		WithParameterNames("buf", "cap").
		WithName("config").Export("config").
		Instantiate(ctx)
}

func hostLog(ctx context.Context, mod wapi.Module, stack []uint64) {
	level, ptr, n := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
	i := fromContext(ctx)
	if i == nil {
		return
	}
	if n > MaxLogLine {
		n = MaxLogLine
	}
	msg, ok := mod.Memory().Read(ptr, n)
	if !ok {
		return
	}
	lv := slog.LevelInfo
	switch {
	case level <= 0:
		lv = slog.LevelDebug
	case level == 2:
		lv = slog.LevelWarn
	case level >= 3:
		lv = slog.LevelError
	}
	i.logger.Log(ctx, lv, string(msg), "source", "guest")
}

func hostConfig(ctx context.Context, mod wapi.Module, stack []uint64) {
	i := fromContext(ctx)
	if i == nil {
		stack[0] = 0
		return
	}
	n := uint32(len(i.config))
	if n > 0 && n <= uint32(stack[1]) && !mod.Memory().Write(uint32(stack[0]), i.config) {
		stack[0] = code(ErrCodeInvalid)
		return
	}
	stack[0] = uint64(n)
}
