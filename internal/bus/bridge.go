package bus

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

// A bridge carries a node's messages to other nodes (package cluster does,
// over NATS). The bus knows nothing of the network: it only
//
//   - delivers one extra copy of every publish and request whose subject
//     the bridge's interest function accepts to the bridge endpoint's
//     mailbox (a route computed with the bridge holds a synthetic
//     subscription for it, so the publish path is unchanged and a subject
//     nobody elsewhere wants costs nothing);
//   - lets the bridge inject messages that came from elsewhere, to the
//     local subscriptions of one pattern or one queue group only, never
//     back to the bridge (no loops);
//   - lets the bridge answer or fail a local request it forwarded.
type bridge struct {
	ep       *Endpoint
	sub      *Subscription
	interest func(subject string) bool
}

// SetBridge makes ep the bus's bridge: from now on every publish or
// request on a subject for which interest returns true is also delivered,
// once, to ep's mailbox. interest must be quick and must not call into the
// bus; it is asked once per subject and generation (call BridgeChanged when
// its answers change). A nil ep removes the bridge.
func (b *Bus) SetBridge(ep *Endpoint, interest func(subject string) bool) {
	if ep == nil || interest == nil {
		b.bridge.Store(nil)
	} else {
		b.bridge.Store(&bridge{ep: ep, interest: interest,
			sub: &Subscription{ep: ep, mb: ep.mb, pattern: ">"}})
	}
	b.gen.Add(1)
}

// BridgeChanged drops every cached route, so that the bridge's interest
// function is asked again.
func (b *Bus) BridgeChanged() { b.gen.Add(1) }

// WatchSubscriptions calls fn after every change to the subscriptions: a
// subscribe, an unsubscribe, an endpoint leaving. fn runs with the bus's
// subscription lock held: it may only signal (a non-blocking send on a
// channel), never call the bus. One watcher; nil removes it.
func (b *Bus) WatchSubscriptions(fn func()) {
	if fn == nil {
		b.watch.Store(nil)
		return
	}
	b.watch.Store(&fn)
}

func (b *Bus) subscriptionsChanged() {
	if fn := b.watch.Load(); fn != nil {
		(*fn)()
	}
}

// SubscriptionInfo is one subscription as Subscriptions lists it.
type SubscriptionInfo struct {
	Endpoint, Pattern, Queue string
}

// Subscriptions lists every subscription on the bus.
func (b *Bus) Subscriptions() []SubscriptionInfo {
	b.subMu.RLock()
	defer b.subMu.RUnlock()
	var out []SubscriptionInfo
	for _, e := range b.byName.all() {
		for _, s := range e.subs {
			out = append(out, SubscriptionInfo{Endpoint: e.name, Pattern: s.pattern, Queue: s.queue})
		}
	}
	return out
}

// LocalGroups returns the names of the queue groups on this bus that a
// message on subject reaches.
func (b *Bus) LocalGroups(subject string) []string {
	r, err := b.lookup(subject)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(r.groups))
	for _, g := range r.groups {
		out = append(out, g.name)
	}
	return out
}

// addBridge adds the bridge's synthetic subscription to a freshly computed
// route when the bridge wants its subject.
func (b *Bus) addBridge(r *route, subject string) {
	br := b.bridge.Load()
	if br == nil || reservedSubject(subject) || br.ep.closed.Load() {
		return
	}
	if br.interest(subject) {
		r.subs = append(r.subs, br.sub)
	}
}

// checkInject validates a message that came from elsewhere.
func (e *Endpoint) checkInject(msg *Message) (*route, error) {
	if e.closed.Load() {
		return nil, fmt.Errorf("bus: %q inject: %w", e.name, ErrClosed)
	}
	if err := ValidSubject(msg.Subject); err != nil {
		return nil, err
	}
	if reservedSubject(msg.Subject) {
		return nil, e.bus.deny(e, "inject", msg.Subject,
			fmt.Errorf("%w: a message from elsewhere may not use reserved subject %q", ErrDenied, msg.Subject))
	}
	if len(msg.Data) > e.bus.maxMsg {
		return nil, fmt.Errorf("%w: inject to %q: %d bytes, limit %d", ErrTooLarge, msg.Subject, len(msg.Data), e.bus.maxMsg)
	}
	if msg.Blob != nil && msg.Blob.Refs() <= 0 {
		return nil, fmt.Errorf("bus: blob %d: %w", msg.Blob.ID(), ErrClosed)
	}
	return e.bus.lookup(msg.Subject)
}

// deliverTo delivers msg to r's plain subscriptions of pattern (queue "")
// or to one member of the queue group queue, never to the bridge. It
// counts like deliver.
func (b *Bus) deliverTo(r *route, pattern, queue string, msg *Message) (targets, delivered int) {
	drops := 0
	count := func(res pushResult) {
		targets++
		switch res {
		case pushed:
			delivered++
		case pushedEvicted:
			delivered++
			drops++
		default:
			drops++
		}
	}
	if queue == "" {
		for _, s := range r.subs {
			if s.dead.Load() || s.pattern != pattern || s.mb == nil || s.id == 0 {
				continue
			}
			count(b.push(s, msg))
		}
	} else {
		for _, g := range r.groups {
			if g.name != queue {
				continue
			}
			if res := b.pushGroup(g, msg); res != pushClosed {
				count(res)
			}
		}
	}
	c := r.c
	c.published.Add(1)
	if delivered > 0 {
		c.delivered.Add(uint64(delivered))
	}
	if targets == 0 {
		c.unrouted.Add(1)
	}
	if drops > 0 {
		c.dropped.Add(uint64(drops))
	}
	return targets, delivered
}

// Inject delivers msg, which came from another node, to the local
// subscriptions on msg.Subject: with queue "", to every plain subscription
// whose pattern is pattern; otherwise to one member of the queue group
// named queue. The bridge is never a target, so an injected message is
// never carried on again. msg.From and msg.Reply are kept as given (the
// bridge names the remote sender; a reply subject must then be one of e's
// inboxes); each receiver's Subscribe rules apply. It returns how many
// subscriptions accepted the message. Errors wrap ErrInvalid, ErrDenied (a
// reserved subject), ErrTooLarge or ErrClosed.
func (e *Endpoint) Inject(pattern, queue string, msg Message) (int, error) {
	r, err := e.checkInject(&msg)
	if err != nil {
		return 0, err
	}
	msg.Direct = false
	_, delivered := e.bus.deliverTo(r, pattern, queue, &msg)
	return delivered, nil
}

// InjectRequest is Inject for a request that came from another node: the
// message's reply subject becomes one of e's inboxes, and InjectRequest
// waits for the first local reply until ctx ends, as Request does (errors
// wrap ErrNoResponders, ErrFull, ErrClosed or ctx.Err()).
func (e *Endpoint) InjectRequest(ctx context.Context, pattern, queue string, msg Message) (Message, error) {
	r, err := e.checkInject(&msg)
	if err != nil {
		return Message{}, err
	}
	from := msg.From
	return e.request(ctx, r, msg, func(m *Message) (int, int) {
		m.From = from
		return e.bus.deliverTo(r, pattern, queue, m)
	})
}

// FailRequest ends the local request waiting on inbox (the Reply of a
// message the bridge received) with err, as if no answer could come: the
// bridge learnt that nobody elsewhere will answer. It fails with
// ErrNoRequest when the request is no longer waiting.
func (b *Bus) FailRequest(inbox string, err error) error {
	if !strings.HasPrefix(inbox, InboxPrefix) {
		return fmt.Errorf("%w: %q is not an inbox", ErrInvalid, inbox)
	}
	tok, num, _ := strings.Cut(inbox[len(InboxPrefix):], ".")
	n, perr := strconv.ParseUint(num, 36, 64)
	t := b.byInbox.load(tok)
	var c *call
	if t != nil && perr == nil {
		t.pendMu.Lock()
		c = t.pending.take(n)
		t.pendMu.Unlock()
	}
	if c == nil {
		return fmt.Errorf("%w: %q", ErrNoRequest, inbox)
	}
	c.complete(Message{}, err)
	return nil
}

// InjectRequestFunc is InjectRequest without a waiting goroutine: fn gets
// the first local answer (on the replier's goroutine; it must not block),
// or an error — ErrNoResponders or ErrFull at once (on the caller's
// goroutine), ErrTimeout after timeout, ErrClosed. fn is called exactly
// once.
func (e *Endpoint) InjectRequestFunc(pattern, queue string, msg Message, timeout time.Duration, fn func(Message, error)) {
	r, err := e.checkInject(&msg)
	if err != nil {
		fn(Message{}, err)
		return
	}
	c := &call{}
	e.pendMu.Lock()
	if e.closed.Load() {
		e.pendMu.Unlock()
		fn(Message{}, fmt.Errorf("bus: %q request: %w", e.name, ErrClosed))
		return
	}
	e.reqSeq++
	n := e.reqSeq
	e.pending.add(n, c)
	e.pendMu.Unlock()
	var t *time.Timer
	c.fn = func(m Message, err error) {
		if t != nil {
			t.Stop()
		}
		fn(m, err)
	}
	msg.Direct = false
	msg.Deadline = time.Now().Add(timeout).UnixNano()
	var buf [64]byte
	msg.Reply = string(strconv.AppendUint(append(buf[:0], e.inbox...), n, 36))
	e.out.Add(1)
	claim := func() bool {
		e.pendMu.Lock()
		defer e.pendMu.Unlock()
		return e.pending.take(n) != nil
	}
	// The timer exists before delivery: an answer may come at once. It
	// is read by c.fn only after the claim, under pendMu.
	e.pendMu.Lock()
	t = time.AfterFunc(timeout, func() {
		if claim() {
			fn(Message{}, fmt.Errorf("bus: request %q: %w", msg.Subject, api.ErrTimeout))
		}
	})
	e.pendMu.Unlock()
	targets, delivered := e.bus.deliverTo(r, pattern, queue, &msg)
	if delivered == 0 && claim() {
		t.Stop()
		err := ErrNoResponders
		if targets > 0 {
			err = ErrFull
		}
		fn(Message{}, fmt.Errorf("%w: request %q", err, msg.Subject))
	}
}

// bridgePtr is the type of Bus.bridge (kept here with the bridge code).
type bridgePtr = atomic.Pointer[bridge]
