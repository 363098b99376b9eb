package engine

import (
	"bytes"

	"github.com/orbitalfoundation/orbital/internal/leb128"
)

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
		size, n := leb128.Uint32(p[1:])
		if n == 0 || uint64(len(p)-1-n) < uint64(size) {
			return nil, false
		}
		body := p[1+n : 1+n+int(size)]
		p = p[1+n+int(size):]
		if id != 0 {
			continue
		}
		nameLen, m := leb128.Uint32(body)
		if m == 0 || uint64(len(body)-m) < uint64(nameLen) {
			return nil, false
		}
		if string(body[m:m+int(nameLen)]) == name {
			return body[m+int(nameLen):], true
		}
	}
	return nil, false
}

// MemoryMinPages returns the initial size, in 64 KiB pages, of the memory a
// wasm binary defines itself (exported or not), without compiling it. ok is
// false when the module defines no memory or the section is malformed.
func MemoryMinPages(wasm []byte) (pages uint32, ok bool) {
	if len(wasm) < 8 {
		return 0, false
	}
	p := wasm[8:]
	for len(p) > 0 {
		id := p[0]
		size, n := leb128.Uint32(p[1:])
		if n == 0 || uint64(len(p)-1-n) < uint64(size) {
			return 0, false
		}
		body := p[1+n : 1+n+int(size)]
		p = p[1+n+int(size):]
		if id != 5 { // the memory section
			continue
		}
		count, m := leb128.Uint32(body)
		if m == 0 || count == 0 || len(body) <= m {
			return 0, false
		}
		// limits: flags byte, then min (and max, which we do not need).
		min, k := leb128.Uint32(body[m+1:])
		if k == 0 {
			return 0, false
		}
		return min, true
	}
	return 0, false
}
