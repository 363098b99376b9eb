// Package metrics serves a node's state as Prometheus metrics, in the text
// exposition format.
//
// Nothing is counted on the hot path: at every scrape a Collector reads the
// snapshots the node already keeps (the process table, the bus counters,
// the library table, the registry index, the cluster view) and writes them
// out as orbital_* metrics, each family with its HELP and TYPE lines. The
// Go runtime and OS process metrics (go_*, process_*) are written by
// github.com/VictoriaMetrics/metrics. Nothing is registered anywhere: a
// scrape writes what it reads, so two nodes in one program (tests) do not
// collide.
package metrics

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	vmetrics "github.com/VictoriaMetrics/metrics"

	"github.com/orbitalfoundation/orbital/api"
)

// ContentType is the media type Handler serves: the Prometheus text
// exposition format, version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

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

// ClusterSource is a Source of a node in a cluster: ClusterView reports
// false for a node alone (then no orbital_cluster_* metric is exported).
type ClusterSource interface {
	ClusterView() (api.ClusterView, bool)
}

// Handler serves src's metrics, then the Go runtime and OS process metrics,
// in the Prometheus text exposition format (gzipped if the scraper accepts
// it). A metric that fails to collect (a registry read error) is logged
// and left out; the rest is still served.
//
// Handler turns on VictoriaMetrics/metrics' process-wide ExposeMetadata,
// so the go_* and process_* families carry TYPE lines like the orbital_*
// ones.
func Handler(src Source) http.Handler {
	vmetrics.ExposeMetadata(true)
	log := slog.Default()
	c := NewCollector(src)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e exposition
		if err := c.write(&e); err != nil {
			log.Warn("metrics: left out of the scrape", "err", err)
		}
		vmetrics.WriteProcessMetrics(&e)
		vmetrics.WriteFDMetrics(&e)

		h := w.Header()
		h.Set("Content-Type", ContentType)
		h.Add("Vary", "Accept-Encoding")
		if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Length", strconv.Itoa(len(e.b)))
			_, _ = w.Write(e.b)
			return
		}
		h.Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = zw.Write(e.b)
		_ = zw.Close()
	})
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
		return err == nil && v > 0
	}
	return false
}

// Collector writes the orbital_* metrics of a Source.
type Collector struct {
	src Source
}

// NewCollector returns a Collector reading src.
func NewCollector(src Source) *Collector { return &Collector{src: src} }

// WritePrometheus reads the Source once and writes the orbital_* metrics
// to w in the Prometheus text exposition format. A part that cannot be
// read (the registry counts) is left out and its error returned; the rest
// is written all the same.
func (c *Collector) WritePrometheus(w io.Writer) error {
	var e exposition
	err := c.write(&e)
	if _, werr := w.Write(e.b); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

// family is one metric family: its name, type, HELP text and label names.
type family struct {
	name, typ, help string
	labels          []string
}

func counter(name, help string, labels ...string) family {
	return family{name: name, typ: "counter", help: help, labels: labels}
}

func gauge(name, help string, labels ...string) family {
	return family{name: name, typ: "gauge", help: help, labels: labels}
}

// metric is a family with one series per row of a table (a process, a
// library, the cluster's stats) and how to read its value from a row.
type metric[T any] struct {
	family
	val func(T) float64
}

var (
	procLabels = []string{"name", "module", "state"}
	libLabels  = []string{"name", "version"}
)

func procLabelValues(p api.ProcessInfo) []string { return []string{p.Name, p.Module, string(p.State)} }
func libLabelValues(l api.LibraryInfo) []string  { return []string{l.Name, l.Version} }

var procMetrics = []metric[api.ProcessInfo]{
	{gauge("orbital_process_up", "1 if the process is running, else 0.", procLabels...),
		func(p api.ProcessInfo) float64 { return boolValue(p.State == api.StateRunning) }},
	{gauge("orbital_process_memory_bytes", "Current linear memory size of the process.", procLabels...),
		func(p api.ProcessInfo) float64 { return float64(p.MemoryBytes) }},
	{counter("orbital_process_cpu_seconds_total", "Time the current incarnation spent executing guest code.", procLabels...),
		func(p api.ProcessInfo) float64 { return p.CPUTime.Seconds() }},
	{counter("orbital_process_messages_in_total", "Messages delivered to the process's mailbox.", procLabels...),
		func(p api.ProcessInfo) float64 { return float64(p.MsgsIn) }},
	{counter("orbital_process_messages_out_total", "Messages the process published, sent, requested or replied.", procLabels...),
		func(p api.ProcessInfo) float64 { return float64(p.MsgsOut) }},
	{counter("orbital_process_dropped_total", "Messages the process's full mailbox dropped.", procLabels...),
		func(p api.ProcessInfo) float64 { return float64(p.Dropped) }},
	{counter("orbital_process_restarts_total", "Times the supervisor restarted the process.", procLabels...),
		func(p api.ProcessInfo) float64 { return float64(p.Restarts) }},
	{gauge("orbital_process_mailbox_depth", "Messages queued in the process's mailbox now.", procLabels...),
		func(p api.ProcessInfo) float64 { return float64(p.Mailbox) }},
}

// netMetrics are the per-process network metrics, emitted only for
// processes granted sockets.
var netMetrics = []metric[api.ProcessInfo]{
	{counter("orbital_process_net_received_bytes_total", "Bytes the process read from its sockets.", procLabels...),
		netValue(func(n *api.NetStats) uint64 { return n.BytesIn })},
	{counter("orbital_process_net_sent_bytes_total", "Bytes the process wrote to its sockets.", procLabels...),
		netValue(func(n *api.NetStats) uint64 { return n.BytesOut })},
	{counter("orbital_process_net_accepted_total", "Connections the process accepted on its listeners.", procLabels...),
		netValue(func(n *api.NetStats) uint64 { return n.Accepted })},
	{counter("orbital_process_net_dialled_total", "Connections the process dialled to granted addresses.", procLabels...),
		netValue(func(n *api.NetStats) uint64 { return n.Dialled })},
	{counter("orbital_process_net_denied_total", "Dials the process's grant refused.", procLabels...),
		netValue(func(n *api.NetStats) uint64 { return n.Denied })},
	{gauge("orbital_process_net_sockets", "Sockets the process has open now.", procLabels...),
		netValue(func(n *api.NetStats) uint64 { return uint64(n.Sockets) })},
}

// netValue reads a network counter.
func netValue(f func(*api.NetStats) uint64) func(api.ProcessInfo) float64 {
	return func(p api.ProcessInfo) float64 { return float64(f(p.Net)) }
}

// states are the process states, each reported by orbital_processes even
// when no process is in it (so a count drops to 0 instead of vanishing).
var states = []api.State{api.StateIdle, api.StateStarting, api.StateRunning, api.StateExited, api.StateCrashed, api.StateKilled, api.StateStopped}

var processesFamily = gauge("orbital_processes", "Processes (and libraries) by state.", "state")

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

// busMetric is one bus family and its series, read from the totals.
type busMetric struct {
	family
	series []busSeries
}

// busSeries is one series of a bus family: its label values and value.
type busSeries struct {
	labels []string
	val    func(busTotals) float64
}

// one is the single series of a family without labels.
func one(val func(busTotals) float64) []busSeries { return []busSeries{{nil, val}} }

// via is the series of a family labelled via: by publish and by send.
func via(publish, send func(busTotals) float64) []busSeries {
	return []busSeries{{[]string{"publish"}, publish}, {[]string{"send"}, send}}
}

var busMetrics = []busMetric{
	{counter("orbital_bus_messages_published_total", "Accepted publishes, requests and replies."),
		one(func(t busTotals) float64 { return float64(t.Published) })},
	{counter("orbital_bus_messages_sent_total", "Accepted direct sends."),
		one(func(t busTotals) float64 { return float64(t.st.Direct.Sent) })},
	{counter("orbital_bus_messages_delivered_total", "Message copies queued in a receiver's mailbox, by publish (subjects) or send (direct).", "via"),
		via(func(t busTotals) float64 { return float64(t.Delivered) }, func(t busTotals) float64 { return float64(t.st.Direct.Delivered) })},
	{counter("orbital_bus_messages_dropped_total", "Message copies a full mailbox refused or evicted, by publish (subjects) or send (direct).", "via"),
		via(func(t busTotals) float64 { return float64(t.Dropped) }, func(t busTotals) float64 { return float64(t.st.Direct.Dropped) })},
	{counter("orbital_bus_messages_unrouted_total", "Publishes that found no subscriber."),
		one(func(t busTotals) float64 { return float64(t.Unrouted) })},
	{counter("orbital_bus_denied_total", "Bus operations refused by permissions (all kinds)."),
		one(func(t busTotals) float64 { return float64(t.st.Denied) })},
	{gauge("orbital_bus_subscriptions", "Live subscriptions."),
		one(func(t busTotals) float64 { return float64(t.st.Subscriptions) })},
	{gauge("orbital_bus_endpoints", "Endpoints connected to the bus."),
		one(func(t busTotals) float64 { return float64(len(t.st.Endpoints)) })},
}

var libMetrics = []metric[api.LibraryInfo]{
	{gauge("orbital_library_up", "1 if the library is running (not restarting or down), else 0.", libLabels...),
		func(l api.LibraryInfo) float64 { return boolValue(l.State == "running") }},
	{counter("orbital_library_calls_total", "Calls made to the library.", libLabels...),
		func(l api.LibraryInfo) float64 { return float64(l.Calls) }},
	{counter("orbital_library_failures_total", "Calls to the library that failed.", libLabels...),
		func(l api.LibraryInfo) float64 { return float64(l.Failures) }},
	{gauge("orbital_library_instances", "Wasm instances of the library running.", libLabels...),
		func(l api.LibraryInfo) float64 { return float64(l.Instances) }},
	{gauge("orbital_library_busy", "Instances of the library serving a call now.", libLabels...),
		func(l api.LibraryInfo) float64 { return float64(l.Busy) }},
	{counter("orbital_library_restarts_total", "Times the library's instances were restarted.", libLabels...),
		func(l api.LibraryInfo) float64 { return float64(l.Restarts) }},
}

// clusterMetrics are a clustered node's counters (api.ClusterStats).
var clusterMetrics = []metric[api.ClusterStats]{
	{counter("orbital_cluster_forwarded_total", "Bus messages carried to other nodes."),
		func(s api.ClusterStats) float64 { return float64(s.Forwarded) }},
	{counter("orbital_cluster_received_total", "Bus messages from other nodes delivered here."),
		func(s api.ClusterStats) float64 { return float64(s.Received) }},
	{counter("orbital_cluster_refused_total", "Messages from other nodes on subjects this node does not export."),
		func(s api.ClusterStats) float64 { return float64(s.Refused) }},
	{counter("orbital_cluster_dropped_total", "Cluster messages lost: no room, a held payload gone or unfetchable."),
		func(s api.ClusterStats) float64 { return float64(s.Dropped) }},
	{counter("orbital_cluster_calls_total", "Library calls sent to other nodes."),
		func(s api.ClusterStats) float64 { return float64(s.Calls) }},
	{counter("orbital_cluster_calls_served_total", "Library calls served for other nodes."),
		func(s api.ClusterStats) float64 { return float64(s.CallsServed) }},
	{counter("orbital_cluster_calls_refused_total", "Calls from other nodes for libraries not exported to the cluster."),
		func(s api.ClusterStats) float64 { return float64(s.CallsRefused) }},
	{counter("orbital_cluster_failovers_total", "Calls retried on another provider."),
		func(s api.ClusterStats) float64 { return float64(s.Failovers) }},
	{counter("orbital_cluster_reconnects_total", "Times the connection to NATS came back."),
		func(s api.ClusterStats) float64 { return float64(s.Reconnects) }},
	{gauge("orbital_cluster_connected", "1 while connected to NATS."),
		func(s api.ClusterStats) float64 { return boolValue(s.Connected) }},
}

var clusterNodesUp = gauge("orbital_cluster_nodes_up", "Nodes of the cluster up, this one included.")

var (
	registryModules  = gauge("orbital_registry_modules", "Module names installed in the device's registry.")
	registryVersions = gauge("orbital_registry_versions", "Module versions installed in the device's registry.")
)

// write reads the Source once and writes every family to e, each in one
// block (HELP, TYPE, then its series). A family without series is left
// out. The registry families are left out, and the error returned, if the
// registry cannot be read.
func (c *Collector) write(e *exposition) error {
	procs := c.src.Processes()
	writeRows(e, procMetrics, procs, procLabelValues)
	var netted []api.ProcessInfo
	for _, p := range procs {
		if p.Net != nil {
			netted = append(netted, p)
		}
	}
	writeRows(e, netMetrics, netted, procLabelValues)

	count := map[api.State]int{}
	for _, p := range procs {
		count[p.State]++
	}
	e.header(processesFamily)
	for _, s := range states {
		e.sample(processesFamily, float64(count[s]), string(s))
	}

	t := sumBus(c.src.BusStats())
	for _, m := range busMetrics {
		e.header(m.family)
		for _, s := range m.series {
			e.sample(m.family, s.val(t), s.labels...)
		}
	}

	writeRows(e, libMetrics, c.src.Libraries(), libLabelValues)

	if cs, ok := c.src.(ClusterSource); ok {
		if v, ok := cs.ClusterView(); ok {
			writeRows(e, clusterMetrics, []api.ClusterStats{v.Stats}, nil)
			up := 0
			for _, n := range v.Nodes {
				if n.State == api.NodeUp {
					up++
				}
			}
			e.header(clusterNodesUp)
			e.sample(clusterNodesUp, float64(up))
		}
	}

	modules, versions, err := c.src.RegistryCounts()
	if err != nil {
		return fmt.Errorf("metrics: registry counts: %w", err)
	}
	e.header(registryModules)
	e.sample(registryModules, float64(modules))
	e.header(registryVersions)
	e.sample(registryVersions, float64(versions))
	return nil
}

// writeRows writes each of ms as a family with one series per row, its
// label values given by labels (nil for a family without labels).
func writeRows[T any](e *exposition, ms []metric[T], rows []T, labels func(T) []string) {
	if len(rows) == 0 {
		return
	}
	for _, m := range ms {
		e.header(m.family)
		for _, r := range rows {
			var values []string
			if labels != nil {
				values = labels(r)
			}
			e.sample(m.family, m.val(r), values...)
		}
	}
}

// exposition accumulates the text exposition format.
type exposition struct {
	b []byte
}

// Write appends p, so that VictoriaMetrics/metrics can write to e.
func (e *exposition) Write(p []byte) (int, error) {
	e.b = append(e.b, p...)
	return len(p), nil
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
)

// header writes f's HELP and TYPE lines.
func (e *exposition) header(f family) {
	e.b = append(e.b, "# HELP "...)
	e.b = append(e.b, f.name...)
	e.b = append(e.b, ' ')
	e.b = append(e.b, helpEscaper.Replace(f.help)...)
	e.b = append(e.b, "\n# TYPE "...)
	e.b = append(e.b, f.name...)
	e.b = append(e.b, ' ')
	e.b = append(e.b, f.typ...)
	e.b = append(e.b, '\n')
}

// sample writes one series of f: values are its label values, in the
// order of f.labels. A label value is made valid UTF-8 and escaped.
func (e *exposition) sample(f family, v float64, values ...string) {
	e.b = append(e.b, f.name...)
	if len(f.labels) > 0 {
		e.b = append(e.b, '{')
		for i, l := range f.labels {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.b = append(e.b, l...)
			e.b = append(e.b, `="`...)
			e.b = append(e.b, labelEscaper.Replace(strings.ToValidUTF8(values[i], "\uFFFD"))...)
			e.b = append(e.b, '"')
		}
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, ' ')
	e.b = appendValue(e.b, v)
	e.b = append(e.b, '\n')
}

// appendValue appends v as a sample value: an integer in full (1000000,
// not 1e+06) while a float64 holds it exactly, else the shortest form.
func appendValue(b []byte, v float64) []byte {
	if v == math.Trunc(v) && math.Abs(v) <= 1<<53 {
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
