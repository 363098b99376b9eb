package librarytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/engine"
	"github.com/orbitalfoundation/orbital/internal/library"
)

// Name is the library name the suite registers the conformance library
// under; Version is the version it asks for first.
const (
	Name    = "conform"
	Version = "1.2.3"
)

// Bounds of the timing checks. They are generous (the race detector, two
// cores): what they catch is a deadline that did not propagate, for which
// a call runs for the full SleepLong.
const (
	// SleepLong is how long the deadline checks ask sleep to wait.
	SleepLong = 20 * time.Second
	// DeadlineSlack is how long after its deadline a call must have
	// returned.
	DeadlineSlack = 4 * time.Second
	// RecoverWithin bounds a call made while the library restarts.
	RecoverWithin = 10 * time.Second
)

// Concurrency of the concurrent checks: Callers goroutines making
// CallsEach calls each.
const (
	Callers   = 16
	CallsEach = 50
)

// Suite runs every check against the implementation that factory makes;
// name labels it (the subtests are name/check).
func Suite(t *testing.T, name string, factory Factory) {
	t.Run(name, func(t *testing.T) {
		for _, c := range checks {
			t.Run(c.name, func(t *testing.T) {
				c.run(t, &subject{t: t, factory: factory, reg: library.NewRegistry(MaxCall)})
			})
		}
	})
}

var checks = []struct {
	name string
	run  func(*testing.T, *subject)
}{
	{"Exports", checkExports},
	{"EchoSizes", checkEchoSizes},
	{"ResultSizes", checkResultSizes},
	{"UnknownFunction", checkUnknownFunction},
	{"ApplicationError", checkApplicationError},
	{"CrashThenRecover", checkCrash},
	{"DeadlinePropagates", checkDeadline},
	{"CallerCancelled", checkCancelled},
	{"ArgumentShape", checkArgumentShape},
	{"ResultShape", checkResultShape},
	{"Versions", checkVersions},
	{"Permission", checkPermission},
	{"Cycle", checkCycle},
	{"Concurrent", checkConcurrent},
	{"ConcurrentWithCrashes", checkConcurrentCrashes},
	{"Counters", checkCounters},
	{"Removal", checkRemoval},
}

// subject is one check's registry and the libraries made in it.
type subject struct {
	t       *testing.T
	factory Factory
	reg     *library.Registry
}

// make makes the conformance library name@version in the subject's registry.
func (s *subject) make(name, version string) *library.Library {
	s.t.Helper()
	lib := s.factory(s.t, s.reg, name, version)
	if lib == nil {
		s.t.Fatalf("factory returned no library for %s@%s", name, version)
	}
	if lib.Name() != name || lib.Version().String() != version {
		s.t.Fatalf("factory made %s@%s, want %s@%s", lib.Name(), lib.Version(), name, version)
	}
	if got, err := s.reg.Resolve(name, mustConstraint(s.t, "="+version)); err != nil || got != lib {
		s.t.Fatalf("factory did not register %s@%s: %v", name, version, err)
	}
	return lib
}

func (s *subject) lib() *library.Library { return s.make(Name, Version) }

// call calls fn as the host (Registry.Call) with a deadline of RecoverWithin.
func (s *subject) call(fn string, args []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), RecoverWithin)
	defer cancel()
	return s.reg.Call(ctx, Name, fn, args)
}

// bind binds Name.fn for any version.
func (s *subject) bind(fn string) *library.Binding {
	s.t.Helper()
	b, err := s.reg.Bind(Name, fn, nil)
	if err != nil {
		s.t.Fatalf("bind %s.%s: %v", Name, fn, err)
	}
	return b
}

// host is the root of the chains of the suite's calls.
var host = &engine.Frame{Name: "librarytest"}

// invoke calls b the way the engine does: an engine.Call with Due (0: no
// deadline) and Chain (nil: the suite as the host process). The result is
// a copy.
func invoke(b *library.Binding, args []byte, due time.Duration, chain *engine.Frame) ([]byte, error) {
	c := engine.NewCall(context.Background(), args)
	if due > 0 {
		c.Due = engine.Now() + int64(due)
	}
	if chain == nil {
		chain = host
	}
	c.Chain = chain
	if err := b.Invoke(c); err != nil {
		return nil, err
	}
	return bytes.Clone(c.Result()), nil
}

func mustConstraint(t *testing.T, s string) *semver.Constraints {
	t.Helper()
	c, err := semver.NewConstraint(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pattern returns n bytes that differ from one seed to the next.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed*13 + i>>8)
	}
	return b
}

// wantClass fails unless err wraps class.
func wantClass(t *testing.T, what string, err error, class error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("%s: got error %v, want %v", what, err, class)
	}
}

// wantEcho fails unless echo answers args.
func (s *subject) wantEcho(what string, args []byte) {
	s.t.Helper()
	got, err := s.call("echo", args)
	if err != nil || !bytes.Equal(got, args) {
		s.t.Fatalf("%s: echo of %d bytes: got %d bytes (equal %v), error %v", what, len(args), len(got), bytes.Equal(got, args), err)
	}
}

// appMessage returns the message of an application error, failing unless
// err is one.
func appMessage(t *testing.T, what string, err error) string {
	t.Helper()
	var ce *engine.CallError
	if !errors.Is(err, api.ErrFailed) || !errors.As(err, &ce) {
		t.Fatalf("%s: got %v, want an application error (api.ErrFailed, *engine.CallError)", what, err)
	}
	return ce.Message
}

func checkExports(t *testing.T, s *subject) {
	lib := s.lib()
	got := lib.Exports()
	if names := lib.ExportNames(); len(names) != len(Exports) {
		t.Errorf("exports %v, want exactly the %d of the contract", names, len(Exports))
	}
	for _, want := range Exports {
		i := slices.IndexFunc(got, func(e library.Export) bool { return e.Name == want.Name })
		if i < 0 {
			t.Errorf("export %s missing", want.Name)
			continue
		}
		if g, w := got[i].Args.String(), want.Args.String(); g != w {
			t.Errorf("%s: args shape %s, want %s", want.Name, g, w)
		}
		if g, w := got[i].Result.String(), want.Result.String(); g != w {
			t.Errorf("%s: result shape %s, want %s", want.Name, g, w)
		}
	}
	if in := lib.Info(); in.Name != Name || in.Version != Version {
		t.Errorf("info names %s@%s", in.Name, in.Version)
	}
}

func checkEchoSizes(t *testing.T, s *subject) {
	s.lib()
	b := s.bind("echo")
	for i, n := range []int{0, 1, 2, 100, 4095, 4096, 4097, 64 << 10, 64<<10 + 1, MaxCall / 2, MaxCall - 1, MaxCall} {
		args := pattern(n, i)
		s.wantEcho(fmt.Sprintf("Registry.Call, %d bytes", n), args)
		got, err := invoke(b, args, 0, nil) // no deadline at all
		if err != nil || !bytes.Equal(got, args) {
			t.Fatalf("Binding.Invoke, %d bytes: got %d bytes (equal %v), error %v", n, len(got), bytes.Equal(got, args), err)
		}
	}
	over := pattern(MaxCall+1, 1)
	_, err := s.call("echo", over)
	wantClass(t, "Registry.Call, one byte over the maximum", err, api.ErrTooLarge)
	_, err = invoke(b, over, 0, nil)
	wantClass(t, "Binding.Invoke, one byte over the maximum", err, api.ErrTooLarge)
	_, err = s.call("echo", make([]byte, 4*MaxCall))
	wantClass(t, "four times the maximum", err, api.ErrTooLarge)
	s.wantEcho("after refusals", []byte("still here"))
}

func checkResultSizes(t *testing.T, s *subject) {
	s.lib()
	for _, n := range []int{0, 1, 251, 252, 64 << 10, MaxCall} {
		got, err := s.call("fill", []byte(strconv.Itoa(n)))
		if err != nil || !bytes.Equal(got, Fill(n)) {
			t.Fatalf("fill %d: got %d bytes (equal %v), error %v", n, len(got), bytes.Equal(got, Fill(n)), err)
		}
	}
	_, err := s.call("fill", []byte(strconv.Itoa(MaxCall+1)))
	wantClass(t, "a result one byte over the maximum", err, api.ErrTooLarge)
	for _, bad := range []string{"", "x", "-1", "1e3", "1234567890"} {
		_, err := s.call("fill", []byte(bad))
		appMessage(t, fmt.Sprintf("fill %q", bad), err)
	}
	s.wantEcho("after a refused result", []byte("ok"))
}

func checkUnknownFunction(t *testing.T, s *subject) {
	s.lib()
	_, err := s.reg.Bind(Name, "nosuch", nil)
	wantClass(t, "Bind of an unknown function", err, api.ErrNotFound)
	_, err = s.call("nosuch", []byte("x"))
	wantClass(t, "Registry.Call of an unknown function", err, api.ErrNotFound)
	_, err = s.call("Echo", []byte("x"))
	wantClass(t, "function names are case-sensitive", err, api.ErrNotFound)
	_, err = s.reg.Call(context.Background(), "nosuchlib", "echo", nil)
	wantClass(t, "an unknown library", err, api.ErrNotFound)
	_, err = s.reg.Resolve("nosuchlib", nil)
	wantClass(t, "Resolve of an unknown library", err, api.ErrNotFound)
	s.wantEcho("after unknown functions", []byte("x"))
}

func checkApplicationError(t *testing.T, s *subject) {
	s.lib()
	long := string(bytes.Repeat([]byte("0123456789abcdef"), engine.MaxLogLine/16))
	for _, msg := range []string{"out of cheese", "", "multi\nline message: with colons", "ünïcödé", long} {
		_, err := s.call("fail", []byte(msg))
		if got := appMessage(t, fmt.Sprintf("fail %q", truncate([]byte(msg))), err); got != msg {
			t.Fatalf("fail %q: message %q", truncate([]byte(msg)), truncate([]byte(got)))
		}
		if errors.Is(err, api.ErrCrashed) || errors.Is(err, api.ErrTimeout) {
			t.Fatalf("fail %q: an application error of another class too: %v", msg, err)
		}
	}
	_, err := invoke(s.bind("fail"), []byte("through Invoke"), RecoverWithin, nil)
	if got := appMessage(t, "Binding.Invoke of fail", err); got != "through Invoke" {
		t.Fatalf("message %q", got)
	}
	_, err = s.call("sleep", []byte("soon"))
	appMessage(t, "sleep with a malformed number", err)
	s.wantEcho("after application errors", []byte("fine"))
}

func checkCrash(t *testing.T, s *subject) {
	s.lib()
	crash, echo := s.bind("crash"), s.bind("echo")
	for round := range 3 {
		_, err := s.call("crash", nil)
		wantClass(t, fmt.Sprintf("round %d: crash", round), err, api.ErrCrashed)
		start := time.Now()
		s.wantEcho(fmt.Sprintf("round %d: after a crash", round), []byte(fmt.Sprintf("round %d", round)))
		if d := time.Since(start); d > RecoverWithin {
			t.Fatalf("round %d: recovered after %v", round, d)
		}
		// Bindings made before the crash still work.
		_, err = invoke(crash, []byte("x"), RecoverWithin, nil)
		wantClass(t, fmt.Sprintf("round %d: crash through a binding", round), err, api.ErrCrashed)
		if got, err := invoke(echo, []byte("bound"), RecoverWithin, nil); err != nil || string(got) != "bound" {
			t.Fatalf("round %d: echo through a binding after a crash: %q %v", round, got, err)
		}
	}
}

func checkDeadline(t *testing.T, s *subject) {
	s.lib()
	long := []byte(strconv.Itoa(int(SleepLong / time.Millisecond)))
	timedOut := func(what string, err error, start time.Time, deadline time.Duration) {
		t.Helper()
		if !errors.Is(err, api.ErrTimeout) && !errors.Is(err, api.ErrLimit) {
			t.Fatalf("%s: got %v, want api.ErrTimeout (or api.ErrLimit)", what, err)
		}
		if d := time.Since(start); d > deadline+DeadlineSlack {
			t.Fatalf("%s: returned %v after the call, deadline %v", what, d, deadline)
		}
	}

	// A short sleep within the deadline really sleeps and succeeds.
	start := time.Now()
	got, err := s.call("sleep", []byte("30"))
	if err != nil || string(got) != "30" {
		t.Fatalf("sleep 30ms: %q %v", got, err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("sleep 30ms returned after %v: it did not sleep", d)
	}

	// engine.Call.Due, as a wasm caller's call carries it.
	b := s.bind("sleep")
	start = time.Now()
	_, err = invoke(b, long, 200*time.Millisecond, nil)
	timedOut("Binding.Invoke with Due in 200ms", err, start, 200*time.Millisecond)
	s.wantEcho("after a timeout", []byte("awake"))

	// The host caller's context deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = s.reg.Call(ctx, Name, "sleep", long)
	timedOut("Registry.Call with a context deadline in 200ms", err, start, 200*time.Millisecond)
	s.wantEcho("after a second timeout", []byte("awake again"))

	// A deadline a sleep fits in is left alone.
	start = time.Now()
	if got, err := invoke(b, []byte("20"), 5*time.Second, nil); err != nil || string(got) != "20" {
		t.Fatalf("sleep 20ms with a 5s deadline: %q %v", got, err)
	}
}

// checkCancelled: a host caller whose context is cancelled (no deadline)
// is answered promptly — within engine.AbandonGrace, the time a callee
// gets once its caller is gone — with api.ErrClosed (the caller was
// stopped) or api.ErrTimeout (the callee was stopped), not a success and
// not an application error.
func checkCancelled(t *testing.T, s *subject) {
	s.lib()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := s.reg.Call(ctx, Name, "sleep", []byte(strconv.Itoa(int(SleepLong/time.Millisecond))))
	if !errors.Is(err, api.ErrClosed) && !errors.Is(err, api.ErrTimeout) {
		t.Errorf("cancelled caller: got %v, want api.ErrClosed or api.ErrTimeout", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond+engine.AbandonGrace+DeadlineSlack {
		t.Errorf("cancelled caller answered after %v", d)
	}
	s.wantEcho("after a cancelled caller", []byte("next"))
}

func checkArgumentShape(t *testing.T, s *subject) {
	lib := s.lib()
	for _, ok := range []string{`{"n":42}`, `{"n": -7}`, " {\"n\":0} "} {
		got, err := s.call("shaped", []byte(ok))
		if err != nil || string(got) != ok {
			t.Fatalf("shaped %s: %q %v", ok, got, err)
		}
	}
	b := s.bind("shaped")
	for _, bad := range []string{``, `null`, `42`, `"n"`, `[1]`, `not json`, `{}`, `{"n":"x"}`, `{"n":1.5}`, `{"n":1,"m":2}`, `{"n":1}{"n":2}`, `{"n":1`} {
		before := lib.Info().Calls
		_, err := s.call("shaped", []byte(bad))
		wantClass(t, fmt.Sprintf("shaped %q", bad), err, api.ErrInvalid)
		if errors.Is(err, api.ErrFailed) {
			t.Fatalf("shaped %q reached the implementation: %v", bad, err)
		}
		_, err = invoke(b, []byte(bad), RecoverWithin, nil)
		wantClass(t, fmt.Sprintf("Binding.Invoke of shaped %q", bad), err, api.ErrInvalid)
		if n := lib.Info().Calls - before; n != 0 {
			t.Fatalf("shaped %q: %d calls were dispatched to the implementation", bad, n)
		}
	}
}

func checkResultShape(t *testing.T, s *subject) {
	lib := s.lib()
	if got, err := s.call("badresult", []byte(`{"n":7}`)); err != nil || string(got) != `{"n":7}` {
		t.Fatalf("badresult with a good result: %q %v", got, err)
	}
	for _, bad := range []string{``, `oops`, `{"n":"x"}`, `{"m":1}`, `[{"n":1}]`} {
		before := lib.Info()
		_, err := s.call("badresult", []byte(bad))
		wantClass(t, fmt.Sprintf("badresult %q", bad), err, api.ErrInvalid)
		after := lib.Info()
		if after.Calls-before.Calls != 1 || after.Failures-before.Failures != 1 {
			t.Fatalf("badresult %q: calls +%d failures +%d, want +1 +1", bad, after.Calls-before.Calls, after.Failures-before.Failures)
		}
	}
	s.wantEcho("after bad results", []byte("ok"))
}

func checkVersions(t *testing.T, s *subject) {
	v123 := s.make(Name, "1.2.3")
	resolves := func(rng string, want *library.Library) {
		t.Helper()
		var c *semver.Constraints
		if rng != "" {
			c = mustConstraint(t, rng)
		}
		got, err := s.reg.Resolve(Name, c)
		if err != nil || got != want {
			t.Fatalf("Resolve %q: %v %v, want %s", rng, got, err, want.Version())
		}
		b, err := s.reg.Bind(Name, "echo", c)
		if err != nil || b.Library() != want {
			t.Fatalf("Bind %q: %v", rng, err)
		}
	}
	refused := func(rng string) {
		t.Helper()
		_, err := s.reg.Bind(Name, "echo", mustConstraint(t, rng))
		wantClass(t, fmt.Sprintf("Bind %q", rng), err, api.ErrVersion)
		_, err = s.reg.Resolve(Name, mustConstraint(t, rng))
		wantClass(t, fmt.Sprintf("Resolve %q", rng), err, api.ErrVersion)
	}
	for _, rng := range []string{"", "^1", "^1.2", "~1.2.3", "=1.2.3", ">=1.0.0, <2", "1.x"} {
		resolves(rng, v123)
	}
	for _, rng := range []string{"^2", "^1.3", "<1.2.3", "~1.2.4", "^0.1"} {
		refused(rng)
	}
	// Through a caller's linker: the Permit's range applies.
	_, err := s.reg.Linker(func(string, string) (*semver.Constraints, error) { return mustConstraint(t, "^2"), nil }).Bind(Name, "echo")
	wantClass(t, "Linker.Bind with ^2", err, api.ErrVersion)
	if err := s.reg.Add(v123); !errors.Is(err, api.ErrExists) {
		t.Fatalf("adding 1.2.3 twice: %v, want api.ErrExists", err)
	}

	// A second major version: the highest serves the unconstrained calls,
	// ^1 still gets 1.2.3.
	caret1, err := s.reg.Bind(Name, "echo", mustConstraint(t, "^1"))
	if err != nil {
		t.Fatal(err)
	}
	v200 := s.make(Name, "2.0.0")
	resolves("", v200)
	resolves("^2", v200)
	resolves("^1", v123)
	calls := func() (uint64, uint64) { return v123.Info().Calls, v200.Info().Calls }
	a1, a2 := calls()
	if got, err := invoke(caret1, []byte("one"), RecoverWithin, nil); err != nil || string(got) != "one" {
		t.Fatalf("^1 binding: %q %v", got, err)
	}
	s.wantEcho("any version", []byte("two"))
	if b1, b2 := calls(); b1-a1 != 1 || b2-a2 != 1 {
		t.Fatalf("1.2.3 served %d calls and 2.0.0 %d, want 1 each", b1-a1, b2-a2)
	}

	// A newer compatible version replaces the old one under a live binding.
	v130 := s.make(Name, "1.3.0")
	before := v130.Info().Calls
	if got, err := invoke(caret1, []byte("upgraded"), RecoverWithin, nil); err != nil || string(got) != "upgraded" {
		t.Fatalf("^1 binding after adding 1.3.0: %q %v", got, err)
	}
	if caret1.Library() != v130 || v130.Info().Calls-before != 1 {
		t.Fatalf("the ^1 binding did not move to 1.3.0 (now %s)", caret1.Library().Version())
	}
	// Withdrawing every ^1 version: the live binding reports it.
	s.reg.Remove(v130)
	s.reg.Remove(v123)
	_, err = invoke(caret1, []byte("x"), RecoverWithin, nil)
	wantClass(t, "^1 binding once no 1.x is left", err, api.ErrVersion)
	s.wantEcho("2.0.0 after removing 1.x", []byte("still"))
}

func checkPermission(t *testing.T, s *subject) {
	s.lib()
	deny := s.reg.Linker(func(lib, fn string) (*semver.Constraints, error) {
		if fn == "echo" {
			return nil, nil
		}
		return nil, fmt.Errorf("%s.%s: %w", lib, fn, api.ErrPermissionDenied)
	})
	_, err := deny.Bind(Name, "fail")
	wantClass(t, "a function the permit denies", err, api.ErrPermissionDenied)
	tg, err := deny.Bind(Name, "echo")
	if err != nil {
		t.Fatalf("a function the permit allows: %v", err)
	}
	c := engine.NewCall(context.Background(), []byte("allowed"))
	c.Chain = host
	if err := tg.Invoke(c); err != nil || string(c.Result()) != "allowed" {
		t.Fatalf("call through the linker: %q %v", c.Result(), err)
	}
	_, err = deny.Bind("nosuchlib", "echo")
	wantClass(t, "an unknown library through the linker", err, api.ErrNotFound)
}

func checkCycle(t *testing.T, s *subject) {
	lib := s.lib()
	b := s.bind("echo")
	lf := func(name string, parent *engine.Frame) *engine.Frame {
		return &engine.Frame{Name: name, Library: true, Parent: parent}
	}
	before := lib.Info().Calls
	for _, chain := range []*engine.Frame{
		lf(Name, host),                            // the library calling itself
		lf("other", lf(Name, host)),               // conform → other → conform
		lf("a", lf("b", lf(Name, lf("c", host)))), // deeper
	} {
		_, err := invoke(b, []byte("x"), RecoverWithin, chain)
		wantClass(t, "call chain "+chain.String(), err, api.ErrCycle)
	}
	if n := lib.Info().Calls - before; n != 0 {
		t.Fatalf("%d refused cycles were dispatched to the implementation", n)
	}
	for _, chain := range []*engine.Frame{
		lf("other", host),
		{Name: Name, Parent: host}, // a process of the same name is not the library
		lf("a", lf("b", host)),
	} {
		if got, err := invoke(b, []byte("x"), RecoverWithin, chain); err != nil || string(got) != "x" {
			t.Fatalf("call chain %s (no cycle): %q %v", chain, got, err)
		}
	}
}

// hammer runs Callers goroutines that each make CallsEach calls of their
// own (echo with distinct payloads, and fail with distinct messages),
// half through Registry.Call and half through their own Binding, and
// reports every wrong answer. With crash, caller 0 makes every tenth of
// its calls a crash instead, while the others go on.
func (s *subject) hammer(t *testing.T, crash bool) {
	var wg sync.WaitGroup
	errs := make(chan error, Callers)
	for g := range Callers {
		echo, err := s.reg.Bind(Name, "echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		fail, err := s.reg.Bind(Name, "fail", nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range CallsEach {
				want := append([]byte(fmt.Sprintf("caller %d call %d:", g, n)), pattern((g*CallsEach+n)%3000, g)...)
				var got []byte
				var err error
				switch {
				case crash && g == 0 && n%10 == 4:
					if _, err := s.call("crash", nil); !errors.Is(err, api.ErrCrashed) {
						errs <- fmt.Errorf("caller %d call %d: crash: got %v, want api.ErrCrashed", g, n, err)
						return
					}
					continue
				case n%10 == 9:
					msg := fmt.Sprintf("failure of caller %d call %d", g, n)
					if g%2 == 0 {
						_, err = s.call("fail", []byte(msg))
					} else {
						_, err = invoke(fail, []byte(msg), RecoverWithin, nil)
					}
					var ce *engine.CallError
					if !errors.As(err, &ce) || !errors.Is(err, api.ErrFailed) || ce.Message != msg {
						errs <- fmt.Errorf("caller %d call %d: fail: got %v, want %q", g, n, err, msg)
						return
					}
					continue
				case g%2 == 0:
					got, err = s.call("echo", want)
				default:
					got, err = invoke(echo, want, RecoverWithin, nil)
				}
				if err != nil || !bytes.Equal(got, want) {
					errs <- fmt.Errorf("caller %d call %d: echo: got %d bytes %q… (%v), want %d bytes %q…", g, n, len(got), truncate(got), err, len(want), truncate(want))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func truncate(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func checkConcurrent(t *testing.T, s *subject) {
	lib := s.lib()
	before := lib.Info()
	s.hammer(t, false)
	after := lib.Info()
	n := uint64(Callers * CallsEach)
	if got := after.Calls - before.Calls; got != n {
		t.Errorf("calls moved by %d, want %d", got, n)
	}
	if got, want := after.Failures-before.Failures, n/10; got != want {
		t.Errorf("failures moved by %d, want %d (the fail calls)", got, want)
	}
}

func checkConcurrentCrashes(t *testing.T, s *subject) {
	lib := s.lib()
	before := lib.Info()
	s.hammer(t, true)
	after := lib.Info()
	n := uint64(Callers * CallsEach)
	if got := after.Calls - before.Calls; got != n {
		t.Errorf("calls moved by %d, want %d", got, n)
	}
	if got, want := after.Failures-before.Failures, n/10+CallsEach/10; got != want {
		t.Errorf("failures moved by %d, want %d (the fail and crash calls)", got, want)
	}
	s.wantEcho("after concurrent crashes", []byte("survived"))
}

func checkCounters(t *testing.T, s *subject) {
	lib := s.lib()
	step := func(what, fn string, args []byte, calls, failures uint64) {
		t.Helper()
		before := lib.Info()
		_, _ = s.call(fn, args)
		after := lib.Info()
		if dc, df := after.Calls-before.Calls, after.Failures-before.Failures; dc != calls || df != failures {
			t.Fatalf("%s: calls +%d failures +%d, want +%d +%d", what, dc, df, calls, failures)
		}
	}
	step("echo", "echo", []byte("x"), 1, 0)
	step("fail", "fail", []byte("x"), 1, 1)
	step("crash", "crash", nil, 1, 1)
	step("echo after the crash", "echo", []byte("x"), 1, 0)
	step("fill", "fill", []byte("3"), 1, 0)
	step("a result too large", "fill", []byte(strconv.Itoa(MaxCall+1)), 1, 1)
	start := time.Now()
	c := engine.NewCall(context.Background(), []byte("5000"))
	c.Due, c.Chain = engine.Now()+int64(100*time.Millisecond), host
	before := lib.Info()
	_ = s.bind("sleep").Invoke(c)
	if after := lib.Info(); after.Calls-before.Calls != 1 || after.Failures-before.Failures != 1 {
		t.Fatalf("a timed out sleep: calls +%d failures +%d, want +1 +1", after.Calls-before.Calls, after.Failures-before.Failures)
	}
	if time.Since(start) > 100*time.Millisecond+DeadlineSlack {
		t.Fatalf("timed out sleep took %v", time.Since(start))
	}
	if in := lib.Info(); in.Calls < 7 || in.Failures < 4 {
		t.Fatalf("info %+v", in)
	}
}

func checkRemoval(t *testing.T, s *subject) {
	lib := s.lib()
	b := s.bind("echo")
	s.wantEcho("before removal", []byte("here"))
	s.reg.Remove(lib)
	for _, l := range s.reg.Libraries() {
		if l == lib {
			t.Fatal("Libraries lists the removed library")
		}
	}
	_, err := s.call("echo", []byte("gone"))
	wantClass(t, "Registry.Call after removal", err, api.ErrNotFound)
	_, err = invoke(b, []byte("gone"), RecoverWithin, nil)
	wantClass(t, "a binding made before removal", err, api.ErrNotFound)
	_, err = s.reg.Bind(Name, "echo", nil)
	wantClass(t, "Bind after removal", err, api.ErrNotFound)
	_, err = s.reg.Resolve(Name, nil)
	wantClass(t, "Resolve after removal", err, api.ErrNotFound)
	s.reg.Remove(lib) // removing twice is harmless

	// Registering it again brings it back under the same binding.
	if err := s.reg.Add(lib); err != nil {
		t.Fatal(err)
	}
	if got, err := invoke(b, []byte("back"), RecoverWithin, nil); err != nil || string(got) != "back" {
		t.Fatalf("after adding it again: %q %v", got, err)
	}
}
