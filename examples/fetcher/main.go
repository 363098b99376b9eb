// Command fetcher is a Go HTTP client in a wasm guest: every `every`
// (default 2s) it GETs `url` from its config, logs the answer and
// publishes it on demo.fetch. It waits between fetches in orbital.Recv, so
// a stop (its mailbox closing) ends it at once. Its
// connections go through orbital.Dial, so it reaches only the addresses
// the operator granted (manifest [capabilities.net] connect =
// ["127.0.0.1:*"] ∩ the node config's net): any other is refused by the kernel, and counted.
//
// With config hog = true it instead opens connections to url's host and
// keeps them, until the kernel refuses one (its open-file quota), prints
// how many it got and exits: the kernel keeps serving everyone else.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	orbital "github.com/orbitalfoundation/orbital/sdk"
)

// config is what the node config's config = { … } may set.
type config struct {
	URL   string // url, default http://127.0.0.1:8765/
	Hog   bool   // hog = true
	Count int    // count: stop after this many fetches (0: forever)
}

func main() {
	cfg := config{URL: orbital.ConfigString("url", "http://127.0.0.1:8765/"), Hog: orbital.ConfigString("hog", "") == "true"}
	every, err := time.ParseDuration(orbital.ConfigString("every", "2s"))
	if err != nil {
		fail(err)
	}
	if cfg.Count, err = strconv.Atoi(orbital.ConfigString("count", "0")); err != nil {
		fail(err)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		fail(err)
	}
	if cfg.Hog {
		hog(u.Host)
		return
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(_ context.Context, _, addr string) (net.Conn, error) { return orbital.Dial(addr) },
	}}
	for i := 1; cfg.Count == 0 || i <= cfg.Count; i++ {
		resp, err := client.Get(cfg.URL)
		switch {
		case errors.Is(err, orbital.ErrDenied):
			fmt.Printf("fetcher: %s: not granted\n", cfg.URL)
		case err != nil:
			fmt.Printf("fetcher: %s: %v\n", cfg.URL, err)
		default:
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			line := fmt.Sprintf("%s %s", resp.Status, strings.TrimSpace(string(body)))
			fmt.Printf("fetcher: %s: %s\n", cfg.URL, line)
			_ = orbital.Publish("demo.fetch", []byte(line))
		}
		if (cfg.Count == 0 || i < cfg.Count) && !wait(every) {
			fmt.Println("fetcher: stopped")
			return
		}
	}
}

// wait waits d, or until the kernel asks the process to stop (its mailbox
// closes: false). Without a bus connection it just sleeps.
func wait(d time.Duration) bool {
	for {
		_, ok, err := orbital.Recv(d)
		switch {
		case errors.Is(err, orbital.ErrClosed):
			return false
		case err != nil:
			time.Sleep(d)
			return true
		case !ok:
			return true // the time is up
		}
		// a message: nobody sends the fetcher any; keep waiting (a little longer)
	}
}

// hog opens connections until the kernel refuses one.
func hog(addr string) {
	var conns []net.Conn
	for {
		c, err := orbital.Dial(addr)
		if err != nil {
			fmt.Printf("fetcher: hogged %d connections, then: %v\n", len(conns), err)
			return
		}
		conns = append(conns, c)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fetcher:", err)
	os.Exit(1)
}
