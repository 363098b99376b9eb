// Package metrics exposes a node's state as Prometheus metrics.
//
// Nothing is counted on the hot path: at every scrape a Collector reads the
// snapshots the node already keeps (the process table, the bus counters,
// the library table, the registry index) and turns them into constant
// metrics. The Go runtime and OS process metrics come from client_golang's
// own collectors. Everything is registered in a private registry, never the
// global default one, so two nodes in one program (tests) do not collide.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/orbitalfoundation/orbital/api"
)

// Source is what the collector reads at each scrape. The node implements
// it; every method returns a snapshot and must be safe to call from the
// HTTP server's goroutines.
type Source interface {
	// Processes is the process table (processes and libraries).
	Processes() []api.ProcessInfo
	// BusStats is a snapshot of the bus counters.
	BusStats() api.BusStats
	// Libraries is the library table, one row per name and version.
	Libraries() []api.LibraryInfo
	// RegistryCounts reports how many module names and versions the
	// device's registry holds.
	RegistryCounts() (modules, versions int, err error)
}

// NewRegistry returns a private registry holding the Go runtime collector,
// the OS process collector and a Collector reading src.
func NewRegistry(src Source) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	// The set is fixed at compile time, so a registration error is a bug
	// (caught by the tests), not a run-time condition.
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		NewCollector(src),
	)
	return reg
}

// Handler serves src's metrics (and the Go and process metrics) in the
// Prometheus exposition format. A metric that fails to collect (a registry
// read error) is logged and left out; the rest is still served.
func Handler(src Source) http.Handler {
	return promhttp.HandlerFor(NewRegistry(src), promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	})
}

// Collector is a prometheus.Collector that reads a Source at each scrape.
type Collector struct {
	src Source
}

// NewCollector returns a Collector reading src.
func NewCollector(src Source) *Collector { return &Collector{src: src} }

var (
	procLabels = []string{"name", "module", "state"}
	libLabels  = []string{"name", "version"}
)

// procMetric is one per-process metric and how to read it from a row.
type procMetric struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	val  func(api.ProcessInfo) float64
}

var procMetrics = []procMetric{
	{prometheus.NewDesc("orbital_process_up", "1 if the process is running, else 0.", procLabels, nil),
		prometheus.GaugeValue, func(p api.ProcessInfo) float64 { return boolValue(p.State == api.StateRunning) }},
	{prometheus.NewDesc("orbital_process_memory_bytes", "Current linear memory size of the process.", procLabels, nil),
		prometheus.GaugeValue, func(p api.ProcessInfo) float64 { return float64(p.MemoryBytes) }},
	{prometheus.NewDesc("orbital_process_cpu_seconds_total", "Time the current incarnation spent executing guest code.", procLabels, nil),
		prometheus.CounterValue, func(p api.ProcessInfo) float64 { return p.CPUTime.Seconds() }},
	{prometheus.NewDesc("orbital_process_messages_in_total", "Messages delivered to the process's mailbox.", procLabels, nil),
		prometheus.CounterValue, func(p api.ProcessInfo) float64 { return float64(p.MsgsIn) }},
	{prometheus.NewDesc("orbital_process_messages_out_total", "Messages the process published, sent, requested or replied.", procLabels, nil),
		prometheus.CounterValue, func(p api.ProcessInfo) float64 { return float64(p.MsgsOut) }},
	{prometheus.NewDesc("orbital_process_dropped_total", "Messages the process's full mailbox dropped.", procLabels, nil),
		prometheus.CounterValue, func(p api.ProcessInfo) float64 { return float64(p.Dropped) }},
	{prometheus.NewDesc("orbital_process_restarts_total", "Times the supervisor restarted the process.", procLabels, nil),
		prometheus.CounterValue, func(p api.ProcessInfo) float64 { return float64(p.Restarts) }},
	{prometheus.NewDesc("orbital_process_mailbox_depth", "Messages queued in the process's mailbox now.", procLabels, nil),
		prometheus.GaugeValue, func(p api.ProcessInfo) float64 { return float64(p.Mailbox) }},
}

// netMetrics are the per-process network metrics, emitted only for
// processes granted sockets.
var netMetrics = []procMetric{
	{prometheus.NewDesc("orbital_process_net_received_bytes_total", "Bytes the process read from its sockets.", procLabels, nil),
		prometheus.CounterValue, netValue(func(n *api.NetStats) uint64 { return n.BytesIn })},
	{prometheus.NewDesc("orbital_process_net_sent_bytes_total", "Bytes the process wrote to its sockets.", procLabels, nil),
		prometheus.CounterValue, netValue(func(n *api.NetStats) uint64 { return n.BytesOut })},
	{prometheus.NewDesc("orbital_process_net_accepted_total", "Connections the process accepted on its listeners.", procLabels, nil),
		prometheus.CounterValue, netValue(func(n *api.NetStats) uint64 { return n.Accepted })},
	{prometheus.NewDesc("orbital_process_net_dialled_total", "Connections the process dialled to granted addresses.", procLabels, nil),
		prometheus.CounterValue, netValue(func(n *api.NetStats) uint64 { return n.Dialled })},
	{prometheus.NewDesc("orbital_process_net_denied_total", "Dials the process's grant refused.", procLabels, nil),
		prometheus.CounterValue, netValue(func(n *api.NetStats) uint64 { return n.Denied })},
	{prometheus.NewDesc("orbital_process_net_sockets", "Sockets the process has open now.", procLabels, nil),
		prometheus.GaugeValue, netValue(func(n *api.NetStats) uint64 { return uint64(n.Sockets) })},
}

// netValue reads a network counter.
func netValue(f func(*api.NetStats) uint64) func(api.ProcessInfo) float64 {
	return func(p api.ProcessInfo) float64 { return float64(f(p.Net)) }
}

// states are the process states, each reported by orbital_processes even
// when no process is in it (so a count drops to 0 instead of vanishing).
var states = []api.State{api.StateIdle, api.StateStarting, api.StateRunning, api.StateExited, api.StateCrashed, api.StateKilled, api.StateStopped}

var processesDesc = prometheus.NewDesc("orbital_processes", "Processes (and libraries) by state.", []string{"state"}, nil)

// busMetric is one bus metric and how to read it from the totals.
type busMetric struct {
	desc   *prometheus.Desc
	typ    prometheus.ValueType
	labels []string
	val    func(busTotals) float64
}

// busTotals sums the per-subject counters of a api.BusStats.
type busTotals struct {
	api.SubjectStats
	st api.BusStats
}

func sumBus(st api.BusStats) busTotals {
	t := busTotals{st: st}
	for _, s := range st.Subjects {
		t.Published += s.Published
		t.Delivered += s.Delivered
		t.Dropped += s.Dropped
		t.Unrouted += s.Unrouted
	}
	return t
}

var (
	busDelivered = prometheus.NewDesc("orbital_bus_messages_delivered_total", "Message copies queued in a receiver's mailbox, by publish (subjects) or send (direct).", []string{"via"}, nil)
	busDropped   = prometheus.NewDesc("orbital_bus_messages_dropped_total", "Message copies a full mailbox refused or evicted, by publish (subjects) or send (direct).", []string{"via"}, nil)
)

var busMetrics = []busMetric{
	{prometheus.NewDesc("orbital_bus_messages_published_total", "Accepted publishes, requests and replies.", nil, nil),
		prometheus.CounterValue, nil, func(t busTotals) float64 { return float64(t.Published) }},
	{prometheus.NewDesc("orbital_bus_messages_sent_total", "Accepted direct sends.", nil, nil),
		prometheus.CounterValue, nil, func(t busTotals) float64 { return float64(t.st.Direct.Sent) }},
	{busDelivered, prometheus.CounterValue, []string{"publish"}, func(t busTotals) float64 { return float64(t.Delivered) }},
	{busDelivered, prometheus.CounterValue, []string{"send"}, func(t busTotals) float64 { return float64(t.st.Direct.Delivered) }},
	{busDropped, prometheus.CounterValue, []string{"publish"}, func(t busTotals) float64 { return float64(t.Dropped) }},
	{busDropped, prometheus.CounterValue, []string{"send"}, func(t busTotals) float64 { return float64(t.st.Direct.Dropped) }},
	{prometheus.NewDesc("orbital_bus_messages_unrouted_total", "Publishes that found no subscriber.", nil, nil),
		prometheus.CounterValue, nil, func(t busTotals) float64 { return float64(t.Unrouted) }},
	{prometheus.NewDesc("orbital_bus_denied_total", "Bus operations refused by permissions (all kinds).", nil, nil),
		prometheus.CounterValue, nil, func(t busTotals) float64 { return float64(t.st.Denied) }},
	{prometheus.NewDesc("orbital_bus_subscriptions", "Live subscriptions.", nil, nil),
		prometheus.GaugeValue, nil, func(t busTotals) float64 { return float64(t.st.Subscriptions) }},
	{prometheus.NewDesc("orbital_bus_endpoints", "Endpoints connected to the bus.", nil, nil),
		prometheus.GaugeValue, nil, func(t busTotals) float64 { return float64(len(t.st.Endpoints)) }},
}

// libMetric is one per-library metric and how to read it from a row.
type libMetric struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	val  func(api.LibraryInfo) float64
}

var libMetrics = []libMetric{
	{prometheus.NewDesc("orbital_library_up", "1 if the library is running (not restarting or down), else 0.", libLabels, nil),
		prometheus.GaugeValue, func(l api.LibraryInfo) float64 { return boolValue(l.State == "running") }},
	{prometheus.NewDesc("orbital_library_calls_total", "Calls made to the library.", libLabels, nil),
		prometheus.CounterValue, func(l api.LibraryInfo) float64 { return float64(l.Calls) }},
	{prometheus.NewDesc("orbital_library_failures_total", "Calls to the library that failed.", libLabels, nil),
		prometheus.CounterValue, func(l api.LibraryInfo) float64 { return float64(l.Failures) }},
	{prometheus.NewDesc("orbital_library_instances", "Wasm instances of the library running.", libLabels, nil),
		prometheus.GaugeValue, func(l api.LibraryInfo) float64 { return float64(l.Instances) }},
	{prometheus.NewDesc("orbital_library_busy", "Instances of the library serving a call now.", libLabels, nil),
		prometheus.GaugeValue, func(l api.LibraryInfo) float64 { return float64(l.Busy) }},
	{prometheus.NewDesc("orbital_library_restarts_total", "Times the library's instances were restarted.", libLabels, nil),
		prometheus.CounterValue, func(l api.LibraryInfo) float64 { return float64(l.Restarts) }},
}

// ClusterSource is a Source of a node in a cluster: View reports false for
// a node alone (then no orbital_cluster_* metric is exported).
type ClusterSource interface {
	ClusterView() (api.ClusterView, bool)
}

// clusterMetrics are a clustered node's counters (api.ClusterStats).
var clusterMetrics = []struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	val  func(api.ClusterStats) float64
}{
	{prometheus.NewDesc("orbital_cluster_forwarded_total", "Bus messages carried to other nodes.", nil, nil),
		prometheus.CounterValue, func(s api.ClusterStats) float64 { return float64(s.Forwarded) }},
	{prometheus.NewDesc("orbital_cluster_received_total", "Bus messages from other nodes delivered here.", nil, nil),
		prometheus.CounterValue, func(s api.ClusterStats) float64 { return float64(s.Received) }},
	{prometheus.NewDesc("orbital_cluster_refused_total", "Messages from other nodes on subjects this node does not export.", nil, nil),
		prometheus.CounterValue, func(s api.ClusterStats) float64 { return float64(s.Refused) }},
	{prometheus.NewDesc("orbital_cluster_dropped_total", "Cluster messages lost: no room, a held payload gone or unfetchable.", nil, nil),
		prometheus.CounterValue, func(s api.ClusterStats) float64 { return float64(s.Dropped) }},
	{prometheus.NewDesc("orbital_cluster_calls_total", "Library calls sent to other nodes.", nil, nil),
		prometheus.CounterValue, func(s api.ClusterStats) float64 { return float64(s.Calls) }},
	{prometheus.NewDesc("orbital_cluster_calls_served_total", "Library calls served for other nodes.", nil, nil),
		prometheus.CounterValue, func(s api.ClusterStats) float64 { return float64(s.CallsServed) }},
	{prometheus.NewDesc("orbital_cluster_calls_refused_total", "Calls from other nodes for libraries not exported to the cluster.", nil, nil),
		prometheus.CounterValue, func(s api.ClusterStats) float64 { return float64(s.CallsRefused) }},
	{prometheus.NewDesc("orbital_cluster_failovers_total", "Calls retried on another provider.", nil, nil),
		prometheus.CounterValue, func(s api.ClusterStats) float64 { return float64(s.Failovers) }},
	{prometheus.NewDesc("orbital_cluster_reconnects_total", "Times the connection to NATS came back.", nil, nil),
		prometheus.CounterValue, func(s api.ClusterStats) float64 { return float64(s.Reconnects) }},
	{prometheus.NewDesc("orbital_cluster_connected", "1 while connected to NATS.", nil, nil),
		prometheus.GaugeValue, func(s api.ClusterStats) float64 {
			if s.Connected {
				return 1
			}
			return 0
		}},
}

var clusterNodesUp = prometheus.NewDesc("orbital_cluster_nodes_up", "Nodes of the cluster up, this one included.", nil, nil)

var (
	registryModules  = prometheus.NewDesc("orbital_registry_modules", "Module names installed in the device's registry.", nil, nil)
	registryVersions = prometheus.NewDesc("orbital_registry_versions", "Module versions installed in the device's registry.", nil, nil)
)

// Describe sends the descriptors of every metric the Collector emits.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range procMetrics {
		ch <- m.desc
	}
	for _, m := range netMetrics {
		ch <- m.desc
	}
	ch <- processesDesc
	seen := map[*prometheus.Desc]bool{}
	for _, m := range busMetrics {
		if !seen[m.desc] {
			seen[m.desc] = true
			ch <- m.desc
		}
	}
	for _, m := range libMetrics {
		ch <- m.desc
	}
	ch <- registryModules
	ch <- registryVersions
	for _, m := range clusterMetrics {
		ch <- m.desc
	}
	ch <- clusterNodesUp
}

// Collect reads the Source once and sends the metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	count := map[api.State]int{}
	for _, p := range c.src.Processes() {
		count[p.State]++
		for _, m := range procMetrics {
			ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.val(p), p.Name, p.Module, string(p.State))
		}
		if p.Net == nil {
			continue
		}
		for _, m := range netMetrics {
			ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.val(p), p.Name, p.Module, string(p.State))
		}
	}
	for _, s := range states {
		ch <- prometheus.MustNewConstMetric(processesDesc, prometheus.GaugeValue, float64(count[s]), string(s))
	}

	t := sumBus(c.src.BusStats())
	for _, m := range busMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.val(t), m.labels...)
	}

	for _, l := range c.src.Libraries() {
		for _, m := range libMetrics {
			ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.val(l), l.Name, l.Version)
		}
	}

	if cs, ok := c.src.(ClusterSource); ok {
		if v, ok := cs.ClusterView(); ok {
			for _, m := range clusterMetrics {
				ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.val(v.Stats))
			}
			up := 0
			for _, n := range v.Nodes {
				if n.State == api.NodeUp {
					up++
				}
			}
			ch <- prometheus.MustNewConstMetric(clusterNodesUp, prometheus.GaugeValue, float64(up))
		}
	}

	modules, versions, err := c.src.RegistryCounts()
	if err != nil {
		err = fmt.Errorf("metrics: registry counts: %w", err)
		ch <- prometheus.NewInvalidMetric(registryModules, err)
		ch <- prometheus.NewInvalidMetric(registryVersions, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(registryModules, prometheus.GaugeValue, float64(modules))
	ch <- prometheus.MustNewConstMetric(registryVersions, prometheus.GaugeValue, float64(versions))
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
