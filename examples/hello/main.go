// Command hello is the smallest Orbital app: it greets, then echoes back the
// arguments and environment variables the host chose to hand it.
//
// Its manifest asks for args=true and env=["GREETING"], so under
// `orbital run` it sees its arguments and GREETING (if set) and nothing else
// of the host's environment. clock=true lets it print the time.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	fmt.Println("hello from orbital")

	// os.Args[0] is the program name the host passed (may be empty).
	fmt.Printf("args (%d):\n", len(os.Args))
	for i, a := range os.Args {
		fmt.Printf("  [%d] %q\n", i, a)
	}

	env := os.Environ()
	fmt.Printf("env (%d):\n", len(env))
	for _, kv := range env {
		fmt.Printf("  %s\n", kv)
	}

	if g, ok := os.LookupEnv("GREETING"); ok {
		fmt.Printf("GREETING says: %s\n", g)
	}

	// Without the clock capability the host may return a fixed/zero time.
	fmt.Printf("time: %s\n", time.Now().UTC().Format(time.RFC3339))
}
