package manifest

import (
	"strings"
	"testing"
)

func TestTriggers(t *testing.T) {
	const head = "name = \"t\"\nversion = \"1.0.0\"\n"
	tests := []struct {
		name, toml string
		want       func(Triggers) bool
		err        string
	}{
		{"none: boot", head + "kind = \"app\"\n", func(tr Triggers) bool { return tr.StartsAtBoot() && !tr.Declared }, ""},
		{"subjects and cron", head + "kind = \"app\"\n[triggers]\nsubjects = [\"jobs.*\"]\nschedule = [\"*/5 * * * *\", \"@every 30s\"]\nafter = \"exit\"\n",
			func(tr Triggers) bool {
				return !tr.StartsAtBoot() && len(tr.Subjects) == 1 && len(tr.Schedule) == 2 && tr.After == AfterExit
			}, ""},
		{"routes", head + "kind = \"service\"\n[triggers]\nroutes = [\"GET /thumbs/{id}\", \"/hello\"]\n",
			func(tr Triggers) bool { return len(tr.Routes) == 2 && tr.After == AfterStay }, ""},
		{"boot explicitly", head + "kind = \"app\"\n[triggers]\nboot = true\nsubjects = [\"a\"]\n", func(tr Triggers) bool { return tr.StartsAtBoot() }, ""},
		{"empty table", head + "kind = \"app\"\n[triggers]\n", nil, "nothing would ever start"},
		{"bad cron", head + "kind = \"app\"\n[triggers]\nschedule = [\"every minute\"]\n", nil, "orbital.toml:5: triggers.schedule"},
		{"bad route", head + "kind = \"app\"\n[triggers]\nroutes = [\"thumbs\"]\n", nil, "METHOD"},
		{"reserved route", head + "kind = \"app\"\n[triggers]\nroutes = [\"/api/x\"]\n", nil, "node's own"},
		{"system subject", head + "kind = \"app\"\n[triggers]\nsubjects = [\"$sys.x\"]\n", nil, "system subjects"},
		{"on demand needs a library", head + "kind = \"app\"\n[triggers]\non_demand = true\n", nil, "only a library"},
		{"bad after", head + "kind = \"app\"\n[triggers]\nboot = true\nafter = \"later\"\n", nil, "after"},
		{"unknown key", head + "kind = \"app\"\n[triggers]\nboot = true\nwhen = 1\n", nil, "unknown key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(tc.toml), "orbital.toml")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(m.Triggers) {
				t.Fatalf("triggers = %+v", m.Triggers)
			}
		})
	}
}
