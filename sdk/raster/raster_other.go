//go:build !wasip1

package raster

// Outside wasip1 there is no kernel to import from. The shims forward to
// host, which by default behaves like a kernel that granted no display:
// every call fails with ERR_DENIED. The package's tests swap in surfaces
// of their own.

// kernel is the orbital_v1 raster ABI with Go slices in place of guest
// pointers.
type kernel interface {
	surfaceCreate(w, h int32, flags uint32) int32
	surfaceDestroy(id int32) int32
	surfaceSubmit(id int32, cmds []byte) int32
	surfaceWrite(id, x, y, w, h int32, pix []byte, stride int32) int32
	surfacePresent(id int32) int32
	surfacePresentBlob(id int32, blob int64) int32
	surfaceError(buf []byte) int32
}

var host kernel = noDisplay{}

// noDisplay is a process without a display grant.
type noDisplay struct{}

func (noDisplay) surfaceCreate(int32, int32, uint32) int32 { return codeDenied }
func (noDisplay) surfaceDestroy(int32) int32               { return codeDenied }
func (noDisplay) surfaceSubmit(int32, []byte) int32        { return codeDenied }
func (noDisplay) surfaceWrite(int32, int32, int32, int32, int32, []byte, int32) int32 {
	return codeDenied
}
func (noDisplay) surfacePresent(int32) int32            { return codeDenied }
func (noDisplay) surfacePresentBlob(int32, int64) int32 { return codeDenied }
func (noDisplay) surfaceError([]byte) int32             { return codeDenied }

func hostSurfaceCreate(w, h int32, flags uint32) int32  { return host.surfaceCreate(w, h, flags) }
func hostSurfaceDestroy(id int32) int32                 { return host.surfaceDestroy(id) }
func hostSurfaceSubmit(id int32, cmds []byte) int32     { return host.surfaceSubmit(id, cmds) }
func hostSurfacePresent(id int32) int32                 { return host.surfacePresent(id) }
func hostSurfacePresentBlob(id int32, blob int64) int32 { return host.surfacePresentBlob(id, blob) }
func hostSurfaceError(buf []byte) int32                 { return host.surfaceError(buf) }
func hostSurfaceWrite(id, x, y, w, h int32, pix []byte, stride int32) int32 {
	return host.surfaceWrite(id, x, y, w, h, pix, stride)
}
