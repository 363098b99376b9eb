// Command peer is the cluster example's worker and asker (see
// docs/CLUSTER.md). Its role comes from its config:
//
//   - role = "asker": answers each request on asker.ask by asking
//     demo.echo with the same bytes and replying "asked: ANSWER". Where
//     echo runs — this node or another — is the host's business.
//   - role = "worker" (id = "b"): takes jobs on work.* as a member of the
//     queue group "workers" (one member in the whole cluster gets each
//     job) and answers requests on worker.ID.count with how many it took.
package main

import (
	"os"
	"strconv"
	"time"

	orbital "github.com/orbitalfoundation/orbital/sdk"
)

func main() {
	role, id := orbital.ConfigString("role", ""), orbital.ConfigString("id", "")
	switch role {
	case "asker":
		if _, err := orbital.Subscribe("asker.ask"); err != nil {
			fail("subscribe: " + err.Error())
		}
		serve(func(m orbital.Message) {
			if m.Kind != orbital.KindRequest {
				return
			}
			answer, err := orbital.Request("demo.echo", m.Data, 5*time.Second)
			if err != nil {
				_ = m.Respond([]byte("error: " + err.Error()))
				return
			}
			_ = m.Respond(append([]byte("asked: "), answer...))
		})
	case "worker":
		if id == "" {
			fail("a worker needs an id")
		}
		if _, err := orbital.QueueSubscribe("work.*", "workers"); err != nil {
			fail("subscribe: " + err.Error())
		}
		count := "worker." + id + ".count"
		if _, err := orbital.Subscribe(count); err != nil {
			fail("subscribe: " + err.Error())
		}
		jobs := 0
		serve(func(m orbital.Message) {
			switch {
			case m.Kind == orbital.KindRequest && m.Subject == count:
				_ = m.Respond([]byte(strconv.Itoa(jobs)))
			case m.Kind != orbital.KindRequest:
				jobs++
			}
		})
	default:
		fail("config role: want \"asker\" or \"worker\", got " + strconv.Quote(role))
	}
}

func serve(h func(orbital.Message)) {
	if err := orbital.Serve(h); err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	orbital.Log(orbital.LevelError, "peer: "+msg)
	os.Exit(1)
}
