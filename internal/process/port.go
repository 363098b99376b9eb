package process

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/engine"
)

// Port connects one process to the bus: its endpoint (identity and
// permissions), its mailbox, and the blobs it holds. It implements
// engine.Port for the guest's orbital_v1 calls. Only the process's own
// goroutine calls it, except Close.
type Port struct {
	ep    *bus.Endpoint
	mb    *bus.Mailbox
	blobs *bus.BlobStore
	quota *bus.Quota

	mu     sync.Mutex
	subs   map[int32]*bus.Subscription
	next   int32
	held   map[int64]*bus.Blob // blob handles this process holds a reference to
	listen map[int32]bool      // subscriptions the kernel made (manifest listen), kept across a hand-over

	handover chan struct{} // closed when the port is being handed to a new incarnation
	handing  bool          // handover closed; guarded by mu
}

var _ engine.Port = (*Port)(nil)

// NewPort wraps an endpoint registered on the bus with mailbox mb.
func NewPort(ep *bus.Endpoint, mb *bus.Mailbox, blobs *bus.BlobStore, quota *bus.Quota) *Port {
	return &Port{ep: ep, mb: mb, blobs: blobs, quota: quota, subs: map[int32]*bus.Subscription{}, held: map[int64]*bus.Blob{},
		listen: map[int32]bool{}, handover: make(chan struct{})}
}

// Listen subscribes pattern on behalf of the kernel (a manifest listen
// subject): it survives a hand-over to the next incarnation.
func (p *Port) Listen(pattern string) error {
	id, err := p.Subscribe(pattern, "")
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.listen[id] = true
	p.mu.Unlock()
	return nil
}

// HandOver tells the guest to stop (its recv gets ERR_CLOSED, even with
// messages queued) while the endpoint, its listen subscriptions and its
// mailbox stay: messages keep queueing for the next incarnation, which
// takes the port with Adopt. Used to upgrade a module without losing
// messages.
func (p *Port) HandOver() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.handing {
		p.handing = true
		close(p.handover)
	}
}

// HandingOver reports whether HandOver was called and not yet adopted.
func (p *Port) HandingOver() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handing
}

// Adopt prepares a handed-over port for the next incarnation: the old
// guest's own subscriptions and blob references are dropped, the
// kernel's listen subscriptions and the queued messages stay.
func (p *Port) Adopt() {
	p.mu.Lock()
	var drop []*bus.Subscription
	for id, s := range p.subs {
		if !p.listen[id] {
			drop = append(drop, s)
			delete(p.subs, id)
		}
	}
	held := p.held
	p.held = map[int64]*bus.Blob{}
	p.handing = false
	p.handover = make(chan struct{})
	p.mu.Unlock()
	for _, s := range drop {
		s.Unsubscribe()
	}
	for _, b := range held {
		_ = b.Release()
	}
}

// Release drops what the ending guest holds (its blob references) but
// keeps the mailbox and subscriptions of a port being handed over.
func (p *Port) Release() {
	p.mu.Lock()
	held := p.held
	p.held = map[int64]*bus.Blob{}
	p.mu.Unlock()
	for _, b := range held {
		_ = b.Release()
	}
}

func (p *Port) handoverCh() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handover
}

// Endpoint returns the process's bus identity.
func (p *Port) Endpoint() *bus.Endpoint { return p.ep }

// Mailbox returns the process's mailbox.
func (p *Port) Mailbox() *bus.Mailbox { return p.mb }

// Publish implements engine.Port.
func (p *Port) Publish(subject string, data []byte) error {
	return p.ep.Publish(subject, bus.Message{Data: data})
}

// Subscribe implements engine.Port.
func (p *Port) Subscribe(pattern, queue string) (int32, error) {
	s, err := p.ep.Subscribe(pattern, queue)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	p.subs[p.next] = s
	return p.next, nil
}

// Unsubscribe implements engine.Port.
func (p *Port) Unsubscribe(id int32) error {
	p.mu.Lock()
	s, ok := p.subs[id]
	delete(p.subs, id)
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("unsubscribe %d: %w", id, api.ErrNotFound)
	}
	s.Unsubscribe()
	return nil
}

// Send implements engine.Port.
func (p *Port) Send(to string, data []byte) error {
	return p.ep.Send(to, bus.Message{Data: data})
}

// Request implements engine.Port.
func (p *Port) Request(ctx context.Context, subject string, data []byte, timeout time.Duration) ([]byte, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	m, err := p.ep.Request(ctx, subject, data)
	if err != nil {
		return nil, err
	}
	if m.Blob != nil { // a reply's blob is not kept by the request API
		_ = m.Blob.Release()
	}
	return m.Data, nil
}

// Reply implements engine.Port.
func (p *Port) Reply(reply string, data []byte) error {
	return p.ep.Reply(bus.Message{Reply: reply}, data)
}

// Next implements engine.Port: it waits for a message without consuming it.
func (p *Port) Next(timeout time.Duration, done <-chan struct{}) (engine.Envelope, bool, error) {
	handover := p.handoverCh()
	select {
	case <-handover: // queued messages are for the next incarnation
		return engine.Envelope{}, false, fmt.Errorf("recv: %w", api.ErrClosed)
	default:
	}
	if m, ok := p.mb.Peek(); ok {
		return envelope(m), true, nil
	}
	if timeout == 0 {
		return engine.Envelope{}, false, p.closedErr()
	}
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	for {
		if m, ok := p.mb.Peek(); ok {
			return envelope(m), true, nil
		}
		select {
		case <-handover:
			return engine.Envelope{}, false, fmt.Errorf("recv: %w", api.ErrClosed)
		case <-p.mb.Ready():
		case <-p.mb.Done():
			if m, ok := p.mb.Peek(); ok {
				return envelope(m), true, nil
			}
			return engine.Envelope{}, false, fmt.Errorf("recv: %w", api.ErrClosed)
		case <-done:
			return engine.Envelope{}, false, fmt.Errorf("recv: %w", api.ErrClosed)
		case <-expired:
			return engine.Envelope{}, false, nil
		}
	}
}

func (p *Port) closedErr() error {
	select {
	case <-p.mb.Done():
		return fmt.Errorf("recv: %w", api.ErrClosed)
	default:
		return nil
	}
}

// Take implements engine.Port: the pending message is consumed, and a blob
// it carries becomes one of the process's held handles.
func (p *Port) Take() {
	m, ok := p.mb.TryRecv()
	if ok && m.Blob != nil {
		p.mu.Lock()
		id := int64(m.Blob.ID())
		if _, dup := p.held[id]; dup {
			_ = m.Blob.Release() // already held: one reference per process
		} else {
			p.held[id] = m.Blob
		}
		p.mu.Unlock()
	}
}

// Pending implements engine.Port.
func (p *Port) Pending() (engine.Envelope, bool) {
	m, ok := p.mb.Peek()
	if !ok {
		return engine.Envelope{}, false
	}
	return envelope(m), true
}

func envelope(m bus.Message) engine.Envelope {
	e := engine.Envelope{Kind: engine.KindPublish, Subject: m.Subject, Reply: m.Reply, From: m.From, Data: m.Data}
	switch {
	case m.Reply != "":
		e.Kind = engine.KindRequest
	case m.Direct:
		e.Kind = engine.KindSend
	}
	if m.Blob != nil {
		e.Blob = int64(m.Blob.ID())
	}
	return e
}

// BlobCreate implements engine.Port.
func (p *Port) BlobCreate(data []byte) (int64, error) {
	b, err := p.blobs.New(p.ep.Name(), data, p.quota)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	p.held[int64(b.ID())] = b
	p.mu.Unlock()
	return int64(b.ID()), nil
}

func (p *Port) blob(id int64) (*bus.Blob, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.held[id]
	if !ok {
		return nil, fmt.Errorf("blob %d: %w: not held by this process", id, api.ErrNotFound)
	}
	return b, nil
}

// BlobPublish implements engine.Port.
func (p *Port) BlobPublish(subject string, id int64) error {
	b, err := p.blob(id)
	if err != nil {
		return err
	}
	return p.ep.Publish(subject, bus.Message{Blob: b})
}

// BlobLen implements engine.Port.
func (p *Port) BlobLen(id int64) (int64, error) {
	b, err := p.blob(id)
	if err != nil {
		return 0, err
	}
	return int64(b.Len()), nil
}

// BlobRead implements engine.Port.
func (p *Port) BlobRead(id, off int64, out []byte) (int, error) {
	b, err := p.blob(id)
	if err != nil {
		return 0, err
	}
	n, err := b.ReadAt(out, off)
	if n > 0 {
		return n, nil // a short read at the end is not an error for the guest
	}
	return n, err
}

// BlobView implements engine.Port.
func (p *Port) BlobView(id int64) ([]byte, func(), error) {
	b, err := p.blob(id)
	if err != nil {
		return nil, nil, err
	}
	b.Retain()
	return b.Bytes(), func() { _ = b.Release() }, nil
}

// BlobRelease implements engine.Port.
func (p *Port) BlobRelease(id int64) error {
	p.mu.Lock()
	b, ok := p.held[id]
	delete(p.held, id)
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("blob %d: %w", id, api.ErrNotFound)
	}
	return b.Release()
}

// Close ends the port: the mailbox closes (the guest's recv returns
// ERR_CLOSED), subscriptions end and every held blob is released.
func (p *Port) Close() {
	p.mb.Close()
	p.mu.Lock()
	subs, held := p.subs, p.held
	p.subs, p.held = map[int32]*bus.Subscription{}, map[int64]*bus.Blob{}
	p.mu.Unlock()
	for _, s := range subs {
		s.Unsubscribe()
	}
	for _, b := range held {
		_ = b.Release()
	}
}
