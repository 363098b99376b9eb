package bus

import "github.com/orbitalfoundation/orbital/internal/subject"

// The syntax of subjects, patterns and endpoint names is package
// internal/subject's; the names below keep the bus's API and give the
// syntax errors the bus's class (ErrInvalid, which wraps api.ErrInvalid).
//
// Subjects are NATS-style: tokens separated by '.', such as "camera.frames"
// or "sensors.kitchen.temp". A pattern may use two wildcards, each as a
// whole token: '*' matches exactly one token and '>' (last token only)
// matches one or more trailing tokens. "sensors.*" matches "sensors.a" but
// not "sensors.a.b"; "app.>" matches both "app.a" and "app.a.b" but not
// "app".
const (
	// MaxSubjectLen is the longest subject or pattern, in bytes.
	MaxSubjectLen = subject.MaxLen
	// MaxNameLen is the longest endpoint name, in bytes.
	MaxNameLen = subject.MaxNameLen

	// SysPrefix starts the kernel's reserved system subjects ("$sys.proc.exited").
	// Only the kernel publishes under it (Bus.PublishSys); endpoints may
	// subscribe when their permissions name it explicitly (see Rules). Every
	// subject whose first token starts with '$' is reserved the same way.
	SysPrefix = subject.SysPrefix
	// InboxPrefix starts the reply subjects Request creates
	// ("_inbox.<token>.<n>"). Nobody publishes or subscribes under it
	// directly: replies reach their requester through Reply.
	InboxPrefix = subject.InboxPrefix
)

// ValidSubject reports whether s may be published to: 1 to MaxSubjectLen
// bytes of non-empty '.'-separated tokens, printable characters only (no
// spaces or control characters), and no wildcard characters ('*', '>').
// The error wraps ErrInvalid (and subject.ErrInvalid).
func ValidSubject(s string) error {
	return invalid(subject.Valid(s))
}

// ValidPattern reports whether s may be subscribed to or used in a
// permission rule: like ValidSubject, except that a token may be the
// wildcard '*', and the last token may be '>'. Wildcards are whole tokens
// only ("a.b*" is invalid). The error wraps ErrInvalid (and
// subject.ErrInvalid).
func ValidPattern(s string) error {
	return invalid(subject.ValidPattern(s))
}

// ValidName reports whether s may name an endpoint: 1 to MaxNameLen bytes of
// printable characters without spaces, '.', '*' or '>', and not starting
// with '#' (which addresses an endpoint by ID) or '$' (reserved for the
// kernel). The error wraps ErrInvalid (and subject.ErrInvalid).
func ValidName(s string) error {
	return invalid(subject.ValidName(s))
}

// Match reports whether subject matches pattern. Both are expected to be
// valid (ValidSubject, ValidPattern); for invalid input the answer is
// unspecified but Match never panics. Match does not allocate.
func Match(pattern, subj string) bool { return subject.Match(pattern, subj) }

// syntaxError is an error of package subject in the bus's class.
type syntaxError struct{ err error }

// Error reads as the bus's own errors do: "bus: invalid subject …".
func (e *syntaxError) Error() string { return "bus: " + e.err.Error() }

// Unwrap returns the bus's class and the syntax error.
func (e *syntaxError) Unwrap() []error { return []error{ErrInvalid, e.err} }

// invalid puts err, an error of package subject or nil, in the bus's class.
func invalid(err error) error {
	if err == nil {
		return nil
	}
	return &syntaxError{err}
}

// The bus's private names for the syntax it uses.

func cut(s string) (tok, rest string, more bool) { return subject.Cut(s) }
func covers(p, q string) bool                    { return subject.Covers(p, q) }
func dollar(s string) bool                       { return subject.System(s) }
func wildFirst(p string) bool                    { return subject.LeadingWildcard(p) }
func reservedSubject(s string) bool              { return subject.Reserved(s) }
func globMatch(glob, name string) bool           { return subject.GlobMatch(glob, name) }
