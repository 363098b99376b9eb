package registry

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment of the helper process of TestCrashDuringInstall.
const (
	crashDirEnv   = "ORBITAL_REGISTRY_CRASH_DIR"
	crashRoundEnv = "ORBITAL_REGISTRY_CRASH_ROUND"
	crashSeedEnv  = "ORBITAL_REGISTRY_CRASH_SEED"
)

// TestHelperInstall is not a test: TestCrashDuringInstall runs the test
// binary again with this test selected and crashDirEnv set, and kills it.
// It installs, force-reinstalls, removes and garbage-collects in a loop,
// printing each operation before ("B op ref digest") and after ("D", or
// "E error" when it was refused) so the parent knows what was in flight.
func TestHelperInstall(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashDuringInstall")
	}
	round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	rng := rand.New(rand.NewPCG(seed, uint64(round)))
	say := func(format string, args ...any) {
		// One write per line: a kill never leaves half a line.
		os.Stdout.WriteString(fmt.Sprintf(format, args...) + " .\n")
	}
	ctx := context.Background()
	r, err := Open(ctx, dir, Options{})
	if err != nil {
		say("X open: %v", err)
		os.Exit(3)
	}
	list, err := r.List()
	if err != nil {
		say("X list: %v", err)
		os.Exit(3)
	}
	var refs []string
	for _, s := range list {
		for _, v := range s.Versions {
			refs = append(refs, ref(s.Name, v))
		}
	}
	haveLib0 := func() bool {
		for _, r := range refs {
			if strings.HasPrefix(r, "lib0@") {
				return true
			}
		}
		return false
	}
	say("ready")
	done := func(err error) {
		if err != nil {
			say("E %s", strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			say("D")
		}
	}
	for i := 0; ; i++ {
		op := rng.IntN(20)
		switch {
		case op < 14 || len(refs) == 0: // a new module
			k := rng.IntN(8)
			s := spec{name: fmt.Sprintf("lib%d", k), version: fmt.Sprintf("1.%d.%d", round, i)}
			if !haveLib0() {
				k, s.name = 0, "lib0"
			} else if rng.IntN(2) == 0 {
				s = app(fmt.Sprintf("app%d", k), s.version, "lib0 >=1.0.0", fmt.Sprintf("lib%d ^1 optional", rng.IntN(8)))
			}
			data := buildPkg(s.toml(), rng.IntN(3<<20))
			say("B install %s %s", ref(s.name, s.version), digestOf(data))
			_, err := install(r, ctx, data)
			if err == nil {
				refs = append(refs, ref(s.name, s.version))
			}
			done(err)
		case op < 16: // another digest under an installed name@version
			n, v := splitRef(refs[rng.IntN(len(refs))])
			s := lib(n, v)
			if strings.HasPrefix(n, "app") {
				s = app(n, v, "lib0 >=1.0.0")
			}
			data := buildPkg(s.toml(), 1+rng.IntN(1<<20))
			say("B force %s %s", ref(n, v), digestOf(data))
			_, err := installWith(r, ctx, data, InstallOptions{Force: true})
			done(err)
		case op < 19:
			j := rng.IntN(len(refs))
			n, v := splitRef(refs[j])
			say("B remove %s -", refs[j])
			_, err := r.Remove(n, v, false)
			if err == nil {
				refs = append(refs[:j], refs[j+1:]...)
			}
			done(err)
		default:
			say("B gc - -")
			_, err := r.GC(ctx)
			done(err)
		}
	}
}

// crashOp is an operation the helper announced.
type crashOp struct {
	op, ref, digest string
}

// TestCrashDuringInstall kills a process that installs, replaces and
// removes modules with SIGKILL at random moments, then checks that the
// registry holds exactly the operations that completed plus, for the one in
// flight, either its old or its new state; that the index and the store
// agree; that Open removed every temporary file; and that installs still
// work.
func TestCrashDuringInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set %s to repeat)", seed, crashSeedEnv)
	rng := rand.New(rand.NewPCG(seed, 0))

	model := map[string]string{} // ref → module digest, for completed operations
	const rounds = 10
	progressed, caughtTemp := 0, 0
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperInstall$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round), crashSeedEnv+"="+strconv.FormatUint(seed, 10))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if l, ok := strings.CutSuffix(sc.Text(), " ."); ok {
					lines <- l
				}
			}
			close(lines)
		}()
		// Most rounds kill the helper while it works; some while it opens.
		var delay time.Duration
		if round%4 != 3 {
			select {
			case l := <-lines:
				if l != "ready" {
					t.Fatalf("helper: %s", l)
				}
			case <-time.After(time.Minute):
				t.Fatal("helper did not start")
			}
			delay = time.Duration(rng.IntN(600)) * time.Millisecond
		} else {
			delay = time.Duration(rng.IntN(80)) * time.Millisecond
		}
		time.Sleep(delay)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		var pending *crashOp
		ops := 0
		for l := range lines {
			switch {
			case l == "ready":
			case strings.HasPrefix(l, "X "):
				t.Fatalf("helper: %s", l)
			case strings.HasPrefix(l, "B "):
				f := strings.Fields(l)
				pending = &crashOp{op: f[1], ref: f[2], digest: f[3]}
			case l == "D":
				apply(model, pending)
				pending = nil
				ops++
			case strings.HasPrefix(l, "E "):
				if pending.op == "install" || pending.op == "force" {
					t.Errorf("round %d: %s %s failed: %s", round, pending.op, pending.ref, l)
				}
				pending = nil
			}
		}
		werr := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(werr, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: helper ended with %v, want killed", round, werr)
		}
		if ops > 0 {
			progressed++
		}

		// Temporary files may be there now; Open removes them.
		st := &store{root: dir + "/blobs/sha256"}
		if files, err := st.walk(); err == nil {
			for _, f := range files {
				if f.temp {
					caughtTemp++
					break
				}
			}
		}
		r, err := Open(context.Background(), dir, Options{})
		if err != nil {
			t.Fatalf("round %d: open after kill: %v", round, err)
		}
		for _, f := range blobFiles(t, r) {
			if f.temp {
				t.Fatalf("round %d: temporary file %s left after Open", round, f.path)
			}
		}
		rep := mustCheck(t, r)
		actual := installed(t, r)
		if pending != nil {
			// In flight: either the old state or the new one.
			old, hadOld := model[pending.ref]
			now, hasNow := actual[pending.ref]
			next := copyModel(model)
			apply(next, pending)
			newDigest, hasNew := next[pending.ref]
			if !(hasNow == hadOld && now == old) && !(hasNow == hasNew && now == newDigest) {
				t.Fatalf("round %d: %s %s in flight: registry has %q (present %v), want old %q (%v) or new %q (%v)",
					round, pending.op, pending.ref, now, hasNow, old, hadOld, newDigest, hasNew)
			}
			if hasNow {
				model[pending.ref] = now
			} else {
				delete(model, pending.ref)
			}
		}
		if len(actual) != len(model) {
			t.Fatalf("round %d: registry has %d modules, completed operations imply %d", round, len(actual), len(model))
		}
		for k, v := range model {
			if actual[k] != v {
				t.Fatalf("round %d: %s has digest %q, want %q", round, k, actual[k], v)
			}
		}
		t.Logf("round %d: killed after %v, %d operations completed, %d modules, %d blobs (%d orphans), in flight: %v",
			round, delay, ops, rep.Records, rep.Blobs, len(rep.Orphans), pending)
		r.Close()
	}
	if progressed < rounds/2 {
		t.Fatalf("only %d of %d rounds completed an operation before the kill", progressed, rounds)
	}
	t.Logf("%d of %d kills left temporary files behind", caughtTemp, rounds)

	r := openDir(t, dir)
	if _, err := install(r, context.Background(), lib("after", "1.0.0").pkg()); err != nil {
		t.Fatalf("install after the crashes: %v", err)
	}
	if _, err := r.GC(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rep := mustCheck(t, r); len(rep.Orphans) != 0 {
		t.Fatalf("orphans after GC: %v", rep.Orphans)
	}
}

// apply records a completed operation in the model.
func apply(model map[string]string, op *crashOp) {
	switch op.op {
	case "install", "force":
		model[op.ref] = op.digest
	case "remove":
		delete(model, op.ref)
	}
}

func copyModel(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// installed returns every record as ref → module digest.
func installed(t *testing.T, r *Registry) map[string]string {
	t.Helper()
	list, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range list {
		for _, v := range s.Versions {
			rec, err := r.Get(s.Name, v)
			if err != nil {
				t.Fatal(err)
			}
			out[rec.Ref()] = rec.Digest
		}
	}
	return out
}
