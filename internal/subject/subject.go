// Package subject is the syntax of the message bus's subjects, patterns
// and endpoint names: validation, wildcard matching, pattern coverage, the
// reserved subjects and the name globs of send permissions. It is pure
// syntax: who may publish or subscribe where is the bus's business
// (internal/bus), which wraps these functions and gives their errors its
// classes.
//
// Subjects are NATS-style: tokens separated by '.', such as
// "camera.frames" or "sensors.kitchen.temp". A pattern may use two
// wildcards, each as a whole token: '*' matches exactly one token and '>'
// (last token only) matches one or more trailing tokens. "sensors.*"
// matches "sensors.a" but not "sensors.a.b"; "app.>" matches both "app.a"
// and "app.a.b" but not "app".
//
// The package imports only the standard library.
package subject

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxLen is the longest subject or pattern, in bytes.
	MaxLen = 256
	// MaxNameLen is the longest endpoint name, in bytes.
	MaxNameLen = 128

	// SysPrefix starts the kernel's reserved system subjects
	// ("$sys.proc.exited"). Every subject whose first token starts with
	// '$' is reserved the same way (see System and Reserved).
	SysPrefix = "$sys."
	// InboxPrefix starts the reply subjects of requests
	// ("_inbox.<token>.<n>").
	InboxPrefix = "_inbox."
)

// ErrInvalid is wrapped by every error of Valid, ValidPattern and
// ValidName.
var ErrInvalid = errors.New("invalid")

// Valid reports whether s may be published to: 1 to MaxLen bytes of
// non-empty '.'-separated tokens, printable characters only (no spaces or
// control characters), and no wildcard characters ('*', '>'). The error
// wraps ErrInvalid.
func Valid(s string) error {
	return check(s, false)
}

// ValidPattern reports whether p may be subscribed to or used in a
// permission rule: like Valid, except that a token may be the wildcard
// '*', and the last token may be '>'. Wildcards are whole tokens only
// ("a.b*" is invalid). The error wraps ErrInvalid.
func ValidPattern(p string) error {
	return check(p, true)
}

func check(s string, pattern bool) error {
	what := "subject"
	if pattern {
		what = "pattern"
	}
	if s == "" {
		return fmt.Errorf("%w %s: empty", ErrInvalid, what)
	}
	if len(s) > MaxLen {
		return fmt.Errorf("%w %s: longer than %d bytes", ErrInvalid, what, MaxLen)
	}
	start := 0
	for i := 0; i <= len(s); {
		if i == len(s) || s[i] == '.' {
			tok := s[start:i]
			switch {
			case tok == "":
				return fmt.Errorf("%w %s %q: empty token", ErrInvalid, what, s)
			case tok == "*" || tok == ">":
				if !pattern {
					return fmt.Errorf("%w subject %q: wildcards are only allowed in patterns", ErrInvalid, s)
				}
				if tok == ">" && i != len(s) {
					return fmt.Errorf("%w pattern %q: '>' must be the last token", ErrInvalid, s)
				}
			case strings.ContainsAny(tok, "*>"):
				return fmt.Errorf("%w %s %q: wildcards must be whole tokens", ErrInvalid, what, s)
			}
			i++
			start = i
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7f {
				return fmt.Errorf("%w %s %q: space or control character at byte %d", ErrInvalid, what, s, i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return fmt.Errorf("%w %s %q: invalid or unprintable character at byte %d", ErrInvalid, what, s, i)
		}
		i += size
	}
	return nil
}

// ValidName reports whether n may name an endpoint: 1 to MaxNameLen bytes
// of printable characters without spaces, '.', '*' or '>', and not
// starting with '#' (which addresses an endpoint by ID) or '$' (reserved
// for the kernel). The error wraps ErrInvalid.
func ValidName(n string) error {
	if n == "" || len(n) > MaxNameLen {
		return fmt.Errorf("%w name %q: must be 1 to %d bytes", ErrInvalid, n, MaxNameLen)
	}
	if n[0] == '#' || n[0] == '$' {
		return fmt.Errorf("%w name %q: must not start with '#' or '$'", ErrInvalid, n)
	}
	for i, r := range n {
		if r == utf8.RuneError || !unicode.IsPrint(r) || r == ' ' || strings.ContainsRune(".*>", r) {
			return fmt.Errorf("%w name %q: character %q at byte %d is not allowed", ErrInvalid, n, r, i)
		}
	}
	return nil
}

// Cut splits off the first token of s: tok is s up to the first '.',
// rest what follows it, and more reports whether there was a '.'.
func Cut(s string) (tok, rest string, more bool) {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// Match reports whether subject s matches pattern p. Both are expected to
// be valid (Valid, ValidPattern); for invalid input the answer is
// unspecified but Match never panics. Match is pure syntax: it matches
// "$sys.x" with ">" (the bus adds the rule that a leading wildcard does not
// grant '$' subjects). Match does not allocate.
func Match(p, s string) bool {
	for {
		pt, prest, pmore := Cut(p)
		if pt == ">" && !pmore {
			return s != ""
		}
		st, srest, smore := Cut(s)
		if st == "" || (pt != "*" && pt != st) {
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		p, s = prest, srest
	}
}

// Covers reports whether every subject matched by pattern q is also
// matched by pattern p (both valid). A literal q is covered exactly when p
// matches it.
func Covers(p, q string) bool {
	for {
		pt, prest, pmore := Cut(p)
		if pt == ">" && !pmore {
			return q != ""
		}
		qt, qrest, qmore := Cut(q)
		if qt == ">" && !qmore {
			return false
		}
		if qt == "" || (pt != "*" && pt != qt) {
			return false
		}
		if !pmore || !qmore {
			return pmore == qmore
		}
		p, q = prest, qrest
	}
}

// Overlap reports whether some subject is matched by both patterns p and
// q (both valid): whether a subscription on q can receive anything a
// filter p lets through.
func Overlap(p, q string) bool {
	for {
		pt, prest, pmore := Cut(p)
		qt, qrest, qmore := Cut(q)
		if pt == "" || qt == "" {
			return false
		}
		if (pt == ">" && !pmore) || (qt == ">" && !qmore) {
			return true
		}
		if pt != "*" && qt != "*" && pt != qt {
			return false
		}
		if !pmore || !qmore {
			return pmore == qmore
		}
		p, q = prest, qrest
	}
}

// System reports whether s is a system subject or pattern: its first
// token starts with '$' ("$sys.proc.exited").
func System(s string) bool { return s != "" && s[0] == '$' }

// LeadingWildcard reports whether pattern p's first token is a wildcard
// ('*' or '>').
func LeadingWildcard(p string) bool {
	return p != "" && (p[0] == '*' || p[0] == '>') && (len(p) == 1 || p[1] == '.')
}

// Reserved reports whether endpoints may not publish to s directly: a
// system subject (System) or a reply subject ("_inbox" or under
// InboxPrefix).
func Reserved(s string) bool {
	return System(s) || s == "_inbox" || strings.HasPrefix(s, InboxPrefix)
}

// GlobMatch matches name against a glob where '*' stands for any run of
// characters (including none); all other characters match themselves.
// It does not allocate.
func GlobMatch(glob, name string) bool {
	// Iterative wildcard matching with single backtrack point: O(len*len)
	// worst case, no allocation, no recursion.
	gi, ni := 0, 0
	star, mark := -1, 0
	for ni < len(name) {
		switch {
		case gi < len(glob) && glob[gi] == '*':
			star, mark = gi, ni
			gi++
		case gi < len(glob) && glob[gi] == name[ni]:
			gi++
			ni++
		case star >= 0:
			gi = star + 1
			mark++
			ni = mark
		default:
			return false
		}
	}
	for gi < len(glob) && glob[gi] == '*' {
		gi++
	}
	return gi == len(glob)
}
