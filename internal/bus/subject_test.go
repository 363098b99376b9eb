package bus

import (
	"errors"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
)

func TestValidSubject(t *testing.T) {
	long := strings.Repeat("a.", MaxSubjectLen/2)[:MaxSubjectLen-1] + "b" // 256 bytes
	tests := []struct {
		s  string
		ok bool
	}{
		{"a", true},
		{"camera.frames", true},
		{"a.b.c.d.e", true},
		{"$sys.proc.exited", true}, // valid; reserved is a separate check
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
		err := ValidSubject(tt.s)
		if (err == nil) != tt.ok {
			t.Errorf("ValidSubject(%q) = %v, want ok=%v", tt.s, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrInvalid) || !errors.Is(err, api.ErrInvalid)) {
			t.Errorf("ValidSubject(%q) error %v does not wrap ErrInvalid", tt.s, err)
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
		{">", "$sys.proc.exited", true}, // Match is pure syntax; Rules add the '$' rule
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
		if got := covers(tt.p, tt.q); got != tt.want {
			t.Errorf("covers(%q, %q) = %v, want %v", tt.p, tt.q, got, tt.want)
		}
	}
}

func TestReservedSubject(t *testing.T) {
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
		if got := reservedSubject(tt.s); got != tt.want {
			t.Errorf("reservedSubject(%q) = %v, want %v", tt.s, got, tt.want)
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
		if err := ValidName(tt.s); (err == nil) != tt.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tt.s, err, tt.ok)
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
		if got := globMatch(tt.glob, tt.name); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.glob, tt.name, got, tt.want)
		}
	}
}

func TestRulesPermits(t *testing.T) {
	tests := []struct {
		name    string
		rules   Rules
		subject string
		want    bool
	}{
		{"empty allows nothing", Rules{}, "a", false},
		{"literal", Rules{Allow: []string{"a.b"}}, "a.b", true},
		{"literal other", Rules{Allow: []string{"a.b"}}, "a.c", false},
		{"wildcard", Rules{Allow: []string{"sensors.*"}}, "sensors.kitchen", true},
		{"tail", Rules{Allow: []string{"app.>"}}, "app.x.y", true},
		{"deny wins", Rules{Allow: []string{">"}, Deny: []string{"secret.>"}}, "secret.key", false},
		{"deny literal wins", Rules{Allow: []string{"a.*"}, Deny: []string{"a.b"}}, "a.b", false},
		{"deny other", Rules{Allow: []string{">"}, Deny: []string{"secret.>"}}, "public.key", true},
		{"all", Rules{Allow: []string{">"}}, "x", true},
		{"all excludes $", Rules{Allow: []string{">"}}, "$sys.proc.exited", false},
		{"star excludes $", Rules{Allow: []string{"*.proc.exited"}}, "$sys.proc.exited", false},
		{"explicit $", Rules{Allow: []string{"$sys.>"}}, "$sys.proc.exited", true},
		{"explicit $ denied", Rules{Allow: []string{"$sys.>"}, Deny: []string{"$sys.secret.>"}}, "$sys.secret.x", false},
		{"deny by wildcard applies to $", Rules{Allow: []string{"$sys.>"}, Deny: []string{">"}}, "$sys.x", false},
		{"invalid pattern matches nothing", Rules{Allow: []string{"a..b"}}, "a..b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rules.Permits(tt.subject); got != tt.want {
				t.Errorf("Rules.Permits(%q) = %v, want %v", tt.subject, got, tt.want)
			}
			// The compiled form must agree with the plain one.
			if ValidPattern(tt.subject) == nil {
				var errs []error
				rs := compileRules("t", tt.rules, &errs)
				if len(errs) == 0 {
					if got := rs.permits(tt.subject); got != tt.want {
						t.Errorf("compiled permits(%q) = %v, want %v", tt.subject, got, tt.want)
					}
				}
			}
		})
	}
}

func TestPermitsPattern(t *testing.T) {
	tests := []struct {
		name    string
		rules   Rules
		pattern string
		want    bool
	}{
		{"exact", Rules{Allow: []string{"a.b"}}, "a.b", true},
		{"narrower", Rules{Allow: []string{"sensors.>"}}, "sensors.*", true},
		{"narrower literal", Rules{Allow: []string{"sensors.*"}}, "sensors.kitchen", true},
		{"wider refused", Rules{Allow: []string{"sensors.*"}}, "sensors.>", false},
		{"everything refused", Rules{Allow: []string{"sensors.>"}}, ">", false},
		{"all allowed", Rules{Allow: []string{">"}}, ">", true},
		{"fully denied", Rules{Allow: []string{">"}, Deny: []string{"secret.>"}}, "secret.*", false},
		{"partly denied is accepted", Rules{Allow: []string{">"}, Deny: []string{"secret.>"}}, ">", true},
		{"$ needs literal allow", Rules{Allow: []string{">"}}, "$sys.>", false},
		{"$ literal allow", Rules{Allow: []string{"$sys.>"}}, "$sys.proc.*", true},
		{"empty", Rules{}, "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs []error
			rs := compileRules("t", tt.rules, &errs)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := rs.permitsPattern(tt.pattern); got != tt.want {
				t.Errorf("permitsPattern(%q) = %v, want %v", tt.pattern, got, tt.want)
			}
		})
	}
}

func TestNewPermissionsRejectsBadPatterns(t *testing.T) {
	_, err := NewPermissions(Permissions{
		Publish:   Rules{Allow: []string{"a..b"}},
		Subscribe: Rules{Deny: []string{"x.>.y"}},
		SendTo:    []string{"ok", "bad name"},
	})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{"a..b", "x.>.y", "bad name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	p, err := NewPermissions(Permissions{Publish: Rules{Allow: []string{"a.>"}}, SendTo: []string{"w-*"}})
	if err != nil || p.c == nil || !p.c.mayPublish("a.b") || !p.c.maySendTo("w-1") || p.c.maySendTo("x") {
		t.Fatalf("NewPermissions: %v %+v", err, p.c)
	}
}
