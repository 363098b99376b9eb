package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/orbitalfoundation/orbital/api"
)

// FuzzWire: what other nodes send — announcements, error and timeout
// headers, served lists, held-body headers — never panics a decoder; an
// announcement that passes check has a valid node name and patterns; an
// encoded error decodes to its class.
func FuzzWire(f *testing.F) {
	good, _ := json.Marshal(announcement{Node: "b", Cluster: "t", Heartbeat: 1000,
		Interest: []api.Interest{{Pattern: "sensors.>"}, {Pattern: "jobs.*", Queue: "w"}}})
	f.Add(good, "permission denied: no", "1500", "a,b", "12", "abcdef0123456789abcdef01")
	f.Add([]byte(`{"node":"../x","heartbeat_ms":-1}`), "", "x", "", "-1", "zz")
	f.Add([]byte(`{"node":"b","heartbeat_ms":5,"interest":[{"pattern":"a..b"}]}`), ": :", "99999999999999", ",,", "9999999999999", "")
	f.Fuzz(func(t *testing.T, ann []byte, errh, timeout, servedList, dataLen, ref string) {
		var a announcement
		if json.Unmarshal(ann, &a) == nil && a.check() == nil {
			if ValidNodeName(a.Node) != nil {
				t.Fatalf("checked announcement with node %q", a.Node)
			}
		}
		err := decodeError("b", errh)
		if err == nil || !errors.Is(err, classOf(err)) {
			t.Fatalf("decodeError(%q) = %v", errh, err)
		}
		if back := decodeError("b", encodeError(err)); !errors.Is(back, classOf(err)) {
			t.Fatalf("error %v did not survive encode/decode: %v", err, back)
		}
		if d := parseTimeout(timeout, time.Second, time.Minute); d <= 0 || d > time.Minute {
			t.Fatalf("parseTimeout(%q) = %v", timeout, d)
		}
		_ = served(servedList, "w")
		_ = validRef(ref)
		c := &Cluster{}
		m := nats.NewMsg("x")
		m.Header.Set(hDataLen, dataLen)
		m.Data = []byte("0123456789")
		if data, blob, err := c.decode(context.Background(), m); err == nil && len(data)+len(blob) != len(m.Data) {
			t.Fatalf("decode split %q into %d+%d bytes", dataLen, len(data), len(blob))
		}
	})
}

func classOf(err error) error {
	for _, c := range classes {
		if errors.Is(err, c) {
			return c
		}
	}
	return api.ErrFailed
}
