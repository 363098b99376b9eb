package supervisor

import (
	"math/rand/v2"
	"time"
)

// Clock is the supervisor's source of time: restart budgets, backoff delays
// and shutdown grace periods all go through it, so tests can inject a fake
// one and never sleep.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that sends on C once d has passed. A
	// duration ≤ 0 fires at once.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer from a Clock.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; after Stop no value is received
	// from C. It reports whether the timer was still pending.
	Stop() bool
}

// RealClock is the wall clock (time.Now, time.NewTimer).
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }

// Stop stops the timer. Since Go 1.23 a stopped time.Timer never delivers a
// stale value, so callers need not drain C.
func (r realTimer) Stop() bool { return r.t.Stop() }

// Backoff defaults.
const (
	BackoffBase = 10 * time.Millisecond
	BackoffMax  = 5 * time.Second
)

// DefaultBackoff is the restart delay used when Config.Backoff is nil:
// 10ms·2^(attempt-1), capped at 5s, minus up to 20% random jitter so that
// children which crashed together do not restart in lock step. attempt
// counts the consecutive automatic restarts of one child, starting at 1;
// values below 1 count as 1. Because the jitter is at most 20%, each delay
// is strictly longer than the previous one until the cap is reached.
func DefaultBackoff(attempt int) time.Duration {
	d := BackoffBase
	for i := 1; i < attempt && d < BackoffMax; i++ {
		d *= 2
	}
	d = min(d, BackoffMax)
	return d - time.Duration(rand.Int64N(int64(d/5)+1))
}
