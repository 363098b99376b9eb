//go:build wasip1

package raster

import "unsafe"

// The orbital_v1 raster imports, exactly as docs/ABI.md declares them.
// Pointers are offsets into the module's memory; Go passes unsafe.Pointer
// as an i32.

//go:wasmimport orbital_v1 surface_create
func wasmSurfaceCreate(w, h int32, flags uint32) int32

//go:wasmimport orbital_v1 surface_destroy
func wasmSurfaceDestroy(id int32) int32

//go:wasmimport orbital_v1 surface_submit
func wasmSurfaceSubmit(id int32, cmds unsafe.Pointer, cmdsLen uint32) int32

//go:wasmimport orbital_v1 surface_write
func wasmSurfaceWrite(id, x, y, w, h int32, pix unsafe.Pointer, stride int32) int32

//go:wasmimport orbital_v1 surface_present
func wasmSurfacePresent(id int32) int32

//go:wasmimport orbital_v1 surface_present_blob
func wasmSurfacePresentBlob(id int32, blob int64) int32

//go:wasmimport orbital_v1 surface_error
func wasmSurfaceError(buf unsafe.Pointer, bufCap uint32) int32

// bp returns a byte slice's address and length (wasm32 memory fits in 32
// bits).
func bp(b []byte) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))
}

func hostSurfaceCreate(w, h int32, flags uint32) int32 { return wasmSurfaceCreate(w, h, flags) }
func hostSurfaceDestroy(id int32) int32                { return wasmSurfaceDestroy(id) }
func hostSurfacePresent(id int32) int32                { return wasmSurfacePresent(id) }
func hostSurfacePresentBlob(id int32, blob int64) int32 {
	return wasmSurfacePresentBlob(id, blob)
}

func hostSurfaceSubmit(id int32, cmds []byte) int32 {
	p, n := bp(cmds)
	return wasmSurfaceSubmit(id, p, n)
}

func hostSurfaceWrite(id, x, y, w, h int32, pix []byte, stride int32) int32 {
	p, _ := bp(pix)
	return wasmSurfaceWrite(id, x, y, w, h, p, stride)
}

func hostSurfaceError(buf []byte) int32 {
	p, n := bp(buf)
	return wasmSurfaceError(p, n)
}
