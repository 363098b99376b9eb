package api

// ControlInfo is the content of $ORBITAL_HOME/node.json (mode 0600): how
// local clients reach a running node's control API.
type ControlInfo struct {
	Addr  string `json:"addr"`
	Token string `json:"token"`
	PID   int    `json:"pid"`
}

// RouteRequest is what a route-triggered process receives as request data
// (JSON) for each HTTP request to one of its routes; the reply's data is
// the response body.
type RouteRequest struct {
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Query  string            `json:"query,omitempty"`
	Header map[string]string `json:"header,omitempty"`
	Body   []byte            `json:"body,omitempty"` // base64 in JSON
}

// RouteSubject is the subject a route-triggered process receives its HTTP
// requests on, as bus requests.
func RouteSubject(process string) string { return "route." + process }
