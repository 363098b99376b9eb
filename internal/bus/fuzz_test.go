package bus

import (
	"strings"
	"testing"
)

// FuzzMatch: ValidPattern, ValidSubject, Match and covers never panic; a
// valid subject matches itself and ">"; a valid subject is a valid pattern;
// covers agrees with Match on the subject; Rules.Permits agrees with the
// compiled form.
func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"a.b", "a.b"}, {"a.*", "a.b"}, {"a.>", "a.b.c"}, {">", "x"}, {"*", ""},
		{"", ""}, {".", "."}, {"a..b", "a..b"}, {"$sys.>", "$sys.proc.exited"},
		{"*.>", "a"}, {"a.b*", "a.bc"}, {"\xff", "\xff"}, {"a.>.b", "a.x.b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		perr := ValidPattern(pattern)
		serr := ValidSubject(subject)
		m := Match(pattern, subject)
		_ = covers(pattern, subject)
		if serr == nil {
			if !Match(subject, subject) {
				t.Fatalf("valid subject %q does not match itself", subject)
			}
			if !Match(">", subject) {
				t.Fatalf("valid subject %q does not match >", subject)
			}
			if ValidPattern(subject) != nil {
				t.Fatalf("valid subject %q is not a valid pattern", subject)
			}
			if strings.ContainsAny(subject, "*> \t\n") {
				t.Fatalf("valid subject %q contains a wildcard or space", subject)
			}
		}
		if perr == nil && serr == nil {
			// A pattern covers a literal pattern exactly when it matches it.
			if c := covers(pattern, subject); c != m {
				t.Fatalf("covers(%q, %q) = %v but Match = %v", pattern, subject, c, m)
			}
			r := Rules{Allow: []string{pattern}}
			var errs []error
			rs := compileRules("f", r, &errs)
			if len(errs) != 0 {
				t.Fatalf("valid pattern %q did not compile: %v", pattern, errs)
			}
			if a, b := r.Permits(subject), rs.permits(subject); a != b {
				t.Fatalf("Permits(%q, %q): plain %v, compiled %v", pattern, subject, a, b)
			}
			if m && !dollar(subject) && !r.Permits(subject) {
				t.Fatalf("allow %q does not permit matching %q", pattern, subject)
			}
		}
	})
}
