package orbital

import (
	"encoding/binary"
	"strconv"
	"unsafe"
)

// Kind says how a message reached the process.
type Kind uint32

// Message kinds, as in the envelope's kind field.
const (
	KindPublish Kind = 0 // published on a subject the process subscribes to
	KindSend    Kind = 1 // sent directly to this process by name or ID
	KindRequest Kind = 2 // a request: answer it with [Message.Respond]
)

// String returns "publish", "send", "request" or "kind(N)".
func (k Kind) String() string {
	switch k {
	case KindPublish:
		return "publish"
	case KindSend:
		return "send"
	case KindRequest:
		return "request"
	}
	return "kind(" + strconv.FormatUint(uint64(k), 10) + ")"
}

// Message is a message received by [Recv] or handed to a [Serve] handler.
//
// Data and Reply borrow the SDK's receive buffer: they stay valid only until
// the next call to Recv (for Serve, until the handler returns). Subject and
// From are ordinary strings and may be kept. Use [Message.Clone] to keep a
// whole message.
//
// If Blob is not zero the process holds one reference to that blob and must
// [Blob.Release] it when done, even if it ignores the message.
type Message struct {
	Kind    Kind
	Subject string // the subject published or requested on; may be empty for KindSend
	Reply   string // the reply subject of a request; empty otherwise
	From    string // the sender's process name; empty when the kernel itself sent it
	Data    []byte
	Blob    Blob // a blob handle, or 0
}

// Clone returns a copy of m that no longer borrows the receive buffer. The
// blob reference is not duplicated: release it once, through either copy.
func (m Message) Clone() Message {
	if m.Reply != "" {
		m.Reply = string([]byte(m.Reply))
	}
	if m.Data != nil {
		m.Data = append([]byte{}, m.Data...)
	}
	return m
}

// envelopeHeader is the size of the fixed part of an envelope.
const envelopeHeader = 28

// decodeEnvelope parses the envelope recv wrote into b (docs/ABI.md) into
// *m:
//
//	0 kind, 4 subject_len, 8 reply_len, 12 from_len, 16 data_len (u32 LE),
//	20 blob (u64 LE), 28 subject, reply, from and data bytes.
//
// Subject and From are interned; Reply and Data alias b. It allocates only
// when it meets a subject or sender for the first time. It fails with
// ErrInvalid, leaving *m unchanged, when b is shorter than the lengths it
// declares. (It fills a *Message rather than returning one: copying a
// Message costs more than the decoding in Go's wasm code.)
func decodeEnvelope(b []byte, m *Message) error {
	if len(b) < envelopeHeader {
		return ErrInvalid
	}
	le := binary.LittleEndian
	ls, lr, lf, ld := uint64(le.Uint32(b[4:])), uint64(le.Uint32(b[8:])), uint64(le.Uint32(b[12:])), uint64(le.Uint32(b[16:]))
	if envelopeHeader+ls+lr+lf+ld > uint64(len(b)) {
		return ErrInvalid
	}
	m.Kind = Kind(le.Uint32(b[0:]))
	m.Blob = Blob(le.Uint64(b[20:]))
	p := uint64(envelopeHeader)
	// Subject and From are most often those of the previous message: a
	// byte comparison here is far cheaper than a call (let alone a map
	// lookup) in Go's wasm code.
	if sb := b[p : p+ls]; string(sb) == lastSubject {
		m.Subject = lastSubject
	} else {
		m.Subject = intern(sb)
		lastSubject = m.Subject
	}
	p += ls
	m.Reply = borrow(b[p : p+lr])
	p += lr
	if fb := b[p : p+lf]; string(fb) == lastFrom {
		m.From = lastFrom
	} else {
		m.From = intern(fb)
		lastFrom = m.From
	}
	p += lf
	m.Data = b[p : p+ld : p+ld]
	return nil
}

// borrow returns a string sharing b's bytes: valid only while b is unchanged.
func borrow(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// maxInterned bounds the intern table. Subjects and process names come from
// a small set in practice; past the bound, new ones are simply allocated.
const maxInterned = 1024

var interned = make(map[string]string)

// intern returns a string equal to b, allocating only the first time it
// sees those bytes (while the table has room).
func intern(b []byte) string {
	if s, ok := interned[string(b)]; ok { // no allocation: looked up with b's bytes
		return s
	}
	s := string(b)
	if len(interned) < maxInterned {
		interned[s] = s
	}
	return s
}

// lastSubject and lastFrom are the interned Subject and From of the
// previous message.
var lastSubject, lastFrom string
