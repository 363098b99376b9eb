package cluster

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/subject"
)

// The cluster's NATS subjects, under Config.Prefix (P):
//
//	P.bus.SUBJECT              a bus message on an exported subject
//	P.reply.NODE.INBOX         the answer to a request NODE carried away
//	P.node.NODE                NODE's announcement (heartbeat, state)
//	P.sync                     "announce yourselves now" (a node joining)
//	P.lib.NODE.LIB             a call of library LIB on NODE
//	P.blob.NODE.ID             a chunk of a large payload NODE holds
//	P.ctl.NODE.OP              ps, start, stop on NODE
//
// Headers (docs/CLUSTER.md):
const (
	hNode    = "Orb-Node"     // the node a message comes from
	hFrom    = "Orb-From"     // its sender on that node
	hServed  = "Orb-Served"   // queue groups the origin node served already
	hTimeout = "Orb-Timeout"  // a request's or call's remaining time, ms
	hDataLen = "Orb-Data-Len" // the body is data ++ blob: data's length
	hRef     = "Orb-Ref"      // the body is held by the origin: its id
	hSize    = "Orb-Size"     // a held body's size
	hOffset  = "Orb-Offset"   // a chunk request's offset
	hFn      = "Orb-Fn"       // the library function called
	hVersion = "Orb-Version"  // the library version called
	hError   = "Orb-Error"    // a failed call: "class: message"
	hStatus  = "Status"       // NATS's own: 503 no responders
)

type subjects struct {
	bus, reply, node, sync, lib, blob, ctl string // prefixes, each ending in '.'
	syncSubj                               string
}

func newSubjects(prefix string) subjects {
	return subjects{
		bus: prefix + ".bus.", reply: prefix + ".reply.", node: prefix + ".node.",
		lib: prefix + ".lib.", blob: prefix + ".blob.", ctl: prefix + ".ctl.",
		syncSubj: prefix + ".sync",
	}
}

// classes are the api error classes a call's error travels as.
var classes = []error{api.ErrPermissionDenied, api.ErrLimit, api.ErrNotFound, api.ErrClosed, api.ErrInvalid,
	api.ErrTooLarge, api.ErrTimeout, api.ErrExists, api.ErrCycle, api.ErrVersion, api.ErrCrashed,
	api.ErrFailed, api.ErrUnavailable, api.ErrBadModule, api.ErrBadManifest}

// encodeError writes err as "class: message".
func encodeError(err error) string {
	class := "call failed"
	for _, c := range classes {
		if errors.Is(err, c) {
			class = c.Error()
			break
		}
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	return class + ": " + msg
}

// remoteError is an error that came from another node: its class (for
// errors.Is) and the other side's message.
type remoteError struct {
	class error
	node  string
	msg   string
}

func (e *remoteError) Error() string { return e.msg + " (on node " + e.node + ")" }
func (e *remoteError) Unwrap() error { return e.class }

// decodeError turns an Orb-Error header back into an error.
func decodeError(node, h string) error {
	class, msg, _ := strings.Cut(h, ": ")
	for _, c := range classes {
		if c.Error() == class {
			return &remoteError{class: c, node: node, msg: msg}
		}
	}
	return &remoteError{class: api.ErrFailed, node: node, msg: h}
}

// timeoutHeader is the time left until dl in ms ("" for none).
func timeoutHeader(dl time.Time) string {
	if dl.IsZero() {
		return ""
	}
	ms := time.Until(dl).Milliseconds()
	if ms < 1 {
		ms = 1
	}
	return strconv.FormatInt(ms, 10)
}

// parseTimeout reads an Orb-Timeout header, bounded by max; def when absent
// or malformed.
func parseTimeout(h string, def, max time.Duration) time.Duration {
	ms, err := strconv.ParseInt(h, 10, 64)
	if err != nil || ms <= 0 {
		return def
	}
	if ms > int64(max/time.Millisecond) { // also before multiplying: a huge header must not overflow
		return max
	}
	return time.Duration(ms) * time.Millisecond
}

// announcement is what a node says of itself on P.node.NODE, at every
// heartbeat and on every change.
type announcement struct {
	Node      string                `json:"node"`
	Cluster   string                `json:"cluster"`
	Version   string                `json:"version"`
	Started   time.Time             `json:"started"`
	Seq       uint64                `json:"seq"`
	Leaving   bool                  `json:"leaving,omitempty"`
	Heartbeat int64                 `json:"heartbeat_ms"`
	Control   bool                  `json:"control,omitempty"`
	Health    api.NodeHealth        `json:"health"`
	Processes []api.NodeProcess     `json:"processes"`
	Libraries []orbital.LibraryDecl `json:"libraries"`
	Exports   []string              `json:"exports"`
	Interest  []api.Interest        `json:"interest"`
}

// maxAnnouncement bounds an announcement we accept.
const maxAnnouncement = 4 << 20

func (a *announcement) check() error {
	if err := ValidNodeName(a.Node); err != nil {
		return err
	}
	if a.Heartbeat <= 0 || a.Heartbeat > int64(time.Minute/time.Millisecond) {
		return fmt.Errorf("%w: heartbeat %d ms", api.ErrInvalid, a.Heartbeat)
	}
	for _, in := range a.Interest {
		if err := subject.ValidPattern(in.Pattern); err != nil {
			return err
		}
		if in.Queue != "" && subject.Valid(in.Queue) != nil {
			return fmt.Errorf("%w: queue %q", api.ErrInvalid, in.Queue)
		}
	}
	return nil
}
