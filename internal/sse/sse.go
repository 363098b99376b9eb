// Package sse writes Server-Sent Events: the admin panel's live views and
// the control API's log streams use it.
package sse

import (
	"fmt"
	"net/http"
	"time"
)

// Heartbeat is how often an idle stream gets a comment line, so a client
// that went away is noticed.
const Heartbeat = 15 * time.Second

// Start begins a Server-Sent Events answer on w: the headers (no caching,
// no proxy buffering), a reconnection hint of 2 s, flushed. It reports
// whether the client is still there.
func Start(w http.ResponseWriter, fl http.Flusher) bool {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return false
	}
	fl.Flush()
	return true
}

// Ping writes a comment line (a heartbeat) and flushes.
func Ping(w http.ResponseWriter, fl http.Flusher) error {
	if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
		return err
	}
	fl.Flush()
	return nil
}
