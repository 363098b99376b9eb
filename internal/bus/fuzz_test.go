package bus

import "testing"

// FuzzPermits: for a valid pattern and subject, Rules.Permits agrees with
// the compiled form, and an allow rule permits the subjects its pattern
// matches ('$' subjects aside). The syntax itself (ValidPattern, Match,
// covers) is fuzzed by internal/subject's FuzzMatch.
func FuzzPermits(f *testing.F) {
	for _, s := range [][2]string{
		{"a.b", "a.b"}, {"a.*", "a.b"}, {"a.>", "a.b.c"}, {">", "x"}, {"*", ""},
		{"", ""}, {".", "."}, {"a..b", "a..b"}, {"$sys.>", "$sys.proc.exited"},
		{"*.>", "a"}, {"a.b*", "a.bc"}, {"\xff", "\xff"}, {"a.>.b", "a.x.b"},
		{">", "$sys.proc.exited"}, {"*.proc.exited", "$sys.proc.exited"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		if ValidPattern(pattern) != nil || ValidSubject(subject) != nil {
			return
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
		if Match(pattern, subject) && !dollar(subject) && !r.Permits(subject) {
			t.Fatalf("allow %q does not permit matching %q", pattern, subject)
		}
	})
}
