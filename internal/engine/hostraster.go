package engine

import (
	"context"
	"fmt"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/abi"
)

// MaxCommandList bounds one surface_submit (64 MiB).
const MaxCommandList = 64 << 20

// surfaceFunctions are the orbital_v1 raster imports (docs/ABI.md,
// "Raster"). Each returns 0 (or a surface handle) or an error code; the
// message of the last failure is read with surface_error.
func surfaceFunctions() []hostFn {
	i32, i64 := wapi.ValueTypeI32, wapi.ValueTypeI64
	ret := func(st []uint64, err error) { st[0] = code(errCode(err)) }
	return []hostFn{
		// surface_create(width i32, height i32, flags i32) -> i32 (handle > 0)
		{"surface_create", []wapi.ValueType{i32, i32, i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, _ wapi.Module, st []uint64) {
			sf, err := i.surfaces.Create(int(int32(st[0])), int(int32(st[1])), uint32(st[2]))
			if err != nil {
				ret(st, err)
				return
			}
			st[0] = uint64(sf.ID())
		}},
		// surface_destroy(surface i32) -> i32
		{"surface_destroy", []wapi.ValueType{i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, _ wapi.Module, st []uint64) {
			ret(st, i.surfaces.Destroy(uint32(st[0])))
		}},
		// surface_submit(surface i32, cmds i32, len i32) -> i32
		{"surface_submit", []wapi.ValueType{i32, i32, i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, mod wapi.Module, st []uint64) {
			n := uint32(st[2])
			if n > MaxCommandList {
				ret(st, i.surfaces.Fail(fmt.Errorf("%w: a command list of %d bytes (at most %d)", api.ErrTooLarge, n, MaxCommandList)))
				return
			}
			b, ok := mod.Memory().Read(uint32(st[1]), n) // a view: the guest is blocked in this call
			if !ok {
				ret(st, i.surfaces.Fail(fmt.Errorf("%w: the command list (%d bytes at %d) is outside the guest's memory", api.ErrInvalid, n, uint32(st[1]))))
				return
			}
			ret(st, i.surfaces.Submit(uint32(st[0]), b))
		}},
		// surface_write(surface i32, x i32, y i32, w i32, h i32, pixels i32, stride i32) -> i32
		{"surface_write", []wapi.ValueType{i32, i32, i32, i32, i32, i32, i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, mod wapi.Module, st []uint64) {
			w, h, stride := int(int32(st[3])), int(int32(st[4])), int(int32(st[6]))
			if w < 0 || h < 0 || stride < 0 || w > abi.RasterMaxSide || h > abi.RasterMaxSide || stride > 4*abi.RasterMaxSide*4 {
				ret(st, i.surfaces.Fail(fmt.Errorf("%w: write of %dx%d pixels, stride %d", api.ErrInvalid, w, h, stride)))
				return
			}
			n := 0
			if h > 0 {
				n = (h-1)*stride + 4*w
			}
			pix, ok := mod.Memory().Read(uint32(st[5]), uint32(n))
			if !ok {
				ret(st, i.surfaces.Fail(fmt.Errorf("%w: the pixels (%d bytes at %d) are outside the guest's memory", api.ErrInvalid, n, uint32(st[5]))))
				return
			}
			ret(st, i.surfaces.Write(uint32(st[0]), int(int32(st[1])), int(int32(st[2])), w, h, pix, stride))
		}},
		// surface_present(surface i32) -> i32
		{"surface_present", []wapi.ValueType{i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, _ wapi.Module, st []uint64) {
			ret(st, i.surfaces.Present(uint32(st[0])))
		}},
		// surface_present_blob(surface i32, blob i64) -> i32
		{"surface_present_blob", []wapi.ValueType{i32, i64}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, _ wapi.Module, st []uint64) {
			if i.port == nil {
				st[0] = code(ErrCodeDenied)
				return
			}
			data, release, err := i.port.BlobView(int64(st[1]))
			if err != nil {
				ret(st, i.surfaces.Fail(err))
				return
			}
			if err := i.surfaces.PresentBytes(uint32(st[0]), data, release); err != nil {
				release()
				ret(st, err)
				return
			}
			st[0] = 0
		}},
		// surface_error(buf i32, cap i32) -> i32: the last failure's message
		// (its length; written only when it fits).
		{"surface_error", []wapi.ValueType{i32, i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, mod wapi.Module, st []uint64) {
			msg := i.surfaces.LastError()
			if n := uint32(len(msg)); n > 0 && n <= uint32(st[1]) && !mod.Memory().WriteString(uint32(st[0]), msg) {
				st[0] = code(ErrCodeInvalid)
				return
			}
			st[0] = uint64(len(msg))
		}},
	}
}
