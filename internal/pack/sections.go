package pack

import (
	"crypto/sha256"
	"fmt"
	"unicode/utf8"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/leb128"
)

// The wasm binary header: magic number and version 1 (core modules only; a
// component has another version and is refused).
const (
	wasmMagic   = "\x00asm"
	wasmVersion = "\x01\x00\x00\x00"
	headerLen   = 8
)

// maxSectionID is the largest section id accepted: 0 (custom) through 12
// (data count) of wasm 2.0, and 13 (tag, exception handling).
const maxSectionID = 13

// section is one top-level section of a wasm binary.
type section struct {
	id         byte
	start, end int    // the whole section, id and size included: data[start:end]
	name       string // custom sections only
	payload    []byte // custom sections: the bytes after the name; others: the body
}

// walk splits a wasm binary into its top-level sections. It checks the
// header, every size (LEB128, at most 32 bits, within bounds), the section
// ids and the names of custom sections (valid UTF-8), and nothing else: the
// contents of the other sections are left to the compiler. Errors wrap
// api.ErrBadModule; no input makes it panic.
func walk(data []byte) ([]section, error) {
	if err := checkHeader(data); err != nil {
		return nil, err
	}
	var out []section
	for off := headerLen; off < len(data); {
		start := off
		id := data[off]
		if id > maxSectionID {
			return nil, fmt.Errorf("%w: unknown section id %d at offset %d", api.ErrBadModule, id, start)
		}
		size, n := leb128.Uint32(data[off+1:])
		if n == 0 {
			return nil, fmt.Errorf("%w: section %d at offset %d: malformed size", api.ErrBadModule, id, start)
		}
		off += 1 + n
		if uint64(size) > uint64(len(data)-off) {
			return nil, fmt.Errorf("%w: section %d at offset %d: size %d exceeds the %d bytes left", api.ErrBadModule, id, start, size, len(data)-off)
		}
		body := data[off : off+int(size)]
		off += int(size)
		s := section{id: id, start: start, end: off, payload: body}
		if id == 0 {
			nameLen, m := leb128.Uint32(body)
			if m == 0 || uint64(nameLen) > uint64(len(body)-m) {
				return nil, fmt.Errorf("%w: custom section at offset %d: malformed name", api.ErrBadModule, start)
			}
			name := body[m : m+int(nameLen)]
			if !utf8.Valid(name) {
				return nil, fmt.Errorf("%w: custom section at offset %d: name is not valid UTF-8", api.ErrBadModule, start)
			}
			s.name = string(name)
			s.payload = body[m+int(nameLen):]
		}
		out = append(out, s)
	}
	return out, nil
}

// checkHeader checks the wasm magic number and version.
func checkHeader(data []byte) error {
	switch {
	case len(data) < headerLen || string(data[:4]) != wasmMagic:
		return fmt.Errorf("%w: not a wasm binary (no \\0asm header)", api.ErrBadModule)
	case string(data[4:headerLen]) != wasmVersion:
		return fmt.Errorf("%w: wasm binary version %x is not 1 (a component, or a future format; only core modules are packaged)", api.ErrBadModule, data[4:headerLen])
	}
	return nil
}

// customSection encodes a custom section named name holding payload.
func customSection(name string, payload []byte) []byte {
	body := leb128.AppendUint32(nil, uint32(len(name)))
	body = append(body, name...)
	out := make([]byte, 0, 1+5+len(body)+len(payload))
	out = append(out, 0)
	out = leb128.AppendUint32(out, uint32(len(body)+len(payload)))
	out = append(out, body...)
	return append(out, payload...)
}

// without returns data without the sections for which drop is true.
func without(data []byte, secs []section, drop func(section) bool) []byte {
	out := make([]byte, 0, len(data))
	out = append(out, data[:headerLen]...)
	for _, s := range secs {
		if !drop(s) {
			out = append(out, data[s.start:s.end]...)
		}
	}
	return out
}

// digestOf hashes data without its signature sections: the header and every
// other section byte for byte, in order.
func digestOf(data []byte, secs []section) Digest {
	h := sha256.New()
	h.Write(data[:headerLen])
	for _, s := range secs {
		if !isSignature(s) {
			h.Write(data[s.start:s.end])
		}
	}
	var d Digest
	h.Sum(d[:0])
	return d
}

func isSignature(s section) bool { return s.id == 0 && s.name == SignatureSection }
func isManifest(s section) bool  { return s.id == 0 && s.name == ManifestSection }
