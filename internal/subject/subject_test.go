package subject

import (
	"errors"
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	long := strings.Repeat("a.", MaxLen/2)[:MaxLen-1] + "b" // 256 bytes
	tests := []struct {
		s  string
		ok bool
	}{
		{"a", true},
		{"camera.frames", true},
		{"a.b.c.d.e", true},
		{"$sys.proc.exited", true}, // valid; Reserved is a separate check
		{"_inbox.x.1", true},
		{"température.cuisine", true},
		{"a-b_c:d/e", true},
		{long, true},
		{long + "a", false},
		{"", false},
		{".", false},
		{"a.", false},
		{".a", false},
		{"a..b", false},
		{"*", false},
		{">", false},
		{"a.*", false},
		{"a.>", false},
		{"a*", false},
		{"a>b.c", false},
		{"a b", false},
		{"a\tb", false},
		{"a\nb", false},
		{"a\x00b", false},
		{"a\x7fb", false},
		{"a\u00a0b", false}, // no-break space is not printable in this sense
		{"a\u200bb", false}, // zero-width space: format character
		{"\xff", false},
	}
	for _, tt := range tests {
		err := Valid(tt.s)
		if (err == nil) != tt.ok {
			t.Errorf("Valid(%q) = %v, want ok=%v", tt.s, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Valid(%q) error %v does not wrap ErrInvalid", tt.s, err)
		}
	}
}

func TestValidPattern(t *testing.T) {
	tests := []struct {
		s  string
		ok bool
	}{
		{"a", true},
		{"*", true},
		{">", true},
		{"a.*", true},
		{"*.b", true},
		{"a.*.c", true},
		{"a.>", true},
		{"*.*.>", true},
		{"$sys.>", true},
		{"", false},
		{"a.>.c", false},
		{">.a", false},
		{"a.**", false},
		{"a.*b", false},
		{"a.b*", false},
		{"a.>>", false},
		{"a..*", false},
		{"a.", false},
		{"a .b", false},
		{strings.Repeat("*.", 128) + ">", false}, // 257 bytes
	}
	for _, tt := range tests {
		err := ValidPattern(tt.s)
		if (err == nil) != tt.ok {
			t.Errorf("ValidPattern(%q) = %v, want ok=%v", tt.s, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidPattern(%q) error %v does not wrap ErrInvalid", tt.s, err)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"a", "a", true},
		{"a", "b", false},
		{"a", "a.b", false},
		{"a.b", "a", false},
		{"a.b", "a.b", true},
		{"a.b", "a.bc", false},
		{"a.bc", "a.b", false},
		{"*", "a", true},
		{"*", "a.b", false},
		{"a.*", "a.b", true},
		{"a.*", "a", false},
		{"a.*", "a.b.c", false},
		{"*.b", "a.b", true},
		{"*.b", "a.c", false},
		{"a.*.c", "a.x.c", true},
		{"a.*.c", "a.x.d", false},
		{"a.*.c", "a.c", false},
		{">", "a", true},
		{">", "a.b.c", true},
		{">", "$sys.proc.exited", true}, // Match is pure syntax; the bus's Rules add the '$' rule
		{"a.>", "a", false},
		{"a.>", "a.b", true},
		{"a.>", "a.b.c", true},
		{"a.>", "b.c", false},
		{"*.>", "a", false},
		{"*.>", "a.b", true},
		{"*.*", "a.b", true},
		{"*.*", "a.b.c", false},
		{"a.*.>", "a.b.c", true},
		{"a.*.>", "a.b", false},
		{"sensors.*", "sensors.kitchen", true},
		{"sensors.*", "sensors.kitchen.temp", false},
		{"app.>", "app", false},
		// Invalid input: no panic, no match.
		{"", "", false},
		{"a", "", false},
		{">", "", false},
		{"*", "", false},
		{"a.*", "a.", false},
		{"a..b", "a..b", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
		}
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		p, q string
		want bool
	}{
		{">", ">", true},
		{">", "a.*", true},
		{">", "*", true},
		{"a.>", "a.>", true},
		{"a.>", "a.b.>", true},
		{"a.>", "a.*", true},
		{"a.>", "a", false},
		{"a.>", ">", false},
		{"a.>", "*.b", false},
		{"a.*", "a.b", true},
		{"a.*", "a.*", true},
		{"a.*", "a.>", false},
		{"a.*", "a.b.c", false},
		{"a.b", "a.*", false},
		{"a.b", "a.b", true},
		{"*.b", "a.b", true},
		{"*.b", "*.b", true},
		{"*", ">", false},
		{"*.>", "a.b.>", true},
		{"*.>", "a", false},
	}
	for _, tt := range tests {
		if got := Covers(tt.p, tt.q); got != tt.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tt.p, tt.q, got, tt.want)
		}
	}
}

func TestReserved(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"$sys.proc.exited", true},
		{"$sys", true},
		{"$other.x", true},
		{"_inbox.abc.1", true},
		{"_inbox", true},
		{"_inboxes.x", false},
		{"sys.x", false},
		{"a.$sys", false},
		{"a._inbox.b", false},
	}
	for _, tt := range tests {
		if got := Reserved(tt.s); got != tt.want {
			t.Errorf("Reserved(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		s  string
		ok bool
	}{
		{"camera", true},
		{"worker-1", true},
		{"kernel_cli", true},
		{"", false},
		{"a.b", false},
		{"a*", false},
		{"a>", false},
		{"a b", false},
		{"#5", false},
		{"$kernel", false},
		{strings.Repeat("n", MaxNameLen), true},
		{strings.Repeat("n", MaxNameLen+1), false},
		{"\xff", false},
	}
	for _, tt := range tests {
		err := ValidName(tt.s)
		if (err == nil) != tt.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tt.s, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidName(%q) error %v does not wrap ErrInvalid", tt.s, err)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		glob, name string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"worker-*", "worker-1", true},
		{"worker-*", "worker-", true},
		{"worker-*", "worke", false},
		{"*-db", "users-db", true},
		{"*-db", "users-dbx", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"**", "x", true},
	}
	for _, tt := range tests {
		if got := GlobMatch(tt.glob, tt.name); got != tt.want {
			t.Errorf("GlobMatch(%q, %q) = %v, want %v", tt.glob, tt.name, got, tt.want)
		}
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		s, tok, rest string
		more         bool
	}{
		{"a", "a", "", false},
		{"a.b", "a", "b", true},
		{"a.b.c", "a", "b.c", true},
		{"", "", "", false},
		{".", "", "", true},
		{"a.", "a", "", true},
	}
	for _, tt := range tests {
		tok, rest, more := Cut(tt.s)
		if tok != tt.tok || rest != tt.rest || more != tt.more {
			t.Errorf("Cut(%q) = %q, %q, %v; want %q, %q, %v", tt.s, tok, rest, more, tt.tok, tt.rest, tt.more)
		}
	}
}

func TestSystemAndLeadingWildcard(t *testing.T) {
	for _, tt := range []struct {
		s              string
		system, leader bool
	}{
		{"$sys.proc.exited", true, false},
		{"$x", true, false},
		{"a.$sys", false, false},
		{"", false, false},
		{"*", false, true},
		{">", false, true},
		{"*.b", false, true},
		{">.b", false, true}, // not a valid pattern, but its first token is a wildcard
		{"*b", false, false},
		{"a.*", false, false},
	} {
		if got := System(tt.s); got != tt.system {
			t.Errorf("System(%q) = %v, want %v", tt.s, got, tt.system)
		}
		if got := LeadingWildcard(tt.s); got != tt.leader {
			t.Errorf("LeadingWildcard(%q) = %v, want %v", tt.s, got, tt.leader)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		_ = Valid("app.camera.frames")
		_ = ValidPattern("app.*.frames.>")
		_ = ValidName("worker-1")
		_ = Match("app.*.frames.>", "app.camera.frames.hd.left")
		_ = Covers("app.>", "app.*.frames")
		_ = GlobMatch("worker-*", "worker-1")
	})
	if n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

func BenchmarkMatch(b *testing.B) {
	for b.Loop() {
		Match("app.*.frames.>", "app.camera.frames.hd.left")
	}
}

func BenchmarkValid(b *testing.B) {
	for b.Loop() {
		_ = Valid("app.camera.frames.hd.left")
	}
}

func TestOverlap(t *testing.T) {
	for _, c := range []struct {
		p, q string
		want bool
	}{
		{"a.b", "a.b", true},
		{"a.b", "a.c", false},
		{"a.*", "a.b", true},
		{"a.>", "a.b.c", true},
		{"a.>", "a", false},
		{">", "x", true},
		{"a.*.c", "a.b.>", true},
		{"a.*.c", "a.b.d", false},
		{"a.b", "a.b.c", false},
		{"*.b", "a.*", true},
		{"sensors.>", "demo.>", false},
		{"*", "a.b", false},
		{"*.>", "a", false},
		{"*.>", "a.b", true},
	} {
		if got := Overlap(c.p, c.q); got != c.want {
			t.Errorf("Overlap(%q, %q) = %v, want %v", c.p, c.q, got, c.want)
		}
		if got := Overlap(c.q, c.p); got != c.want {
			t.Errorf("Overlap(%q, %q) = %v, want %v", c.q, c.p, got, c.want)
		}
	}
}
