// Package testwait is for tests: wait for a condition to hold, polling,
// instead of sleeping for a guessed time. Tests never assert timings; the
// timeout only turns a hang into a failure that names what never happened.
package testwait

import (
	"testing"
	"time"
)

// Poll is how often For checks its condition.
const Poll = 5 * time.Millisecond

// For polls cond until it holds, failing tb with what after timeout.
func For(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(Poll)
	}
}
