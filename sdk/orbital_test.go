//go:build !wasip1

package orbital

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// fake is a kernel with a mailbox, for testing the SDK's side of the ABI.
// It follows docs/ABI.md: recv keeps a message that does not fit and
// answers ERR_BUFFER; recv_size reports the pending envelope's size.
type fake struct {
	detached
	mailbox  [][]byte // encoded envelopes
	closed   bool     // recv answers ERR_CLOSED once the mailbox is empty
	recvs    int      // recv calls
	timeouts []int32  // timeout of each recv

	published map[string][]string
	replies   map[string]string

	answer   []byte // what request answers
	requests int    // request calls
	subs     map[int32]string

	blobs map[int64][]byte
}

func newFake(t *testing.T) *fake {
	f := &fake{published: map[string][]string{}, replies: map[string]string{}, subs: map[int32]string{}, blobs: map[int64][]byte{}}
	saved, savedRecv, savedReq := host, recvBuf, reqBuf
	host, recvBuf, reqBuf = f, nil, nil
	t.Cleanup(func() { host, recvBuf, reqBuf = saved, savedRecv, savedReq })
	return f
}

func (f *fake) publish(subject string, data []byte) int32 {
	if subject == "" {
		return codeInvalid
	}
	f.published[subject] = append(f.published[subject], string(data))
	return 0
}

func (f *fake) subscribe(pattern, queue string) int32 {
	if pattern == "" {
		return codeInvalid
	}
	id := int32(len(f.subs) + 1)
	f.subs[id] = pattern + "|" + queue
	return id
}

func (f *fake) unsubscribe(id int32) int32 {
	if _, ok := f.subs[id]; !ok {
		return codeNotFound
	}
	delete(f.subs, id)
	return 0
}

func (f *fake) reply(reply string, data []byte) int32 {
	f.replies[strings.Clone(reply)] = string(data) // reply borrows the guest's buffer
	return 0
}

func (f *fake) request(subject string, data []byte, timeoutMS int32, buf []byte) int32 {
	f.requests++
	if timeoutMS <= 0 {
		return codeInvalid
	}
	if subject == "nobody" {
		return codeNotFound
	}
	if len(f.answer) > len(buf) {
		return codeBuffer // the kernel drops the reply
	}
	return int32(copy(buf, f.answer))
}

func (f *fake) recv(buf []byte, timeoutMS int32) int32 {
	f.recvs++
	if len(f.timeouts) < 16 {
		f.timeouts = append(f.timeouts, timeoutMS)
	}
	if len(f.mailbox) == 0 {
		if f.closed {
			return codeClosed
		}
		return 0
	}
	env := f.mailbox[0]
	if len(env) > len(buf) {
		return codeBuffer
	}
	f.mailbox = f.mailbox[1:]
	return int32(copy(buf, env))
}

func (f *fake) recvSize() int32 {
	if len(f.mailbox) == 0 {
		return 0
	}
	return int32(len(f.mailbox[0]))
}

func (f *fake) blobCreate(data []byte) int64 {
	id := int64(len(f.blobs) + 100)
	f.blobs[id] = append([]byte(nil), data...)
	return id
}

func (f *fake) blobLen(blob int64) int64 {
	b, ok := f.blobs[blob]
	if !ok {
		return codeNotFound
	}
	return int64(len(b))
}

func (f *fake) blobRead(blob, off int64, buf []byte) int32 {
	b, ok := f.blobs[blob]
	if !ok {
		return codeNotFound
	}
	if off >= int64(len(b)) {
		return 0
	}
	return int32(copy(buf, b[off:]))
}

func (f *fake) blobRelease(blob int64) int32 {
	if _, ok := f.blobs[blob]; !ok {
		return codeNotFound
	}
	delete(f.blobs, blob)
	return 0
}

func TestDetached(t *testing.T) {
	if err := Publish("a", nil); err != ErrDenied {
		t.Errorf("Publish: %v, want ErrDenied", err)
	}
	if _, _, err := Recv(0); err != ErrDenied {
		t.Errorf("Recv: %v, want ErrDenied", err)
	}
	if err := Serve(func(Message) { t.Error("handler called") }); err != ErrDenied {
		t.Errorf("Serve: %v, want ErrDenied", err)
	}
	if _, err := NewBlob([]byte("x")); err != ErrDenied {
		t.Errorf("NewBlob: %v, want ErrDenied", err)
	}
}

func TestRecv(t *testing.T) {
	f := newFake(t)
	f.mailbox = [][]byte{encode(0, "demo.tick", "", "ticker", []byte("tick 1"), 0)}
	m, ok, err := Recv(time.Second)
	if err != nil || !ok || m.Subject != "demo.tick" || string(m.Data) != "tick 1" || m.From != "ticker" || m.Kind != KindPublish {
		t.Fatalf("Recv = %+v, %v, %v", m, ok, err)
	}
	if _, ok, err := Recv(500 * time.Millisecond); ok || err != nil {
		t.Fatalf("empty mailbox: ok %v err %v, want a timeout", ok, err)
	}
	f.closed = true
	if _, ok, err := Recv(-1); ok || err != ErrClosed {
		t.Fatalf("closing: ok %v err %v, want ErrClosed", ok, err)
	}
	if want := []int32{1000, 500, -1}; !equal(f.timeouts, want) {
		t.Fatalf("timeouts passed %v, want %v", f.timeouts, want)
	}
}

func TestRecvGrowsBuffer(t *testing.T) {
	f := newFake(t)
	big := bytes.Repeat([]byte("b"), 3*initialRecvBuffer)
	f.mailbox = [][]byte{
		encode(0, "small", "", "", []byte("s"), 0),
		encode(2, "big", "_inbox.1", "x", big, 0),
		encode(0, "after", "", "", []byte("a"), 0),
	}
	var got []string
	for range 3 {
		m, ok, err := Recv(0)
		if err != nil || !ok {
			t.Fatalf("Recv: ok %v err %v", ok, err)
		}
		got = append(got, m.Subject)
		if m.Subject == "big" && (!bytes.Equal(m.Data, big) || m.Reply != "_inbox.1") {
			t.Fatal("big message corrupted")
		}
	}
	if !equal(got, []string{"small", "big", "after"}) {
		t.Fatalf("received %v", got)
	}
	if f.recvs != 4 { // the big one took two recv calls
		t.Fatalf("%d recv calls, want 4", f.recvs)
	}
}

func TestRecvShrinksAfterGiant(t *testing.T) {
	f := newFake(t)
	f.mailbox = [][]byte{
		encode(0, "giant", "", "", make([]byte, 2*keepBuffer), 0),
		encode(0, "next", "", "", nil, 0),
	}
	if _, ok, err := Recv(0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, ok, err := Recv(0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if len(recvBuf) != initialRecvBuffer {
		t.Fatalf("receive buffer kept %d bytes after a giant message", len(recvBuf))
	}
}

// vanishing is a kernel whose oversized pending message disappears between
// recv and recv_size (dropped by an overflow policy).
type vanishing struct{ fake }

func (v *vanishing) recvSize() int32 {
	v.mailbox = v.mailbox[1:]
	return v.fake.recvSize()
}

func TestRecvPendingVanishes(t *testing.T) {
	v := &vanishing{}
	saved, savedRecv := host, recvBuf
	host, recvBuf = v, nil
	defer func() { host, recvBuf = saved, savedRecv }()
	v.mailbox = [][]byte{encode(0, "big", "", "", make([]byte, 2*initialRecvBuffer), 0), encode(0, "small", "", "", nil, 0)}
	m, ok, err := Recv(0)
	if err != nil || !ok || m.Subject != "small" {
		t.Fatalf("Recv = %+v, %v, %v; want the small message", m, ok, err)
	}
}

// stubborn answers ERR_BUFFER for ever although recv_size says it fits.
type stubborn struct{ fake }

func (*stubborn) recv([]byte, int32) int32 { return codeBuffer }
func (*stubborn) recvSize() int32          { return 10 }

func TestRecvGivesUpOnInconsistentKernel(t *testing.T) {
	saved, savedRecv := host, recvBuf
	host, recvBuf = &stubborn{}, nil
	defer func() { host, recvBuf = saved, savedRecv }()
	if _, ok, err := Recv(0); ok || !errors.Is(err, Errno(codeBuffer)) {
		t.Fatalf("ok %v err %v, want Errno(-8)", ok, err)
	}
}

func TestRecvAllocs(t *testing.T) {
	f := newFake(t)
	env := encode(2, "demo.allocs", "_inbox.z.1", "client", bytes.Repeat([]byte("d"), 256), 0)
	box := [][]byte{env}
	f.mailbox = box
	if _, _, err := Recv(0); err != nil { // warm up: buffer and intern table
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		f.mailbox = box
		m, ok, err := Recv(-1)
		if !ok || err != nil || m.Subject != "demo.allocs" {
			t.Fatal(m, ok, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Recv allocates %.1f times per message, want 0", allocs)
	}
}

func TestServe(t *testing.T) {
	f := newFake(t)
	f.mailbox = [][]byte{
		encode(2, "demo.echo", "_inbox.1", "c", []byte("one"), 0),
		encode(0, "demo.echo", "", "c", []byte("ignored"), 0),
		encode(2, "demo.echo", "_inbox.2", "c", []byte("two"), 0),
	}
	f.closed = true
	n := 0
	err := Serve(func(m Message) {
		n++
		if m.Kind == KindRequest {
			if err := m.Respond(m.Data); err != nil {
				t.Error(err)
			}
		} else if err := m.Respond(m.Data); err != ErrInvalid {
			t.Errorf("Respond to a publish: %v, want ErrInvalid", err)
		}
	})
	if err != nil || n != 3 {
		t.Fatalf("Serve = %v after %d messages", err, n)
	}
	if f.replies["_inbox.1"] != "one" || f.replies["_inbox.2"] != "two" || len(f.replies) != 2 {
		t.Fatalf("replies %v", f.replies)
	}
}

func TestRequest(t *testing.T) {
	f := newFake(t)
	f.answer = []byte("pong")
	got, err := Request("demo.ping", []byte("ping"), 250*time.Millisecond)
	if err != nil || string(got) != "pong" {
		t.Fatalf("Request = %q, %v", got, err)
	}
	got[0] = 'X' // the caller owns the result
	if again, _ := Request("demo.ping", nil, time.Second); string(again) != "pong" {
		t.Fatalf("result aliases the SDK's buffer: %q", again)
	}
	if _, err := Request("nobody", nil, time.Second); err != ErrNotFound {
		t.Fatalf("no responders: %v, want ErrNotFound", err)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := Request("demo.ping", nil, d); err != ErrInvalid {
			t.Fatalf("timeout %v: %v, want ErrInvalid", d, err)
		}
	}
}

func TestRequestGrowsBuffer(t *testing.T) {
	f := newFake(t)
	f.answer = bytes.Repeat([]byte("r"), 5*initialReqBuffer) // needs 64 KiB -> 256 KiB -> 1 MiB
	got, err := Request("demo.big", nil, time.Second)
	if err != nil || !bytes.Equal(got, f.answer) {
		t.Fatalf("Request: %d bytes, %v", len(got), err)
	}
	if f.requests != 3 {
		t.Fatalf("%d request calls, want 3 (two re-sends)", f.requests)
	}
	f.answer = make([]byte, maxReqBuffer+1)
	if _, err := Request("demo.huge", nil, time.Second); err != ErrTooBig {
		t.Fatalf("reply over the cap: %v, want ErrTooBig", err)
	}
}

func TestSubscribe(t *testing.T) {
	f := newFake(t)
	s, err := Subscribe("demo.>")
	if err != nil || s <= 0 {
		t.Fatal(s, err)
	}
	q, err := QueueSubscribe("work.*", "workers")
	if err != nil || f.subs[int32(q)] != "work.*|workers" {
		t.Fatal(q, err, f.subs)
	}
	if _, err := QueueSubscribe("work.*", ""); err != ErrInvalid {
		t.Fatalf("empty queue: %v", err)
	}
	if _, err := Subscribe(""); err != ErrInvalid {
		t.Fatalf("empty pattern: %v", err)
	}
	if err := s.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := s.Unsubscribe(); err != ErrNotFound {
		t.Fatalf("second Unsubscribe: %v, want ErrNotFound", err)
	}
}

func TestBlob(t *testing.T) {
	newFake(t)
	data := []byte("0123456789abcdef-the-middle-0123456789ABCDEF")
	b, err := NewBlob(data)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := b.Len(); err != nil || n != int64(len(data)) {
		t.Fatalf("Len = %d, %v", n, err)
	}
	head := make([]byte, 16)
	if n, err := b.ReadAt(head, 0); n != 16 || err != nil || string(head) != "0123456789abcdef" {
		t.Fatalf("ReadAt head = %d %v %q", n, err, head)
	}
	tail := make([]byte, 16)
	if n, err := b.ReadAt(tail, int64(len(data)-16)); n != 16 || err != nil || string(tail) != "0123456789ABCDEF" {
		t.Fatalf("ReadAt tail = %d %v %q", n, err, tail)
	}
	if n, err := b.ReadAt(tail, int64(len(data)-4)); n != 4 || err != io.EOF {
		t.Fatalf("short ReadAt = %d, %v; want 4, io.EOF", n, err)
	}
	if n, err := b.ReadAt(tail, int64(len(data))); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt at the end = %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := b.ReadAt(tail, -1); err != ErrInvalid {
		t.Fatalf("negative offset: %v", err)
	}
	all, err := io.ReadAll(io.NewSectionReader(b, 0, 1<<20))
	if err != nil || !bytes.Equal(all, data) {
		t.Fatalf("through io.SectionReader: %q, %v", all, err)
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Len(); err != ErrNotFound {
		t.Fatalf("Len after Release: %v", err)
	}
	if err := b.Release(); err != ErrNotFound {
		t.Fatalf("second Release: %v", err)
	}
}

func TestMillis(t *testing.T) {
	for d, want := range map[time.Duration]int32{
		-1:                        -1,
		-time.Hour:                -1,
		0:                         0,
		1:                         1,
		time.Millisecond:          1,
		time.Millisecond + 1:      2,
		500 * time.Millisecond:    500,
		math.MaxInt64:             math.MaxInt32,
		24 * 40 * time.Hour:       math.MaxInt32,
		math.MaxInt32 * 1000000:   math.MaxInt32,
		math.MaxInt32*1000000 - 1: math.MaxInt32,
	} {
		if got := millis(d); got != want {
			t.Errorf("millis(%v) = %d, want %d", d, got, want)
		}
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
