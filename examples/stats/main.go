// Command stats counts the messages published under demo.> per subject and
// answers requests on demo.stats with the counts as a JSON object, such as
// {"demo.blob.ack":2,"demo.tick":41}.
//
// The kernel subscribes it to demo.> before it starts (its manifest's [bus]
// listen), so it also receives the requests on demo.stats: those are
// queries, answered and not counted. Its answers go to the requester's
// reply subject (_inbox.…), outside demo.>, so it never counts its own
// replies either. Messages sent to it directly are not counted.
package main

import (
	"encoding/json"
	"os"

	orbital "github.com/orbitalfoundation/orbital/sdk"
)

const query = "demo.stats"

func main() {
	// Subjects come interned from the SDK, so they are safe map keys and a
	// subject seen before costs no allocation.
	counts := make(map[string]uint64)
	err := orbital.Serve(func(m orbital.Message) {
		if m.Blob != 0 { // e.g. demo.blob: we hold a reference we do not need
			m.Blob.Release()
		}
		switch {
		case m.Kind == orbital.KindRequest && m.Subject == query:
			answer(m, counts)
		case m.Kind != orbital.KindSend:
			counts[m.Subject]++
		}
	})
	if err != nil { // ErrDenied: not connected to the bus
		orbital.Log(orbital.LevelError, "stats: "+err.Error())
		os.Exit(1)
	}
}

func answer(m orbital.Message, counts map[string]uint64) {
	body, err := json.Marshal(counts) // keys sorted; {} when nothing was seen
	if err != nil {
		orbital.Log(orbital.LevelError, "stats: "+err.Error())
		return
	}
	if err := m.Respond(body); err != nil {
		// ErrNotFound: the requester stopped waiting.
		orbital.Log(orbital.LevelDebug, "stats: reply: "+err.Error())
	}
}
