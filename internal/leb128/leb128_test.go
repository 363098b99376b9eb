package leb128

import (
	"bytes"
	"math"
	"testing"
)

func TestUint32(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		v    uint32
		n    int
		name string
	}{
		{[]byte{0}, 0, 1, "zero"},
		{[]byte{0x7f}, 127, 1, "one byte"},
		{[]byte{0x80, 0x01}, 128, 2, "two bytes"},
		{[]byte{0xe5, 0x8e, 0x26, 0xff}, 624485, 3, "trailing bytes left alone"},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x00}, 0, 5, "padded zero"},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, math.MaxUint32, 5, "max"},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x1f}, 0, 0, "over 32 bits"},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, 0, "six bytes"},
		{[]byte{0x80}, 0, 0, "cut short"},
		{nil, 0, 0, "empty"},
	} {
		if v, n := Uint32(tc.in); v != tc.v || n != tc.n {
			t.Errorf("%s: Uint32(% x) = %d, %d; want %d, %d", tc.name, tc.in, v, n, tc.v, tc.n)
		}
	}
}

// FuzzUint32: decoding never reads past 5 bytes or b, and what it decodes
// re-encodes to a value that decodes the same.
func FuzzUint32(f *testing.F) {
	f.Add([]byte{0xe5, 0x8e, 0x26})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n := Uint32(b)
		if n < 0 || n > 5 || n > len(b) {
			t.Fatalf("read %d bytes of %d", n, len(b))
		}
		if n == 0 {
			return
		}
		enc := AppendUint32(nil, v)
		if w, m := Uint32(enc); w != v || m != len(enc) || len(enc) > n {
			t.Fatalf("% x → %d re-encodes to % x → %d (%d bytes)", b[:n], v, enc, w, m)
		}
		if !bytes.Equal(AppendUint32([]byte{1}, v)[1:], enc) {
			t.Fatal("AppendUint32 depends on what it appends to")
		}
	})
}
