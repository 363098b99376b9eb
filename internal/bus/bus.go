package bus

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/orbitalfoundation/orbital/api"
)

// Message is one message on the bus.
//
// Ownership: the bus never copies Data. A publisher hands the slice over
// and must not modify it afterwards; every receiver gets the same backing
// array and must treat it as read-only (with one receiver that receiver
// may do as it likes). The kernel copies exactly once, at the guest-memory
// boundary. Large payloads travel as a Blob instead, by handle.
type Message struct {
	// Subject the message was published to (for Send: the sender's
	// optional label; "" if none).
	Subject string
	// Reply is where the receiver should answer (Endpoint.Reply), "" if no
	// answer is expected.
	Reply string
	// Data is the payload (see Message ownership above).
	Data []byte
	// Blob is an optional large buffer passed by handle. A delivered
	// message holds one reference, which the receiver must Release after
	// handling; the publisher keeps its own reference.
	Blob *Blob
	// From is the sending endpoint's name, set by the bus (never trusted
	// from the sender); "$kernel" for Bus.PublishSys.
	From string
	// Direct is set by the bus on messages delivered by Endpoint.Send
	// rather than through a subscription.
	Direct bool
	// Deadline is when the requester of a request stops waiting (Unix
	// nanoseconds), 0 if it has no deadline; set by the bus.
	Deadline int64
}

// KernelName is the From of messages published with Bus.PublishSys.
const KernelName = "$kernel"

// DefaultMaxMessageSize is the bus's message size limit when Options leave
// it 0: 1 MiB of Data. Blobs are not counted (that is what they are for).
const DefaultMaxMessageSize = 1 << 20

// Defaults for Options fields left 0.
const (
	DefaultMaxSubscriptions   = 4096
	DefaultMaxTrackedSubjects = 4096
	maxCachedRoutes           = 1 << 16
)

// Options configures a Bus.
type Options struct {
	// MaxMessageSize bounds len(Message.Data) (0 = DefaultMaxMessageSize).
	MaxMessageSize int
	// MaxSubscriptions bounds each endpoint's subscriptions
	// (0 = DefaultMaxSubscriptions).
	MaxSubscriptions int
	// MaxTrackedSubjects bounds the per-subject statistics table
	// (0 = DefaultMaxTrackedSubjects). Subjects seen after it is full are
	// counted together under OtherSubjects.
	MaxTrackedSubjects int
	// Events, if set, is called for denials and drops. It runs on the
	// publisher's goroutine with no bus lock held, so it must be quick; it
	// may call back into the bus.
	Events func(Event)
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventDenied: an operation was refused by permissions or because the
	// subject is reserved. Err says why.
	EventDenied EventKind = iota + 1
	// EventDropped: a message for Endpoint was dropped because its mailbox
	// was full. Reported for the 1st, 2nd, 4th, 8th… drop of each endpoint
	// (Count), so a flood costs a logarithmic number of events.
	EventDropped
)

// String names the kind ("denied", "dropped").
func (k EventKind) String() string {
	switch k {
	case EventDenied:
		return "denied"
	case EventDropped:
		return "dropped"
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event is a notable thing that happened on the bus.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Op is the operation: "publish", "subscribe", "send", "request",
	// "reply" or "deliver" (for drops).
	Op string
	// Endpoint is the acting endpoint for denials, the receiving one for drops.
	Endpoint string
	// Target is the subject, pattern or endpoint name operated on.
	Target string
	// Err is the error returned to the caller (denials).
	Err error
	// Count is the endpoint's number of drops so far (EventDropped).
	Count uint64
}

// Bus routes messages between endpoints in one process. It is safe for
// concurrent use. See the package documentation for the design.
type Bus struct {
	maxMsg     int
	maxSubs    int
	maxTracked int
	events     func(Event)

	// mu serializes changes to the endpoint tables (which have their own
	// per-shard locks for readers: Send, Reply, Lookup).
	mu      sync.Mutex
	byName  *table[string]
	byID    *table[uint64]
	byInbox *table[string] // inbox token → endpoint

	// subMu guards the subscription trie, every Endpoint.subs and nsubs.
	subMu sync.RWMutex
	root  node
	nsubs int

	gen     atomic.Uint64           // bumped on every subscription or device change
	devMap  atomic.Pointer[devices] // device root → owner; see Own
	bridge  bridgePtr               // carries messages to other nodes, or nil
	watch   atomic.Pointer[func()]
	routes  sync.Map // subject → *route
	nroutes atomic.Int64

	// statsMu guards the subject table (not the counters in it).
	statsMu  sync.Mutex
	subjects map[string]*subjectCounters
	other    subjectCounters
	inbox    subjectCounters
	direct   directCounters
	denied   atomic.Uint64
}

type subjectCounters struct {
	published, delivered, dropped, unrouted, denied atomic.Uint64
}

// directCounters: sends and deliveries are counted per sending endpoint
// (no shared cache line on the send path) and summed by Stats; these hold
// the totals of unregistered endpoints and the rare outcomes.
type directCounters struct {
	retiredSent, retiredOK, dropped, denied atomic.Uint64
}

// New returns an empty bus.
func New(o Options) *Bus {
	b := &Bus{
		maxMsg:     o.MaxMessageSize,
		maxSubs:    o.MaxSubscriptions,
		maxTracked: o.MaxTrackedSubjects,
		events:     o.Events,
		subjects:   make(map[string]*subjectCounters),
		byName:     newTable[string](),
		byID:       newTable[uint64](),
		byInbox:    newTable[string](),
	}
	if b.maxMsg <= 0 {
		b.maxMsg = DefaultMaxMessageSize
	}
	if b.maxSubs <= 0 {
		b.maxSubs = DefaultMaxSubscriptions
	}
	if b.maxTracked <= 0 {
		b.maxTracked = DefaultMaxTrackedSubjects
	}
	return b
}

// MaxMessageSize returns the bus's limit on len(Message.Data).
func (b *Bus) MaxMessageSize() int { return b.maxMsg }

// Register adds an endpoint named name with the kernel's ID for it (a
// process ID). Names and IDs are unique (ErrExists); name must pass
// ValidName; perms is validated and compiled (ErrInvalid) unless it came
// from NewPermissions. mb receives the endpoint's messages (nil: a new
// mailbox with default settings); a mailbox whose MaxBytes was 0 is bounded
// at Capacity × MaxMessageSize of this bus.
func (b *Bus) Register(name string, id uint64, perms Permissions, mb *Mailbox) (*Endpoint, error) {
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("bus: register: %w", err)
	}
	c := perms.c
	if c == nil {
		var err error
		if c, err = compile(perms); err != nil {
			return nil, fmt.Errorf("bus: register %q: %w", name, err)
		}
	}
	if mb == nil {
		mb = NewMailbox(MailboxConfig{})
	}
	mb.adoptMessageSize(b.maxMsg)
	var tok [8]byte
	_, _ = rand.Read(tok[:]) // never fails (crypto/rand panics instead since Go 1.24)
	e := &Endpoint{
		bus:    b,
		name:   name,
		id:     id,
		perms:  perms,
		c:      c,
		mb:     mb,
		maxMsg: b.maxMsg,
		token:  hex.EncodeToString(tok[:]),
		done:   make(chan struct{}),
		subs:   make(map[uint64]*Subscription),
	}
	e.perms.c = c
	if c.maxMessage > 0 && c.maxMessage < e.maxMsg {
		e.maxMsg = c.maxMessage
	}
	e.inbox = InboxPrefix + e.token + "."
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byName.load(name) != nil {
		return nil, fmt.Errorf("%w: name %q", ErrExists, name)
	}
	if b.byID.load(id) != nil {
		return nil, fmt.Errorf("%w: id %d", ErrExists, id)
	}
	b.byName.store(name, e)
	b.byID.store(id, e)
	b.byInbox.store(e.token, e)
	return e, nil
}

// Unregister removes e from the bus: its name and ID become free, its
// subscriptions are dropped, its pending requests fail with ErrClosed and
// its further calls fail with ErrClosed. The mailbox is left to its owner
// (the kernel), which may drain it and should Close it. Unregistering twice
// is harmless.
func (b *Bus) Unregister(e *Endpoint) {
	if e == nil || e.bus != b || !e.closed.CompareAndSwap(false, true) {
		return
	}
	close(e.done)
	b.mu.Lock()
	b.byName.remove(e.name, e)
	b.byID.remove(e.id, e)
	b.byInbox.remove(e.token, e)
	b.direct.retiredSent.Add(e.sent.Load())
	b.direct.retiredOK.Add(e.sentOK.Load())
	b.mu.Unlock()

	e.pendMu.Lock()
	for _, c := range e.pending.takeAll() {
		c.complete(Message{}, ErrClosed)
	}
	e.pendMu.Unlock()

	b.subMu.Lock()
	for id, s := range e.subs {
		s.dead.Store(true)
		b.root.remove(s)
		delete(e.subs, id)
		b.nsubs--
	}
	b.gen.Add(1)
	b.subscriptionsChanged()
	b.subMu.Unlock()
}

// Lookup finds a registered endpoint by name or by "#<id>".
func (b *Bus) Lookup(to string) (*Endpoint, bool) {
	var e *Endpoint
	if strings.HasPrefix(to, "#") {
		id, err := strconv.ParseUint(to[1:], 10, 64)
		if err != nil {
			return nil, false
		}
		e = b.byID.load(id)
	} else {
		e = b.byName.load(to)
	}
	return e, e != nil
}

// PublishSys publishes a kernel event. subject must be a valid subject
// under SysPrefix ("$sys.proc.exited"); no permission applies to the
// publisher, but receivers must have subscribed with a pattern their
// Subscribe rules permit for it. From is KernelName. The error wraps
// ErrInvalid or ErrTooLarge.
func (b *Bus) PublishSys(subject string, msg Message) error {
	if !strings.HasPrefix(subject, SysPrefix) {
		return fmt.Errorf("%w subject %q: system subjects start with %q", ErrInvalid, subject, SysPrefix)
	}
	if len(msg.Data) > b.maxMsg {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(msg.Data), b.maxMsg)
	}
	r, err := b.lookup(subject)
	if err != nil {
		return err
	}
	if msg.Blob != nil && msg.Blob.Refs() <= 0 {
		return fmt.Errorf("blob %d: %w", msg.Blob.ID(), ErrClosed)
	}
	msg.Subject, msg.From, msg.Direct = subject, KernelName, false
	b.deliver(r, &msg)
	return nil
}

// lookup returns the route of subject, computing and caching it on a miss.
func (b *Bus) lookup(subject string) (*route, error) {
	gen := b.gen.Load()
	if v, ok := b.routes.Load(subject); ok {
		if r := v.(*route); r.gen == gen {
			return r, nil
		}
	}
	if err := ValidSubject(subject); err != nil {
		return nil, err
	}
	b.subMu.RLock()
	r := &route{gen: b.gen.Load(), subject: subject}
	r.collect(&b.root, subject)
	b.subMu.RUnlock()
	r.filter(subject)
	if dev, owner := b.device(subject); dev != "" {
		r.filterDevice(dev, owner)
	}
	b.addBridge(r, subject)
	r.c = b.counters(subject)
	if b.nroutes.Add(1) > maxCachedRoutes {
		b.nroutes.Store(0)
		b.routes.Clear()
	}
	b.routes.Store(subject, r)
	return r, nil
}

// counters returns the statistics bucket of subject.
func (b *Bus) counters(subject string) *subjectCounters {
	if strings.HasPrefix(subject, InboxPrefix) {
		return &b.inbox
	}
	b.statsMu.Lock()
	defer b.statsMu.Unlock()
	c := b.subjects[subject]
	if c == nil {
		if len(b.subjects) >= b.maxTracked {
			return &b.other
		}
		c = &subjectCounters{}
		b.subjects[subject] = c
	}
	return c
}

// deliver pushes msg to every plain subscriber of r and one member of each
// queue group, and updates the counters. It returns how many receivers r
// had and how many accepted the message.
func (b *Bus) deliver(r *route, msg *Message) (targets, delivered int) {
	drops := 0
	for _, s := range r.subs {
		if s.dead.Load() {
			continue
		}
		targets++
		switch b.push(s, msg) {
		case pushed:
			delivered++
		case pushedEvicted:
			delivered++
			drops++
		default:
			drops++
		}
	}
	for _, g := range r.groups {
		switch b.pushGroup(g, msg) {
		case pushed:
			targets++
			delivered++
		case pushedEvicted:
			targets++
			delivered++
			drops++
		case pushDropped:
			targets++
			drops++
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

// push delivers one copy of msg to s's mailbox, retaining msg.Blob for it.
// A refused copy's blob reference is released again.
func (b *Bus) push(s *Subscription, msg *Message) pushResult {
	if msg.Blob != nil && !msg.Blob.tryRetain() {
		return pushClosed
	}
	res := s.mb.push(*msg, false)
	if res >= pushDropped && msg.Blob != nil {
		msg.Blob.Release()
	}
	if res == pushDropped || res == pushedEvicted {
		b.dropped(s.ep, msg.Subject)
	}
	return res
}

// pushGroup delivers msg to one member of g: the next one in round-robin
// order that has room, or, when all are full, the next one under its
// overflow policy. pushClosed means the group had no live member.
func (b *Bus) pushGroup(g *group, msg *Message) pushResult {
	n := len(g.subs)
	start := int(g.next.Add(1) % uint32(n))
	if msg.Blob != nil && !msg.Blob.tryRetain() {
		return pushClosed
	}
	var first *Subscription
	for k := 0; k < n; k++ {
		s := g.subs[(start+k)%n]
		if s.dead.Load() {
			continue
		}
		if first == nil {
			first = s
		}
		if s.mb.tryPush(*msg) {
			return pushed
		}
	}
	if msg.Blob != nil {
		msg.Blob.Release()
	}
	if first == nil {
		return pushClosed
	}
	if res := b.push(first, msg); res != pushClosed {
		return res
	}
	return pushDropped
}

// dropped counts a drop for e and reports it on the 1st, 2nd, 4th… one.
func (b *Bus) dropped(e *Endpoint, subject string) {
	n := e.dropped.Add(1)
	if b.events != nil && n&(n-1) == 0 {
		b.events(Event{Kind: EventDropped, Op: "deliver", Endpoint: e.name, Target: subject, Count: n})
	}
}

// deny counts a refusal and reports it; it returns err for chaining.
func (b *Bus) deny(e *Endpoint, op, target string, err error) error {
	e.denied.Add(1)
	b.denied.Add(1)
	if b.events != nil {
		b.events(Event{Kind: EventDenied, Op: op, Endpoint: e.name, Target: target, Err: err})
	}
	return err
}

// Names of the aggregate rows in api.BusStats.Subjects.
const (
	InboxSubjects = api.InboxSubjects
	OtherSubjects = api.OtherSubjects
)

// Stats returns a snapshot of the counters.
func (b *Bus) Stats() api.BusStats {
	var st api.BusStats
	b.statsMu.Lock()
	for subj, c := range b.subjects {
		st.Subjects = append(st.Subjects, c.snapshot(subj))
	}
	b.statsMu.Unlock()
	if s := b.inbox.snapshot(InboxSubjects); s.Published+s.Denied > 0 {
		st.Subjects = append(st.Subjects, s)
	}
	if s := b.other.snapshot(OtherSubjects); s.Published+s.Denied > 0 {
		st.Subjects = append(st.Subjects, s)
	}
	sort.Slice(st.Subjects, func(i, j int) bool { return st.Subjects[i].Subject < st.Subjects[j].Subject })

	sent, ok := b.direct.retiredSent.Load(), b.direct.retiredOK.Load()
	for _, e := range b.byName.all() {
		st.Endpoints = append(st.Endpoints, e.Stats())
		sent += e.sent.Load()
		ok += e.sentOK.Load()
	}
	sort.Slice(st.Endpoints, func(i, j int) bool { return st.Endpoints[i].Name < st.Endpoints[j].Name })

	b.subMu.RLock()
	st.Subscriptions = b.nsubs
	b.subMu.RUnlock()
	st.Denied = b.denied.Load()
	st.Direct = api.DirectStats{
		Sent:      sent,
		Delivered: ok,
		Dropped:   b.direct.dropped.Load(),
		Denied:    b.direct.denied.Load(),
	}
	return st
}

func (c *subjectCounters) snapshot(subject string) api.SubjectStats {
	return api.SubjectStats{
		Subject:   subject,
		Published: c.published.Load(),
		Delivered: c.delivered.Load(),
		Dropped:   c.dropped.Load(),
		Unrouted:  c.unrouted.Load(),
		Denied:    c.denied.Load(),
	}
}
