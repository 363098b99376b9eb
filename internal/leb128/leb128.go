// Package leb128 reads and writes the unsigned LEB128 integers of the
// WebAssembly binary format (sizes and counts, at most 32 bits), for the
// places that look at a module's sections without decoding it: the
// engine's pre-checks and the package format.
package leb128

// Uint32 decodes an unsigned LEB128 value of at most 32 bits from the
// start of b (at most 5 bytes, the unused high bits of the last one zero)
// and returns it with the number of bytes read; n is 0 when b does not
// start with such a value.
func Uint32(b []byte) (v uint32, n int) {
	for i := 0; i < 5 && i < len(b); i++ {
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, 0
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// AppendUint32 appends v to b in unsigned LEB128 (shortest form).
func AppendUint32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
