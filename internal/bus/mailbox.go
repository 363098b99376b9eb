package bus

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Overflow is what a full mailbox does with a new message.
type Overflow int

// Overflow policies. The zero value is DropNewest.
const (
	// DropNewest refuses the new message; the queue keeps its oldest ones.
	DropNewest Overflow = iota
	// DropOldest evicts the oldest queued messages to make room, so a
	// consumer that falls behind sees the most recent ones.
	DropOldest
	// Block makes the publisher wait for room, at most BlockTimeout, and
	// then drops the new message like DropNewest. Only the publisher
	// waits: other publishers and the kernel keep running. Endpoints that
	// send to each other with full Block mailboxes can wait on each other;
	// the timeout is what bounds such a cycle.
	Block
)

// String returns the manifest spelling: "drop-newest", "drop-oldest", "block".
func (o Overflow) String() string {
	switch o {
	case DropNewest:
		return "drop-newest"
	case DropOldest:
		return "drop-oldest"
	case Block:
		return "block"
	}
	return fmt.Sprintf("Overflow(%d)", int(o))
}

// ParseOverflow parses the manifest spelling of a policy ("" is DropNewest).
func ParseOverflow(s string) (Overflow, error) {
	switch s {
	case "", "drop-newest":
		return DropNewest, nil
	case "drop-oldest":
		return DropOldest, nil
	case "block":
		return Block, nil
	}
	return 0, fmt.Errorf("%w overflow policy %q: want drop-newest, drop-oldest or block", ErrInvalid, s)
}

// Mailbox defaults.
const (
	// DefaultCapacity is the capacity of a mailbox configured with 0.
	DefaultCapacity = 1024
	// DefaultBlockTimeout is how long a Block mailbox makes a publisher
	// wait when BlockTimeout is 0.
	DefaultBlockTimeout = 100 * time.Millisecond
	// chunkSize is the number of messages per queue chunk.
	chunkSize = 16
)

// MailboxConfig configures a Mailbox.
type MailboxConfig struct {
	// Capacity is the maximum number of queued messages (0 = DefaultCapacity).
	Capacity int
	// Overflow is the policy when the mailbox is full.
	Overflow Overflow
	// BlockTimeout bounds a publisher's wait under Block (0 = DefaultBlockTimeout).
	BlockTimeout time.Duration
	// MaxBytes bounds the queued Data bytes; a message that does not fit
	// counts as overflow. 0 means Capacity × the bus's MaxMessageSize,
	// fixed when the mailbox is registered (DefaultMaxMessageSize before).
	MaxBytes int
}

// Mailbox is a bounded multi-producer queue of messages with one consumer,
// the endpoint's process. Publishers never wait on it except under the
// Block policy, and then at most BlockTimeout. Memory is bounded by
// Capacity message slots plus MaxBytes of queued Data. The queue is a
// linked list of 16-message chunks shared through a pool: an empty mailbox
// holds no chunk, so a past burst pins no memory and an idle mailbox costs
// a few hundred bytes.
//
// Every message the mailbox drops or discards has its Blob released: a
// queued message owns one reference to its blob, which passes to the
// consumer on receipt.
//
// All methods are safe for concurrent use. Receiving from more than one
// goroutine is safe but messages are then handed out in no useful order.
type Mailbox struct {
	mu       sync.Mutex
	head     *chunk // oldest messages; nil when empty
	tail     *chunk // where the next message goes
	hi, ti   int    // next read index in head, next write index in tail
	n        int
	chunks   int
	bytes    int
	capacity int
	maxBytes int
	autoMax  bool // MaxBytes was 0: adopt the bus's message size on Register
	policy   Overflow
	timeout  time.Duration
	closed   bool
	waiters  int // publishers blocked for room
	in, out  uint64
	dropped  uint64

	notify chan struct{} // cap 1: a message may be waiting
	space  chan struct{} // cap 1: room may be available (Block waiters)
	done   chan struct{} // closed by Close
}

// NewMailbox returns an empty mailbox. Invalid values are replaced by the
// defaults (negative Capacity or BlockTimeout, unknown policy → DropNewest).
func NewMailbox(c MailboxConfig) *Mailbox {
	if c.Capacity <= 0 {
		c.Capacity = DefaultCapacity
	}
	if c.BlockTimeout <= 0 {
		c.BlockTimeout = DefaultBlockTimeout
	}
	if c.Overflow < DropNewest || c.Overflow > Block {
		c.Overflow = DropNewest
	}
	mb := &Mailbox{
		capacity: c.Capacity,
		maxBytes: c.MaxBytes,
		policy:   c.Overflow,
		timeout:  c.BlockTimeout,
		notify:   make(chan struct{}, 1),
		space:    make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	if c.MaxBytes <= 0 {
		mb.autoMax = true
		mb.maxBytes = satMul(c.Capacity, DefaultMaxMessageSize)
	}
	return mb
}

func satMul(a, b int) int {
	if a > 0 && b > (int(^uint(0)>>1))/a {
		return int(^uint(0) >> 1)
	}
	return a * b
}

// adoptMessageSize sets the automatic byte bound from the bus's limit.
func (mb *Mailbox) adoptMessageSize(max int) {
	mb.mu.Lock()
	if mb.autoMax {
		mb.maxBytes = satMul(mb.capacity, max)
	}
	mb.mu.Unlock()
}

// Config returns the effective configuration.
func (mb *Mailbox) Config() MailboxConfig {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return MailboxConfig{Capacity: mb.capacity, Overflow: mb.policy, BlockTimeout: mb.timeout, MaxBytes: mb.maxBytes}
}

// pushResult tells the bus what happened to a pushed message.
type pushResult uint8

const (
	pushed        pushResult = iota // queued
	pushedEvicted                   // queued after evicting older messages (DropOldest)
	pushDropped                     // refused: full (the caller still owns m.Blob)
	pushClosed                      // refused: closed (the caller still owns m.Blob)
)

// Push queues m, applying the overflow policy when the mailbox is full. On
// success the mailbox owns one reference to m.Blob; on error the caller
// still does. The error wraps ErrFull (dropped) or ErrClosed.
func (mb *Mailbox) Push(m Message) error {
	switch mb.push(m, false) {
	case pushDropped:
		return ErrFull
	case pushClosed:
		return ErrClosed
	}
	return nil
}

// tryPush queues m only if there is room, without any policy or waiting.
func (mb *Mailbox) tryPush(m Message) bool {
	return mb.push(m, true) <= pushedEvicted
}

func (mb *Mailbox) push(m Message, try bool) pushResult {
	size := len(m.Data)
	res := pushed
	var t *time.Timer
	mb.mu.Lock()
	for {
		if mb.closed {
			mb.mu.Unlock()
			if t != nil {
				putTimer(t)
			}
			return pushClosed
		}
		if mb.n < mb.capacity && mb.bytes+size <= mb.maxBytes {
			break
		}
		if try {
			mb.mu.Unlock()
			return pushDropped
		}
		if size > mb.maxBytes || mb.policy == DropNewest {
			mb.dropped++
			mb.mu.Unlock()
			return pushDropped
		}
		if mb.policy == DropOldest {
			old := mb.pop()
			mb.out-- // an eviction is a drop, not a delivery
			mb.dropped++
			if old.Blob != nil {
				old.Blob.Release()
			}
			res = pushedEvicted
			continue
		}
		// Block: wait for room, the deadline, or Close.
		if t == nil {
			t = getTimer(mb.timeout)
		}
		mb.waiters++
		mb.mu.Unlock()
		timedOut := false
		select {
		case <-mb.space:
		case <-mb.done:
		case <-t.C:
			timedOut = true
		}
		mb.mu.Lock()
		mb.waiters--
		if timedOut && !mb.closed && !(mb.n < mb.capacity && mb.bytes+size <= mb.maxBytes) {
			mb.dropped++
			mb.mu.Unlock()
			putTimer(t)
			return pushDropped
		}
	}
	if mb.tail == nil || mb.ti == chunkSize {
		c := chunkPool.Get().(*chunk)
		if mb.tail == nil {
			mb.head, mb.hi = c, 0
		} else {
			mb.tail.next = c
		}
		mb.tail, mb.ti = c, 0
		mb.chunks++
	}
	mb.tail.msgs[mb.ti] = m
	mb.ti++
	mb.n++
	mb.bytes += size
	mb.in++
	first := mb.n == 1
	if mb.waiters > 0 && mb.n < mb.capacity {
		// Pass the wake-up on: more room may be left for another waiter.
		select {
		case mb.space <- struct{}{}:
		default:
		}
	}
	mb.mu.Unlock()
	if t != nil {
		putTimer(t)
	}
	if first {
		select {
		case mb.notify <- struct{}{}:
		default:
		}
	}
	return res
}

// chunk is a piece of a mailbox queue. Pooled chunks are all zero: every
// slot is cleared when it is read.
type chunk struct {
	msgs [chunkSize]Message
	next *chunk
}

var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

// pop removes the head; mb.mu is held and mb.n > 0.
func (mb *Mailbox) pop() Message {
	c := mb.head
	m := c.msgs[mb.hi]
	c.msgs[mb.hi] = Message{}
	mb.hi++
	mb.n--
	mb.bytes -= len(m.Data)
	mb.out++
	if mb.n == 0 || mb.hi == chunkSize {
		if mb.n == 0 { // c is also the tail
			mb.head, mb.tail, mb.hi, mb.ti = nil, nil, 0, 0
		} else {
			mb.head, mb.hi = c.next, 0
		}
		c.next = nil
		chunkPool.Put(c)
		mb.chunks--
	}
	if mb.waiters > 0 {
		select {
		case mb.space <- struct{}{}:
		default:
		}
	}
	return m
}

// Recv waits for the next message. It returns ctx.Err() when ctx ends
// first and an error wrapping ErrClosed once the mailbox is closed. The
// receiver owns the message's Data and one reference to its Blob.
func (mb *Mailbox) Recv(ctx context.Context) (Message, error) {
	for {
		mb.mu.Lock()
		if mb.n > 0 {
			m := mb.pop()
			mb.mu.Unlock()
			return m, nil
		}
		closed := mb.closed
		mb.mu.Unlock()
		if closed {
			// Pass Close's wake-up on to any other receiver.
			select {
			case mb.notify <- struct{}{}:
			default:
			}
			return Message{}, ErrClosed
		}
		// Close also fills notify, so without a ctx to watch a plain
		// channel receive suffices: much cheaper than a select.
		if done := ctx.Done(); done == nil {
			<-mb.notify
		} else {
			select {
			case <-mb.notify:
			case <-done:
				return Message{}, ctx.Err()
			}
		}
	}
}

// TryRecv returns the next message without waiting, if there is one.
func (mb *Mailbox) TryRecv() (Message, bool) {
	mb.mu.Lock()
	if mb.n == 0 {
		mb.mu.Unlock()
		return Message{}, false
	}
	m := mb.pop()
	mb.mu.Unlock()
	return m, true
}

// Peek returns the next message without removing it (for sizing a
// receive buffer). The blob reference stays with the mailbox.
func (mb *Mailbox) Peek() (Message, bool) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.n == 0 {
		return Message{}, false
	}
	return mb.head.msgs[mb.hi], true
}

// Ready returns a channel that has a value when a message may be waiting,
// for consumers that select on several sources. A value is sent when the
// mailbox goes from empty to non-empty, so after receiving from Ready the
// consumer must call TryRecv until it reports false before selecting on
// Ready again; a spurious wake-up (nothing to receive) is possible.
func (mb *Mailbox) Ready() <-chan struct{} { return mb.notify }

// Done returns a channel closed when the mailbox is closed.
func (mb *Mailbox) Done() <-chan struct{} { return mb.done }

// Len returns the number of queued messages.
func (mb *Mailbox) Len() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.n
}

// Bytes returns the queued Data bytes.
func (mb *Mailbox) Bytes() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.bytes
}

// Stats returns how many messages were accepted into the queue (in),
// received from it (out) and dropped. Dropped counts messages refused when
// full (DropNewest, Block after its timeout, or too large for MaxBytes) —
// these never count as in — plus accepted ones later evicted (DropOldest)
// or discarded by Close. So in == out + Len + evicted + discarded.
func (mb *Mailbox) Stats() (in, out, dropped uint64) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.in, mb.out, mb.dropped
}

// Close discards the queued messages (releasing their blobs, counting them
// as dropped), refuses further pushes with ErrClosed, wakes blocked
// publishers and makes Recv return ErrClosed. To hand the remaining
// messages to someone, drain with TryRecv before closing. Closing twice is
// harmless.
func (mb *Mailbox) Close() {
	mb.mu.Lock()
	if mb.closed {
		mb.mu.Unlock()
		return
	}
	mb.closed = true
	var blobs []*Blob
	for mb.n > 0 {
		m := mb.pop()
		mb.out--
		mb.dropped++
		if m.Blob != nil {
			blobs = append(blobs, m.Blob)
		}
	}
	close(mb.done)
	mb.mu.Unlock()
	select { // wake a receiver blocked in Recv
	case mb.notify <- struct{}{}:
	default:
	}
	for _, b := range blobs {
		b.Release()
	}
}

var timerPool sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timerPool.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

// putTimer stops t and keeps it for reuse. Since Go 1.23 a stopped timer's
// channel never delivers a stale value, so Reset is safe afterwards.
func putTimer(t *time.Timer) {
	t.Stop()
	timerPool.Put(t)
}
