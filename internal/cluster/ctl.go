package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/orbitalfoundation/orbital/api"
)

// onControl answers another node's ps, start and stop.
func (c *Cluster) onControl(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	op := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	reply := nats.NewMsg(m.Reply)
	reply.Header.Set(hNode, c.cfg.Node)
	var err error
	switch op {
	case "ps":
		reply.Data, err = json.Marshal(c.host.Processes())
	case "start", "stop":
		if !c.cfg.Control {
			err = fmt.Errorf("%w: node %s does not take commands from the cluster (set control = true in its [cluster])", api.ErrPermissionDenied, c.cfg.Node)
			break
		}
		name := string(m.Data)
		c.log.Info("cluster: "+op+" asked by another node", "process", name, "by", m.Header.Get(hNode))
		if op == "start" {
			err = c.host.Start(name)
		} else {
			err = c.host.Stop(name)
		}
	default:
		err = fmt.Errorf("%w: control operation %q", api.ErrInvalid, op)
	}
	if err != nil {
		reply.Data = nil
		reply.Header.Set(hError, encodeError(err))
	}
	_ = m.RespondMsg(reply)
}

// ask sends a control operation to node and returns its answer.
func (c *Cluster) ask(ctx context.Context, node, op string, data []byte) ([]byte, error) {
	if err := ValidNodeName(node); err != nil {
		return nil, err
	}
	if node != c.cfg.Node {
		c.mu.Lock()
		p := c.peers[node]
		state := stateOf(p)
		c.mu.Unlock()
		if p == nil {
			return nil, fmt.Errorf("%w: node %s is not in cluster %s", api.ErrNotFound, node, c.cfg.Name)
		}
		if state != api.NodeUp {
			return nil, fmt.Errorf("node %s: %w (it is %s)", node, api.ErrUnavailable, state)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	msg := nats.NewMsg(c.subj.ctl + node + "." + op)
	msg.Header.Set(hNode, c.cfg.Node)
	msg.Data = data
	r, err := c.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w: %v", node, api.ErrUnavailable, err)
	}
	if e := r.Header.Get(hError); e != "" {
		return nil, decodeError(node, e)
	}
	return r.Data, nil
}

// Start starts process name on node (which must allow it: control = true).
func (c *Cluster) Start(ctx context.Context, node, name string) error {
	if node == c.cfg.Node {
		return c.host.Start(name)
	}
	_, err := c.ask(ctx, node, "start", []byte(name))
	return err
}

// Stop stops process name on node.
func (c *Cluster) Stop(ctx context.Context, node, name string) error {
	if node == c.cfg.Node {
		return c.host.Stop(name)
	}
	_, err := c.ask(ctx, node, "stop", []byte(name))
	return err
}

// Processes lists the processes of every up node (this one first), each
// with its Node set. A node that does not answer in time is left out and
// named in the error-free list of missing ones.
func (c *Cluster) Processes(ctx context.Context) (procs []api.ProcessInfo, missing []string) {
	for _, p := range c.host.Processes() {
		p.Node = c.cfg.Node
		procs = append(procs, p)
	}
	var names []string
	c.mu.Lock()
	for name, p := range c.peers {
		if p.state == api.NodeUp {
			names = append(names, name)
		}
	}
	c.mu.Unlock()
	sort.Strings(names)
	var mu sync.Mutex
	var wg sync.WaitGroup
	results := make([][]api.ProcessInfo, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := c.ask(ctx, n, "ps", nil)
			var list []api.ProcessInfo
			if err == nil {
				err = json.Unmarshal(b, &list)
			}
			if err != nil {
				mu.Lock()
				missing = append(missing, n)
				mu.Unlock()
				return
			}
			for j := range list {
				list[j].Node = n
			}
			results[i] = list
		}()
	}
	wg.Wait()
	for _, r := range results {
		procs = append(procs, r...)
	}
	sort.Strings(missing)
	return procs, missing
}
