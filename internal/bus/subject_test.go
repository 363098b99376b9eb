package bus

import (
	"errors"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/subject"
)

// The syntax itself is tested in internal/subject; here, that the bus's
// names for it keep the bus's error class and messages.
func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		msg  string
	}{
		{"subject", ValidSubject("a..b"), `bus: invalid subject "a..b": empty token`},
		{"empty subject", ValidSubject(""), "bus: invalid subject: empty"},
		{"pattern", ValidPattern("a.>.c"), `bus: invalid pattern "a.>.c": '>' must be the last token`},
		{"name", ValidName("#5"), `bus: invalid name "#5": must not start with '#' or '$'`},
	}
	for _, tt := range tests {
		switch {
		case tt.err == nil:
			t.Errorf("%s: no error", tt.name)
		case !errors.Is(tt.err, ErrInvalid) || !errors.Is(tt.err, api.ErrInvalid) || !errors.Is(tt.err, subject.ErrInvalid):
			t.Errorf("%s: %v does not wrap ErrInvalid, api.ErrInvalid and subject.ErrInvalid", tt.name, tt.err)
		case tt.err.Error() != tt.msg:
			t.Errorf("%s: %q, want %q", tt.name, tt.err, tt.msg)
		}
	}
	if err := ValidSubject("a.b"); err != nil {
		t.Errorf("ValidSubject(a.b) = %v", err)
	}
	if err := ValidPattern("a.*.>"); err != nil {
		t.Errorf("ValidPattern(a.*.>) = %v", err)
	}
	if err := ValidName("worker-1"); err != nil {
		t.Errorf("ValidName(worker-1) = %v", err)
	}
	if !Match("a.*", "a.b") || Match("a.*", "a.b.c") {
		t.Error("Match disagrees with subject.Match")
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
