package api

import "time"

// NodeInfo is one node of a cluster as `orbital nodes`, GET
// /api/v1/nodes and the admin panel's Nodes table show it.
type NodeInfo struct {
	Name      string        `json:"name"`
	Self      bool          `json:"self,omitempty"`
	State     string        `json:"state"` // NodeUp, NodeDown, NodeLeft
	Version   string        `json:"version"`
	Started   time.Time     `json:"started"`
	LastSeen  time.Time     `json:"last_seen"`
	Health    NodeHealth    `json:"health"`
	Processes []NodeProcess `json:"processes"`
	Libraries []string      `json:"libraries"` // NAME@VERSION served to the cluster
	Exports   []string      `json:"exports"`   // bus subjects it shares
	Control   bool          `json:"control,omitempty"`
}

// Node states in NodeInfo.State.
const (
	NodeUp   = "up"   // heard of within three heartbeats
	NodeDown = "down" // missed three heartbeats (crashed, partitioned)
	NodeLeft = "left" // said goodbye
)

// NodeProcess is a process as its node announces it.
type NodeProcess struct {
	Name    string `json:"name"`
	Module  string `json:"module"`
	Version string `json:"version"`
	State   State  `json:"state"`
}

// Interest is one subscription a node takes from the cluster.
type Interest struct {
	Pattern string `json:"pattern"`
	Queue   string `json:"queue,omitempty"`
}

// ClusterStats are a node's cluster counters (GET /api/v1/nodes, /metrics).
type ClusterStats struct {
	Node         string `json:"node"`
	Cluster      string `json:"cluster"`
	Connected    bool   `json:"connected"`
	Server       string `json:"server"`    // the NATS server the node talks to
	Forwarded    uint64 `json:"forwarded"` // bus messages carried to other nodes
	Received     uint64 `json:"received"`  // bus messages from other nodes delivered here
	Refused      uint64 `json:"refused"`   // from other nodes, not exported here (or reserved)
	Dropped      uint64 `json:"dropped"`   // lost: no room, a held payload expired or could not be fetched
	Calls        uint64 `json:"calls"`     // library calls sent to other nodes
	CallsServed  uint64 `json:"calls_served"`
	CallsRefused uint64 `json:"calls_refused"` // calls for libraries not exported to the cluster
	Failovers    uint64 `json:"failovers"`     // calls retried on another provider
	Reconnects   uint64 `json:"reconnects"`
}

// ClusterView is GET /api/v1/nodes: this node's counters and every node
// it knows.
type ClusterView struct {
	Stats ClusterStats `json:"stats"`
	Nodes []NodeInfo   `json:"nodes"`
}
