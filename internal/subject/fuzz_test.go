package subject

import (
	"strings"
	"testing"
)

// FuzzMatch: ValidPattern, Valid, Match and Covers never panic; a valid
// subject matches itself and ">"; a valid subject is a valid pattern;
// Covers agrees with Match on the subject. (The bus's FuzzPermits checks
// its permission rules against Match.)
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
		serr := Valid(subject)
		m := Match(pattern, subject)
		_ = Covers(pattern, subject)
		_ = Reserved(subject)
		_ = LeadingWildcard(pattern)
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
			if c := Covers(pattern, subject); c != m {
				t.Fatalf("Covers(%q, %q) = %v but Match = %v", pattern, subject, c, m)
			}
			// A pattern overlaps a literal exactly when it matches it.
			if o := Overlap(pattern, subject); o != m {
				t.Fatalf("Overlap(%q, %q) = %v but Match = %v", pattern, subject, o, m)
			}
		}
		if perr == nil && ValidPattern(subject) == nil && Overlap(pattern, subject) != Overlap(subject, pattern) {
			t.Fatalf("Overlap(%q, %q) is not symmetric", pattern, subject)
		}
	})
}
