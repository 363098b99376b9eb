package orbital

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"time"
)

// The functions below call the orbital_v1 imports through the host* shims:
// direct wasm imports on wasip1 (abi_wasip1.go), a stand-in elsewhere
// (abi_other.go).

// Publish publishes data on subject (no wildcards). It fails with ErrDenied
// when the module may not publish there, ErrInvalid for a malformed subject
// and ErrTooBig when data exceeds the maximum message size. Publishing to a
// subject nobody subscribes to is not an error.
func Publish(subject string, data []byte) error {
	return errno(hostPublish(subject, data))
}

// Subscription is a subscription made by [Subscribe] or [QueueSubscribe].
// Subscriptions made by the kernel from the manifest's `listen` list have
// no Subscription value and last as long as the process.
type Subscription int32

// Subscribe subscribes the process to pattern ('*' matches one token, '>'
// the rest): matching messages arrive through [Recv]. It fails with
// ErrDenied when the manifest does not allow the pattern, ErrInvalid for a
// malformed pattern and ErrLimit when the process has too many
// subscriptions.
func Subscribe(pattern string) (Subscription, error) {
	return subscribe(pattern, "")
}

// QueueSubscribe subscribes to pattern as a member of the queue group
// queue: each message on the pattern goes to one member of the group
// (load balancing), not to all. Errors are those of [Subscribe].
func QueueSubscribe(pattern, queue string) (Subscription, error) {
	if queue == "" {
		return 0, ErrInvalid
	}
	return subscribe(pattern, queue)
}

func subscribe(pattern, queue string) (Subscription, error) {
	id := hostSubscribe(pattern, queue)
	if id <= 0 {
		if id == 0 { // the ABI promises an id > 0
			return 0, ErrInvalid
		}
		return 0, errno(id)
	}
	return Subscription(id), nil
}

// Unsubscribe ends the subscription. Messages already in the mailbox stay
// there. It fails with ErrNotFound for an unknown or ended subscription.
func (s Subscription) Unsubscribe() error {
	return errno(hostUnsubscribe(int32(s)))
}

// Send sends data directly to the process named to (or "#ID"), which
// receives it with Kind KindSend. It fails with ErrDenied when the manifest's
// `send` list does not name the process, ErrNotFound when no such process
// runs, and ErrLimit when its mailbox is full.
func Send(to string, data []byte) error {
	return errno(hostSend(to, data))
}

// Request publishes data on subject as a request and waits up to timeout
// for the first reply, whose data it returns (a new slice the caller owns).
// It fails with ErrNotFound when nobody subscribes to subject, ErrTimeout
// when no reply came in time, and ErrInvalid for a timeout <= 0; the timeout
// is rounded up to whole milliseconds.
//
// The reply is read into a buffer the SDK keeps between calls (64 KiB at
// first). A larger reply makes the kernel answer "buffer too small" and
// drop it, so Request grows the buffer fourfold and sends the request again,
// up to 64 MiB (then ErrTooBig): a responder whose replies exceed 64 KiB
// should be idempotent.
func Request(subject string, data []byte, timeout time.Duration) ([]byte, error) {
	if timeout <= 0 {
		return nil, ErrInvalid
	}
	ms := millis(timeout)
	pace(false)
	if len(reqBuf) > keepBuffer {
		reqBuf = nil // a past giant reply: give its memory back
	}
	if reqBuf == nil {
		reqBuf = make([]byte, initialReqBuffer)
	}
	for {
		n := hostRequest(subject, data, ms, reqBuf)
		switch {
		case n >= 0:
			if int(n) > len(reqBuf) {
				return nil, ErrInvalid
			}
			return append([]byte{}, reqBuf[:n]...), nil
		case n == codeBuffer && len(reqBuf) < maxReqBuffer:
			reqBuf = make([]byte, 4*len(reqBuf))
		case n == codeBuffer:
			return nil, ErrTooBig
		default:
			return nil, errno(n)
		}
	}
}

// Buffer sizes. keepBuffer: a buffer grown past it is dropped after use.
const (
	initialRecvBuffer = 16 << 10
	initialReqBuffer  = 64 << 10
	maxReqBuffer      = 64 << 20
	keepBuffer        = 1 << 20
)

var (
	recvBuf []byte // reused by every Recv: Message.Data and Reply point into it
	reqBuf  []byte // reused by every Request
)

// Respond answers the request m with data. It fails with ErrInvalid when m
// is not a request (it has no reply subject) and with ErrNotFound when the
// requester no longer waits (it timed out, or another responder answered
// first). Replies need no permission in the manifest.
func (m Message) Respond(data []byte) error {
	if m.Reply == "" {
		return ErrInvalid
	}
	return errno(hostReply(m.Reply, data))
}

// Recv waits up to timeout for the next message in the process's mailbox:
// a negative timeout waits forever, zero only polls, and a positive one is
// rounded up to whole milliseconds. It returns ok == false (and no error)
// when the timeout passes, and ErrClosed when the process must stop: return
// from main then. It fails with ErrDenied when the process is not connected
// to the bus.
//
// The message borrows the SDK's receive buffer until the next Recv (see
// [Message]); Recv itself allocates nothing except to grow that buffer for
// a message that does not fit. With the kernel's clock as its timer, Recv
// also serves modules that have no clock capability as a sleep.
func Recv(timeout time.Duration) (m Message, ok bool, err error) {
	ok, err = recv(&m, timeout)
	return m, ok, err
}

// recv is Recv filling *m, which Serve reuses: a Message is costly to copy
// in Go's wasm code.
func recv(m *Message, timeout time.Duration) (bool, error) {
	ms := millis(timeout)
	pace(false)
	if len(recvBuf) > keepBuffer {
		recvBuf = nil // the previous message was huge and is now dead
	}
	if recvBuf == nil {
		recvBuf = make([]byte, initialRecvBuffer)
	}
	for tries := 0; ; tries++ {
		n := hostRecv(recvBuf, ms)
		switch {
		case n > 0:
			if int(n) > len(recvBuf) {
				return false, ErrInvalid
			}
			if err := decodeEnvelope(recvBuf[:n], m); err != nil {
				return false, err
			}
			return true, nil
		case n == 0:
			pace(true) // idle: a good moment to let the runtime (and GC) run
			return false, nil
		case n != codeBuffer:
			return false, errno(n)
		}
		// ERR_BUFFER: the message is kept; recv_size says how big it is.
		need := int(hostRecvSize())
		switch {
		case need > len(recvBuf):
			recvBuf = make([]byte, need)
		case tries >= 3: // the kernel keeps saying it does not fit: give up
			return false, Errno(codeBuffer)
		}
		// need <= len(recvBuf): the pending message changed meanwhile
		// (dropped, or replaced by a smaller one); just try again.
	}
}

// Serve calls handler for every message until the process must stop, then
// returns nil. It returns any other error of [Recv] (ErrDenied when the
// process is not connected to the bus). The message passed to handler is
// valid only while handler runs (see [Message]).
func Serve(handler func(Message)) error {
	var m Message
	for {
		ok, err := recv(&m, -1)
		switch {
		case err == ErrClosed:
			return nil
		case err != nil:
			return err
		case ok:
			handler(m)
		}
	}
}

// yieldEvery is how many Recv/Request calls pass between two yields to the
// Go scheduler when the module is busy. A yield costs about 2.5 µs in
// wazero (the scheduler polls WASI); every 256 messages that is ~10 ns each.
const yieldEvery = 256

var sinceYield int

// pace yields to the Go scheduler every yieldEvery calls, and whenever the
// module is idle. A Go guest spends its life in host calls, where the
// scheduler does not run: its other goroutines and the garbage collector's
// background workers get the CPU only when it yields. (Allocation assists
// also drive a GC cycle forward, but only while the guest allocates.)
func pace(idle bool) {
	sinceYield++
	if idle || sinceYield >= yieldEvery {
		sinceYield = 0
		runtime.Gosched()
	}
}

// Timeouts of recv, as the ABI numbers them.
const (
	timeoutForever = -1 // wait until a message arrives
	timeoutPoll    = 0  // return at once
)

// millis converts a timeout to the ABI's milliseconds: timeoutForever for
// negative, timeoutPoll for zero, else rounded up and capped at MaxInt32.
func millis(d time.Duration) int32 {
	switch {
	case d < 0:
		return timeoutForever
	case d == 0:
		return timeoutPoll
	case d >= math.MaxInt32*time.Millisecond:
		return math.MaxInt32
	}
	return int32((d + time.Millisecond - 1) / time.Millisecond)
}

// Level is the severity of a log line.
type Level int32

// Log levels, as the ABI numbers them.
const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// Log writes one log line attributed to the process. The kernel truncates
// lines over 16 KiB. Log needs no capability and never fails.
func Log(level Level, msg string) {
	hostLog(int32(level), msg)
}

// Logf formats its arguments as fmt.Sprintf does and logs the result.
func Logf(level Level, format string, args ...any) {
	hostLog(int32(level), fmt.Sprintf(format, args...))
}

// Blob is a handle to a host-owned, immutable, reference-counted byte
// buffer. Publishing a blob hands receivers the handle, not a copy; each
// holder reads the ranges it needs with ReadAt and calls Release when done.
// A blob is freed when its last holder releases it (or stops), and counts
// against its creator's memory quota meanwhile.
type Blob int64

var _ io.ReaderAt = Blob(0)

// NewBlob copies data into a new blob owned by the process. It fails with
// ErrLimit when the blob would exceed the process's memory quota.
func NewBlob(data []byte) (Blob, error) {
	h := hostBlobCreate(data)
	if h <= 0 {
		if h == 0 { // the ABI promises a handle > 0
			return 0, ErrInvalid
		}
		return 0, errno(h)
	}
	return Blob(h), nil
}

// Publish publishes the blob on subject: subscribers receive the handle
// (and a reference of their own) instead of a copy. The caller keeps its
// reference. Errors are those of [Publish].
func (b Blob) Publish(subject string) error {
	return errno(hostBlobPublish(subject, int64(b)))
}

// Len returns the blob's size in bytes. It fails with ErrNotFound for a
// handle the process does not hold.
func (b Blob) Len() (int64, error) {
	n := hostBlobLen(int64(b))
	if n < 0 {
		return 0, errno(n)
	}
	return n, nil
}

// ReadAt copies len(p) bytes of the blob starting at off into p, as
// [io.ReaderAt] does: when fewer bytes remain it returns how many it copied
// and io.EOF. It fails with ErrNotFound for a handle the process does not
// hold and ErrInvalid for a negative offset.
func (b Blob) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, ErrInvalid
	}
	total := 0
	for total < len(p) {
		chunk := p[total:]
		if len(chunk) > 1<<30 {
			chunk = chunk[:1<<30]
		}
		n := hostBlobRead(int64(b), off, chunk)
		switch {
		case n < 0:
			return total, errno(n)
		case n == 0:
			return total, io.EOF
		case int(n) > len(chunk):
			return total, ErrInvalid
		}
		total += int(n)
		off += int64(n)
		if int(n) < len(chunk) { // a short read: the blob ended
			return total, io.EOF
		}
	}
	return total, nil
}

// Release drops the process's reference to the blob; the handle is invalid
// afterwards. It fails with ErrNotFound for a handle the process does not
// hold.
func (b Blob) Release() error {
	return errno(hostBlobRelease(int64(b)))
}
