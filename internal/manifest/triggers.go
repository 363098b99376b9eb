package manifest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/robfig/cron/v3"
)

// Triggers say what starts a module. Without a [triggers] table a module
// starts at boot, as before; with one, only the listed events start it.
//
//	[triggers]
//	boot = true                    # start when the node starts
//	subjects = ["jobs.resize"]     # start on a message on these subjects; the message is delivered to it
//	routes = ["GET /thumbs/{id}"]  # HTTP routes the node serves; each request reaches the module as a bus request
//	schedule = ["*/5 * * * *"]     # cron (5 fields, or @every 30s, @hourly, …)
//	on_demand = true               # libraries: start on the first call
//	after = "stay"                 # after a trigger started it: stay (keep running) | exit (run until it returns)
type Triggers struct {
	Declared bool     `json:"declared"` // a [triggers] table was present
	Boot     bool     `json:"boot"`
	Subjects []string `json:"subjects,omitempty"`
	Routes   []string `json:"routes,omitempty"`
	Schedule []string `json:"schedule,omitempty"`
	OnDemand bool     `json:"on_demand"`
	After    string   `json:"after"`
}

// Values of Triggers.After.
const (
	AfterStay = "stay"
	AfterExit = "exit"
)

// StartsAtBoot reports whether the module is started when the node starts:
// no [triggers] table, or boot = true.
func (t Triggers) StartsAtBoot() bool { return !t.Declared || t.Boot }

// Equal reports whether t and o declare the same triggers.
func (t Triggers) Equal(o Triggers) bool {
	return t.Declared == o.Declared && t.Boot == o.Boot && t.OnDemand == o.OnDemand && t.After == o.After &&
		slices.Equal(t.Subjects, o.Subjects) && slices.Equal(t.Routes, o.Routes) && slices.Equal(t.Schedule, o.Schedule)
}

// CronParser is the schedule syntax: standard 5-field cron plus
// descriptors (@every 30s, @hourly, …).
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// MaxTriggers bounds each trigger list.
const MaxTriggers = 64

func (d *decoder) triggers(t *table, kind Kind) Triggers {
	tr := Triggers{After: AfterStay}
	if t == nil {
		return tr
	}
	tr.Declared = true
	tr.Boot = t.boolean("boot", false)
	tr.OnDemand = t.boolean("on_demand", false)
	list := func(k string, check func(string) error) []string {
		l, ok := t.strings(k)
		if !ok {
			return nil
		}
		if len(l) > MaxTriggers {
			d.errorf(t.key(k), "at most %d entries, got %d", MaxTriggers, len(l))
			return nil
		}
		for _, s := range l {
			if err := check(s); err != nil {
				d.errorf(t.key(k), "%q: %v", s, err)
				return nil
			}
		}
		return l
	}
	tr.Subjects = list("subjects", func(s string) error {
		if strings.HasPrefix(s, "$") {
			return fmt.Errorf("system subjects cannot trigger modules")
		}
		return validPattern(s)
	})
	tr.Routes = list("routes", ValidateRoute)
	tr.Schedule = list("schedule", func(s string) error {
		_, err := CronParser.Parse(s)
		return err
	})
	if s, ok := t.str("after"); ok && t.oneOf("after", s, AfterStay, AfterExit) {
		tr.After = s
	}
	if tr.OnDemand && kind != KindLibrary {
		d.errorf(t.key("on_demand"), "only a library can start on demand (on its first call)")
	}
	if !tr.Boot && !tr.OnDemand && len(tr.Subjects)+len(tr.Routes)+len(tr.Schedule) == 0 {
		d.errorf(t.path, "nothing would ever start the module: set boot, subjects, routes, schedule or on_demand")
	}
	t.finish()
	return tr
}

// ValidateRoute checks an HTTP route trigger: "[METHOD ]/path" in the
// syntax of net/http.ServeMux patterns, without a host.
func ValidateRoute(s string) (err error) {
	method, path, found := strings.Cut(s, " ")
	if !found {
		method, path = "", s
	}
	switch {
	case len(s) > 256:
		return fmt.Errorf("at most 256 characters")
	case !strings.HasPrefix(path, "/"):
		return fmt.Errorf("want \"[METHOD ]/path\", e.g. \"GET /thumbs/{id}\"")
	case method != "" && strings.ToUpper(method) != method:
		return fmt.Errorf("method must be upper case")
	case strings.HasPrefix(path, "/api/") || path == "/api" || strings.HasPrefix(path, "/healthz"):
		return fmt.Errorf("/api and /healthz are the node's own")
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("not a valid route pattern: %v", r)
		}
	}()
	http.NewServeMux().HandleFunc(s, func(http.ResponseWriter, *http.Request) {})
	return nil
}
