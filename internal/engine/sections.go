package engine

import "bytes"

// CustomSection scans a wasm binary's top-level sections for the first
// custom section named name and returns its payload, without compiling or
// validating the rest of the module. It returns false for malformed input.
func CustomSection(wasm []byte, name string) ([]byte, bool) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, false
	}
	p := wasm[8:]
	for len(p) > 0 {
		id := p[0]
		size, n := readULEB32(p[1:])
		if n == 0 || uint64(len(p)-1-n) < uint64(size) {
			return nil, false
		}
		body := p[1+n : 1+n+int(size)]
		p = p[1+n+int(size):]
		if id != 0 {
			continue
		}
		nameLen, m := readULEB32(body)
		if m == 0 || uint64(len(body)-m) < uint64(nameLen) {
			return nil, false
		}
		if string(body[m:m+int(nameLen)]) == name {
			return body[m+int(nameLen):], true
		}
	}
	return nil, false
}

// readULEB32 decodes an unsigned LEB128 value of at most 32 bits, returning
// the value and the bytes read (0 when malformed).
func readULEB32(b []byte) (uint32, int) {
	var v uint32
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
