// Command webserver is a Go net/http server in a wasm guest. It opens no
// socket itself: the kernel listens on the address the operator granted
// (manifest [capabilities.net] listen = ["127.0.0.1:*"] ∩ the node
// config's net = ["tcp-listen://127.0.0.1:8765"]) and hands it the listener, which
// orbital.Listen wraps as a net.Listener.
//
//	GET  /        hello, with a request counter
//	POST /echo    the request body back
//	GET  /health  ok
//
// Asked to stop, the kernel closes the listener: Serve returns
// net.ErrClosed and the server exits 0.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"

	orbital "github.com/orbitalfoundation/orbital/sdk"
)

func main() {
	ln, err := orbital.Listen()
	if err != nil {
		fmt.Fprintln(os.Stderr, "webserver:", err)
		os.Exit(1)
	}
	var n atomic.Uint64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from wasm #%d\n", n.Add(1))
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write(body)
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	fmt.Printf("webserver: serving http://%s/\n", ln.Addr())
	srv := &http.Server{Handler: mux}
	err = srv.Serve(ln)
	if errors.Is(err, net.ErrClosed) { // the kernel is stopping us
		fmt.Println("webserver: stopped")
		return
	}
	fmt.Fprintln(os.Stderr, "webserver:", err)
	os.Exit(1)
}
