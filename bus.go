package orbital

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/bus"
)

// SysPrefix starts the kernel's reserved system subjects
// ("$sys.process.NAME.crashed"): only the host publishes there
// (Kernel.PublishEvent); processes subscribe when their manifest names
// the prefix literally.
const SysPrefix = "$sys."

// Message is a message as the host receives it from the bus.
type Message struct {
	Subject string // the subject it was published on (direct sends: the sender's label)
	Reply   string // set on a request: answer with Conn.Reply
	From    string // the sender's name
	Direct  bool   // sent to this connection by name, not published
	Data    []byte // the payload; read-only
	// Blob is the payload of a message that carried a blob (large data
	// passed by reference between processes), read-only; nil otherwise.
	Blob []byte
}

// ConnOptions say what a host connection may do. The zero value is a
// trusted host connection: it may publish and subscribe anywhere (system
// subjects included) and send to any process, with a mailbox of 1024
// messages that drops the oldest when full.
type ConnOptions struct {
	// Publish and Subscribe restrict the subjects (patterns with '*' and
	// '>'); nil means every subject.
	Publish, Subscribe []string
	// SendTo restricts direct sends to these process names ('*' matches any
	// run of characters); nil means any.
	SendTo []string
	// Mailbox is the mailbox capacity in messages; 0 means 1024.
	Mailbox int
	// Overflow is what a full mailbox does, as in a manifest's [bus]:
	// "drop-oldest" (the default), "drop-newest", or "block" (senders wait
	// up to BlockTimeout).
	Overflow     string
	BlockTimeout time.Duration
	// Relay lets the connection pass messages on with Forward, keeping
	// their subject and reply subject, so that the original requester gets
	// the answer (a trigger that starts a process and hands it the message
	// that woke it).
	Relay bool
}

// Conn is a connection of the host to the kernel's bus: an identity that
// publishes, subscribes, sends and requests as a process does, and receives
// into its own bounded mailbox (a slow reader drops only its own
// messages). Methods are safe for concurrent use; Close ends it.
type Conn struct {
	k  *Kernel
	ep *bus.Endpoint
	mb *bus.Mailbox
}

// Connect opens a host connection named name (unique on the bus, like a
// process name: api.ErrExists if taken).
func (k *Kernel) Connect(name string, o ConnOptions) (*Conn, error) {
	if k.isClosed() {
		return nil, fmt.Errorf("connect %s: %w", name, api.ErrClosed)
	}
	perms := bus.AllowAll
	if o.Publish != nil {
		perms.Publish = bus.Rules{Allow: o.Publish}
	}
	if o.Subscribe != nil {
		perms.Subscribe = bus.Rules{Allow: o.Subscribe}
	}
	if o.SendTo != nil {
		perms.SendTo = o.SendTo
	}
	perms.Relay = o.Relay
	mcfg := bus.MailboxConfig{Capacity: o.Mailbox, Overflow: bus.DropOldest, BlockTimeout: o.BlockTimeout}
	if mcfg.Capacity <= 0 {
		mcfg.Capacity = 1024
	}
	if o.Overflow != "" {
		ov, err := bus.ParseOverflow(o.Overflow)
		if err != nil {
			return nil, fmt.Errorf("connect %s: %w", name, err)
		}
		mcfg.Overflow = ov
	}
	mb := bus.NewMailbox(mcfg)
	ep, err := k.bus.Register(name, k.connID.Add(1), perms, mb)
	if err != nil {
		mb.Close()
		return nil, fmt.Errorf("connect %s: %w", name, err)
	}
	return &Conn{k: k, ep: ep, mb: mb}, nil
}

// Name returns the connection's name on the bus.
func (c *Conn) Name() string { return c.ep.Name() }

// Publish publishes data on subject. Errors wrap api.ErrPermissionDenied,
// api.ErrInvalid (a malformed subject), api.ErrTooLarge.
func (c *Conn) Publish(subject string, data []byte) error {
	return c.ep.Publish(subject, bus.Message{Data: data})
}

// PublishBlob publishes data on subject as a blob: the bytes are handed to
// the bus without a copy (do not modify them afterwards) and every
// receiver reads the same immutable buffer, by range, only if it wants it.
// The blob is freed when the last receiver releases it.
func (c *Conn) PublishBlob(subject string, data []byte) error {
	b, err := c.k.blobs.New(c.ep.Name(), data, nil)
	if err != nil {
		return err
	}
	defer func() { _ = b.Release() }() // the publisher's own reference
	return c.ep.Publish(subject, bus.Message{Blob: b})
}

// Send sends data directly to the process (or connection) named to.
// Errors wrap api.ErrNotFound when nobody has that name.
func (c *Conn) Send(to string, data []byte) error {
	return c.ep.Send(to, bus.Message{Data: data})
}

// Forward sends m to the process named to, keeping its subject and reply
// subject (a connection opened with Relay only).
func (c *Conn) Forward(to string, m Message) error {
	return c.ep.Send(to, bus.Message{Subject: m.Subject, Reply: m.Reply, Data: m.Data})
}

// Request publishes data on subject as a request and waits for the first
// reply, until ctx ends. Errors wrap api.ErrNotFound (no responders) or
// api.ErrTimeout.
func (c *Conn) Request(ctx context.Context, subject string, data []byte) (Message, error) {
	m, err := c.ep.Request(ctx, subject, data)
	if err != nil {
		return Message{}, err
	}
	return message(m), nil
}

// Reply answers the request req with data.
func (c *Conn) Reply(req Message, data []byte) error {
	return c.ep.Reply(bus.Message{Reply: req.Reply}, data)
}

// Subscription is a connection's interest in a subject pattern.
type Subscription struct{ s *bus.Subscription }

// Unsubscribe ends the subscription; messages already queued stay.
func (s *Subscription) Unsubscribe() { s.s.Unsubscribe() }

// Subscribe delivers the messages on subjects matching pattern ('*' one
// token, '>' the rest) to the connection's mailbox (Recv). With a queue
// group, each message goes to one member of the group.
func (c *Conn) Subscribe(pattern, queue string) (*Subscription, error) {
	s, err := c.ep.Subscribe(pattern, queue)
	if err != nil {
		return nil, err
	}
	return &Subscription{s}, nil
}

// Recv returns the next message in the connection's mailbox, waiting
// until one comes, ctx ends, or the connection is closed (api.ErrClosed).
func (c *Conn) Recv(ctx context.Context) (Message, error) {
	m, err := c.mb.Recv(ctx)
	if err != nil {
		return Message{}, err
	}
	return message(m), nil
}

// Stats returns the connection's counters.
func (c *Conn) Stats() api.EndpointStats { return c.ep.Stats() }

// Close ends the connection: its subscriptions end, its mailbox closes and
// its name is free again.
func (c *Conn) Close() {
	c.k.bus.Unregister(c.ep)
	c.mb.Close()
}

// message turns a bus message into the host's view, releasing the
// reference to a blob it carried (blobs are immutable; the bytes stay
// valid for the holder of the slice).
func message(m bus.Message) Message {
	out := Message{Subject: m.Subject, Reply: m.Reply, From: m.From, Direct: m.Direct, Data: m.Data}
	if m.Blob != nil {
		out.Blob = m.Blob.Bytes()
		_ = m.Blob.Release()
	}
	return out
}

// PublishEvent publishes data on a system subject (under SysPrefix) as
// the kernel: how a host reports its own events ($sys.process.NAME.KIND).
func (k *Kernel) PublishEvent(subject string, data []byte) error {
	if !strings.HasPrefix(subject, SysPrefix) {
		return fmt.Errorf("publish event %q: %w: system subjects start with %q", subject, api.ErrInvalid, SysPrefix)
	}
	return k.bus.PublishSys(subject, bus.Message{Data: data})
}

// Blobs reports how many blobs are alive and their bytes together.
func (k *Kernel) Blobs() (count int, bytes int64) { return k.blobs.Stats() }

// BusStats returns a snapshot of the bus counters.
func (k *Kernel) BusStats() api.BusStats { return k.bus.Stats() }

// MaxMessage is the largest bus message in bytes.
func (k *Kernel) MaxMessage() int { return k.bus.MaxMessageSize() }
