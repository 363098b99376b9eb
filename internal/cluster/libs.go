package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/nats-io/nats.go"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
)

// remoteLib is one version of a library that other nodes serve,
// registered with the kernel so that local callers reach it as any other.
type remoteLib struct {
	name, version string
	lib           *orbital.Library

	mu        sync.Mutex
	providers []string // up nodes serving it, sorted
	next      int
}

func (r *remoteLib) where() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.providers)
}

// order returns the providers to try, starting with the next in turn.
func (r *remoteLib) order() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.providers)
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, r.providers[(r.next+i)%n])
	}
	if n > 0 {
		r.next = (r.next + 1) % n
	}
	return out
}

// syncLibraries registers a remote library for every library an up peer
// serves and withdraws those nobody serves any more.
func (c *Cluster) syncLibraries() {
	type offer struct {
		decl      orbital.LibraryDecl
		providers []string
	}
	offers := map[string]*offer{}
	c.mu.Lock()
	for name, p := range c.peers {
		if p.state != api.NodeUp {
			continue
		}
		for _, d := range p.ann.Libraries {
			key := d.Name + "@" + d.Version
			o := offers[key]
			if o == nil {
				o = &offer{decl: d}
				offers[key] = o
			}
			o.providers = append(o.providers, name)
		}
	}
	var add []*offer
	var remove []*remoteLib
	for key, rl := range c.rlibs {
		if offers[key] == nil {
			remove = append(remove, rl)
			delete(c.rlibs, key)
		}
	}
	for key, o := range offers {
		sort.Strings(o.providers)
		if rl := c.rlibs[key]; rl != nil {
			rl.mu.Lock()
			rl.providers = o.providers
			rl.mu.Unlock()
			continue
		}
		add = append(add, o)
	}
	c.mu.Unlock()
	for _, rl := range remove {
		_ = rl.lib.Remove(context.Background())
		c.log.Info("cluster: remote library gone", "library", rl.name, "version", rl.version)
	}
	for _, o := range add {
		rl := &remoteLib{name: o.decl.Name, version: o.decl.Version, providers: o.providers}
		lib, err := c.k.ProvideRemote(o.decl.Name, o.decl.Version, o.decl.Exports, c.remoteCall(rl), rl.where)
		if err != nil {
			c.log.Warn("cluster: cannot offer a remote library", "library", o.decl.Name, "version", o.decl.Version, "err", err)
			continue
		}
		rl.lib = lib
		c.mu.Lock()
		if c.ctx.Err() != nil || c.rlibs[o.decl.Name+"@"+o.decl.Version] != nil {
			c.mu.Unlock()
			_ = lib.Remove(context.Background())
			continue
		}
		c.rlibs[o.decl.Name+"@"+o.decl.Version] = rl
		c.mu.Unlock()
		c.log.Info("cluster: remote library available", "library", o.decl.Name, "version", o.decl.Version, "on", o.providers)
	}
}

// remoteCall carries the calls of rl to its providers: each in turn, the
// next one when a provider cannot be reached, until the deadline.
func (c *Cluster) remoteCall(rl *remoteLib) orbital.RemoteFunc {
	return func(ctx context.Context, fn string, args []byte) ([]byte, error) {
		var last error
		for i, node := range rl.order() {
			if ctx.Err() != nil {
				break
			}
			if i > 0 {
				c.stats.failovers.Add(1)
			}
			res, err := c.callOn(ctx, node, rl, fn, args)
			if err == nil || !retryable(err) {
				return res, err
			}
			last = err
		}
		if err := ctx.Err(); err != nil && last == nil {
			return nil, err
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(last, api.ErrUnavailable) {
			return nil, fmt.Errorf("%w: %w (%v)", api.ErrTimeout, api.ErrUnavailable, last)
		}
		if last == nil {
			last = errors.New("no node serves it")
		}
		return nil, fmt.Errorf("%s@%s on the cluster: %w: %v", rl.name, rl.version, api.ErrUnavailable, last)
	}
}

// errUnreachable: the call did not reach a provider (or its node went
// down): another provider may take it.
var errUnreachable = errors.New("provider unreachable")

func retryable(err error) bool { return errors.Is(err, errUnreachable) }

// callOn calls rl.fn on node, ending early if the node goes down.
func (c *Cluster) callOn(ctx context.Context, node string, rl *remoteLib, fn string, args []byte) ([]byte, error) {
	c.mu.Lock()
	p := c.peers[node]
	state, pctx := stateOf(p), context.Context(nil)
	if p != nil {
		pctx = p.ctx
	}
	c.mu.Unlock()
	if state != api.NodeUp {
		return nil, fmt.Errorf("%w: node %s is %s", errUnreachable, node, state)
	}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(pctx, func() { cancel(errNodeDown) })
	defer stop()

	msg := nats.NewMsg(c.subj.lib + node + "." + rl.name)
	msg.Header.Set(hNode, c.cfg.Node)
	msg.Header.Set(hFn, fn)
	msg.Header.Set(hVersion, rl.version)
	if dl, ok := ctx.Deadline(); ok {
		msg.Header.Set(hTimeout, timeoutHeader(dl))
	}
	if len(args) > c.maxBody() {
		return nil, fmt.Errorf("%w: arguments of %d bytes exceed what one cluster message carries (%d)", api.ErrTooLarge, len(args), c.maxBody())
	}
	msg.Data = args
	c.stats.calls.Add(1)
	r, err := c.nc.RequestMsgWithContext(cctx, msg)
	switch {
	case err == nil:
	case errors.Is(context.Cause(cctx), errNodeDown):
		return nil, fmt.Errorf("%w: node %s went down during the call", errUnreachable, node)
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("%w: node %s does not answer", errUnreachable, node)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return nil, fmt.Errorf("%s.%s on node %s: %w", rl.name, fn, node, api.ErrTimeout)
	case errors.Is(err, context.Canceled):
		return nil, err
	default:
		return nil, fmt.Errorf("%w: node %s: %v", errUnreachable, node, err)
	}
	if e := r.Header.Get(hError); e != "" {
		err := decodeError(node, e)
		if errors.Is(err, api.ErrNotFound) && strings.Contains(e, "here") {
			// The library left that node since it was announced.
			return nil, fmt.Errorf("%w: %v", errUnreachable, err)
		}
		return nil, err
	}
	return r.Data, nil
}

// stateOf is p's state; c.mu is held.
func stateOf(p *peer) string {
	if p == nil {
		return "unknown"
	}
	return p.state
}

// onCall serves a call from another node of a library exported to the
// cluster.
func (c *Cluster) onCall(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	lib := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	fn, version, caller := m.Header.Get(hFn), m.Header.Get(hVersion), m.Header.Get(hNode)
	fail := func(err error) {
		r := nats.NewMsg(m.Reply)
		r.Header.Set(hError, encodeError(err))
		_ = m.RespondMsg(r)
	}
	if !c.cfg.libraryExported(lib) {
		c.stats.callsRefused.Add(1)
		c.log.Warn("cluster: refused a call of a library not exported to the cluster", "library", lib, "from", caller)
		fail(fmt.Errorf("%w: library %s is not exported to the cluster by node %s", api.ErrPermissionDenied, lib, c.cfg.Node))
		return
	}
	timeout := parseTimeout(m.Header.Get(hTimeout), defaultRequestTimeout, maxRequestTimeout)
	args := m.Data
	ok := c.work(func() {
		ctx, cancel := context.WithTimeout(c.ctx, timeout)
		defer cancel()
		// The version the caller bound, or — when that one was just
		// upgraded or rolled back here — a compatible one (same major;
		// same minor below 1.0), as a local binding would re-resolve.
		// An upgrade replaces the library for a moment: a library that
		// is not here (or not in range) is waited for briefly.
		var res []byte
		var err error
		for wait := time.Now().Add(upgradeWait); ; {
			res, err = c.k.CallLocal(ctx, lib, exactly(version), fn, args)
			if errors.Is(err, api.ErrVersion) || errors.Is(err, api.ErrNotFound) {
				res, err = c.k.CallLocal(ctx, lib, compatible(version), fn, args)
			}
			if !(errors.Is(err, api.ErrVersion) || errors.Is(err, api.ErrNotFound)) || time.Now().After(wait) || ctx.Err() != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			if errors.Is(err, api.ErrNotFound) || errors.Is(err, api.ErrVersion) {
				err = fmt.Errorf("%w: %s@%s is not served here: %v", api.ErrNotFound, lib, version, err)
			}
			fail(err)
			return
		}
		c.stats.served.Add(1)
		r := nats.NewMsg(m.Reply)
		r.Data = res
		_ = m.RespondMsg(r)
	})
	if !ok {
		fail(fmt.Errorf("%w: node %s serves too many calls at once", api.ErrLimit, c.cfg.Node))
	}
}

// maxWorkers bounds the calls a node serves for others at once.
const maxWorkers = 1024

// work runs job on one of the node's call workers: long-lived goroutines
// (their stacks already grown), started as the load needs them, at most
// maxWorkers. It reports false when all are busy and none may start.
func (c *Cluster) work(job func()) bool {
	select {
	case c.jobs <- job:
		return true
	default:
	}
	select {
	case c.sem <- struct{}{}:
	default:
		return false
	}
	go func() {
		defer func() { <-c.sem }()
		idle := time.NewTimer(time.Minute)
		defer idle.Stop()
		for {
			job()
			idle.Reset(time.Minute)
			select {
			case job = <-c.jobs:
			case <-idle.C:
				return // an idle worker goes away
			case <-c.ctx.Done():
				return
			}
		}
	}()
	return true
}

// upgradeWait is how long a call from elsewhere waits for a library that
// is being replaced here (an upgrade's hand-over) before it is refused.
const upgradeWait = 2 * time.Second

// requestTimeout bounds cluster control requests.
const requestTimeout = 3 * time.Second

func exactly(version string) string {
	if version == "" {
		return ""
	}
	return "=" + version
}

// compatible is the semver range of versions a caller of version can use.
func compatible(version string) string {
	v, err := semver.StrictNewVersion(version)
	if err != nil {
		return exactly(version)
	}
	if v.Major() == 0 {
		return fmt.Sprintf("~0.%d", v.Minor())
	}
	return fmt.Sprintf("^%d", v.Major())
}
