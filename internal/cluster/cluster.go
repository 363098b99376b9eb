// Package cluster makes many Orbital nodes one system over NATS (nats.go
// as the client; nats-server embedded in binaries built with -tags
// embednats): the node part that joins, announces the node, bridges the
// exported bus subjects, carries library calls to the node that serves
// them and answers the cluster's questions (ps, start, stop). It reaches
// the kernel through its public API only (orbital.Bridge, ProvideRemote,
// CallLocal); the kernel never learns that NATS exists.
//
// docs/CLUSTER.md describes the subjects, the headers and the guarantees.
package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
)

// Host is what the cluster needs of its node.
type Host interface {
	Health() api.NodeHealth
	Processes() []api.ProcessInfo
	Start(name string) error
	Stop(name string) error
}

// Cluster is a node's membership of a cluster.
type Cluster struct {
	cfg  Config
	k    *orbital.Kernel
	host Host
	log  *slog.Logger
	subj subjects

	srv  embeddedServer // nil when joining a server elsewhere
	nc   *nats.Conn
	br   *orbital.Bridge
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	started time.Time
	seq     atomic.Uint64
	changed chan struct{} // local subscriptions or libraries changed
	sem     chan struct{} // bounds the call workers (work)
	jobs    chan func()   // calls waiting for an idle worker

	mu       sync.Mutex
	peers    map[string]*peer
	natsSubs map[api.Interest]*nats.Subscription
	remote   []api.Interest // the up peers' interest, for Wants
	rlibs    map[string]*remoteLib

	wantsMu sync.RWMutex
	wants   []api.Interest

	held *heldStore

	stats struct {
		forwarded, received, refused, dropped, calls, served, callsRefused, failovers, reconnects atomic.Uint64
	}
}

// peer is another node as this one knows it.
type peer struct {
	ann      announcement
	lastSeen time.Time
	state    string
	ctx      context.Context // ended when the node goes down or leaves
	cancel   context.CancelCauseFunc
}

// errNodeDown ends the calls in flight to a node that went down.
var errNodeDown = errors.New("the node went down")

// Options are Start's optional settings.
type Options struct {
	// MaxHeld bounds the bytes of large payloads kept for other nodes to
	// fetch (default 256 MiB).
	MaxHeld int64
}

// Start joins (or, with cfg.Embedded, starts) the cluster and bridges k's
// bus into it. Close leaves.
func Start(ctx context.Context, k *orbital.Kernel, host Host, cfg Config, log *slog.Logger, o Options) (*Cluster, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("cluster", cfg.Name, "node", cfg.Node)
	if o.MaxHeld <= 0 {
		o.MaxHeld = 256 << 20
	}
	c := &Cluster{cfg: cfg, k: k, host: host, log: log, subj: newSubjects(cfg.Prefix), started: time.Now(),
		changed: make(chan struct{}, 1), sem: make(chan struct{}, maxWorkers), jobs: make(chan func()), peers: map[string]*peer{},
		natsSubs: map[api.Interest]*nats.Subscription{}, rlibs: map[string]*remoteLib{},
		held: newHeldStore(o.MaxHeld)}
	c.ctx, c.stop = context.WithCancel(context.Background())
	k.SetPreferAny(cfg.Prefer == "any")

	opts, err := c.clientOptions()
	if err != nil {
		return nil, err
	}
	url := cfg.URL
	if cfg.Embedded {
		srv, err := startEmbedded(&c.cfg, k.MaxMessage(), log)
		if err != nil {
			return nil, err
		}
		c.srv = srv
		url = srv.ClientURL()
		opts = append(opts, srv.InProcess())
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		c.closeServer()
		return nil, fmt.Errorf("cluster %s: join %s: %w", cfg.Name, url, err)
	}
	c.nc = nc
	br, err := k.OpenBridge("orbital-cluster", orbital.BridgeOptions{Wants: c.wantsSubject, Watch: c.signal})
	if err != nil {
		c.Close(ctx)
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c.br = br
	if err := c.subscribe(); err != nil {
		c.Close(ctx)
		return nil, err
	}
	c.wg.Add(3)
	go c.outbound()
	go c.maintain()
	go c.heartbeat()
	c.signal()
	_ = nc.Publish(c.subj.syncSubj, []byte(cfg.Node))
	log.Info("joined the cluster", "server", nc.ConnectedUrlRedacted(), "embedded", cfg.Embedded, "exports", cfg.Export)
	return c, nil
}

func (c *Cluster) clientOptions() ([]nats.Option, error) {
	cfg := c.cfg
	opts := []nats.Option{
		nats.Name("orbital " + cfg.Node),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.ReconnectBufSize(8 << 20),
		nats.PingInterval(2 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			c.log.Warn("cluster connection lost; reconnecting", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			c.stats.reconnects.Add(1)
			c.log.Info("cluster connection back", "server", nc.ConnectedUrlRedacted())
			c.announce(false)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				c.stats.dropped.Add(1)
				return
			}
			c.log.Warn("cluster", "err", err)
		}),
	}
	if cfg.TokenFile != "" {
		tok, err := readSecret(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Token(tok))
	}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.NKeySeed != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeySeed)
		if err != nil {
			return nil, fmt.Errorf("cluster: nkey seed %s: %w", cfg.NKeySeed, err)
		}
		opts = append(opts, o)
	}
	if cfg.TLSCA != "" || cfg.TLSCert != "" {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Secure(tc))
	}
	return opts, nil
}

// tlsConfig is the client's TLS: the CA to verify the server, and the
// node's certificate for servers that verify clients.
func (c *Cluster) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.cfg.TLSCA != "" {
		pem, err := os.ReadFile(c.cfg.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("cluster: tls_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cluster: tls_ca %s: %w: no certificate in it", c.cfg.TLSCA, api.ErrInvalid)
		}
		tc.RootCAs = pool
	}
	if c.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.cfg.TLSCert, c.cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("cluster: tls_cert/tls_key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cluster: token file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("cluster: token file %s: %w: empty", path, api.ErrInvalid)
	}
	return s, nil
}

// subscribe takes the node's fixed NATS subscriptions.
func (c *Cluster) subscribe() error {
	self := c.cfg.Node
	type sub struct {
		subj string
		fn   nats.MsgHandler
	}
	for _, s := range []sub{
		{c.subj.node + "*", c.onAnnouncement},
		{c.subj.syncSubj, func(m *nats.Msg) {
			if string(m.Data) != self {
				c.announce(false)
			}
		}},
		{c.subj.reply + self + ".>", c.onReply},
		{c.subj.lib + self + ".*", c.onCall},
		{c.subj.blob + self + ".*", c.onFetch},
		{c.subj.ctl + self + ".*", c.onControl},
	} {
		ns, err := c.nc.Subscribe(s.subj, s.fn)
		if err != nil {
			return fmt.Errorf("cluster: subscribe %s: %w", s.subj, err)
		}
		_ = ns.SetPendingLimits(65536, 64<<20)
	}
	return c.nc.Flush()
}

// signal asks the maintenance loop to look at the local state again. It
// may run under the bus's lock: it only signals.
func (c *Cluster) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// maintain follows local changes: it subscribes NATS to what local
// subscribers want from elsewhere and announces the node.
func (c *Cluster) maintain() {
	defer c.wg.Done()
	libs := time.NewTicker(500 * time.Millisecond) // libraries have no watch: look twice a second
	defer libs.Stop()
	var lastLibs string
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.changed:
		case <-libs.C:
			b, _ := json.Marshal(c.exportedLibraries())
			if string(b) == lastLibs {
				continue
			}
			lastLibs = string(b)
		}
		c.syncSubscriptions()
		c.announce(false)
	}
}

// syncSubscriptions makes the NATS subscriptions match the local
// subscriptions that can receive something exported. It reports whether
// anything changed.
func (c *Cluster) syncSubscriptions() bool {
	want := map[api.Interest]bool{}
	for _, s := range c.br.Subscriptions() {
		if c.cfg.importable(s.Pattern) {
			want[api.Interest{Pattern: s.Pattern, Queue: s.Queue}] = true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := false
	for in, ns := range c.natsSubs {
		if !want[in] {
			_ = ns.Unsubscribe()
			delete(c.natsSubs, in)
			changed = true
		}
	}
	for in := range want {
		if c.natsSubs[in] != nil {
			continue
		}
		var ns *nats.Subscription
		var err error
		h := c.onBus(in.Pattern, in.Queue)
		if in.Queue == "" {
			ns, err = c.nc.Subscribe(c.subj.bus+in.Pattern, h)
		} else {
			ns, err = c.nc.QueueSubscribe(c.subj.bus+in.Pattern, in.Queue, h)
		}
		if err != nil {
			c.log.Warn("cluster: cannot subscribe", "pattern", in.Pattern, "queue", in.Queue, "err", err)
			continue
		}
		// A slow local consumer must not grow the node's memory without
		// bound: past these NATS drops (counted) for this subscription.
		_ = ns.SetPendingLimits(8192, 32<<20)
		c.natsSubs[in] = ns
		changed = true
	}
	return changed
}

// interest lists the node's NATS bus subscriptions, sorted.
func (c *Cluster) interest() []api.Interest {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]api.Interest, 0, len(c.natsSubs))
	for in := range c.natsSubs {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pattern != out[j].Pattern {
			return out[i].Pattern < out[j].Pattern
		}
		return out[i].Queue < out[j].Queue
	})
	return out
}

// exportedLibraries are the local libraries other nodes may call.
func (c *Cluster) exportedLibraries() []orbital.LibraryDecl {
	var out []orbital.LibraryDecl
	for _, d := range c.k.LocalLibraries() {
		if c.cfg.libraryExported(d.Name) {
			out = append(out, d)
		}
	}
	return out
}

// announce publishes the node's announcement.
func (c *Cluster) announce(leaving bool) {
	if c.nc == nil || c.nc.IsClosed() {
		return
	}
	a := announcement{Node: c.cfg.Node, Cluster: c.cfg.Name, Version: orbital.Version, Started: c.started,
		Seq: c.seq.Add(1), Leaving: leaving, Heartbeat: c.cfg.Heartbeat.Milliseconds(), Control: c.cfg.Control,
		Health: c.host.Health(), Libraries: c.exportedLibraries(), Exports: c.cfg.Export, Interest: c.interest()}
	for _, p := range c.host.Processes() {
		name, version, _ := strings.Cut(p.Module, "@")
		a.Processes = append(a.Processes, api.NodeProcess{Name: p.Name, Module: name, Version: version, State: p.State})
	}
	b, err := json.Marshal(a)
	if err != nil {
		return
	}
	_ = c.nc.Publish(c.subj.node+c.cfg.Node, b)
}

// heartbeat announces the node every Heartbeat and marks peers that went
// quiet as down.
func (c *Cluster) heartbeat() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.announce(false)
		c.sweep(time.Now())
	}
}

// onAnnouncement records what another node says of itself.
func (c *Cluster) onAnnouncement(m *nats.Msg) {
	if len(m.Data) > maxAnnouncement {
		return
	}
	var a announcement
	if err := json.Unmarshal(m.Data, &a); err != nil || a.check() != nil {
		c.log.Debug("cluster: ignored a malformed announcement", "subject", m.Subject)
		return
	}
	if a.Node == c.cfg.Node {
		if !a.Started.Equal(c.started) {
			c.log.Error("cluster: another node uses this node's name", "name", a.Node)
		}
		return
	}
	if a.Cluster != c.cfg.Name {
		c.log.Warn("cluster: a node of another cluster is on this NATS; ignored", "other", a.Node, "its_cluster", a.Cluster)
		return
	}
	c.mu.Lock()
	p := c.peers[a.Node]
	joined := false
	if p == nil || p.state != api.NodeUp || !p.ann.Started.Equal(a.Started) {
		if p != nil && p.cancel != nil {
			p.cancel(errNodeDown)
		}
		p = &peer{}
		p.ctx, p.cancel = context.WithCancelCause(c.ctx)
		c.peers[a.Node] = p
		joined = !a.Leaving
	} else if a.Seq < p.ann.Seq && a.Started.Equal(p.ann.Started) {
		c.mu.Unlock()
		return // out of order
	}
	p.ann, p.lastSeen = a, time.Now()
	p.state = api.NodeUp
	if a.Leaving {
		p.state = api.NodeLeft
		p.cancel(errNodeDown)
	}
	c.mu.Unlock()
	c.peersChanged()
	switch {
	case a.Leaving:
		c.nodeEvent("left", a.Node)
	case joined:
		c.nodeEvent("joined", a.Node)
	}
}

// sweep marks peers not heard of for three heartbeats as down.
func (c *Cluster) sweep(now time.Time) {
	var down []string
	c.mu.Lock()
	for name, p := range c.peers {
		hb := time.Duration(p.ann.Heartbeat) * time.Millisecond
		if p.state == api.NodeUp && now.Sub(p.lastSeen) > 3*hb+hb/2 {
			p.state = api.NodeDown
			p.cancel(errNodeDown)
			down = append(down, name)
		}
		if p.state != api.NodeUp && now.Sub(p.lastSeen) > 10*time.Minute {
			delete(c.peers, name)
		}
	}
	c.mu.Unlock()
	if len(down) > 0 {
		c.peersChanged()
		for _, n := range down {
			c.log.Warn("cluster: node is down (no heartbeat)", "peer", n)
			c.nodeEvent("down", n)
		}
	}
}

// nodeEvent publishes $sys.cluster.node.KIND on the local bus.
func (c *Cluster) nodeEvent(kind, node string) {
	if kind == "joined" {
		c.log.Info("cluster: node joined", "peer", node)
	}
	b, _ := json.Marshal(map[string]any{"kind": kind, "node": node, "time": time.Now()})
	_ = c.k.PublishEvent("$sys.cluster.node."+kind, b)
}

// peersChanged recomputes what the up peers want from this node's bus and
// which remote libraries exist.
func (c *Cluster) peersChanged() {
	var wants []api.Interest
	c.mu.Lock()
	for _, p := range c.peers {
		if p.state == api.NodeUp {
			for _, in := range p.ann.Interest {
				if c.cfg.importable(in.Pattern) {
					wants = append(wants, in)
				}
			}
		}
	}
	c.mu.Unlock()
	c.wantsMu.Lock()
	same := slices.Equal(wants, c.wants)
	c.wants = wants
	c.wantsMu.Unlock()
	if !same && c.br != nil {
		c.br.Changed()
	}
	c.syncLibraries()
}

// wantsSubject is the bridge's Wants: an exported subject some up peer
// subscribes to. It runs under the bus's route computation: no bus calls.
func (c *Cluster) wantsSubject(s string) bool {
	if !c.cfg.exported(s) {
		return false
	}
	c.wantsMu.RLock()
	defer c.wantsMu.RUnlock()
	for _, in := range c.wants {
		if matchPattern(in.Pattern, s) {
			return true
		}
	}
	return false
}

// Nodes lists this node and every node it knows, by name.
func (c *Cluster) Nodes() []api.NodeInfo {
	self := api.NodeInfo{Name: c.cfg.Node, Self: true, State: api.NodeUp, Version: orbital.Version,
		Started: c.started, LastSeen: time.Now(), Health: c.host.Health(), Exports: c.cfg.Export, Control: c.cfg.Control}
	for _, p := range c.host.Processes() {
		name, version, _ := strings.Cut(p.Module, "@")
		self.Processes = append(self.Processes, api.NodeProcess{Name: p.Name, Module: name, Version: version, State: p.State})
	}
	for _, d := range c.exportedLibraries() {
		self.Libraries = append(self.Libraries, d.Name+"@"+d.Version)
	}
	out := []api.NodeInfo{self}
	c.mu.Lock()
	for _, p := range c.peers {
		in := api.NodeInfo{Name: p.ann.Node, State: p.state, Version: p.ann.Version, Started: p.ann.Started,
			LastSeen: p.lastSeen, Health: p.ann.Health, Processes: p.ann.Processes, Exports: p.ann.Exports, Control: p.ann.Control}
		for _, d := range p.ann.Libraries {
			in.Libraries = append(in.Libraries, d.Name+"@"+d.Version)
		}
		out = append(out, in)
	}
	c.mu.Unlock()
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].Name < out[1+j].Name })
	return out
}

// Stats returns the node's cluster counters.
func (c *Cluster) Stats() api.ClusterStats {
	st := api.ClusterStats{Node: c.cfg.Node, Cluster: c.cfg.Name,
		Forwarded: c.stats.forwarded.Load(), Received: c.stats.received.Load(), Refused: c.stats.refused.Load(),
		Dropped: c.stats.dropped.Load(), Calls: c.stats.calls.Load(), CallsServed: c.stats.served.Load(),
		CallsRefused: c.stats.callsRefused.Load(), Failovers: c.stats.failovers.Load(), Reconnects: c.stats.reconnects.Load()}
	if c.br != nil {
		st.Dropped += c.br.Stats().Dropped
	}
	if c.nc != nil {
		st.Connected = c.nc.IsConnected()
		st.Server = c.nc.ConnectedUrlRedacted()
	}
	return st
}

// View is the node's counters and its list of nodes.
func (c *Cluster) View() api.ClusterView { return api.ClusterView{Stats: c.Stats(), Nodes: c.Nodes()} }

// Name is this node's name in the cluster.
func (c *Cluster) Name() string { return c.cfg.Node }

// ClientURL is where other nodes join this node's embedded server, or "".
func (c *Cluster) ClientURL() string {
	if c.srv == nil {
		return ""
	}
	return c.srv.ClientURL()
}

// Close leaves the cluster: says goodbye, stops bridging, withdraws the
// remote libraries and closes the connection (and the embedded server).
func (c *Cluster) Close(ctx context.Context) error {
	if c.nc != nil && !c.nc.IsClosed() {
		c.announce(true)
		_ = c.nc.FlushTimeout(time.Second)
	}
	c.stop()
	if c.br != nil {
		c.br.Close()
	}
	c.wg.Wait()
	c.mu.Lock()
	libs := c.rlibs
	c.rlibs = map[string]*remoteLib{}
	for _, p := range c.peers {
		p.cancel(errNodeDown)
	}
	c.mu.Unlock()
	for _, rl := range libs {
		_ = rl.lib.Remove(ctx)
	}
	if c.nc != nil {
		c.nc.Close()
	}
	c.closeServer()
	return nil
}

func (c *Cluster) closeServer() {
	if c.srv != nil {
		c.srv.Shutdown()
	}
}
