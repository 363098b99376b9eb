package orbital

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"
)

// encode builds an envelope byte for byte as docs/ABI.md lays it out.
func encode(kind uint32, subject, reply, from string, data []byte, blob uint64) []byte {
	b := make([]byte, 28, 28+len(subject)+len(reply)+len(from)+len(data))
	le := binary.LittleEndian
	le.PutUint32(b[0:], kind)
	le.PutUint32(b[4:], uint32(len(subject)))
	le.PutUint32(b[8:], uint32(len(reply)))
	le.PutUint32(b[12:], uint32(len(from)))
	le.PutUint32(b[16:], uint32(len(data)))
	le.PutUint64(b[20:], blob)
	b = append(b, subject...)
	b = append(b, reply...)
	b = append(b, from...)
	return append(b, data...)
}

// decode is decodeEnvelope returning its message.
func decode(b []byte) (Message, error) {
	var m Message
	err := decodeEnvelope(b, &m)
	return m, err
}

func TestDecodeEnvelope(t *testing.T) {
	tests := []struct {
		name                 string
		kind                 uint32
		subject, reply, from string
		data                 []byte
		blob                 uint64
	}{
		{"publish", 0, "demo.tick", "", "ticker", []byte("tick 1"), 0},
		{"send", 1, "", "", "client", []byte{0, 1, 2, 255}, 0},
		{"request", 2, "demo.stats", "_inbox.abc.7", "cli", nil, 0},
		{"blob", 0, "demo.blob", "", "maker", nil, 1<<40 + 3},
		{"kernel sender", 0, "$sys.proc.exited", "", "", []byte(`{"name":"x"}`), 0},
		{"unknown kind", 9, "a", "b", "c", []byte("d"), 1},
		{"empty", 0, "", "", "", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encode(tt.kind, tt.subject, tt.reply, tt.from, tt.data, tt.blob)
			m, err := decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != Kind(tt.kind) || m.Subject != tt.subject || m.Reply != tt.reply || m.From != tt.from ||
				!bytes.Equal(m.Data, tt.data) || m.Blob != Blob(tt.blob) {
				t.Fatalf("decoded %+v, want %+v", m, tt)
			}
			if len(m.Data) != cap(m.Data) {
				t.Errorf("Data has spare capacity %d: appending to it would overwrite the buffer", cap(m.Data)-len(m.Data))
			}
			// Trailing bytes (a larger buffer) are ignored.
			m2, err := decode(append(b, "garbage"...))
			if err != nil || !bytes.Equal(m2.Data, tt.data) {
				t.Fatalf("with trailing bytes: %+v, %v", m2, err)
			}
		})
	}
}

func TestDecodeEnvelopeMalformed(t *testing.T) {
	good := encode(2, "demo.echo", "_inbox.1", "me", []byte("hello"), 0)
	for n := 0; n < len(good); n++ {
		m := Message{Subject: "untouched"}
		if err := decodeEnvelope(good[:n], &m); !errors.Is(err, ErrInvalid) {
			t.Fatalf("truncated to %d bytes: err %v, want ErrInvalid", n, err)
		}
		if m.Subject != "untouched" || m.Kind != 0 || m.Data != nil || m.Blob != 0 {
			t.Fatalf("truncated to %d bytes: message changed to %+v", n, m)
		}
	}
	// Lengths whose sum overflows 32 bits must not wrap around.
	huge := encode(0, "a", "", "", nil, 0)
	for _, off := range []int{4, 8, 12, 16} {
		b := append([]byte(nil), huge...)
		binary.LittleEndian.PutUint32(b[off:], 0xffffffff)
		if _, err := decode(b); !errors.Is(err, ErrInvalid) {
			t.Fatalf("length at %d = 2^32-1: err %v, want ErrInvalid", off, err)
		}
	}
}

func TestDecodeEnvelopeBorrowsAndInterns(t *testing.T) {
	b := encode(2, "demo.intern", "_inbox.x.1", "sender", []byte("abc"), 0)
	m, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	// Subject and From own their bytes: overwriting the buffer leaves them be.
	// Reply and Data borrow it.
	for i := 28; i < len(b); i++ {
		b[i] = 'z'
	}
	if m.Subject != "demo.intern" || m.From != "sender" {
		t.Fatalf("Subject %q From %q changed with the buffer", m.Subject, m.From)
	}
	if m.Reply != "zzzzzzzzzz" || string(m.Data) != "zzz" {
		t.Fatalf("Reply %q Data %q do not borrow the buffer", m.Reply, m.Data)
	}

	// A subject seen before comes back as the very same string.
	b = encode(0, "demo.intern", "", "sender", nil, 0)
	m2, _ := decode(b)
	if unsafe.StringData(m2.Subject) != unsafe.StringData(m.Subject) || unsafe.StringData(m2.From) != unsafe.StringData(m.From) {
		t.Error("Subject/From not interned")
	}
}

func TestDecodeEnvelopeAllocs(t *testing.T) {
	b := encode(2, "demo.allocs", "_inbox.q.99", "client", bytes.Repeat([]byte("x"), 1000), 5)
	if _, err := decode(b); err != nil { // first sight interns the strings
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := decode(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("decoding a known subject allocates %.0f times, want 0", allocs)
	}
}

func TestDecodeAlternatingSubjects(t *testing.T) {
	// The one-entry caches must never hand back the previous message's strings.
	subjects := []string{"a.b", "a.c", "a.c", "a.b", "x", "a.b", "a.bb", "a.b"}
	froms := []string{"p", "q", "", "q", "q", "p", "", "pp"}
	for i, subj := range subjects {
		m, err := decode(encode(0, subj, "", froms[i], nil, 0))
		if err != nil || m.Subject != subj || m.From != froms[i] {
			t.Fatalf("message %d: Subject %q From %q (%v), want %q %q", i, m.Subject, m.From, err, subj, froms[i])
		}
	}
}

func TestInternBounded(t *testing.T) {
	saved := interned
	defer func() { interned = saved }()
	interned = make(map[string]string)
	for i := 0; i < 3*maxInterned; i++ {
		s := intern(binary.LittleEndian.AppendUint32([]byte("s."), uint32(i)))
		if len(s) != 6 {
			t.Fatalf("intern returned %q", s)
		}
	}
	if len(interned) != maxInterned {
		t.Fatalf("intern table holds %d strings, want the bound %d", len(interned), maxInterned)
	}
}

func TestMessageClone(t *testing.T) {
	b := encode(2, "demo.echo", "_inbox.c.1", "me", []byte("data"), 7)
	m, _ := decode(b)
	c := m.Clone()
	for i := range b {
		b[i] = 0
	}
	if c.Reply != "_inbox.c.1" || string(c.Data) != "data" || c.Subject != "demo.echo" || c.Blob != 7 || c.Kind != KindRequest {
		t.Fatalf("clone changed with the buffer: %+v", c)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindPublish: "publish", KindSend: "send", KindRequest: "request", 7: "kind(7)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint32(k), got, want)
		}
	}
}

func TestErrno(t *testing.T) {
	want := map[int32]error{
		-1: ErrDenied, -2: ErrInvalid, -3: ErrTooBig, -4: ErrNotFound,
		-5: ErrTimeout, -6: ErrLimit, -7: ErrClosed,
	}
	for code, e := range want {
		if got := errno(code); got != e || !errors.Is(got, e) {
			t.Errorf("errno(%d) = %v, want %v", code, got, e)
		}
		if got := errno(int64(code)); got != e {
			t.Errorf("errno(int64(%d)) = %v, want %v", code, got, e)
		}
		if e.(Errno).Code() != code {
			t.Errorf("%v.Code() = %d, want %d", e, e.(Errno).Code(), code)
		}
	}
	for _, ok := range []int32{0, 1, 1 << 30} {
		if err := errno(ok); err != nil {
			t.Errorf("errno(%d) = %v, want nil", ok, err)
		}
	}
	if err := errno(int64(-1) << 40); err != ErrInvalid {
		t.Errorf("errno(-2^40) = %v, want ErrInvalid", err)
	}
	if got := Errno(-8).Error(); got != "orbital: buffer too small" {
		t.Errorf("Errno(-8) = %q", got)
	}
	if got := Errno(-99).Error(); got != "orbital: error -99" {
		t.Errorf("Errno(-99) = %q", got)
	}
}
