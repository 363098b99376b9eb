package bus

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Subjects are NATS-style: tokens separated by '.', such as "camera.frames"
// or "sensors.kitchen.temp". A pattern may use two wildcards, each as a
// whole token: '*' matches exactly one token and '>' (last token only)
// matches one or more trailing tokens. "sensors.*" matches "sensors.a" but
// not "sensors.a.b"; "app.>" matches both "app.a" and "app.a.b" but not
// "app".
const (
	// MaxSubjectLen is the longest subject or pattern, in bytes.
	MaxSubjectLen = 256
	// MaxNameLen is the longest endpoint name, in bytes.
	MaxNameLen = 128

	// SysPrefix starts the kernel's reserved system subjects ("$sys.proc.exited").
	// Only the kernel publishes under it (Bus.PublishSys); endpoints may
	// subscribe when their permissions name it explicitly (see Rules). Every
	// subject whose first token starts with '$' is reserved the same way.
	SysPrefix = "$sys."
	// InboxPrefix starts the reply subjects Request creates
	// ("_inbox.<token>.<n>"). Nobody publishes or subscribes under it
	// directly: replies reach their requester through Reply.
	InboxPrefix = "_inbox."
)

// ValidSubject reports whether s may be published to: 1 to MaxSubjectLen
// bytes of non-empty '.'-separated tokens, printable characters only (no
// spaces or control characters), and no wildcard characters ('*', '>').
// The error wraps ErrInvalid.
func ValidSubject(s string) error {
	return checkSubject(s, false)
}

// ValidPattern reports whether s may be subscribed to or used in a
// permission rule: like ValidSubject, except that a token may be the
// wildcard '*', and the last token may be '>'. Wildcards are whole tokens
// only ("a.b*" is invalid). The error wraps ErrInvalid.
func ValidPattern(s string) error {
	return checkSubject(s, true)
}

func checkSubject(s string, pattern bool) error {
	what := "subject"
	if pattern {
		what = "pattern"
	}
	if s == "" {
		return fmt.Errorf("%w %s: empty", ErrInvalid, what)
	}
	if len(s) > MaxSubjectLen {
		return fmt.Errorf("%w %s: longer than %d bytes", ErrInvalid, what, MaxSubjectLen)
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

// ValidName reports whether s may name an endpoint: 1 to MaxNameLen bytes of
// printable characters without spaces, '.', '*' or '>', and not starting
// with '#' (which addresses an endpoint by ID) or '$' (reserved for the
// kernel). The error wraps ErrInvalid.
func ValidName(s string) error {
	if s == "" || len(s) > MaxNameLen {
		return fmt.Errorf("%w name %q: must be 1 to %d bytes", ErrInvalid, s, MaxNameLen)
	}
	if s[0] == '#' || s[0] == '$' {
		return fmt.Errorf("%w name %q: must not start with '#' or '$'", ErrInvalid, s)
	}
	for i, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) || r == ' ' || strings.ContainsRune(".*>", r) {
			return fmt.Errorf("%w name %q: character %q at byte %d is not allowed", ErrInvalid, s, r, i)
		}
	}
	return nil
}

// cut splits off the first token of s.
func cut(s string) (tok, rest string, more bool) {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// Match reports whether subject matches pattern. Both are expected to be
// valid (ValidSubject, ValidPattern); for invalid input the answer is
// unspecified but Match never panics. Match does not allocate.
func Match(pattern, subject string) bool {
	for {
		pt, prest, pmore := cut(pattern)
		if pt == ">" && !pmore {
			return subject != ""
		}
		st, srest, smore := cut(subject)
		if st == "" || (pt != "*" && pt != st) {
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		pattern, subject = prest, srest
	}
}

// covers reports whether every subject matched by pattern q is also matched
// by pattern p (both valid).
func covers(p, q string) bool {
	for {
		pt, prest, pmore := cut(p)
		if pt == ">" && !pmore {
			return q != ""
		}
		qt, qrest, qmore := cut(q)
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

// dollar reports whether s starts with a reserved ('$'-prefixed) token.
func dollar(s string) bool { return s != "" && s[0] == '$' }

// wildFirst reports whether pattern p's first token is a wildcard.
func wildFirst(p string) bool {
	return p != "" && (p[0] == '*' || p[0] == '>') && (len(p) == 1 || p[1] == '.')
}

// reservedSubject reports whether endpoints may not publish to s directly.
func reservedSubject(s string) bool {
	return dollar(s) || s == "_inbox" || strings.HasPrefix(s, InboxPrefix)
}

// globMatch matches name against a glob where '*' stands for any run of
// characters (including none); all other characters match themselves.
func globMatch(glob, name string) bool {
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
