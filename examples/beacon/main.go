// Command beacon says hello on stdout once a second and answers requests
// on beacon.ping with "pong N". It is the module the admin panel's browser
// test installs from a URL.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	orbital "github.com/orbitalfoundation/orbital/sdk"
)

const period = time.Second

func main() {
	os.Exit(run())
}

func run() int {
	fmt.Println("beacon: up; saying hello once a second")
	if _, err := os.Stat("/data"); err != nil {
		fmt.Println("beacon: no /data area granted; running without it")
	}
	for n, pings := 1, 0; ; {
		m, ok, err := orbital.Recv(period)
		switch {
		case errors.Is(err, orbital.ErrClosed):
			fmt.Println("beacon: stopping")
			return 0
		case err != nil:
			orbital.Log(orbital.LevelError, "beacon: "+err.Error())
			return 1
		case ok:
			pings++
			if m.Reply != "" {
				_ = m.Respond([]byte("pong " + strconv.Itoa(pings)))
			}
			if m.Blob != 0 {
				m.Blob.Release()
			}
			continue
		}
		fmt.Printf("beacon: hello #%d\n", n)
		n++
	}
}
