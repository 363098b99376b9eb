package api

import "time"

// LogLine is one line of a process's log: its output, its guest log calls,
// or what the node did to it (GET /api/v1/processes/NAME/logs).
type LogLine struct {
	Seq    uint64    `json:"seq"` // increases across all processes; never reused
	Time   time.Time `json:"time"`
	Level  string    `json:"level"`  // DEBUG, INFO, WARN, ERROR
	Source string    `json:"source"` // stdout, stderr, guest or node
	Text   string    `json:"text"`   // the message, then the record's other attributes as k=v
}

// LogPage is a page of a process's log and the sequence number to ask
// after next time.
type LogPage struct {
	Lines []LogLine `json:"lines"`
	Next  uint64    `json:"next"`
}
