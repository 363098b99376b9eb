package orbital

import (
	"context"
	"fmt"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/bus"
)

// Bridge is a host's way to make the kernel's bus part of a larger one
// (the node's cluster part does it over NATS). The kernel stays local: it
// hands the bridge a copy of every publish and request whose subject the
// bridge wants (Recv), takes in what comes from elsewhere (Inject,
// InjectRequest) and lets the bridge answer the local requests it carried
// away (Answer, Fail). A subject the bridge does not want costs nothing.
// One bridge per kernel.
type Bridge struct {
	k *Kernel
	c *Conn
}

// BridgeOptions configure OpenBridge.
type BridgeOptions struct {
	// Wants says whether messages on subject go elsewhere too. It is asked
	// once per subject until Changed; it must be quick and must not call
	// the kernel.
	Wants func(subject string) bool
	// Mailbox is how many outgoing messages may wait for the bridge (0:
	// 8192); past it the oldest are dropped and counted.
	Mailbox int
	// Watch, if set, is called after every change to the bus's
	// subscriptions. It runs under the bus's lock: it may only signal.
	Watch func()
}

// OpenBridge opens the kernel's bridge, a bus connection named name.
func (k *Kernel) OpenBridge(name string, o BridgeOptions) (*Bridge, error) {
	if o.Wants == nil {
		return nil, fmt.Errorf("bridge %s: %w: no Wants function", name, api.ErrInvalid)
	}
	if o.Mailbox <= 0 {
		o.Mailbox = 8192
	}
	c, err := k.Connect(name, ConnOptions{Mailbox: o.Mailbox, Relay: true})
	if err != nil {
		return nil, err
	}
	k.bus.SetBridge(c.ep, o.Wants)
	if o.Watch != nil {
		k.bus.WatchSubscriptions(o.Watch)
	}
	return &Bridge{k: k, c: c}, nil
}

// Changed makes the kernel ask Wants again for every subject.
func (b *Bridge) Changed() { b.k.bus.BridgeChanged() }

// Outgoing is a message the bridge is to carry elsewhere.
type Outgoing struct {
	Message
	// Deadline is when a request's local requester stops waiting (zero:
	// none).
	Deadline time.Time
	// Groups are the local queue groups the message has reached already
	// (a group that spans nodes must get it once).
	Groups []string
}

// Recv returns the next message to carry elsewhere. Its Reply, if set, is
// a local inbox: answer it with Answer or Fail.
func (b *Bridge) Recv(ctx context.Context) (Outgoing, error) {
	m, err := b.c.mb.Recv(ctx)
	if err != nil {
		return Outgoing{}, err
	}
	out := Outgoing{Message: message(m)}
	if m.Deadline != 0 {
		out.Deadline = time.Unix(0, m.Deadline)
	}
	out.Groups = b.k.bus.LocalGroups(m.Subject)
	return out, nil
}

// Incoming is a message from elsewhere.
type Incoming struct {
	Subject string
	From    string // who sent it, as receivers see it ("sensor@node-b")
	Data    []byte
	Blob    []byte // becomes a blob again on this side, if not nil
}

func (b *Bridge) busMessage(m Incoming) (bus.Message, error) {
	bm := bus.Message{Subject: m.Subject, From: m.From, Data: m.Data}
	if m.Blob != nil {
		bl, err := b.k.blobs.New(b.c.ep.Name(), m.Blob, nil)
		if err != nil {
			return bus.Message{}, err
		}
		bm.Blob = bl
	}
	return bm, nil
}

// Inject delivers m to the local subscriptions of pattern (queue "") or to
// one member of queue group queue, never back to the bridge; receivers'
// permissions apply. It returns how many received it.
func (b *Bridge) Inject(pattern, queue string, m Incoming) (int, error) {
	bm, err := b.busMessage(m)
	if err != nil {
		return 0, err
	}
	if bm.Blob != nil {
		defer func() { _ = bm.Blob.Release() }()
	}
	return b.c.ep.Inject(pattern, queue, bm)
}

// InjectRequest is Inject for a request from elsewhere: it waits for the
// first local answer until ctx ends.
func (b *Bridge) InjectRequest(ctx context.Context, pattern, queue string, m Incoming) (Message, error) {
	bm, err := b.busMessage(m)
	if err != nil {
		return Message{}, err
	}
	if bm.Blob != nil {
		defer func() { _ = bm.Blob.Release() }()
	}
	r, err := b.c.ep.InjectRequest(ctx, pattern, queue, bm)
	if err != nil {
		return Message{}, err
	}
	return message(r), nil
}

// InjectRequestFunc is InjectRequest without a goroutine waiting: fn gets
// the first local answer (on the answering goroutine: it must not block)
// or an error (no responders at once, api.ErrTimeout after timeout), once.
func (b *Bridge) InjectRequestFunc(pattern, queue string, m Incoming, timeout time.Duration, fn func(Message, error)) {
	bm, err := b.busMessage(m)
	if err != nil {
		fn(Message{}, err)
		return
	}
	if bm.Blob != nil {
		defer func() { _ = bm.Blob.Release() }()
	}
	b.c.ep.InjectRequestFunc(pattern, queue, bm, timeout, func(r bus.Message, err error) {
		if err != nil {
			fn(Message{}, err)
			return
		}
		fn(message(r), nil)
	})
}

// Answer answers the local request waiting on inbox (an Outgoing's Reply)
// with an answer from elsewhere.
func (b *Bridge) Answer(inbox string, m Incoming) error {
	bm, err := b.busMessage(m)
	if err != nil {
		return err
	}
	if bm.Blob != nil {
		defer func() { _ = bm.Blob.Release() }()
	}
	return b.c.ep.ReplyMsg(bus.Message{Reply: inbox}, bm)
}

// Fail ends the local request waiting on inbox with err (errors.Is works
// on the requester's side): nobody elsewhere will answer.
func (b *Bridge) Fail(inbox string, err error) error { return b.k.bus.FailRequest(inbox, err) }

// SubscriptionInfo is one subscription on the bus.
type SubscriptionInfo struct {
	Owner, Pattern, Queue string
}

// Subscriptions lists the bus's subscriptions, the bridge's own left out.
func (b *Bridge) Subscriptions() []SubscriptionInfo {
	var out []SubscriptionInfo
	for _, s := range b.k.bus.Subscriptions() {
		if s.Endpoint != b.c.ep.Name() {
			out = append(out, SubscriptionInfo{Owner: s.Endpoint, Pattern: s.Pattern, Queue: s.Queue})
		}
	}
	return out
}

// Stats returns the bridge connection's counters (its mailbox's drops:
// messages that could not be carried in time).
func (b *Bridge) Stats() api.EndpointStats { return b.c.Stats() }

// Close removes the bridge: the bus is local again.
func (b *Bridge) Close() {
	b.k.bus.SetBridge(nil, nil)
	b.k.bus.WatchSubscriptions(nil)
	b.c.Close()
}
