package bus

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/orbitalfoundation/orbital/api"
)

// Endpoint is an identity on the bus: a process, a native driver, the CLI.
// It publishes, subscribes, sends and requests under its Permissions, and
// receives into its Mailbox. All methods are safe for concurrent use.
type Endpoint struct {
	bus    *Bus
	name   string
	id     uint64
	perms  Permissions
	c      *compiled
	mb     *Mailbox
	maxMsg int
	token  string // random, unguessable: names the endpoint's inbox
	inbox  string // InboxPrefix + token + "."

	closed atomic.Bool
	done   chan struct{}

	out, denied, dropped, replies atomic.Uint64
	sent, sentOK                  atomic.Uint64 // direct sends (see directCounters)

	// last is the route of the subject this endpoint published to most
	// recently, cached only after its permission check passed.
	last atomic.Pointer[route]

	// subs and subSeq are guarded by bus.subMu.
	subs   map[uint64]*Subscription
	subSeq uint64

	pendMu  sync.Mutex
	pending pendingCalls
	reqSeq  uint64
}

// Name returns the endpoint's unique name.
func (e *Endpoint) Name() string { return e.name }

// ID returns the ID the kernel registered the endpoint with.
func (e *Endpoint) ID() uint64 { return e.id }

// Permissions returns the endpoint's permissions.
func (e *Endpoint) Permissions() Permissions { return e.perms }

// Mailbox returns the mailbox the endpoint receives into.
func (e *Endpoint) Mailbox() *Mailbox { return e.mb }

// MaxMessageSize returns the effective limit on the endpoint's outgoing Data.
func (e *Endpoint) MaxMessageSize() int { return e.maxMsg }

// Done returns a channel closed when the endpoint is unregistered.
func (e *Endpoint) Done() <-chan struct{} { return e.done }

// Stats returns the endpoint's counters.
func (e *Endpoint) Stats() api.EndpointStats {
	in, _, _ := e.mb.Stats()
	e.bus.subMu.RLock()
	n := len(e.subs)
	var pats []string
	if n > 0 {
		pats = make([]string, 0, n)
		for _, s := range e.subs {
			p := s.pattern
			if s.queue != "" {
				p += " (queue " + s.queue + ")"
			}
			pats = append(pats, p)
		}
	}
	e.bus.subMu.RUnlock()
	slices.Sort(pats)
	return api.EndpointStats{
		Name:          e.name,
		ID:            e.id,
		Out:           e.out.Load(),
		In:            in + e.replies.Load(),
		Denied:        e.denied.Load(),
		Dropped:       e.dropped.Load(),
		Queued:        e.mb.Len(),
		Subscriptions: n,
		Patterns:      pats,
	}
}

// Subscription is one endpoint's interest in a subject pattern.
type Subscription struct {
	ep      *Endpoint
	mb      *Mailbox
	id      uint64
	pattern string
	queue   string
	dead    atomic.Bool
	idx     int // position in its trie node's list; guarded by Bus.subMu
}

// ID returns the subscription's number, unique within its endpoint (> 0).
func (s *Subscription) ID() uint64 { return s.id }

// Pattern returns the subscribed pattern.
func (s *Subscription) Pattern() string { return s.pattern }

// Queue returns the queue group name, "" for a plain subscription.
func (s *Subscription) Queue() string { return s.queue }

// Unsubscribe stops deliveries to s. A message already being delivered
// when Unsubscribe runs may still arrive. Calling it twice is harmless.
func (s *Subscription) Unsubscribe() {
	b := s.ep.bus
	b.subMu.Lock()
	defer b.subMu.Unlock()
	if s.dead.Swap(true) {
		return
	}
	b.root.remove(s)
	delete(s.ep.subs, s.id)
	b.nsubs--
	b.gen.Add(1)
	b.subscriptionsChanged()
}

// Unsubscribe removes the endpoint's subscription with the given ID (for
// the guest ABI, which names subscriptions by number). The error wraps
// ErrNoSubscription.
func (e *Endpoint) Unsubscribe(id uint64) error {
	e.bus.subMu.RLock()
	s := e.subs[id]
	e.bus.subMu.RUnlock()
	if s == nil {
		return fmt.Errorf("%w: %d of %q", ErrNoSubscription, id, e.name)
	}
	s.Unsubscribe()
	return nil
}

// SubOptions are the optional settings of a subscription.
type SubOptions struct {
	// Queue names a queue group: each message goes to one member of the
	// group instead of to all. "" is a plain subscription.
	Queue string
	// Mailbox, if set, receives this subscription's messages instead of
	// the endpoint's mailbox (a per-subscription overflow policy).
	Mailbox *Mailbox
}

// Subscribe subscribes e to pattern (see ValidPattern). With a queue name,
// e joins that queue group: every message matching the pattern goes to one
// member of the group (round robin, skipping members whose mailbox is
// full), while plain subscribers each get their own copy. Queue groups of
// the same name are one group across patterns.
//
// The pattern must be permitted by e's Subscribe rules (ErrDenied, counted
// and reported); patterns under InboxPrefix are refused (replies reach
// requesters without subscriptions). Other errors wrap ErrInvalid,
// ErrSubscriptionLimit or ErrClosed.
func (e *Endpoint) Subscribe(pattern, queue string) (*Subscription, error) {
	return e.SubscribeWith(pattern, SubOptions{Queue: queue})
}

// SubscribeWith is Subscribe with options.
func (e *Endpoint) SubscribeWith(pattern string, o SubOptions) (*Subscription, error) {
	if e.closed.Load() {
		return nil, fmt.Errorf("bus: %q subscribe: %w", e.name, ErrClosed)
	}
	if err := ValidPattern(pattern); err != nil {
		return nil, err
	}
	if o.Queue != "" {
		if err := ValidSubject(o.Queue); err != nil {
			return nil, fmt.Errorf("queue name: %w", err)
		}
	}
	if t, _, _ := cut(pattern); t == "_inbox" {
		return nil, e.bus.deny(e, "subscribe", pattern,
			fmt.Errorf("%w: %q may not subscribe to %q: reply inboxes are reserved", ErrDenied, e.name, pattern))
	}
	if !e.c.sub.permitsPattern(pattern) {
		return nil, e.bus.deny(e, "subscribe", pattern,
			fmt.Errorf("%w: %q may not subscribe to %q", ErrDenied, e.name, pattern))
	}
	if err := e.deviceSubscribeCheck(pattern); err != nil {
		return nil, e.bus.deny(e, "subscribe", pattern, err)
	}
	mb := o.Mailbox
	if mb == nil {
		mb = e.mb
	} else {
		mb.adoptMessageSize(e.bus.maxMsg)
	}
	b := e.bus
	b.subMu.Lock()
	defer b.subMu.Unlock()
	if e.closed.Load() {
		return nil, fmt.Errorf("bus: %q subscribe: %w", e.name, ErrClosed)
	}
	if len(e.subs) >= b.maxSubs {
		return nil, fmt.Errorf("%w: %q holds %d", ErrSubscriptionLimit, e.name, len(e.subs))
	}
	e.subSeq++
	s := &Subscription{ep: e, mb: mb, id: e.subSeq, pattern: pattern, queue: o.Queue}
	b.root.insert(s)
	e.subs[s.id] = s
	b.nsubs++
	b.gen.Add(1)
	b.subscriptionsChanged()
	return s, nil
}

// Publish sends msg to every subscriber of subject (and one member of each
// queue group). The bus sets msg.Subject, msg.From and msg.Direct; it does
// not copy msg.Data (see Message). msg.Reply may name one of e's own
// inboxes or a subject e may subscribe to. msg.Blob, if set, must be held
// by the caller; each delivered copy retains it once.
//
// Publish returns nil when nobody is subscribed (counted as unrouted) and
// when a full mailbox drops the message (counted as dropped): publishing is
// fire-and-forget. Errors wrap ErrInvalid, ErrDenied (not permitted, or a
// reserved subject: "$…" or InboxPrefix; counted and reported), ErrTooLarge
// or ErrClosed.
func (e *Endpoint) Publish(subject string, msg Message) error {
	r, err := e.route(subject, "publish")
	if err != nil {
		return err
	}
	if err := e.checkMsg(&msg, "publish", subject); err != nil {
		return err
	}
	msg.Subject, msg.From, msg.Direct = subject, e.name, false
	e.out.Add(1)
	e.bus.deliver(r, &msg)
	return nil
}

// route returns subject's route if e may publish to it.
func (e *Endpoint) route(subject, op string) (*route, error) {
	b := e.bus
	if r := e.last.Load(); r != nil && r.subject == subject && r.gen == b.gen.Load() {
		if e.closed.Load() {
			return nil, fmt.Errorf("bus: %q %s: %w", e.name, op, ErrClosed)
		}
		return r, nil
	}
	if e.closed.Load() {
		return nil, fmt.Errorf("bus: %q %s: %w", e.name, op, ErrClosed)
	}
	r, err := b.lookup(subject)
	if err != nil {
		return nil, err
	}
	// "$sys." is the kernel's alone. Other reserved subjects (the
	// compositor's "$wm.") are services' control subjects: permitted only
	// by an Allow pattern naming their first token literally.
	if reservedSubject(subject) && (subject[0] != '$' || strings.HasPrefix(subject, SysPrefix) || !e.perms.Publish.literal(subject)) {
		r.c.denied.Add(1)
		return nil, b.deny(e, op, subject,
			fmt.Errorf("%w: %q may not %s to reserved subject %q", ErrDenied, e.name, op, subject))
	}
	if err := e.deviceCheck(subject, op); err != nil {
		r.c.denied.Add(1)
		return nil, b.deny(e, op, subject, err)
	}
	if !e.c.mayPublish(subject) {
		r.c.denied.Add(1)
		return nil, b.deny(e, op, subject,
			fmt.Errorf("%w: %q may not %s to %q", ErrDenied, e.name, op, subject))
	}
	e.last.Store(r)
	return r, nil
}

// checkMsg applies the size, reply-subject and blob rules to an outgoing message.
func (e *Endpoint) checkMsg(msg *Message, op, target string) error {
	if len(msg.Data) > e.maxMsg {
		return fmt.Errorf("%w: %q %s to %q: %d bytes, limit %d", ErrTooLarge, e.name, op, target, len(msg.Data), e.maxMsg)
	}
	if msg.Reply != "" && !strings.HasPrefix(msg.Reply, e.inbox) && !e.perms.Relay {
		if err := ValidSubject(msg.Reply); err != nil {
			return fmt.Errorf("reply: %w", err)
		}
		// Asking for answers on a subject means listening there: it must
		// be one e could subscribe to, so e cannot make a responder
		// publish where e itself may not.
		if reservedSubject(msg.Reply) || !e.c.sub.permits(msg.Reply) {
			return e.bus.deny(e, op, target,
				fmt.Errorf("%w: %q may not ask for replies on %q", ErrDenied, e.name, msg.Reply))
		}
	}
	if msg.Blob != nil && msg.Blob.Refs() <= 0 {
		return fmt.Errorf("bus: blob %d: %w", msg.Blob.ID(), ErrClosed)
	}
	return nil
}

// Send delivers msg directly to one endpoint, named by name or by "#<id>",
// which must be permitted by e's SendTo list (ErrDenied, counted and
// reported). The receiver sees msg.Direct set and msg.From = e's name;
// msg.Subject is an optional label, validated like a published subject
// (reserved subjects are refused). Unlike Publish, Send reports a full
// mailbox (ErrFull) and a missing receiver (ErrNoEndpoint).
func (e *Endpoint) Send(to string, msg Message) error {
	b := e.bus
	if e.closed.Load() {
		return fmt.Errorf("bus: %q send: %w", e.name, ErrClosed)
	}
	byID := strings.HasPrefix(to, "#")
	if !byID && !e.c.maySendTo(to) {
		b.direct.denied.Add(1)
		return b.deny(e, "send", to, fmt.Errorf("%w: %q may not send to %q", ErrDenied, e.name, to))
	}
	t, ok := b.Lookup(to)
	if !ok || t.closed.Load() {
		return fmt.Errorf("%w: %q", ErrNoEndpoint, to)
	}
	if byID && !e.c.maySendTo(t.name) {
		b.direct.denied.Add(1)
		return b.deny(e, "send", to, fmt.Errorf("%w: %q may not send to %q (%s)", ErrDenied, e.name, t.name, to))
	}
	if msg.Subject != "" {
		if err := ValidSubject(msg.Subject); err != nil {
			return err
		}
		if reservedSubject(msg.Subject) {
			b.direct.denied.Add(1)
			return b.deny(e, "send", to, fmt.Errorf("%w: %q may not label a message with reserved subject %q", ErrDenied, e.name, msg.Subject))
		}
	}
	if err := e.checkMsg(&msg, "send", to); err != nil {
		return err
	}
	msg.From, msg.Direct = e.name, true
	e.out.Add(1)
	e.sent.Add(1)
	if msg.Blob != nil && !msg.Blob.tryRetain() {
		return fmt.Errorf("bus: blob %d: %w", msg.Blob.ID(), ErrClosed)
	}
	switch t.mb.push(msg, false) {
	case pushed:
	case pushedEvicted:
		b.dropped(t, msg.Subject)
		b.direct.dropped.Add(1)
	case pushDropped:
		if msg.Blob != nil {
			msg.Blob.Release()
		}
		b.dropped(t, msg.Subject)
		b.direct.dropped.Add(1)
		return fmt.Errorf("%w: %q", ErrFull, t.name)
	default:
		if msg.Blob != nil {
			msg.Blob.Release()
		}
		return fmt.Errorf("%w: %q", ErrNoEndpoint, to)
	}
	e.sentOK.Add(1)
	return nil
}

// SendSys delivers msg directly from the kernel to the endpoint named
// "#<id>" or by name, with a reserved label ("$sys.input.key") that no
// module could send. It reports a full mailbox (ErrFull) and a missing
// receiver (ErrNoEndpoint).
func (b *Bus) SendSys(to string, msg Message) error {
	if !strings.HasPrefix(msg.Subject, SysPrefix) {
		return fmt.Errorf("%w subject %q: system messages are labelled %q…", ErrInvalid, msg.Subject, SysPrefix)
	}
	if len(msg.Data) > b.maxMsg {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(msg.Data), b.maxMsg)
	}
	t, ok := b.Lookup(to)
	if !ok || t.closed.Load() {
		return fmt.Errorf("%w: %q", ErrNoEndpoint, to)
	}
	msg.From, msg.Direct, msg.Blob = KernelName, true, nil
	switch t.mb.push(msg, false) {
	case pushed:
	case pushedEvicted:
		b.dropped(t, msg.Subject)
	case pushDropped:
		b.dropped(t, msg.Subject)
		return fmt.Errorf("%w: %q", ErrFull, t.name)
	default:
		return fmt.Errorf("%w: %q", ErrNoEndpoint, to)
	}
	return nil
}

// call is one outstanding request. Whoever removes it from the pending
// map (a reply, Unregister, or the requester giving up) owns it: a reply
// or Unregister then sends exactly one value on ch (err set first by
// Unregister).
type call struct {
	ch  chan Message
	err error
	// fn, when set, receives the answer instead of ch, on the goroutine
	// that claimed the call (InjectRequestFunc); such calls are not pooled.
	fn func(Message, error)
}

// complete hands the claimed call its answer.
func (c *call) complete(m Message, err error) {
	if c.fn != nil {
		c.fn(m, err)
		return
	}
	c.err = err
	c.ch <- m // cap 1, and only the claimer of the call sends
}

var callPool = sync.Pool{New: func() any { return &call{ch: make(chan Message, 1)} }}

// Request publishes data to subject with a fresh reply inbox and waits for
// the first reply, until ctx ends (ctx.Err() wrapped, so errors.Is(err,
// context.DeadlineExceeded) works) or e is unregistered (ErrClosed). It
// fails at once with ErrNoResponders when nobody is subscribed and with
// ErrFull when every responder's mailbox dropped it. The subject needs
// Publish permission; the reply needs none.
func (e *Endpoint) Request(ctx context.Context, subject string, data []byte) (Message, error) {
	return e.RequestMsg(ctx, subject, Message{Data: data})
}

// RequestMsg is Request with a whole message (for a Blob); msg.Reply is
// replaced by the inbox.
func (e *Endpoint) RequestMsg(ctx context.Context, subject string, msg Message) (Message, error) {
	r, err := e.route(subject, "request")
	if err != nil {
		return Message{}, err
	}
	msg.Reply = ""
	if err := e.checkMsg(&msg, "request", subject); err != nil {
		return Message{}, err
	}
	msg.Subject, msg.From = subject, e.name
	return e.request(ctx, r, msg, func(m *Message) (int, int) { return e.bus.deliver(r, m) })
}

// request registers a pending call, delivers msg (Subject set, checked)
// with a fresh inbox as its reply subject and waits for the answer.
func (e *Endpoint) request(ctx context.Context, r *route, msg Message, deliver func(*Message) (int, int)) (Message, error) {
	subject := msg.Subject
	c := callPool.Get().(*call)
	e.pendMu.Lock()
	if e.closed.Load() { // Unregister drains pending under pendMu after closing
		e.pendMu.Unlock()
		callPool.Put(c)
		return Message{}, fmt.Errorf("bus: %q request: %w", e.name, ErrClosed)
	}
	e.reqSeq++
	n := e.reqSeq
	e.pending.add(n, c)
	e.pendMu.Unlock()

	msg.Direct = false
	if dl, ok := ctx.Deadline(); ok {
		msg.Deadline = dl.UnixNano()
	}
	var buf [64]byte
	msg.Reply = string(strconv.AppendUint(append(buf[:0], e.inbox...), n, 36))
	e.out.Add(1)
	var err error
	targets, delivered := deliver(&msg)
	if delivered == 0 {
		err = ErrNoResponders
		if targets > 0 {
			err = ErrFull
		}
		err = fmt.Errorf("%w: request %q", err, subject)
	} else {
		// Unregister completes pending calls, so only ctx needs watching;
		// without one a plain receive is much cheaper than a select.
		if done := ctx.Done(); done == nil {
			return e.finish(c, subject, <-c.ch)
		}
		select {
		case m := <-c.ch:
			return e.finish(c, subject, m)
		case <-ctx.Done():
			err = fmt.Errorf("bus: request %q: %w", subject, ctx.Err())
		}
	}
	e.pendMu.Lock()
	waiting := e.pending.take(n) != nil
	e.pendMu.Unlock()
	if !waiting {
		// A reply (or Unregister) claimed the call just before we gave
		// up: take its answer.
		return e.finish(c, subject, <-c.ch)
	}
	callPool.Put(c)
	return Message{}, err
}

// finish recycles c after its answer m arrived.
func (e *Endpoint) finish(c *call, subject string, m Message) (Message, error) {
	err := c.err
	c.err = nil
	callPool.Put(c)
	if err != nil {
		return Message{}, fmt.Errorf("bus: request %q: %w", subject, err)
	}
	return m, nil
}

// Reply answers req with data; see ReplyMsg.
func (e *Endpoint) Reply(req Message, data []byte) error {
	return e.ReplyMsg(req, Message{Data: data})
}

// ReplyMsg answers req (a received message with a Reply subject) with msg.
// Replying to a request's inbox needs no permission; it fails with
// ErrNoRequest when the request is no longer waiting (timed out, already
// answered, or never existed). A Reply subject that is not an inbox is an
// ordinary Publish under e's permissions. msg.Blob, if set, is retained
// once for the requester.
func (e *Endpoint) ReplyMsg(req Message, msg Message) error {
	subj := req.Reply
	if subj == "" {
		return fmt.Errorf("%w: %q reply: the message has no reply subject", ErrInvalid, e.name)
	}
	if !strings.HasPrefix(subj, InboxPrefix) {
		msg.Reply = ""
		return e.Publish(subj, msg)
	}
	if e.closed.Load() {
		return fmt.Errorf("bus: %q reply: %w", e.name, ErrClosed)
	}
	msg.Reply = ""
	if err := e.checkMsg(&msg, "reply", subj); err != nil {
		return err
	}
	b := e.bus
	rest := subj[len(InboxPrefix):]
	tok, num, _ := strings.Cut(rest, ".")
	n, perr := strconv.ParseUint(num, 36, 64)
	t := b.byInbox.load(tok)
	if msg.Blob != nil && !msg.Blob.tryRetain() {
		return fmt.Errorf("bus: blob %d: %w", msg.Blob.ID(), ErrClosed)
	}
	var c *call
	if t != nil && perr == nil {
		t.pendMu.Lock()
		c = t.pending.take(n)
		t.pendMu.Unlock()
	}
	if c == nil {
		if msg.Blob != nil {
			msg.Blob.Release()
		}
		b.inbox.unrouted.Add(1)
		return fmt.Errorf("%w: %q", ErrNoRequest, subj)
	}
	from := e.name
	if e.perms.Relay && msg.From != "" {
		from = msg.From // a relay (the cluster's bridge) answers for someone elsewhere
	}
	msg.Subject, msg.From, msg.Direct = subj, from, false
	e.out.Add(1)
	t.replies.Add(1)
	b.inbox.published.Add(1)
	b.inbox.delivered.Add(1)
	c.complete(msg, nil)
	return nil
}

// pendingCalls maps request numbers to calls. Almost every endpoint has
// zero or one request outstanding (a guest blocks in request), so a short
// slice searched linearly beats a map; past 16 entries a map takes over.
type pendingCalls struct {
	few  []pendingCall
	many map[uint64]*call
}

type pendingCall struct {
	n uint64
	c *call
}

func (p *pendingCalls) add(n uint64, c *call) {
	if p.many != nil {
		p.many[n] = c
		return
	}
	if len(p.few) < 16 {
		p.few = append(p.few, pendingCall{n, c})
		return
	}
	p.many = make(map[uint64]*call, 32)
	for _, x := range p.few {
		p.many[x.n] = x.c
	}
	p.few = nil
	p.many[n] = c
}

// take removes and returns call n, or nil.
func (p *pendingCalls) take(n uint64) *call {
	if p.many != nil {
		c := p.many[n]
		delete(p.many, n)
		if len(p.many) == 0 {
			p.many = nil
		}
		return c
	}
	for i, x := range p.few {
		if x.n == n {
			last := len(p.few) - 1
			p.few[i] = p.few[last]
			p.few[last] = pendingCall{}
			p.few = p.few[:last]
			return x.c
		}
	}
	return nil
}

func (p *pendingCalls) len() int { return len(p.few) + len(p.many) }

// takeAll removes and returns every call.
func (p *pendingCalls) takeAll() []*call {
	var out []*call
	for _, x := range p.few {
		out = append(out, x.c)
	}
	for _, c := range p.many {
		out = append(out, c)
	}
	p.few, p.many = nil, nil
	return out
}
