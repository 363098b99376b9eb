package orbital

import (
	"testing"
	"unsafe"
)

var sink Message
var sinkE error

//go:noinline
func decodeB(b []byte) (Message, error) {
	if len(b) < envelopeHeader {
		return Message{}, ErrInvalid
	}
	p0 := unsafe.Pointer(&b[0])
	ls, lr, lf, ld := uint64(*(*uint32)(unsafe.Add(p0, 4))), uint64(*(*uint32)(unsafe.Add(p0, 8))), uint64(*(*uint32)(unsafe.Add(p0, 12))), uint64(*(*uint32)(unsafe.Add(p0, 16)))
	if envelopeHeader+ls+lr+lf+ld > uint64(len(b)) {
		return Message{}, ErrInvalid
	}
	m := Message{Kind: Kind(*(*uint32)(p0)), Blob: Blob(*(*uint64)(unsafe.Add(p0, 20)))}
	p := uint64(envelopeHeader)
	m.Subject = borrow(b[p : p+ls])
	p += ls
	m.Reply = borrow(b[p : p+lr])
	p += lr
	m.From = borrow(b[p : p+lf])
	p += lf
	m.Data = b[p : p+ld : p+ld]
	return m, nil
}

//go:noinline
func decodeC(b []byte, m *Message) error {
	if len(b) < envelopeHeader {
		return ErrInvalid
	}
	p0 := unsafe.Pointer(&b[0])
	ls, lr, lf, ld := uint64(*(*uint32)(unsafe.Add(p0, 4))), uint64(*(*uint32)(unsafe.Add(p0, 8))), uint64(*(*uint32)(unsafe.Add(p0, 12))), uint64(*(*uint32)(unsafe.Add(p0, 16)))
	if envelopeHeader+ls+lr+lf+ld > uint64(len(b)) {
		return ErrInvalid
	}
	m.Kind = Kind(*(*uint32)(p0))
	m.Blob = Blob(*(*uint64)(unsafe.Add(p0, 20)))
	p := uintptr(envelopeHeader)
	m.Subject = unsafe.String((*byte)(unsafe.Add(p0, p)), int(ls))
	p += uintptr(ls)
	m.Reply = unsafe.String((*byte)(unsafe.Add(p0, p)), int(lr))
	p += uintptr(lr)
	m.From = unsafe.String((*byte)(unsafe.Add(p0, p)), int(lf))
	p += uintptr(lf)
	m.Data = unsafe.Slice((*byte)(unsafe.Add(p0, p)), int(ld))
	return nil
}

func BenchmarkDecode(b *testing.B) {
	env := encode(0, "demo.x", "", "src", []byte("x"), 0)
	for i := 0; i < b.N; i++ {
		sink, _ = decodeEnvelope(env)
	}
}

func BenchmarkDecodeBorrowOnly(b *testing.B) {
	env := encode(0, "demo.x", "", "src", []byte("x"), 0)
	for i := 0; i < b.N; i++ {
		sink, _ = decodeB(env)
	}
}

func BenchmarkDecodePtr(b *testing.B) {
	env := encode(0, "demo.x", "", "src", []byte("x"), 0)
	var m Message
	for i := 0; i < b.N; i++ {
		sinkE = decodeC(env, &m)
	}
}
