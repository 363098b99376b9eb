package api

// BusStats is a snapshot of a kernel's bus counters, for `orbital ps`, the
// admin panel and the metrics endpoint.
type BusStats struct {
	// Subjects holds per-subject counters, sorted by subject. Replies to
	// requests are counted together under InboxSubjects, subjects beyond the
	// bus's tracking bound under OtherSubjects.
	Subjects []SubjectStats
	// Endpoints holds per-endpoint counters, sorted by name.
	Endpoints []EndpointStats
	// Direct counts direct-send traffic.
	Direct DirectStats
	// Subscriptions is the number of live subscriptions.
	Subscriptions int
	// Denied is the number of refused operations (all kinds).
	Denied uint64
}

// Names of the aggregate rows in BusStats.Subjects.
const (
	InboxSubjects = "_inbox.>"
	OtherSubjects = "(other)"
)

// SubjectStats counts the traffic on one subject.
type SubjectStats struct {
	// Subject is the subject, or InboxSubjects / OtherSubjects.
	Subject string
	// Published counts accepted publishes (and requests, and replies).
	Published uint64
	// Delivered counts copies queued in a receiver's mailbox.
	Delivered uint64
	// Dropped counts copies a full mailbox refused (or evicted others for).
	Dropped uint64
	// Unrouted counts publishes that found no subscriber.
	Unrouted uint64
	// Denied counts publishes and requests refused by permissions.
	Denied uint64
}

// DirectStats counts direct-send traffic.
type DirectStats struct {
	Sent      uint64 // sends that passed the checks
	Delivered uint64 // of those, queued in the receiver's mailbox
	Dropped   uint64 // refused by, or evicted from, a full mailbox
	Denied    uint64 // refused by SendTo permissions or a reserved label
}

// EndpointStats counts one bus endpoint's traffic (a process, or a host
// connection).
type EndpointStats struct {
	Name string // the endpoint's name
	ID   uint64 // the ID it was registered with
	// Out counts messages the endpoint published, sent, requested or replied.
	Out uint64
	// In counts messages queued in its mailbox plus replies it received.
	In uint64
	// Denied counts its refused operations.
	Denied uint64
	// Dropped counts messages for it that were dropped (mailbox full).
	Dropped uint64
	// Queued is its mailbox's current length.
	Queued int
	// Subscriptions is its number of live subscriptions.
	Subscriptions int
	// Patterns are the patterns it subscribes to, sorted; a queue
	// subscription reads "PATTERN (queue GROUP)".
	Patterns []string `json:",omitempty"`
}

// BusMessage is one message as the control API streams it to a subscriber
// (GET /api/v1/bus/subscribe, newline-delimited JSON).
type BusMessage struct {
	Subject string `json:"subject"`
	From    string `json:"from"`
	Reply   string `json:"reply"`
	Data    string `json:"data"`
}
