package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/abi"
)

// Port is a process's connection to the message bus, supplied by the kernel
// in Spec.Port. The engine's orbital_v1 host functions translate guest calls
// into Port calls; the Port does the permission checks. Data handed to the
// Port is a private copy (the engine copies out of guest memory once).
type Port interface {
	Publish(subject string, data []byte) error
	Subscribe(pattern, queue string) (id int32, err error)
	Unsubscribe(id int32) error
	Send(to string, data []byte) error
	Request(ctx context.Context, subject string, data []byte, timeout time.Duration) ([]byte, error)
	Reply(reply string, data []byte) error
	// Next waits for the next message until timeout (< 0: forever) or done
	// closes. The message stays pending until Take is called, so a guest
	// whose buffer is too small can retry. ok is false on timeout.
	Next(timeout time.Duration, done <-chan struct{}) (env Envelope, ok bool, err error)
	// Take consumes the pending message returned by Next.
	Take()
	// Pending returns the message Next would return without waiting.
	Pending() (Envelope, bool)
	BlobCreate(data []byte) (int64, error)
	BlobPublish(subject string, blob int64) error
	BlobLen(blob int64) (int64, error)
	BlobRead(blob int64, off int64, p []byte) (int, error)
	BlobRelease(blob int64) error
	// BlobView returns a held blob's bytes without copying and takes a
	// reference that release gives back (surface_present_blob).
	BlobView(blob int64) (data []byte, release func(), err error)
}

// Envelope kinds (internal/abi).
const (
	KindPublish uint32 = abi.KindPublish
	KindSend    uint32 = abi.KindSend
	KindRequest uint32 = abi.KindRequest
)

// Envelope is a received message as the guest sees it.
type Envelope struct {
	Kind                 uint32
	Subject, Reply, From string
	Data                 []byte
	Blob                 int64
}

// EnvelopeHeader is the fixed part of an encoded envelope (see docs/ABI.md).
const EnvelopeHeader = abi.EnvelopeHeader

// Size is the encoded size of the envelope.
func (e *Envelope) Size() int {
	return EnvelopeHeader + len(e.Subject) + len(e.Reply) + len(e.From) + len(e.Data)
}

// Encode writes the envelope into b, which must be at least Size() bytes.
func (e *Envelope) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], e.Kind)
	le.PutUint32(b[4:], uint32(len(e.Subject)))
	le.PutUint32(b[8:], uint32(len(e.Reply)))
	le.PutUint32(b[12:], uint32(len(e.From)))
	le.PutUint32(b[16:], uint32(len(e.Data)))
	le.PutUint64(b[20:], uint64(e.Blob))
	n := EnvelopeHeader
	n += copy(b[n:], e.Subject)
	n += copy(b[n:], e.Reply)
	n += copy(b[n:], e.From)
	copy(b[n:], e.Data)
}

// DecodeEnvelope parses an encoded envelope (for tests and native guests).
func DecodeEnvelope(b []byte) (Envelope, error) {
	if len(b) < EnvelopeHeader {
		return Envelope{}, errors.New("envelope: short header")
	}
	le := binary.LittleEndian
	e := Envelope{Kind: le.Uint32(b[0:]), Blob: int64(le.Uint64(b[20:]))}
	lens := [4]uint64{uint64(le.Uint32(b[4:])), uint64(le.Uint32(b[8:])), uint64(le.Uint32(b[12:])), uint64(le.Uint32(b[16:]))}
	total := uint64(EnvelopeHeader) + lens[0] + lens[1] + lens[2] + lens[3]
	if total > uint64(len(b)) {
		return Envelope{}, errors.New("envelope: lengths exceed the buffer")
	}
	p := uint64(EnvelopeHeader)
	field := func(n uint64) []byte { f := b[p : p+n]; p += n; return f }
	e.Subject, e.Reply, e.From = string(field(lens[0])), string(field(lens[1])), string(field(lens[2]))
	e.Data = append([]byte(nil), field(lens[3])...)
	return e, nil
}

// ABI error codes returned to guests (docs/ABI.md), as internal/abi
// defines them.
const (
	ErrCodeDenied      = abi.ErrDenied
	ErrCodeInvalid     = abi.ErrInvalid
	ErrCodeTooBig      = abi.ErrTooBig
	ErrCodeNotFound    = abi.ErrNotFound
	ErrCodeTimeout     = abi.ErrTimeout
	ErrCodeLimit       = abi.ErrLimit
	ErrCodeClosed      = abi.ErrClosed
	ErrCodeBuffer      = abi.ErrBuffer
	ErrCodeCycle       = abi.ErrCycle
	ErrCodeFailed      = abi.ErrFailed
	ErrCodeCrashed     = abi.ErrCrashed
	ErrCodeVersion     = abi.ErrVersion
	ErrCodeUnavailable = abi.ErrUnavailable
)

// errCode maps an error class to its ABI code.
func errCode(err error) int32 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, api.ErrPermissionDenied):
		return ErrCodeDenied
	case errors.Is(err, api.ErrCycle):
		return ErrCodeCycle
	case errors.Is(err, api.ErrFailed):
		return ErrCodeFailed
	case errors.Is(err, api.ErrCrashed):
		return ErrCodeCrashed
	case errors.Is(err, api.ErrVersion):
		return ErrCodeVersion
	case errors.Is(err, api.ErrUnavailable):
		return ErrCodeUnavailable
	case errors.Is(err, api.ErrTooLarge):
		return ErrCodeTooBig
	case errors.Is(err, api.ErrNotFound):
		return ErrCodeNotFound
	case errors.Is(err, api.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return ErrCodeTimeout
	case errors.Is(err, api.ErrLimit):
		return ErrCodeLimit
	case errors.Is(err, api.ErrClosed):
		return ErrCodeClosed
	}
	return ErrCodeInvalid
}

// guestBytes copies len bytes at ptr out of guest memory, or reports false.
func guestBytes(mod wapi.Module, ptr, n uint32) ([]byte, bool) {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), b...), true
}

// guestString reads a string at ptr without keeping a reference to memory.
func guestString(mod wapi.Module, ptr, n uint32) (string, bool) {
	if n > 1024 {
		return "", false
	}
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		return "", false
	}
	return string(b), true
}

type hostFn struct {
	name    string
	params  []wapi.ValueType
	results []wapi.ValueType
	fn      func(ctx context.Context, i *Instance, mod wapi.Module, stack []uint64)
}

// strData makes a host function (name i32, name_len i32, data i32,
// data_len i32) -> i32 that copies a string and bytes out of guest memory
// and hands them to call.
func strData(name string, call func(i *Instance, s string, data []byte) error) hostFn {
	i32 := wapi.ValueTypeI32
	return hostFn{name, []wapi.ValueType{i32, i32, i32, i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, mod wapi.Module, st []uint64) {
		str, ok1 := guestString(mod, uint32(st[0]), uint32(st[1]))
		data, ok2 := guestBytes(mod, uint32(st[2]), uint32(st[3]))
		code := int32(ErrCodeInvalid)
		if ok1 && ok2 {
			code = errCode(call(i, str, data))
		}
		st[0] = uint64(uint32(code))
	}}
}

// busFunctions are the orbital_v1 messaging imports. Each finds its process
// through the call's context; a process without a Port gets ERR_DENIED.
func busFunctions() []hostFn {
	i32, i64 := wapi.ValueTypeI32, wapi.ValueTypeI64
	ret := func(stack []uint64, code int32) { stack[0] = uint64(uint32(code)) }
	retErr := func(stack []uint64, err error) { ret(stack, errCode(err)) }
	ret64 := func(stack []uint64, code int32) { stack[0] = uint64(int64(code)) }
	return []hostFn{
		strData("publish", func(i *Instance, subj string, data []byte) error { return i.port.Publish(subj, data) }),
		strData("send", func(i *Instance, to string, data []byte) error { return i.port.Send(to, data) }),
		strData("reply", func(i *Instance, to string, data []byte) error { return i.port.Reply(to, data) }),
		{"subscribe", []wapi.ValueType{i32, i32, i32, i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, mod wapi.Module, s []uint64) {
			pat, ok1 := guestString(mod, uint32(s[0]), uint32(s[1]))
			queue, ok2 := guestString(mod, uint32(s[2]), uint32(s[3]))
			if !ok1 || !ok2 {
				ret(s, ErrCodeInvalid)
				return
			}
			id, err := i.port.Subscribe(pat, queue)
			if err != nil {
				retErr(s, err)
				return
			}
			ret(s, id)
		}},
		{"unsubscribe", []wapi.ValueType{i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, _ wapi.Module, s []uint64) {
			retErr(s, i.port.Unsubscribe(int32(s[0])))
		}},
		{"request", []wapi.ValueType{i32, i32, i32, i32, i32, i32, i32}, []wapi.ValueType{i32}, func(ctx context.Context, i *Instance, mod wapi.Module, s []uint64) {
			subj, ok1 := guestString(mod, uint32(s[0]), uint32(s[1]))
			data, ok2 := guestBytes(mod, uint32(s[2]), uint32(s[3]))
			timeout := time.Duration(int32(s[4])) * time.Millisecond
			buf, bufCap := uint32(s[5]), uint32(s[6])
			if !ok1 || !ok2 || timeout < 0 {
				ret(s, ErrCodeInvalid)
				return
			}
			var resp []byte
			var err error
			i.idle(func() { resp, err = i.port.Request(i.ctx, subj, data, timeout) })
			switch {
			case err != nil:
				retErr(s, err)
			case uint32(len(resp)) > bufCap:
				ret(s, ErrCodeBuffer)
			case !mod.Memory().Write(buf, resp):
				ret(s, ErrCodeInvalid)
			default:
				ret(s, int32(len(resp)))
			}
		}},
		{"recv", []wapi.ValueType{i32, i32, i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, mod wapi.Module, s []uint64) {
			buf, bufCap, ms := uint32(s[0]), uint32(s[1]), int32(s[2])
			timeout := time.Duration(ms) * time.Millisecond
			if ms < 0 {
				timeout = -1
			}
			var env Envelope
			var ok bool
			var err error
			i.idle(func() { env, ok, err = i.port.Next(timeout, i.ctx.Done()) })
			switch {
			case err != nil:
				retErr(s, err)
			case !ok:
				ret(s, 0)
			case uint32(env.Size()) > bufCap:
				ret(s, ErrCodeBuffer)
			default:
				out, okm := mod.Memory().Read(buf, uint32(env.Size()))
				if !okm {
					ret(s, ErrCodeInvalid)
					return
				}
				env.Encode(out)
				i.port.Take()
				ret(s, int32(env.Size()))
			}
		}},
		{"recv_size", nil, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, _ wapi.Module, s []uint64) {
			env, ok := i.port.Pending()
			if !ok {
				ret(s, 0)
				return
			}
			ret(s, int32(env.Size()))
		}},
		{"blob_create", []wapi.ValueType{i32, i32}, []wapi.ValueType{i64}, func(_ context.Context, i *Instance, mod wapi.Module, s []uint64) {
			data, ok := guestBytes(mod, uint32(s[0]), uint32(s[1]))
			if !ok {
				ret64(s, ErrCodeInvalid)
				return
			}
			id, err := i.port.BlobCreate(data)
			if err != nil {
				ret64(s, errCode(err))
				return
			}
			s[0] = uint64(id)
		}},
		{"blob_publish", []wapi.ValueType{i32, i32, i64}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, mod wapi.Module, s []uint64) {
			subj, ok := guestString(mod, uint32(s[0]), uint32(s[1]))
			if !ok {
				ret(s, ErrCodeInvalid)
				return
			}
			retErr(s, i.port.BlobPublish(subj, int64(s[2])))
		}},
		{"blob_len", []wapi.ValueType{i64}, []wapi.ValueType{i64}, func(_ context.Context, i *Instance, _ wapi.Module, s []uint64) {
			n, err := i.port.BlobLen(int64(s[0]))
			if err != nil {
				ret64(s, errCode(err))
				return
			}
			s[0] = uint64(n)
		}},
		{"blob_read", []wapi.ValueType{i64, i64, i32, i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, mod wapi.Module, s []uint64) {
			out, ok := mod.Memory().Read(uint32(s[2]), uint32(s[3]))
			if !ok || int64(s[1]) < 0 {
				ret(s, ErrCodeInvalid)
				return
			}
			n, err := i.port.BlobRead(int64(s[0]), int64(s[1]), out)
			if err != nil {
				retErr(s, err)
				return
			}
			ret(s, int32(n))
		}},
		{"blob_release", []wapi.ValueType{i64}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, _ wapi.Module, s []uint64) {
			retErr(s, i.port.BlobRelease(int64(s[0])))
		}},
	}
}

// idle runs fn (which blocks waiting for messages) as time the guest is not
// computing: the execution slot is released and the per-message deadline is
// paused, then both are restored. If the instance is killed meanwhile the
// guest unwinds.
func (i *Instance) idle(fn func()) {
	pause := i.deadline > 0 && i.worker == nil // a worker's call deadline keeps running
	if pause {
		i.disarm()
	}
	i.blocking(fn)
	if pause {
		i.arm()
	}
}
