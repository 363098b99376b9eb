package bus

import (
	"errors"
	"fmt"
)

// Rules is an allow/deny list of subject patterns. A subject is permitted
// when it matches at least one Allow pattern and no Deny pattern: deny wins,
// and an empty Allow list permits nothing.
//
// Reserved subjects (first token starting with '$', such as "$sys.proc.exited")
// are only permitted by an Allow pattern that names their first token
// literally ("$sys.>", "$sys.proc.*"): a wildcard in the first token (">",
// "*.exited") never grants them, so "allow everything" does not silently
// include kernel events. Deny patterns apply to them as usual.
type Rules struct {
	Allow []string // patterns permitted (empty: nothing)
	Deny  []string // patterns refused even if allowed
}

// Permits reports whether subject is allowed by r. Invalid patterns match
// nothing. Permits on a Rules value walks every pattern; endpoints use the
// precompiled form built by NewPermissions or Bus.Register.
func (r Rules) Permits(subject string) bool {
	for _, p := range r.Deny {
		if Match(p, subject) {
			return false
		}
	}
	for _, p := range r.Allow {
		if dollar(subject) && wildFirst(p) {
			continue
		}
		if Match(p, subject) {
			return true
		}
	}
	return false
}

// literal reports whether r permits a reserved subject: Permits already
// requires an Allow pattern naming its first token literally.
func (r Rules) literal(subject string) bool { return r.Permits(subject) }

// Permissions is what an endpoint may do on the bus. The kernel builds it
// from a module's manifest resolved against node policy. Treat a value as
// immutable once passed to NewPermissions or Register.
type Permissions struct {
	// Publish governs Publish and Request subjects.
	Publish Rules
	// Subscribe governs Subscribe patterns and, per message, which subjects
	// a subscription actually receives: a pattern is accepted when an Allow
	// pattern covers every subject it can match and no Deny pattern covers
	// all of them; a subscription whose pattern only partly overlaps a Deny
	// pattern silently never receives the denied subjects.
	Subscribe Rules
	// SendTo lists the endpoint names this endpoint may Send to directly.
	// '*' in an entry matches any run of characters ("worker-*", "*").
	SendTo []string
	// MaxMessageSize lowers the bus's maximum message size for this
	// endpoint's outgoing messages; 0 means the bus's limit.
	MaxMessageSize int
	// Relay lets the endpoint pass on messages carrying another endpoint's
	// reply subject (an inbox), so the original requester gets the answer.
	// Only for the kernel's relaying endpoints (triggers), never modules.
	Relay bool
	// Devices are the devices (subject roots owned by a driver, see
	// Bus.Own) whose subjects the endpoint may subscribe to and send
	// requests into; AllDevices permits every device (the operator).
	Devices    []string
	AllDevices bool

	c *compiled
}

// AllowAll permits everything, including subscribing to "$sys." subjects
// and sending to any endpoint. It is meant for the kernel's and the CLI's
// own endpoints, never for modules. Do not modify it.
var AllowAll = Permissions{
	Publish:    Rules{Allow: []string{">"}},
	Subscribe:  Rules{Allow: []string{">", SysPrefix + ">"}},
	SendTo:     []string{"*"},
	AllDevices: true,
}

// NewPermissions validates every pattern and name glob of p and returns a
// copy with its rules precompiled. Register does the same for Permissions
// that did not come from here, so calling it is optional; it lets the
// kernel report a bad policy before starting a process. The error wraps
// ErrInvalid and lists every problem.
func NewPermissions(p Permissions) (Permissions, error) {
	c, err := compile(p)
	if err != nil {
		return Permissions{}, err
	}
	p.c = c
	return p, nil
}

type compiled struct {
	pub, sub   ruleSet
	sendAll    bool
	sendLit    map[string]struct{}
	sendGlob   []string
	maxMessage int
}

type ruleSet struct {
	allowAny bool // Allow holds ">": every non-reserved subject
	allowLit map[string]struct{}
	allowPat []string
	denyLit  map[string]struct{}
	denyPat  []string
}

func compile(p Permissions) (*compiled, error) {
	var errs []error
	c := &compiled{maxMessage: p.MaxMessageSize}
	if p.MaxMessageSize < 0 {
		errs = append(errs, fmt.Errorf("%w: negative MaxMessageSize", ErrInvalid))
	}
	c.pub = compileRules("publish", p.Publish, &errs)
	c.sub = compileRules("subscribe", p.Subscribe, &errs)
	for _, g := range p.SendTo {
		switch {
		case g == "":
			errs = append(errs, fmt.Errorf("%w send-to entry: empty", ErrInvalid))
		case g == "*":
			c.sendAll = true
		case containsStar(g):
			c.sendGlob = append(c.sendGlob, g)
		default:
			if err := ValidName(g); err != nil {
				errs = append(errs, fmt.Errorf("send-to: %w", err))
				continue
			}
			if c.sendLit == nil {
				c.sendLit = make(map[string]struct{})
			}
			c.sendLit[g] = struct{}{}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func containsStar(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '*' {
			return true
		}
	}
	return false
}

func compileRules(what string, r Rules, errs *[]error) ruleSet {
	var rs ruleSet
	add := func(p string, lit *map[string]struct{}, pats *[]string, deny bool) {
		if err := ValidPattern(p); err != nil {
			*errs = append(*errs, fmt.Errorf("%s rule: %w", what, err))
			return
		}
		switch {
		case p == ">" && !deny:
			rs.allowAny = true
		case isLiteral(p):
			if *lit == nil {
				*lit = make(map[string]struct{})
			}
			(*lit)[p] = struct{}{}
		default:
			*pats = append(*pats, p)
		}
	}
	for _, p := range r.Allow {
		add(p, &rs.allowLit, &rs.allowPat, false)
	}
	for _, p := range r.Deny {
		add(p, &rs.denyLit, &rs.denyPat, true)
	}
	return rs
}

// isLiteral reports whether valid pattern p has no wildcard token.
func isLiteral(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == '*' || p[i] == '>' {
			return false
		}
	}
	return true
}

// permits is Rules.Permits on the compiled form.
func (rs *ruleSet) permits(subject string) bool {
	if rs.denyLit != nil {
		if _, ok := rs.denyLit[subject]; ok {
			return false
		}
	}
	for _, p := range rs.denyPat {
		if Match(p, subject) {
			return false
		}
	}
	res := dollar(subject)
	if rs.allowAny && !res {
		return true
	}
	if rs.allowLit != nil {
		if _, ok := rs.allowLit[subject]; ok {
			return true
		}
	}
	for _, p := range rs.allowPat {
		if res && wildFirst(p) {
			continue
		}
		if Match(p, subject) {
			return true
		}
	}
	return false
}

// permitsPattern decides whether a subscription to pattern q is accepted:
// some Allow pattern covers all of q and no Deny pattern covers all of q.
func (rs *ruleSet) permitsPattern(q string) bool {
	if _, ok := rs.denyLit[q]; ok {
		return false
	}
	for _, d := range rs.denyPat {
		if covers(d, q) {
			return false
		}
	}
	res := dollar(q)
	if rs.allowAny && !res {
		return true
	}
	if _, ok := rs.allowLit[q]; ok {
		return true
	}
	for _, a := range rs.allowPat {
		if res && wildFirst(a) {
			continue
		}
		if covers(a, q) {
			return true
		}
	}
	return false
}

func (c *compiled) mayPublish(subject string) bool { return c.pub.permits(subject) }

func (c *compiled) maySendTo(name string) bool {
	if c.sendAll {
		return true
	}
	if _, ok := c.sendLit[name]; ok {
		return true
	}
	for _, g := range c.sendGlob {
		if globMatch(g, name) {
			return true
		}
	}
	return false
}
