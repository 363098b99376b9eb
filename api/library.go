package api

// LibraryInfo is a snapshot of one library (one name and version) for
// listings: `orbital ps`, GET /api/v1/libraries, the metrics endpoint.
type LibraryInfo struct {
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Native    bool     `json:"native"`
	Remote    bool     `json:"remote,omitempty"` // runs on other nodes of the cluster
	Nodes     []string `json:"nodes,omitempty"`  // where a remote library runs
	Stateful  bool     `json:"stateful"`
	Exports   []string `json:"exports"`
	Instances int      `json:"instances"` // running wasm workers
	Busy      int      `json:"busy"`      // workers serving a call now
	Max       int      `json:"max"`       // most workers the pool may run
	Calls     uint64   `json:"calls"`
	Failures  uint64   `json:"failures"`
	Restarts  uint64   `json:"restarts"`
	State     string   `json:"state"` // running, restarting, down
	Reason    string   `json:"reason,omitempty"`
}

// Library states in LibraryInfo.State.
const (
	LibraryRunning    = "running"
	LibraryRestarting = "restarting"
	LibraryDown       = "down"
)
