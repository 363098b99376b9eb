package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/subject"
)

func matchPattern(p, s string) bool { return subject.Match(p, s) }

// Requests from elsewhere wait at most this long for a local answer.
const (
	defaultRequestTimeout = 30 * time.Second
	maxRequestTimeout     = 10 * time.Minute
	heldFor               = time.Minute // how long a large payload waits to be fetched
	fetchTimeout          = 10 * time.Second
)

// headroom is what a NATS message needs besides its body (headers).
const headroom = 8 << 10

// maxBody is the largest body sent inline; larger ones are held and
// fetched in chunks of this size.
func (c *Cluster) maxBody() int {
	n := int(c.nc.MaxPayload()) - headroom
	if n < 1024 {
		n = 1024
	}
	return n
}

// outbound carries the bus messages other nodes want to NATS.
func (c *Cluster) outbound() {
	defer c.wg.Done()
	for {
		m, err := c.br.Recv(c.ctx)
		if err != nil {
			return
		}
		if !c.cfg.exported(m.Subject) { // the bridge only asks for exported subjects
			continue
		}
		msg := nats.NewMsg(c.subj.bus + m.Subject)
		msg.Header.Set(hNode, c.cfg.Node)
		msg.Header.Set(hFrom, m.From)
		if len(m.Groups) > 0 {
			msg.Header.Set(hServed, strings.Join(m.Groups, ","))
		}
		if strings.HasPrefix(m.Reply, "_inbox.") {
			msg.Reply = c.subj.reply + c.cfg.Node + "." + m.Reply
			if t := timeoutHeader(m.Deadline); t != "" {
				msg.Header.Set(hTimeout, t)
			}
		}
		if err := c.encode(msg, m.Data, m.Blob); err != nil {
			c.stats.dropped.Add(1)
			if msg.Reply != "" {
				_ = c.br.Fail(m.Reply, err)
			}
			continue
		}
		if err := c.nc.PublishMsg(msg); err != nil {
			c.stats.dropped.Add(1)
			continue
		}
		c.stats.forwarded.Add(1)
	}
}

// encode puts data and blob in msg's body, or, when they are larger than
// a NATS message may be, holds them for the receivers to fetch.
func (c *Cluster) encode(msg *nats.Msg, data, blob []byte) error {
	body := data
	if blob != nil {
		msg.Header.Set(hDataLen, strconv.Itoa(len(data)))
		body = make([]byte, 0, len(data)+len(blob))
		body = append(append(body, data...), blob...)
	}
	if len(body) <= c.maxBody() {
		msg.Data = body
		return nil
	}
	id, err := c.held.put(body)
	if err != nil {
		return err
	}
	msg.Header.Set(hRef, id)
	msg.Header.Set(hSize, strconv.Itoa(len(body)))
	return nil
}

// decode reads what encode wrote, fetching a held body from its node.
func (c *Cluster) decode(ctx context.Context, m *nats.Msg) (data, blob []byte, err error) {
	body := m.Data
	if ref := m.Header.Get(hRef); ref != "" {
		size, err := strconv.Atoi(m.Header.Get(hSize))
		limit := c.k.MaxMessage() + 64<<20
		if err != nil || size < 0 || size > limit {
			return nil, nil, fmt.Errorf("%w: a held payload of %q bytes", api.ErrTooLarge, m.Header.Get(hSize))
		}
		if body, err = c.fetch(ctx, m.Header.Get(hNode), ref, size); err != nil {
			return nil, nil, err
		}
	}
	if dl := m.Header.Get(hDataLen); dl != "" {
		n, err := strconv.Atoi(dl)
		if err != nil || n < 0 || n > len(body) {
			return nil, nil, fmt.Errorf("%w: Orb-Data-Len %q for a body of %d bytes", api.ErrInvalid, dl, len(body))
		}
		return body[:n:n], body[n:], nil
	}
	return body, nil, nil
}

// fetch gets a held body of size bytes from node, chunk by chunk.
func (c *Cluster) fetch(ctx context.Context, node, ref string, size int) ([]byte, error) {
	if ValidNodeName(node) != nil || !validRef(ref) {
		return nil, fmt.Errorf("%w: held payload %q on %q", api.ErrInvalid, ref, node)
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	out := make([]byte, 0, size)
	for len(out) < size {
		req := nats.NewMsg(c.subj.blob + node + "." + ref)
		req.Header.Set(hOffset, strconv.Itoa(len(out)))
		r, err := c.nc.RequestMsgWithContext(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("fetch a held payload from %s: %w", node, err)
		}
		if e := r.Header.Get(hError); e != "" {
			return nil, decodeError(node, e)
		}
		if len(r.Data) == 0 || len(out)+len(r.Data) > size {
			return nil, fmt.Errorf("%w: held payload from %s: a chunk of %d bytes at %d of %d", api.ErrInvalid, node, len(r.Data), len(out), size)
		}
		out = append(out, r.Data...)
	}
	return out, nil
}

// onFetch serves chunks of the bodies this node holds.
func (c *Cluster) onFetch(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	ref := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	off, err := strconv.Atoi(m.Header.Get(hOffset))
	reply := nats.NewMsg(m.Reply)
	body, ok := c.held.get(ref)
	switch {
	case !ok:
		reply.Header.Set(hError, encodeError(fmt.Errorf("%w: payload %s is no longer held (kept %v)", api.ErrNotFound, ref, heldFor)))
	case err != nil || off < 0 || off >= len(body):
		reply.Header.Set(hError, encodeError(fmt.Errorf("%w: offset %q", api.ErrInvalid, m.Header.Get(hOffset))))
	default:
		end := min(off+c.maxBody(), len(body))
		reply.Data = body[off:end]
	}
	_ = m.RespondMsg(reply)
}

// onBus is the handler of one NATS bus subscription: the local
// subscriptions on pattern (queue "") or the local queue group queue.
func (c *Cluster) onBus(pattern, queue string) nats.MsgHandler {
	return func(m *nats.Msg) {
		origin := m.Header.Get(hNode)
		if origin == c.cfg.Node {
			return // our own message, back from NATS
		}
		if queue != "" && served(m.Header.Get(hServed), queue) {
			return // the group has a member on the origin node, which had it
		}
		subj := strings.TrimPrefix(m.Subject, c.subj.bus)
		if !c.cfg.exported(subj) || ValidNodeName(origin) != nil {
			c.stats.refused.Add(1)
			return
		}
		data, blob, err := c.decode(c.ctx, m)
		if err != nil {
			c.stats.dropped.Add(1)
			c.log.Debug("cluster: dropped a message", "subject", subj, "from", origin, "err", err)
			return
		}
		in := orbital.Incoming{Subject: subj, From: from(m) + "@" + origin, Data: data, Blob: blob}
		if m.Reply == "" {
			n, err := c.br.Inject(pattern, queue, in)
			if err != nil {
				c.stats.refused.Add(1)
				return
			}
			if n > 0 {
				c.stats.received.Add(1)
			}
			return
		}
		timeout := parseTimeout(m.Header.Get(hTimeout), defaultRequestTimeout, maxRequestTimeout)
		c.br.InjectRequestFunc(pattern, queue, in, timeout, func(r orbital.Message, err error) {
			if err != nil {
				return // no answer here; another node may have one
			}
			c.stats.received.Add(1)
			reply := nats.NewMsg(m.Reply)
			reply.Header.Set(hNode, c.cfg.Node)
			reply.Header.Set(hFrom, r.From)
			if err := c.encode(reply, r.Data, r.Blob); err != nil {
				c.stats.dropped.Add(1)
				return
			}
			_ = c.nc.PublishMsg(reply)
		})
	}
}

func from(m *nats.Msg) string {
	f := m.Header.Get(hFrom)
	if f == "" || len(f) > 256 || strings.ContainsAny(f, " \t\r\n") {
		return "?"
	}
	return f
}

func served(h, queue string) bool {
	for h != "" {
		var g string
		g, h, _ = strings.Cut(h, ",")
		if g == queue {
			return true
		}
	}
	return false
}

// onReply hands an answer from elsewhere to the local requester.
func (c *Cluster) onReply(m *nats.Msg) {
	inbox := strings.TrimPrefix(m.Subject, c.subj.reply+c.cfg.Node+".")
	if !strings.HasPrefix(inbox, "_inbox.") {
		return
	}
	if m.Header.Get(hStatus) == "503" {
		_ = c.br.Fail(inbox, fmt.Errorf("cluster: %w: no node has a responder", api.ErrNotFound))
		return
	}
	origin := m.Header.Get(hNode)
	if ValidNodeName(origin) != nil {
		return
	}
	data, blob, err := c.decode(c.ctx, m)
	if err != nil {
		_ = c.br.Fail(inbox, err)
		return
	}
	_ = c.br.Answer(inbox, orbital.Incoming{Subject: m.Subject, From: from(m) + "@" + origin, Data: data, Blob: blob})
}

// heldStore keeps large payloads for other nodes to fetch, for heldFor,
// within a byte budget.
type heldStore struct {
	mu    sync.Mutex
	max   int64
	bytes int64
	items map[string]heldItem
}

type heldItem struct {
	data    []byte
	expires time.Time
}

var errHeldFull = errors.New("cluster: no room to hold a large payload for other nodes")

func newHeldStore(max int64) *heldStore { return &heldStore{max: max, items: map[string]heldItem{}} }

func (h *heldStore) put(data []byte) (string, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	for k, it := range h.items {
		if now.After(it.expires) {
			h.bytes -= int64(len(it.data))
			delete(h.items, k)
		}
	}
	if h.bytes+int64(len(data)) > h.max {
		return "", fmt.Errorf("%w (%d of %d bytes held): %w", errHeldFull, h.bytes, h.max, api.ErrLimit)
	}
	h.items[id] = heldItem{data: data, expires: now.Add(heldFor)}
	h.bytes += int64(len(data))
	return id, nil
}

func (h *heldStore) get(id string) ([]byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	it, ok := h.items[id]
	if !ok || time.Now().After(it.expires) {
		return nil, false
	}
	return it.data, true
}

func validRef(s string) bool {
	if len(s) != 24 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
