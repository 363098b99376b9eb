package devices

import "testing"

// BenchmarkFrameFloor: the floor under a frame crossing — allocating the
// fresh buffer a frame lands in and one copy of its bytes (what a socket
// read into that buffer costs at the least), at the same sizes.
func BenchmarkFrameFloor(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"320x240", 320 * 240 * 4}, {"640x480", 640 * 480 * 4}} {
		src := make([]byte, size.n)
		b.Run("alloc+copy/"+size.name, func(b *testing.B) {
			b.SetBytes(int64(size.n))
			for b.Loop() {
				dst := make([]byte, size.n)
				copy(dst, src)
				sink = dst
			}
		})
	}
}

var sink []byte
