package engine

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/orbitalfoundation/orbital/internal/leb128"
)

// MaxLocals bounds the locals one function may declare. wazero allocates
// them from the declared counts before anything else is checked (a
// six-byte declaration can ask for four billion); engines agree on limits
// of this order (V8 and SpiderMonkey allow 50,000).
const MaxLocals = 1 << 20

// checkVectorCounts refuses a binary whose vectors claim more entries than
// they have bytes, before wazero decodes it. Every entry of those vectors
// takes at least one byte, so such a count is always malformed — and
// wazero's decoder preallocates from the counts: a 16-byte module claiming
// two billion imports (found by FuzzCompile), a function type claiming a
// billion parameters or a data segment claiming 4 GiB (found by
// FuzzCustomSection) made the kernel allocate gigabytes and, on a small
// device, die of it. The walk covers the top-level vectors of every
// section and the nested ones wazero preallocates from: parameter and
// result types, import and export names, element and data segments,
// function locals (also capped at MaxLocals) and the "name" section. Where
// it meets something it does not know (a proposal's encoding), it stops
// looking at that section and leaves the verdict to wazero.
func checkVectorCounts(wasm []byte) error {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil // not a wasm binary at all: wazero says so precisely
	}
	p := wasm[8:]
	for len(p) > 0 {
		id := p[0]
		size, n := leb128.Uint32(p[1:])
		if n == 0 {
			return fmt.Errorf("section %d: malformed size", id)
		}
		if uint64(len(p)-1-n) < uint64(size) {
			return fmt.Errorf("section %d: size %d exceeds the %d bytes left", id, size, len(p)-1-n)
		}
		body := p[1+n : 1+n+int(size)]
		p = p[1+n+int(size):]
		r := &vecReader{b: body}
		var err error
		switch id {
		case 0:
			err = r.custom()
		case 1:
			err = r.each(r.funcType)
		case 2:
			err = r.each(r.importEntry)
		case 7:
			err = r.each(r.exportEntry)
		case 9:
			err = r.each(r.elementSegment)
		case 10:
			err = r.each(r.code)
		case 11:
			err = r.each(r.dataSegment)
		case 8, 12: // start, data count: not vectors
		default:
			_, err = r.count()
		}
		if err != nil && !errors.Is(err, errUnknown) {
			return fmt.Errorf("section %d: %w", id, err)
		}
	}
	return nil
}

// errUnknown stops the walk of a section at an encoding it does not know.
var errUnknown = errors.New("unknown encoding")

// errShort is a vector or value cut short: malformed, and wazero says so
// with more detail, so the walk just stops.
var errShort = fmt.Errorf("%w: cut short", errUnknown)

// vecReader walks a section body, checking each vector count against the
// bytes left.
type vecReader struct{ b []byte }

func (r *vecReader) u32() (uint32, error) {
	v, n := leb128.Uint32(r.b)
	if n == 0 {
		return 0, errShort
	}
	r.b = r.b[n:]
	return v, nil
}

func (r *vecReader) byte() (byte, error) {
	if len(r.b) == 0 {
		return 0, errShort
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

func (r *vecReader) skip(n uint64) error {
	if uint64(len(r.b)) < n {
		return errShort
	}
	r.b = r.b[n:]
	return nil
}

// count reads a vector count whose entries take at least one byte each.
func (r *vecReader) count() (uint32, error) {
	c, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(c) > uint64(len(r.b)) {
		return 0, fmt.Errorf("a vector claims %d entries in the %d bytes left", c, len(r.b))
	}
	return c, nil
}

// each reads a vector and walks each entry with f.
func (r *vecReader) each(f func() error) error {
	n, err := r.count()
	if err != nil {
		return err
	}
	for range n {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// bytesVec skips a vector of bytes (a name, data).
func (r *vecReader) bytesVec() error {
	n, err := r.count()
	if err != nil {
		return err
	}
	return r.skip(uint64(n))
}

// sleb skips a signed LEB128 value of at most 10 bytes.
func (r *vecReader) sleb() error {
	for i := 0; i < 10 && i < len(r.b); i++ {
		if r.b[i]&0x80 == 0 {
			r.b = r.b[i+1:]
			return nil
		}
	}
	return errShort
}

// valType skips a value type: one byte, or a reference type with a heap
// type.
func (r *vecReader) valType() error {
	c, err := r.byte()
	if err != nil {
		return err
	}
	if c == 0x63 || c == 0x64 { // (ref null ht), (ref ht)
		return r.sleb()
	}
	return nil
}

func (r *vecReader) funcType() error {
	c, err := r.byte()
	if err != nil || c != 0x60 {
		return errUnknown // a proposal's type form (or malformed): wazero decides
	}
	if err := r.each(r.valType); err != nil { // parameters
		return err
	}
	return r.each(r.valType) // results
}

func (r *vecReader) limits() error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if _, err := r.u32(); err != nil {
		return err
	}
	if flags&1 != 0 {
		_, err = r.u32()
	}
	return err
}

func (r *vecReader) importEntry() error {
	if err := r.bytesVec(); err != nil { // module
		return err
	}
	if err := r.bytesVec(); err != nil { // name
		return err
	}
	kind, err := r.byte()
	if err != nil {
		return err
	}
	switch kind {
	case 0x00: // function: type index
		_, err = r.u32()
	case 0x01: // table: reference type, limits
		if err = r.valType(); err == nil {
			err = r.limits()
		}
	case 0x02: // memory
		err = r.limits()
	case 0x03: // global: value type, mutability
		if err = r.valType(); err == nil {
			_, err = r.byte()
		}
	case 0x04: // tag: attribute, type index
		if _, err = r.byte(); err == nil {
			_, err = r.u32()
		}
	default:
		return errUnknown
	}
	return err
}

func (r *vecReader) exportEntry() error {
	if err := r.bytesVec(); err != nil {
		return err
	}
	if _, err := r.byte(); err != nil {
		return err
	}
	_, err := r.u32()
	return err
}

// expr skips a constant expression up to its end opcode.
func (r *vecReader) expr() error {
	for {
		op, err := r.byte()
		if err != nil {
			return err
		}
		switch op {
		case 0x0b: // end
			return nil
		case 0x41, 0x42: // i32.const, i64.const
			err = r.sleb()
		case 0x43: // f32.const
			err = r.skip(4)
		case 0x44: // f64.const
			err = r.skip(8)
		case 0x23, 0xd2: // global.get, ref.func
			_, err = r.u32()
		case 0xd0: // ref.null heap type
			err = r.sleb()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constant arithmetic
		case 0xfd: // v128.const
			var sub uint32
			if sub, err = r.u32(); err == nil {
				if sub != 12 {
					return errUnknown
				}
				err = r.skip(16)
			}
		default:
			return errUnknown
		}
		if err != nil {
			return err
		}
	}
}

func (r *vecReader) funcIndex() error { _, err := r.u32(); return err }

func (r *vecReader) elementSegment() error {
	flags, err := r.u32()
	if err != nil {
		return err
	}
	if flags > 7 {
		return errUnknown
	}
	if flags&3 == 2 { // explicit table index
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	if flags&1 == 0 { // active: offset expression
		if err := r.expr(); err != nil {
			return err
		}
	}
	if flags&3 != 0 { // element kind or reference type
		if err := r.valType(); err != nil {
			return err
		}
	}
	if flags&4 == 0 {
		return r.each(r.funcIndex)
	}
	return r.each(r.expr)
}

func (r *vecReader) code() error {
	size, err := r.u32()
	if err != nil {
		return err
	}
	if uint64(size) > uint64(len(r.b)) {
		return fmt.Errorf("a function body claims %d bytes of the %d left", size, len(r.b))
	}
	body := &vecReader{b: r.b[:size]}
	r.b = r.b[size:]
	var locals uint64
	err = body.each(func() error {
		n, err := body.u32()
		if err != nil {
			return err
		}
		if locals += uint64(n); locals > MaxLocals {
			return fmt.Errorf("a function declares more than %d locals", MaxLocals)
		}
		return body.valType()
	})
	return err
}

func (r *vecReader) dataSegment() error {
	flags, err := r.u32()
	if err != nil {
		return err
	}
	switch flags {
	case 0: // active, memory 0
		err = r.expr()
	case 1: // passive
	case 2: // active, explicit memory
		if _, err = r.u32(); err == nil {
			err = r.expr()
		}
	default:
		return errUnknown
	}
	if err != nil {
		return err
	}
	return r.bytesVec()
}

// custom checks the "name" section, which wazero decodes (into maps sized
// by its counts); other custom sections are only read by name.
func (r *vecReader) custom() error {
	n, err := r.count()
	if err != nil {
		return err
	}
	name := string(r.b[:n])
	r.b = r.b[n:]
	if name != "name" {
		return nil
	}
	for len(r.b) > 0 {
		id, err := r.byte()
		if err != nil {
			return err
		}
		size, err := r.u32()
		if err != nil {
			return err
		}
		if uint64(size) > uint64(len(r.b)) {
			return fmt.Errorf("name subsection %d claims %d bytes of the %d left", id, size, len(r.b))
		}
		sub := &vecReader{b: r.b[:size]}
		r.b = r.b[size:]
		nameAssoc := func() error {
			if _, err := sub.u32(); err != nil {
				return err
			}
			return sub.bytesVec()
		}
		switch id {
		case 1: // function names
			err = sub.each(nameAssoc)
		case 2: // local names: per function, a name map
			err = sub.each(func() error {
				if _, err := sub.u32(); err != nil {
					return err
				}
				return sub.each(nameAssoc)
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}
