package bus

import "sync/atomic"

// The subscription index is a trie of pattern tokens, NATS "sublist" style:
// each node has children for literal tokens, one for '*' and one for '>'.
// Matching a subject walks at most three branches per token. Results are
// cached per subject (Bus.routes) and invalidated wholesale by bumping
// Bus.gen whenever a subscription is added or removed.

type node struct {
	lit    map[string]*node
	star   *node
	gt     *node
	plain  []*Subscription
	queues map[string][]*Subscription
}

func (n *node) empty() bool {
	return len(n.lit) == 0 && n.star == nil && n.gt == nil && len(n.plain) == 0 && len(n.queues) == 0
}

// insert adds s under its pattern; b.subMu is held for writing.
func (n *node) insert(s *Subscription) {
	p := s.pattern
	for {
		tok, rest, more := cut(p)
		var next **node
		switch tok {
		case "*":
			next = &n.star
		case ">":
			next = &n.gt
		default:
			c := n.lit[tok]
			if c == nil {
				c = &node{}
				if n.lit == nil {
					n.lit = make(map[string]*node)
				}
				n.lit[tok] = c
			}
			next = &c
		}
		if *next == nil {
			*next = &node{}
		}
		n = *next
		if !more {
			break
		}
		p = rest
	}
	if s.queue == "" {
		s.idx = len(n.plain)
		n.plain = append(n.plain, s)
		return
	}
	if n.queues == nil {
		n.queues = make(map[string][]*Subscription)
	}
	s.idx = len(n.queues[s.queue])
	n.queues[s.queue] = append(n.queues[s.queue], s)
}

// remove deletes s and prunes nodes left empty; b.subMu is held for writing.
func (n *node) remove(s *Subscription) {
	n.removeAt(s, s.pattern)
}

func (n *node) removeAt(s *Subscription, p string) (pruned bool) {
	tok, rest, more := cut(p)
	var c *node
	switch tok {
	case "*":
		c = n.star
	case ">":
		c = n.gt
	default:
		c = n.lit[tok]
	}
	if c == nil {
		return false
	}
	if more {
		c.removeAt(s, rest)
	} else if s.queue == "" {
		c.plain = without(c.plain, s)
	} else {
		q := without(c.queues[s.queue], s)
		if len(q) == 0 {
			delete(c.queues, s.queue)
		} else {
			c.queues[s.queue] = q
		}
	}
	if !c.empty() {
		return false
	}
	switch tok {
	case "*":
		n.star = nil
	case ">":
		n.gt = nil
	default:
		delete(n.lit, tok)
	}
	return true
}

// without removes s from list in O(1): the last element takes its place.
// Changing the list in place is safe because routes copy the node lists
// they are built from (route.add), and the trie is only read or written
// under b.subMu. Delivery order among plain subscribers is not promised.
func without(list []*Subscription, s *Subscription) []*Subscription {
	i := s.idx
	if i >= len(list) || list[i] != s { // not where it should be: find it
		i = -1
		for j, x := range list {
			if x == s {
				i = j
				break
			}
		}
		if i < 0 {
			return list
		}
	}
	last := len(list) - 1
	list[i] = list[last]
	list[i].idx = i
	list[last] = nil
	return list[:last]
}

// route is the cached delivery list of one subject. It is immutable once
// published in the cache, except for the queue groups' round-robin cursors.
type route struct {
	gen     uint64
	subject string
	c       *subjectCounters
	subs    []*Subscription // plain subscribers: each gets a copy
	groups  []*group        // queue groups: one member each gets a copy
}

type group struct {
	name string
	subs []*Subscription
	next atomic.Uint32
}

// collect adds the subscriptions of n's subtree that match subject to r.
func (r *route) collect(n *node, subject string) {
	tok, rest, more := cut(subject)
	if n.gt != nil {
		r.add(n.gt)
	}
	if n.star != nil {
		if more {
			r.collect(n.star, rest)
		} else {
			r.add(n.star)
		}
	}
	if c := n.lit[tok]; c != nil {
		if more {
			r.collect(c, rest)
		} else {
			r.add(c)
		}
	}
}

func (r *route) add(n *node) {
	r.subs = append(r.subs, n.plain...)
	for name, qs := range n.queues {
		var g *group
		for _, x := range r.groups {
			if x.name == name {
				g = x
				break
			}
		}
		if g == nil {
			g = &group{name: name}
			r.groups = append(r.groups, g)
		}
		g.subs = append(g.subs, qs...)
	}
}

// filter drops subscriptions whose endpoint may not receive subject (a
// Subscribe deny pattern, or a reserved subject reached through a wildcard).
func (r *route) filter(subject string) {
	keep := func(list []*Subscription) []*Subscription {
		out := list[:0]
		for _, s := range list {
			if s.ep.c.sub.permits(subject) {
				out = append(out, s)
			}
		}
		return out
	}
	r.subs = keep(r.subs)
	gs := r.groups[:0]
	for _, g := range r.groups {
		if g.subs = keep(g.subs); len(g.subs) > 0 {
			gs = append(gs, g)
		}
	}
	r.groups = gs
}

// filterDevice drops the subscribers that do not hold device dev.
func (r *route) filterDevice(dev string, owner *Endpoint) {
	keep := func(list []*Subscription) []*Subscription {
		out := list[:0]
		for _, s := range list {
			if s.ep.holds(dev, owner) {
				out = append(out, s)
			}
		}
		return out
	}
	r.subs = keep(r.subs)
	gs := r.groups[:0]
	for _, g := range r.groups {
		if g.subs = keep(g.subs); len(g.subs) > 0 {
			gs = append(gs, g)
		}
	}
	r.groups = gs
}

// targets is the number of receivers a publish reaches.
func (r *route) targets() int { return len(r.subs) + len(r.groups) }
