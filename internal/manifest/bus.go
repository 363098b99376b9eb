package manifest

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Bus is what a module asks of the message bus: which subjects it may
// publish and subscribe to, which processes it may send to directly, and how
// its mailbox behaves. Patterns use NATS-style tokens: '*' matches one token,
// '>' the rest. Deny patterns win over allow patterns.
type Bus struct {
	Publish       []string      `json:"publish,omitempty"`
	Subscribe     []string      `json:"subscribe,omitempty"`
	DenyPublish   []string      `json:"deny_publish,omitempty"`
	DenySubscribe []string      `json:"deny_subscribe,omitempty"`
	Send          []string      `json:"send,omitempty"`     // process names (may contain '*')
	Listen        []string      `json:"listen,omitempty"`   // subjects subscribed at start, before the guest runs
	Mailbox       int           `json:"mailbox,omitempty"`  // capacity in messages; 0 = node default
	Overflow      string        `json:"overflow,omitempty"` // drop-newest | drop-oldest | block
	BlockTimeout  time.Duration `json:"block_timeout_ns,omitempty"`
	MaxMessage    uint64        `json:"max_message,omitempty"` // bytes; 0 = node default
}

// Equal reports whether b and o ask for the same bus configuration
// (same lists in the same order, same mailbox): a process upgraded to a
// version whose Bus is Equal keeps its bus connection.
func (b Bus) Equal(o Bus) bool {
	return slices.Equal(b.Publish, o.Publish) && slices.Equal(b.Subscribe, o.Subscribe) &&
		slices.Equal(b.DenyPublish, o.DenyPublish) && slices.Equal(b.DenySubscribe, o.DenySubscribe) &&
		slices.Equal(b.Send, o.Send) && slices.Equal(b.Listen, o.Listen) &&
		b.Mailbox == o.Mailbox && b.Overflow == o.Overflow && b.BlockTimeout == o.BlockTimeout && b.MaxMessage == o.MaxMessage
}

// Uses reports whether the module asks for the bus at all.
func (b Bus) Uses() bool {
	return len(b.Publish)+len(b.Subscribe)+len(b.Send)+len(b.Listen) > 0
}

// Overflow policies of a full mailbox.
const (
	OverflowDropNewest = "drop-newest"
	OverflowDropOldest = "drop-oldest"
	OverflowBlock      = "block"
)

// MaxMailbox bounds a module's mailbox capacity.
const MaxMailbox = 1 << 20

func (d *decoder) bus(t *table) Bus {
	var b Bus
	if t == nil {
		return b
	}
	patterns := func(k string) []string {
		list, ok := t.strings(k)
		if !ok {
			return nil
		}
		for _, p := range list {
			if err := validPattern(p); err != nil {
				d.errorf(t.key(k), "%q: %v", p, err)
				return nil
			}
		}
		return list
	}
	b.Publish = patterns("publish")
	b.Subscribe = patterns("subscribe")
	b.DenyPublish = patterns("deny_publish")
	b.DenySubscribe = patterns("deny_subscribe")
	b.Listen = patterns("listen")
	if list, ok := t.strings("send"); ok {
		for _, n := range list {
			if n == "" || strings.ContainsAny(n, " \t\n.>") {
				d.errorf(t.key("send"), "%q is not a process name or name pattern", n)
				return b
			}
		}
		b.Send = list
	}
	if n, ok := t.integer("mailbox"); ok {
		if n <= 0 || n > MaxMailbox {
			d.errorf(t.key("mailbox"), "must be between 1 and %d, got %d", MaxMailbox, n)
		} else {
			b.Mailbox = int(n)
		}
	}
	if s, ok := t.str("overflow"); ok && t.oneOf("overflow", s, OverflowDropNewest, OverflowDropOldest, OverflowBlock) {
		b.Overflow = s
	}
	if s, ok := t.str("block_timeout"); ok {
		dur, err := time.ParseDuration(s)
		if err != nil || dur <= 0 {
			d.errorf(t.key("block_timeout"), "%q is not a positive duration such as \"100ms\"", s)
		} else {
			b.BlockTimeout = dur
		}
	}
	if s, ok := t.str("max_message"); ok {
		n, err := ParseSize(s)
		if err != nil || n == 0 {
			d.errorf(t.key("max_message"), "%q is not a positive size such as \"64KiB\"", s)
		} else {
			b.MaxMessage = n
		}
	}
	t.finish()
	return b
}

// validPattern checks a subject pattern: dot-separated non-empty tokens of
// printable characters without spaces; '*' only as a whole token; '>' only
// as the whole last token.
func validPattern(p string) error {
	if p == "" || len(p) > 256 {
		return fmt.Errorf("must be 1 to 256 bytes")
	}
	toks := strings.Split(p, ".")
	for i, tok := range toks {
		switch {
		case tok == "":
			return fmt.Errorf("empty token")
		case tok == ">" && i != len(toks)-1:
			return fmt.Errorf("'>' must be the last token")
		case tok != "*" && tok != ">" && strings.ContainsAny(tok, "*> \t\r\n"):
			return fmt.Errorf("wildcards must be whole tokens and subjects have no spaces")
		}
	}
	return nil
}
