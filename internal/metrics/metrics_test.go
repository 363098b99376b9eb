package metrics

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

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

// clusterSource is a fakeSource on a node in a cluster (or alone, if !in).
type clusterSource struct {
	*fakeSource
	view api.ClusterView
	in   bool
}

func (c *clusterSource) ClusterView() (api.ClusterView, bool) { return c.view, c.in }

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

// clustered is busy() on a node of a three-node cluster, two nodes up.
func clustered() *clusterSource {
	return &clusterSource{
		fakeSource: busy(),
		in:         true,
		view: api.ClusterView{
			Stats: api.ClusterStats{Node: "n1", Cluster: "c", Connected: true, Forwarded: 11, Received: 12, Refused: 1,
				Dropped: 2, Calls: 20, CallsServed: 21, CallsRefused: 3, Failovers: 4, Reconnects: 5},
			Nodes: []api.NodeInfo{{Name: "n1", Self: true, State: api.NodeUp}, {Name: "n2", State: api.NodeUp}, {Name: "n3", State: api.NodeDown}},
		},
	}
}

// hostile is a source whose process and library names need escaping.
func hostile() *fakeSource {
	return &fakeSource{
		procs: []api.ProcessInfo{{Name: "we\"ird\\name\nnext", Module: "m\\\"\n", State: api.StateRunning,
			Net: &api.NetStats{Sockets: 1}}},
		libs: []api.LibraryInfo{{Name: "bad\xffutf8", Version: `1.0.0"}`, State: "running"}},
	}
}

// collect writes src's orbital_* metrics and returns the text.
func collect(t *testing.T, src Source) string {
	t.Helper()
	var b bytes.Buffer
	if err := NewCollector(src).WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// block returns the lines of name's family in text: from its HELP line up
// to the next HELP line, or "" if the family is absent.
func block(text, name string) string {
	start := strings.Index(text, "# HELP "+name+" ")
	if start < 0 {
		return ""
	}
	rest := text[start:]
	if end := strings.Index(rest[1:], "# HELP "); end >= 0 {
		return rest[:end+1]
	}
	return rest
}

func TestCollector(t *testing.T) {
	tests := []struct {
		name  string
		src   Source
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
orbital_process_up{name="echo",module="echo@1.0.0",state="running"} 1
orbital_process_up{name="flaky",module="flaky",state="crashed"} 0
orbital_process_up{name="cron",module="cron@0.1.0",state="idle"} 0
# HELP orbital_process_cpu_seconds_total Time the current incarnation spent executing guest code.
# TYPE orbital_process_cpu_seconds_total counter
orbital_process_cpu_seconds_total{name="echo",module="echo@1.0.0",state="running"} 1.5
orbital_process_cpu_seconds_total{name="flaky",module="flaky",state="crashed"} 0
orbital_process_cpu_seconds_total{name="cron",module="cron@0.1.0",state="idle"} 0
# HELP orbital_process_restarts_total Times the supervisor restarted the process.
# TYPE orbital_process_restarts_total counter
orbital_process_restarts_total{name="echo",module="echo@1.0.0",state="running"} 2
orbital_process_restarts_total{name="flaky",module="flaky",state="crashed"} 5
orbital_process_restarts_total{name="cron",module="cron@0.1.0",state="idle"} 0
# HELP orbital_process_mailbox_depth Messages queued in the process's mailbox now.
# TYPE orbital_process_mailbox_depth gauge
orbital_process_mailbox_depth{name="echo",module="echo@1.0.0",state="running"} 3
orbital_process_mailbox_depth{name="flaky",module="flaky",state="crashed"} 0
orbital_process_mailbox_depth{name="cron",module="cron@0.1.0",state="idle"} 0
`,
		},
		{
			name: "network, only for processes granted sockets",
			src:  busy(),
			names: []string{"orbital_process_net_received_bytes_total", "orbital_process_net_sent_bytes_total", "orbital_process_net_accepted_total",
				"orbital_process_net_dialled_total", "orbital_process_net_denied_total", "orbital_process_net_sockets"},
			want: `
# HELP orbital_process_net_received_bytes_total Bytes the process read from its sockets.
# TYPE orbital_process_net_received_bytes_total counter
orbital_process_net_received_bytes_total{name="echo",module="echo@1.0.0",state="running"} 1000
# HELP orbital_process_net_sent_bytes_total Bytes the process wrote to its sockets.
# TYPE orbital_process_net_sent_bytes_total counter
orbital_process_net_sent_bytes_total{name="echo",module="echo@1.0.0",state="running"} 2500
# HELP orbital_process_net_accepted_total Connections the process accepted on its listeners.
# TYPE orbital_process_net_accepted_total counter
orbital_process_net_accepted_total{name="echo",module="echo@1.0.0",state="running"} 4
# HELP orbital_process_net_dialled_total Connections the process dialled to granted addresses.
# TYPE orbital_process_net_dialled_total counter
orbital_process_net_dialled_total{name="echo",module="echo@1.0.0",state="running"} 1
# HELP orbital_process_net_denied_total Dials the process's grant refused.
# TYPE orbital_process_net_denied_total counter
orbital_process_net_denied_total{name="echo",module="echo@1.0.0",state="running"} 3
# HELP orbital_process_net_sockets Sockets the process has open now.
# TYPE orbital_process_net_sockets gauge
orbital_process_net_sockets{name="echo",module="echo@1.0.0",state="running"} 2
`,
		},
		{
			name:  "process traffic",
			src:   busy(),
			names: []string{"orbital_process_memory_bytes", "orbital_process_messages_in_total", "orbital_process_messages_out_total", "orbital_process_dropped_total"},
			want: `
# HELP orbital_process_memory_bytes Current linear memory size of the process.
# TYPE orbital_process_memory_bytes gauge
orbital_process_memory_bytes{name="echo",module="echo@1.0.0",state="running"} 131072
orbital_process_memory_bytes{name="flaky",module="flaky",state="crashed"} 0
orbital_process_memory_bytes{name="cron",module="cron@0.1.0",state="idle"} 0
# HELP orbital_process_messages_in_total Messages delivered to the process's mailbox.
# TYPE orbital_process_messages_in_total counter
orbital_process_messages_in_total{name="echo",module="echo@1.0.0",state="running"} 7
orbital_process_messages_in_total{name="flaky",module="flaky",state="crashed"} 0
orbital_process_messages_in_total{name="cron",module="cron@0.1.0",state="idle"} 0
# HELP orbital_process_messages_out_total Messages the process published, sent, requested or replied.
# TYPE orbital_process_messages_out_total counter
orbital_process_messages_out_total{name="echo",module="echo@1.0.0",state="running"} 6
orbital_process_messages_out_total{name="flaky",module="flaky",state="crashed"} 0
orbital_process_messages_out_total{name="cron",module="cron@0.1.0",state="idle"} 0
# HELP orbital_process_dropped_total Messages the process's full mailbox dropped.
# TYPE orbital_process_dropped_total counter
orbital_process_dropped_total{name="echo",module="echo@1.0.0",state="running"} 1
orbital_process_dropped_total{name="flaky",module="flaky",state="crashed"} 0
orbital_process_dropped_total{name="cron",module="cron@0.1.0",state="idle"} 0
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
orbital_processes{state="running"} 1
orbital_processes{state="exited"} 0
orbital_processes{state="crashed"} 1
orbital_processes{state="killed"} 0
orbital_processes{state="stopped"} 0
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
			name: "cluster",
			src:  clustered(),
			names: []string{"orbital_cluster_forwarded_total", "orbital_cluster_received_total", "orbital_cluster_refused_total", "orbital_cluster_dropped_total",
				"orbital_cluster_calls_total", "orbital_cluster_calls_served_total", "orbital_cluster_calls_refused_total", "orbital_cluster_failovers_total",
				"orbital_cluster_reconnects_total", "orbital_cluster_connected", "orbital_cluster_nodes_up"},
			want: `
# HELP orbital_cluster_forwarded_total Bus messages carried to other nodes.
# TYPE orbital_cluster_forwarded_total counter
orbital_cluster_forwarded_total 11
# HELP orbital_cluster_received_total Bus messages from other nodes delivered here.
# TYPE orbital_cluster_received_total counter
orbital_cluster_received_total 12
# HELP orbital_cluster_refused_total Messages from other nodes on subjects this node does not export.
# TYPE orbital_cluster_refused_total counter
orbital_cluster_refused_total 1
# HELP orbital_cluster_dropped_total Cluster messages lost: no room, a held payload gone or unfetchable.
# TYPE orbital_cluster_dropped_total counter
orbital_cluster_dropped_total 2
# HELP orbital_cluster_calls_total Library calls sent to other nodes.
# TYPE orbital_cluster_calls_total counter
orbital_cluster_calls_total 20
# HELP orbital_cluster_calls_served_total Library calls served for other nodes.
# TYPE orbital_cluster_calls_served_total counter
orbital_cluster_calls_served_total 21
# HELP orbital_cluster_calls_refused_total Calls from other nodes for libraries not exported to the cluster.
# TYPE orbital_cluster_calls_refused_total counter
orbital_cluster_calls_refused_total 3
# HELP orbital_cluster_failovers_total Calls retried on another provider.
# TYPE orbital_cluster_failovers_total counter
orbital_cluster_failovers_total 4
# HELP orbital_cluster_reconnects_total Times the connection to NATS came back.
# TYPE orbital_cluster_reconnects_total counter
orbital_cluster_reconnects_total 5
# HELP orbital_cluster_connected 1 while connected to NATS.
# TYPE orbital_cluster_connected gauge
orbital_cluster_connected 1
# HELP orbital_cluster_nodes_up Nodes of the cluster up, this one included.
# TYPE orbital_cluster_nodes_up gauge
orbital_cluster_nodes_up 2
`,
		},
		{
			name:  "a node alone: no cluster families",
			src:   &clusterSource{fakeSource: busy()},
			names: []string{"orbital_cluster_forwarded_total", "orbital_cluster_connected", "orbital_cluster_nodes_up", "orbital_registry_modules"},
			want: `
# HELP orbital_registry_modules Module names installed in the device's registry.
# TYPE orbital_registry_modules gauge
orbital_registry_modules 2
`,
		},
		{
			name:  "empty node: counts at zero, no per-process or per-library series",
			src:   &fakeSource{},
			names: []string{"orbital_processes", "orbital_process_up", "orbital_process_net_sockets", "orbital_library_calls_total", "orbital_bus_messages_published_total", "orbital_registry_modules"},
			want: `
# HELP orbital_processes Processes (and libraries) by state.
# TYPE orbital_processes gauge
orbital_processes{state="idle"} 0
orbital_processes{state="starting"} 0
orbital_processes{state="running"} 0
orbital_processes{state="exited"} 0
orbital_processes{state="crashed"} 0
orbital_processes{state="killed"} 0
orbital_processes{state="stopped"} 0
# HELP orbital_bus_messages_published_total Accepted publishes, requests and replies.
# TYPE orbital_bus_messages_published_total counter
orbital_bus_messages_published_total 0
# HELP orbital_registry_modules Module names installed in the device's registry.
# TYPE orbital_registry_modules gauge
orbital_registry_modules 0
`,
		},
		{
			name:  "hostile label values are escaped",
			src:   hostile(),
			names: []string{"orbital_process_up", "orbital_process_net_sockets", "orbital_library_up"},
			want: `
# HELP orbital_process_up 1 if the process is running, else 0.
# TYPE orbital_process_up gauge
orbital_process_up{name="we\"ird\\name\nnext",module="m\\\"\n",state="running"} 1
# HELP orbital_process_net_sockets Sockets the process has open now.
# TYPE orbital_process_net_sockets gauge
orbital_process_net_sockets{name="we\"ird\\name\nnext",module="m\\\"\n",state="running"} 1
# HELP orbital_library_up 1 if the library is running (not restarting or down), else 0.
# TYPE orbital_library_up gauge
orbital_library_up{name="bad` + "\uFFFD" + `utf8",version="1.0.0\"}"} 1
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := collect(t, tt.src)
			var got strings.Builder
			for _, name := range tt.names {
				got.WriteString(block(text, name))
			}
			if want := strings.TrimPrefix(tt.want, "\n"); got.String() != want {
				t.Fatalf("got:\n%s\nwant:\n%s", got.String(), want)
			}
		})
	}
}

// allFamilies is every family the collector can emit.
func allFamilies() []family {
	var fs []family
	for _, m := range procMetrics {
		fs = append(fs, m.family)
	}
	for _, m := range netMetrics {
		fs = append(fs, m.family)
	}
	fs = append(fs, processesFamily)
	for _, m := range busMetrics {
		fs = append(fs, m.family)
	}
	for _, m := range libMetrics {
		fs = append(fs, m.family)
	}
	for _, m := range clusterMetrics {
		fs = append(fs, m.family)
	}
	return append(fs, clusterNodesUp, registryModules, registryVersions)
}

// TestFamiliesLint checks the naming rules promlint would: a valid,
// unique, orbital_ name; _total on counters and only on them; no unit
// misspelt; a help text that is one sentence.
func TestFamiliesLint(t *testing.T) {
	valid := regexp.MustCompile(`^orbital_[a-z_]*[a-z]$`)
	seen := map[string]bool{}
	for _, f := range allFamilies() {
		if !valid.MatchString(f.name) {
			t.Errorf("%s: not a valid orbital_ name", f.name)
		}
		if seen[f.name] {
			t.Errorf("%s: declared twice", f.name)
		}
		seen[f.name] = true
		switch f.typ {
		case "counter":
			if !strings.HasSuffix(f.name, "_total") {
				t.Errorf("%s: counter without _total", f.name)
			}
		case "gauge":
			if strings.HasSuffix(f.name, "_total") {
				t.Errorf("%s: gauge named _total", f.name)
			}
		default:
			t.Errorf("%s: type %q", f.name, f.typ)
		}
		for _, bad := range []string{"_milliseconds", "_ms", "_kilobytes", "_megabytes", "_count"} {
			if strings.Contains(f.name, bad) {
				t.Errorf("%s: use base units (seconds, bytes), not %s", f.name, bad)
			}
		}
		if f.help == "" || !strings.HasSuffix(f.help, ".") || strings.ContainsAny(f.help, "\n\\") {
			t.Errorf("%s: help %q", f.name, f.help)
		}
	}
}

// parse parses text as the Prometheus text exposition format.
func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, text)
	}
	return fams
}

// labelsOf returns a series's labels as a map.
func labelsOf(m *dto.Metric) map[string]string {
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	return labels
}

// TestCollectorOutputIsValid parses what the collector writes: every
// family declared, each once and whole, with the declared type and label
// names on every series, no series twice; and, for a busy clustered node,
// every declared family present.
func TestCollectorOutputIsValid(t *testing.T) {
	declared := map[string]family{}
	for _, f := range allFamilies() {
		declared[f.name] = f
	}
	tests := []struct {
		name string
		src  Source
		all  bool
	}{
		{"empty", &fakeSource{}, false},
		{"busy", busy(), false},
		{"clustered", clustered(), true},
		{"hostile", hostile(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := collect(t, tt.src)
			if !strings.HasSuffix(text, "\n") {
				t.Error("output does not end with a newline")
			}
			fams := parse(t, text)
			for name, f := range fams {
				d, ok := declared[name]
				if !ok {
					t.Errorf("%s: not declared", name)
					continue
				}
				if want := map[string]dto.MetricType{"counter": dto.MetricType_COUNTER, "gauge": dto.MetricType_GAUGE}[d.typ]; f.GetType() != want {
					t.Errorf("%s is a %s, want %s", name, f.GetType(), want)
				}
				if f.GetHelp() != d.help {
					t.Errorf("%s: help %q, want %q", name, f.GetHelp(), d.help)
				}
				series := map[string]bool{}
				for _, m := range f.GetMetric() {
					labels := labelsOf(m)
					names := make([]string, 0, len(labels))
					for l := range labels {
						names = append(names, l)
					}
					sort.Strings(names)
					want := slices.Clone(d.labels)
					sort.Strings(want)
					if !slices.Equal(names, want) {
						t.Errorf("%s: labels %v, want %v", name, names, want)
					}
					key := m.String()
					if series[key] {
						t.Errorf("%s: series %v twice", name, labels)
					}
					series[key] = true
				}
			}
			if tt.all {
				for name := range declared {
					if fams[name] == nil {
						t.Errorf("%s: declared, not emitted", name)
					}
				}
			}
			if n := strings.Count(text, "# HELP "); n != len(fams) {
				t.Errorf("%d HELP lines for %d families: a family split or repeated", n, len(fams))
			}
		})
	}
}

// TestLabelEscaping reads hostile label values back through a Prometheus
// parser: they survive the round trip (invalid UTF-8 replaced).
func TestLabelEscaping(t *testing.T) {
	fams := parse(t, collect(t, hostile()))
	tests := []struct {
		family string
		want   map[string]string
	}{
		{"orbital_process_up", map[string]string{"name": "we\"ird\\name\nnext", "module": "m\\\"\n", "state": "running"}},
		{"orbital_process_net_sockets", map[string]string{"name": "we\"ird\\name\nnext", "module": "m\\\"\n", "state": "running"}},
		{"orbital_library_up", map[string]string{"name": "bad\uFFFDutf8", "version": `1.0.0"}`}},
	}
	for _, tt := range tests {
		ms := fams[tt.family].GetMetric()
		if len(ms) != 1 {
			t.Errorf("%s: %d series, want 1", tt.family, len(ms))
			continue
		}
		if got := labelsOf(ms[0]); !maps.Equal(got, tt.want) {
			t.Errorf("%s: labels %q, want %q", tt.family, got, tt.want)
		}
	}
}

func TestWritePrometheusRegistryError(t *testing.T) {
	s := busy()
	s.regErr = errors.New("index closed")
	var b bytes.Buffer
	err := NewCollector(s).WritePrometheus(&b)
	if err == nil || !strings.Contains(err.Error(), "index closed") {
		t.Fatalf("err %v, want the registry's", err)
	}
	fams := parse(t, b.String())
	if fams["orbital_registry_modules"] != nil || fams["orbital_registry_versions"] != nil {
		t.Error("registry families written despite the error")
	}
	if fams["orbital_process_up"] == nil || fams["orbital_library_calls_total"] == nil {
		t.Error("the rest left out")
	}
}

func TestAppendValue(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{1.5, "1.5"},
		{131072, "131072"},
		{1e6, "1000000"},
		{1 << 53, "9007199254740992"},
		{1 << 60, "1.152921504606847e+18"},
		{0.001, "0.001"},
		{math.Inf(1), "+Inf"},
		{math.NaN(), "NaN"},
	}
	for _, tt := range tests {
		if got := string(appendValue(nil, tt.v)); got != tt.want {
			t.Errorf("appendValue(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"identity", false},
		{"deflate, gzip;q=1.0, *;q=0.5", true},
		{"GZIP", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"br, gzip ; q=0.2", true},
		{"x-gzip", false},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.header); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

// scrape fetches h's metrics (gzipped if gzip) and parses them.
func scrape(t *testing.T, h http.Handler, gzipped bool) (*httptest.ResponseRecorder, map[string]*dto.MetricFamily) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body io.Reader = rec.Body
	if gzipped {
		if enc := rec.Header().Get("Content-Encoding"); enc != "gzip" {
			t.Fatalf("Content-Encoding %q, want gzip", enc)
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = zr
	} else if enc := rec.Header().Get("Content-Encoding"); enc != "" {
		t.Fatalf("Content-Encoding %q, not asked for", enc)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return rec, parse(t, string(text))
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name    string
		src     Source
		gzipped bool
		present []string
		absent  []string
	}{
		{
			name: "everything",
			src:  busy(),
			present: []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes",
				"orbital_process_up", "orbital_bus_messages_published_total", "orbital_library_calls_total", "orbital_registry_modules", "orbital_registry_versions"},
			absent: []string{"orbital_cluster_nodes_up"},
		},
		{
			name:    "gzipped",
			src:     clustered(),
			gzipped: true,
			present: []string{"go_goroutines", "orbital_process_up", "orbital_cluster_nodes_up", "orbital_registry_modules"},
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
			rec, fams := scrape(t, Handler(tt.src), tt.gzipped)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != ContentType {
				t.Errorf("Content-Type %q, want %q", ct, ContentType)
			}
			if format := expfmt.ResponseFormat(rec.Header()); format.FormatType() != expfmt.TypeTextPlain {
				t.Errorf("Content-Type %q is not the text format to a Prometheus client", rec.Header().Get("Content-Type"))
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
	_, fams := scrape(t, Handler(busy()), false)
	f := fams["orbital_process_memory_bytes"]
	if f == nil {
		t.Fatal("orbital_process_memory_bytes missing")
	}
	for _, m := range f.GetMetric() {
		labels := labelsOf(m)
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
