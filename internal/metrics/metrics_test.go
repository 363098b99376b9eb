package metrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/orbitalfoundation/orbital/api"
)

// fakeSource is a Source with fixed snapshots.
type fakeSource struct {
	procs             []api.ProcessInfo
	bus               api.BusStats
	libs              []api.LibraryInfo
	modules, versions int
	regErr            error
}

func (f *fakeSource) Processes() []api.ProcessInfo { return f.procs }
func (f *fakeSource) BusStats() api.BusStats       { return f.bus }
func (f *fakeSource) Libraries() []api.LibraryInfo { return f.libs }
func (f *fakeSource) RegistryCounts() (int, int, error) {
	return f.modules, f.versions, f.regErr
}

// busy is a source with a bit of everything.
func busy() *fakeSource {
	return &fakeSource{
		procs: []api.ProcessInfo{
			{Name: "echo", Module: "echo@1.0.0", State: api.StateRunning, MemoryBytes: 131072,
				CPUTime: 1500 * time.Millisecond, MsgsIn: 7, MsgsOut: 6, Dropped: 1, Restarts: 2, Mailbox: 3,
				Net: &api.NetStats{Listen: []string{"127.0.0.1:8765"}, Sockets: 2, Accepted: 4, Dialled: 1, Denied: 3, BytesIn: 1000, BytesOut: 2500}},
			{Name: "flaky", Module: "flaky", State: api.StateCrashed, Restarts: 5},
			{Name: "cron", Module: "cron@0.1.0", State: api.StateIdle},
		},
		bus: api.BusStats{
			Subjects: []api.SubjectStats{
				{Subject: "demo.echo", Published: 10, Delivered: 9, Dropped: 1, Unrouted: 0},
				{Subject: api.InboxSubjects, Published: 4, Delivered: 4, Unrouted: 2, Denied: 1},
			},
			Endpoints:     []api.EndpointStats{{Name: "echo"}, {Name: "control"}},
			Direct:        api.DirectStats{Sent: 5, Delivered: 4, Dropped: 1, Denied: 2},
			Subscriptions: 3,
			Denied:        3,
		},
		libs: []api.LibraryInfo{
			{Name: "calltest", Version: "1.0.0", Instances: 4, Busy: 1, Max: 4, Calls: 100, Failures: 2, Restarts: 1, State: "running"},
			{Name: "vision", Version: "2.1.0", State: "down"},
		},
		modules: 2, versions: 3,
	}
}

func TestCollector(t *testing.T) {
	tests := []struct {
		name  string
		src   *fakeSource
		names []string
		want  string
	}{
		{
			name:  "process rows",
			src:   busy(),
			names: []string{"orbital_process_up", "orbital_process_cpu_seconds_total", "orbital_process_restarts_total", "orbital_process_mailbox_depth"},
			want: `
# HELP orbital_process_up 1 if the process is running, else 0.
# TYPE orbital_process_up gauge
orbital_process_up{module="echo@1.0.0",name="echo",state="running"} 1
orbital_process_up{module="flaky",name="flaky",state="crashed"} 0
orbital_process_up{module="cron@0.1.0",name="cron",state="idle"} 0
# HELP orbital_process_cpu_seconds_total Time the current incarnation spent executing guest code.
# TYPE orbital_process_cpu_seconds_total counter
orbital_process_cpu_seconds_total{module="echo@1.0.0",name="echo",state="running"} 1.5
orbital_process_cpu_seconds_total{module="flaky",name="flaky",state="crashed"} 0
orbital_process_cpu_seconds_total{module="cron@0.1.0",name="cron",state="idle"} 0
# HELP orbital_process_restarts_total Times the supervisor restarted the process.
# TYPE orbital_process_restarts_total counter
orbital_process_restarts_total{module="echo@1.0.0",name="echo",state="running"} 2
orbital_process_restarts_total{module="flaky",name="flaky",state="crashed"} 5
orbital_process_restarts_total{module="cron@0.1.0",name="cron",state="idle"} 0
# HELP orbital_process_mailbox_depth Messages queued in the process's mailbox now.
# TYPE orbital_process_mailbox_depth gauge
orbital_process_mailbox_depth{module="echo@1.0.0",name="echo",state="running"} 3
orbital_process_mailbox_depth{module="flaky",name="flaky",state="crashed"} 0
orbital_process_mailbox_depth{module="cron@0.1.0",name="cron",state="idle"} 0
`,
		},
		{
			name:  "network, only for processes granted sockets",
			src:   busy(),
			names: []string{"orbital_process_net_received_bytes_total", "orbital_process_net_sent_bytes_total", "orbital_process_net_denied_total", "orbital_process_net_sockets"},
			want: `
# HELP orbital_process_net_denied_total Dials the process's grant refused.
# TYPE orbital_process_net_denied_total counter
orbital_process_net_denied_total{module="echo@1.0.0",name="echo",state="running"} 3
# HELP orbital_process_net_received_bytes_total Bytes the process read from its sockets.
# TYPE orbital_process_net_received_bytes_total counter
orbital_process_net_received_bytes_total{module="echo@1.0.0",name="echo",state="running"} 1000
# HELP orbital_process_net_sent_bytes_total Bytes the process wrote to its sockets.
# TYPE orbital_process_net_sent_bytes_total counter
orbital_process_net_sent_bytes_total{module="echo@1.0.0",name="echo",state="running"} 2500
# HELP orbital_process_net_sockets Sockets the process has open now.
# TYPE orbital_process_net_sockets gauge
orbital_process_net_sockets{module="echo@1.0.0",name="echo",state="running"} 2
`,
		},
		{
			name:  "process traffic",
			src:   busy(),
			names: []string{"orbital_process_memory_bytes", "orbital_process_messages_in_total", "orbital_process_messages_out_total", "orbital_process_dropped_total"},
			want: `
# HELP orbital_process_memory_bytes Current linear memory size of the process.
# TYPE orbital_process_memory_bytes gauge
orbital_process_memory_bytes{module="echo@1.0.0",name="echo",state="running"} 131072
orbital_process_memory_bytes{module="flaky",name="flaky",state="crashed"} 0
orbital_process_memory_bytes{module="cron@0.1.0",name="cron",state="idle"} 0
# HELP orbital_process_messages_in_total Messages delivered to the process's mailbox.
# TYPE orbital_process_messages_in_total counter
orbital_process_messages_in_total{module="echo@1.0.0",name="echo",state="running"} 7
orbital_process_messages_in_total{module="flaky",name="flaky",state="crashed"} 0
orbital_process_messages_in_total{module="cron@0.1.0",name="cron",state="idle"} 0
# HELP orbital_process_messages_out_total Messages the process published, sent, requested or replied.
# TYPE orbital_process_messages_out_total counter
orbital_process_messages_out_total{module="echo@1.0.0",name="echo",state="running"} 6
orbital_process_messages_out_total{module="flaky",name="flaky",state="crashed"} 0
orbital_process_messages_out_total{module="cron@0.1.0",name="cron",state="idle"} 0
# HELP orbital_process_dropped_total Messages the process's full mailbox dropped.
# TYPE orbital_process_dropped_total counter
orbital_process_dropped_total{module="echo@1.0.0",name="echo",state="running"} 1
orbital_process_dropped_total{module="flaky",name="flaky",state="crashed"} 0
orbital_process_dropped_total{module="cron@0.1.0",name="cron",state="idle"} 0
`,
		},
		{
			name:  "processes by state, every state present",
			src:   busy(),
			names: []string{"orbital_processes"},
			want: `
# HELP orbital_processes Processes (and libraries) by state.
# TYPE orbital_processes gauge
orbital_processes{state="idle"} 1
orbital_processes{state="starting"} 0
orbital_processes{state="stopped"} 0
orbital_processes{state="running"} 1
orbital_processes{state="exited"} 0
orbital_processes{state="crashed"} 1
orbital_processes{state="killed"} 0
`,
		},
		{
			name: "bus totals",
			src:  busy(),
			names: []string{"orbital_bus_messages_published_total", "orbital_bus_messages_sent_total", "orbital_bus_messages_delivered_total",
				"orbital_bus_messages_dropped_total", "orbital_bus_messages_unrouted_total", "orbital_bus_denied_total", "orbital_bus_subscriptions", "orbital_bus_endpoints"},
			want: `
# HELP orbital_bus_messages_published_total Accepted publishes, requests and replies.
# TYPE orbital_bus_messages_published_total counter
orbital_bus_messages_published_total 14
# HELP orbital_bus_messages_sent_total Accepted direct sends.
# TYPE orbital_bus_messages_sent_total counter
orbital_bus_messages_sent_total 5
# HELP orbital_bus_messages_delivered_total Message copies queued in a receiver's mailbox, by publish (subjects) or send (direct).
# TYPE orbital_bus_messages_delivered_total counter
orbital_bus_messages_delivered_total{via="publish"} 13
orbital_bus_messages_delivered_total{via="send"} 4
# HELP orbital_bus_messages_dropped_total Message copies a full mailbox refused or evicted, by publish (subjects) or send (direct).
# TYPE orbital_bus_messages_dropped_total counter
orbital_bus_messages_dropped_total{via="publish"} 1
orbital_bus_messages_dropped_total{via="send"} 1
# HELP orbital_bus_messages_unrouted_total Publishes that found no subscriber.
# TYPE orbital_bus_messages_unrouted_total counter
orbital_bus_messages_unrouted_total 2
# HELP orbital_bus_denied_total Bus operations refused by permissions (all kinds).
# TYPE orbital_bus_denied_total counter
orbital_bus_denied_total 3
# HELP orbital_bus_subscriptions Live subscriptions.
# TYPE orbital_bus_subscriptions gauge
orbital_bus_subscriptions 3
# HELP orbital_bus_endpoints Endpoints connected to the bus.
# TYPE orbital_bus_endpoints gauge
orbital_bus_endpoints 2
`,
		},
		{
			name: "libraries",
			src:  busy(),
			names: []string{"orbital_library_up", "orbital_library_calls_total", "orbital_library_failures_total",
				"orbital_library_instances", "orbital_library_busy", "orbital_library_restarts_total"},
			want: `
# HELP orbital_library_up 1 if the library is running (not restarting or down), else 0.
# TYPE orbital_library_up gauge
orbital_library_up{name="calltest",version="1.0.0"} 1
orbital_library_up{name="vision",version="2.1.0"} 0
# HELP orbital_library_calls_total Calls made to the library.
# TYPE orbital_library_calls_total counter
orbital_library_calls_total{name="calltest",version="1.0.0"} 100
orbital_library_calls_total{name="vision",version="2.1.0"} 0
# HELP orbital_library_failures_total Calls to the library that failed.
# TYPE orbital_library_failures_total counter
orbital_library_failures_total{name="calltest",version="1.0.0"} 2
orbital_library_failures_total{name="vision",version="2.1.0"} 0
# HELP orbital_library_instances Wasm instances of the library running.
# TYPE orbital_library_instances gauge
orbital_library_instances{name="calltest",version="1.0.0"} 4
orbital_library_instances{name="vision",version="2.1.0"} 0
# HELP orbital_library_busy Instances of the library serving a call now.
# TYPE orbital_library_busy gauge
orbital_library_busy{name="calltest",version="1.0.0"} 1
orbital_library_busy{name="vision",version="2.1.0"} 0
# HELP orbital_library_restarts_total Times the library's instances were restarted.
# TYPE orbital_library_restarts_total counter
orbital_library_restarts_total{name="calltest",version="1.0.0"} 1
orbital_library_restarts_total{name="vision",version="2.1.0"} 0
`,
		},
		{
			name:  "registry",
			src:   busy(),
			names: []string{"orbital_registry_modules", "orbital_registry_versions"},
			want: `
# HELP orbital_registry_modules Module names installed in the device's registry.
# TYPE orbital_registry_modules gauge
orbital_registry_modules 2
# HELP orbital_registry_versions Module versions installed in the device's registry.
# TYPE orbital_registry_versions gauge
orbital_registry_versions 3
`,
		},
		{
			name:  "empty node: counts at zero, no per-process or per-library series",
			src:   &fakeSource{},
			names: []string{"orbital_processes", "orbital_process_up", "orbital_library_calls_total", "orbital_bus_messages_published_total", "orbital_registry_modules"},
			want: `
# HELP orbital_processes Processes (and libraries) by state.
# TYPE orbital_processes gauge
orbital_processes{state="idle"} 0
orbital_processes{state="starting"} 0
orbital_processes{state="stopped"} 0
orbital_processes{state="running"} 0
orbital_processes{state="exited"} 0
orbital_processes{state="crashed"} 0
orbital_processes{state="killed"} 0
# HELP orbital_bus_messages_published_total Accepted publishes, requests and replies.
# TYPE orbital_bus_messages_published_total counter
orbital_bus_messages_published_total 0
# HELP orbital_registry_modules Module names installed in the device's registry.
# TYPE orbital_registry_modules gauge
orbital_registry_modules 0
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := testutil.CollectAndCompare(NewCollector(tt.src), strings.NewReader(tt.want), tt.names...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCollectorLint runs promlint (naming, units, _total on counters, help
// text) over everything the collector emits.
func TestCollectorLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(NewCollector(busy()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestCollectorDescribesWhatItCollects gathers through a pedantic
// registry, which refuses a metric that was not described, a duplicate
// series or an inconsistent label set.
func TestCollectorDescribesWhatItCollects(t *testing.T) {
	for _, src := range []*fakeSource{{}, busy()} {
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(NewCollector(src)); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
}

// scrape fetches h's metrics and parses them.
func scrape(t *testing.T, h http.Handler) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return rec.Code, fams
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name    string
		src     *fakeSource
		present []string
		absent  []string
	}{
		{
			name:    "everything",
			src:     busy(),
			present: []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "orbital_process_up", "orbital_bus_messages_published_total", "orbital_library_calls_total", "orbital_registry_modules", "orbital_registry_versions"},
		},
		{
			name: "registry unreadable: the rest is still served",
			src: func() *fakeSource {
				s := busy()
				s.regErr = errors.New("index closed")
				return s
			}(),
			present: []string{"go_goroutines", "orbital_process_up", "orbital_library_calls_total"},
			absent:  []string{"orbital_registry_modules", "orbital_registry_versions"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, fams := scrape(t, Handler(tt.src))
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			for _, name := range tt.present {
				if fams[name] == nil {
					t.Errorf("%s missing", name)
				}
			}
			for _, name := range tt.absent {
				if fams[name] != nil {
					t.Errorf("%s present", name)
				}
			}
			for name, f := range fams {
				if !strings.HasPrefix(name, "orbital_") {
					continue
				}
				wantType := dto.MetricType_GAUGE
				if strings.HasSuffix(name, "_total") {
					wantType = dto.MetricType_COUNTER
				}
				if f.GetType() != wantType {
					t.Errorf("%s is a %s, want %s", name, f.GetType(), wantType)
				}
			}
		})
	}
}

// TestHandlerLabels checks one series end to end through the exposition
// format: labels and value of the running process.
func TestHandlerLabels(t *testing.T) {
	_, fams := scrape(t, Handler(busy()))
	f := fams["orbital_process_memory_bytes"]
	if f == nil {
		t.Fatal("orbital_process_memory_bytes missing")
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["name"] != "echo" {
			continue
		}
		if labels["module"] != "echo@1.0.0" || labels["state"] != "running" || m.GetGauge().GetValue() != 131072 {
			t.Fatalf("echo series: labels %v value %v", labels, m.GetGauge().GetValue())
		}
		return
	}
	t.Fatal("no series for echo")
}
