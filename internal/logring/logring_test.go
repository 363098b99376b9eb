package logring_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/internal/logring"
)

// texts returns the texts of lines.
func texts(lines []logring.Line) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, l.Text)
	}
	return out
}

// seqs returns the sequence numbers of lines.
func seqs(lines []logring.Line) []uint64 {
	out := make([]uint64, 0, len(lines))
	for _, l := range lines {
		out = append(out, l.Seq)
	}
	return out
}

// lineTexts is "l0".."l(n-1)" from first on.
func lineTexts(first, n int) []string {
	out := make([]string, 0, n)
	for i := first; i < first+n; i++ {
		out = append(out, fmt.Sprintf("l%d", i))
	}
	return out
}

// TestRingKeepsTheNewestInOrder: a ring of N lines keeps the last N added
// to it, oldest first, whatever the number of wrap-arounds.
func TestRingKeepsTheNewestInOrder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size, add int
		want      []string
	}{
		{"not full", 3, 2, lineTexts(0, 2)},
		{"exactly full", 3, 3, lineTexts(0, 3)},
		{"one over", 3, 4, lineTexts(1, 3)},
		{"wrapped twice and a bit", 3, 7, lineTexts(4, 3)},
		{"size one", 1, 5, lineTexts(4, 1)},
		{"bigger than the first allocation", 100, 250, lineTexts(150, 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := logring.New(tc.size, 0)
			for i := range tc.add {
				b.Add("p", logring.Line{Text: fmt.Sprintf("l%d", i)})
			}
			lines, next, ok := b.Since("p", 0, 0)
			if !ok {
				t.Fatal("Since: ok = false for a process with lines")
			}
			if got := texts(lines); !slices.Equal(got, tc.want) {
				t.Fatalf("kept %v, want %v", got, tc.want)
			}
			// One process only: sequence numbers are 1..add, so the kept
			// ones end at add and increase by one.
			for i, l := range lines {
				if want := uint64(tc.add - len(lines) + i + 1); l.Seq != want {
					t.Fatalf("line %d has seq %d, want %d", i, l.Seq, want)
				}
			}
			if next != uint64(tc.add) {
				t.Fatalf("next = %d, want %d (the last seq)", next, tc.add)
			}
		})
	}
}

// TestSincePages: after and limit page through a ring; next is the last
// sequence number returned (or after when nothing is), so passing it back
// returns only newer lines.
func TestSincePages(t *testing.T) {
	b := logring.New(5, 0)
	for i := range 8 { // seqs 1..8; 4..8 kept
		b.Add("p", logring.Line{Text: fmt.Sprintf("l%d", i+1)})
	}
	for _, tc := range []struct {
		name         string
		after        uint64
		limit        int
		wantSeqs     []uint64
		wantNext     uint64
		wantTextHead string
	}{
		{"everything kept", 0, 0, []uint64{4, 5, 6, 7, 8}, 8, "l4"},
		{"negative limit is no limit", 0, -1, []uint64{4, 5, 6, 7, 8}, 8, "l4"},
		{"limit one", 0, 1, []uint64{4}, 4, "l4"},
		{"first page", 0, 2, []uint64{4, 5}, 5, "l4"},
		{"second page", 5, 2, []uint64{6, 7}, 7, "l6"},
		{"last page, short", 7, 2, []uint64{8}, 8, "l8"},
		{"after a line already dropped", 2, 0, []uint64{4, 5, 6, 7, 8}, 8, "l4"},
		{"nothing newer", 8, 0, nil, 8, ""},
		{"after the future", 100, 3, nil, 100, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines, next, ok := b.Since("p", tc.after, tc.limit)
			if !ok {
				t.Fatal("ok = false")
			}
			if got := seqs(lines); !slices.Equal(got, tc.wantSeqs) && !(len(got) == 0 && len(tc.wantSeqs) == 0) {
				t.Fatalf("seqs %v, want %v", got, tc.wantSeqs)
			}
			if next != tc.wantNext {
				t.Fatalf("next = %d, want %d", next, tc.wantNext)
			}
			if len(lines) > 0 && lines[0].Text != tc.wantTextHead {
				t.Fatalf("first line %q, want %q", lines[0].Text, tc.wantTextHead)
			}
		})
	}
	// Paging with next until nothing is left returns every kept line once.
	var all []uint64
	var after uint64
	for range 10 {
		lines, next, _ := b.Since("p", after, 2)
		if len(lines) == 0 {
			break
		}
		all = append(all, seqs(lines)...)
		after = next
	}
	if want := []uint64{4, 5, 6, 7, 8}; !slices.Equal(all, want) {
		t.Fatalf("paged %v, want %v", all, want)
	}
}

// TestSequenceAcrossProcesses: sequence numbers increase across every
// process's lines and are never reused, not even after Forget; a process's
// Since skips the other processes' numbers.
func TestSequenceAcrossProcesses(t *testing.T) {
	b := logring.New(10, 0)
	b.Add("a", logring.Line{Text: "a1"}) // 1
	b.Add("b", logring.Line{Text: "b1"}) // 2
	b.Add("a", logring.Line{Text: "a2"}) // 3
	b.Add("b", logring.Line{Text: "b2"}) // 4
	la, next, _ := b.Since("a", 0, 0)
	if got := seqs(la); !slices.Equal(got, []uint64{1, 3}) || next != 3 {
		t.Fatalf("a: seqs %v next %d", got, next)
	}
	lb, next, _ := b.Since("b", 1, 0)
	if got := texts(lb); !slices.Equal(got, []string{"b1", "b2"}) || next != 4 {
		t.Fatalf("b after 1: %v next %d", got, next)
	}
	b.Forget("a")
	b.Add("a", logring.Line{Text: "a3"})
	la, _, _ = b.Since("a", 0, 0)
	if got := texts(la); !slices.Equal(got, []string{"a3"}) || la[0].Seq != 5 {
		t.Fatalf("a after Forget and a new line: %v (seqs %v), want [a3] with seq 5", got, seqs(la))
	}
}

// TestUnknownAndForgotten: Since of a process with nothing kept says
// ok=false and hands after back; Forget drops a ring and only that one.
func TestUnknownAndForgotten(t *testing.T) {
	b := logring.New(0, 0)
	b.Add("kept", logring.Line{Text: "x"})
	b.Add("gone", logring.Line{Text: "y"})
	b.Forget("gone")
	b.Forget("never-there") // no effect, no panic
	for _, tc := range []struct {
		name, process string
		after         uint64
		ok            bool
		n             int
	}{
		{"kept", "kept", 0, true, 1},
		{"kept, nothing newer", "kept", 2, true, 0},
		{"forgotten", "gone", 0, false, 0},
		{"never logged", "unknown", 7, false, 0},
		{"empty name", "", 0, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines, next, ok := b.Since(tc.process, tc.after, 0)
			if ok != tc.ok || len(lines) != tc.n {
				t.Fatalf("Since(%q): %d lines, ok %v; want %d, %v", tc.process, len(lines), ok, tc.n, tc.ok)
			}
			if !ok && next != tc.after {
				t.Fatalf("Since(%q) of an unknown process: next %d, want after (%d)", tc.process, next, tc.after)
			}
		})
	}
}

// TestEvictsTheLeastRecentlyWritten: over the process bound, the ring
// written least recently goes (not the oldest created).
func TestEvictsTheLeastRecentlyWritten(t *testing.T) {
	for _, tc := range []struct {
		name   string
		procs  int
		writes []string
		kept   []string
		gone   []string
	}{
		{"under the bound", 3, []string{"a", "b", "c"}, []string{"a", "b", "c"}, nil},
		{"the first written goes", 2, []string{"a", "b", "c"}, []string{"b", "c"}, []string{"a"}},
		{"a rewritten ring stays", 2, []string{"a", "b", "a", "c"}, []string{"a", "c"}, []string{"b"}},
		{"bound one", 1, []string{"a", "b", "c"}, []string{"c"}, []string{"a", "b"}},
		{"rewrites do not evict", 2, []string{"a", "b", "a", "b", "a"}, []string{"a", "b"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := logring.New(4, tc.procs)
			for _, p := range tc.writes {
				b.Add(p, logring.Line{Text: p})
			}
			for _, p := range tc.kept {
				if _, _, ok := b.Since(p, 0, 0); !ok {
					t.Errorf("%s was evicted; writes %v, bound %d", p, tc.writes, tc.procs)
				}
			}
			for _, p := range tc.gone {
				if _, _, ok := b.Since(p, 0, 0); ok {
					t.Errorf("%s was kept; writes %v, bound %d", p, tc.writes, tc.procs)
				}
			}
		})
	}
}

// TestMaxTextCut: a line longer than MaxText is cut to MaxText bytes and
// marked; one of exactly MaxText is kept whole.
func TestMaxTextCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		want string
	}{
		{"short", 10, strings.Repeat("x", 10)},
		{"exactly MaxText", logring.MaxText, strings.Repeat("x", logring.MaxText)},
		{"one over", logring.MaxText + 1, strings.Repeat("x", logring.MaxText) + "…"},
		{"far over", 10 * logring.MaxText, strings.Repeat("x", logring.MaxText) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := logring.New(1, 0)
			b.Add("p", logring.Line{Text: strings.Repeat("x", tc.n)})
			lines, _, _ := b.Since("p", 0, 0)
			if len(lines) != 1 || lines[0].Text != tc.want {
				t.Fatalf("kept %d lines, text of %d bytes; want %d bytes", len(lines), len(lines[0].Text), len(tc.want))
			}
		})
	}
}

// TestChangedIsClosedByAdd: the channel from Changed is open until the
// next Add, then closed; Changed then returns a fresh open channel.
func TestChangedIsClosedByAdd(t *testing.T) {
	b := logring.New(0, 0)
	ch := b.Changed()
	select {
	case <-ch:
		t.Fatal("Changed is closed before any Add")
	default:
	}
	b.Forget("p") // not an Add
	select {
	case <-ch:
		t.Fatal("Forget closed Changed")
	default:
	}
	b.Add("p", logring.Line{Text: "x"})
	select {
	case <-ch:
	default:
		t.Fatal("Changed still open after Add")
	}
	ch2 := b.Changed()
	select {
	case <-ch2:
		t.Fatal("the Changed after an Add is closed already")
	default:
	}
	b.Add("q", logring.Line{Text: "y"}) // any process wakes the waiters
	select {
	case <-ch2:
	default:
		t.Fatal("Changed still open after an Add to another process")
	}
}

// handlerRig is a book whose handler sits in front of a text handler at
// level next, writing to out.
type handlerRig struct {
	book *logring.Book
	log  *slog.Logger
	out  *bytes.Buffer
}

func newRig(next slog.Level) handlerRig {
	out := &bytes.Buffer{}
	b := logring.New(0, 0)
	h := slog.NewTextHandler(out, &slog.HandlerOptions{Level: next})
	return handlerRig{book: b, log: slog.New(b.Handler(h)), out: out}
}

// only returns the single line kept for process, failing otherwise.
func (r handlerRig) only(t *testing.T, process string) logring.Line {
	t.Helper()
	lines, _, ok := r.book.Since(process, 0, 0)
	if !ok || len(lines) != 1 {
		t.Fatalf("%s: %d lines kept (ok %v), want 1: %+v", process, len(lines), ok, lines)
	}
	return lines[0]
}

// TestHandlerKeepsProcessRecords: records with a process attribute (from
// Logger.With or on the record) at Info or above land in that process's
// ring, with level, source and text as the admin panel shows them.
func TestHandlerKeepsProcessRecords(t *testing.T) {
	for _, tc := range []struct {
		name    string
		log     func(*slog.Logger)
		process string
		want    logring.Line // Seq and Time not compared
	}{
		{"process from With", func(l *slog.Logger) { l.With("process", "p").Info("hello") },
			"p", logring.Line{Level: "INFO", Source: "node", Text: "hello"}},
		{"process on the record", func(l *slog.Logger) { l.Info("hello", "process", "p") },
			"p", logring.Line{Level: "INFO", Source: "node", Text: "hello"}},
		{"source on the record", func(l *slog.Logger) { l.Info("out", "process", "p", "source", "stdout") },
			"p", logring.Line{Level: "INFO", Source: "stdout", Text: "out"}},
		{"source from With", func(l *slog.Logger) { l.With("process", "p", "source", "guest").Warn("careful") },
			"p", logring.Line{Level: "WARN", Source: "guest", Text: "careful"}},
		{"other attributes as k=v, pid left out", func(l *slog.Logger) {
			l.With("process", "p", "pid", 42, "module", "m@1").Info("started", "restarts", 2, "reason", "boot")
		}, "p", logring.Line{Level: "INFO", Source: "node", Text: "started module=m@1 restarts=2 reason=boot"}},
		{"the record's process wins over With", func(l *slog.Logger) { l.With("process", "p").Info("moved", "process", "q") },
			"q", logring.Line{Level: "INFO", Source: "node", Text: "moved"}},
		{"error level", func(l *slog.Logger) { l.Error("boom", "process", "p", "err", "bad") },
			"p", logring.Line{Level: "ERROR", Source: "node", Text: "boom err=bad"}},
		{"a group's attributes do not move the record", func(l *slog.Logger) {
			l.With("process", "p", "a", 1).WithGroup("g").Info("m", "process", "q", "source", "stdout")
		}, "p", logring.Line{Level: "INFO", Source: "node", Text: "m a=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(slog.LevelDebug)
			tc.log(r.log)
			got := r.only(t, tc.process)
			if got.Level != tc.want.Level || got.Source != tc.want.Source || got.Text != tc.want.Text {
				t.Fatalf("kept %+v, want level %s source %s text %q", got, tc.want.Level, tc.want.Source, tc.want.Text)
			}
			if got.Time.IsZero() || got.Seq == 0 {
				t.Fatalf("kept line without time or seq: %+v", got)
			}
			// Nothing was kept under another name.
			for _, other := range []string{"p", "q", "g", "g.process", ""} {
				if other == tc.process {
					continue
				}
				if lines, _, ok := r.book.Since(other, 0, 0); ok {
					t.Fatalf("lines kept for %q too: %+v", other, lines)
				}
			}
		})
	}
}

// TestHandlerLeavesOthersOut: records without a process attribute, below
// Info, or whose process attribute sits inside a group are not kept.
func TestHandlerLeavesOthersOut(t *testing.T) {
	for _, tc := range []struct {
		name string
		log  func(*slog.Logger)
	}{
		{"no process", func(l *slog.Logger) { l.Info("node up", "processes", 3) }},
		{"debug", func(l *slog.Logger) { l.With("process", "p").Debug("noise") }},
		{"debug with process on the record", func(l *slog.Logger) { l.Debug("noise", "process", "p") }},
		{"process inside a group (With)", func(l *slog.Logger) { l.WithGroup("g").With("process", "p").Info("nested") }},
		{"process inside a group (record)", func(l *slog.Logger) { l.WithGroup("g").Info("nested", "process", "p") }},
		{"process inside a group attribute", func(l *slog.Logger) { l.Info("nested", slog.Group("g", "process", "p")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(slog.LevelDebug)
			tc.log(r.log)
			for _, p := range []string{"p", "g", "g.process", ""} {
				if lines, _, ok := r.book.Since(p, 0, 0); ok {
					t.Fatalf("kept for %q: %+v", p, lines)
				}
			}
			if r.out.Len() == 0 {
				t.Fatal("the record did not reach the next handler (at Debug)")
			}
		})
	}
}

// TestHandlerPassesOnAtTheNextLevel: every record reaches the next handler
// when, and only when, that handler's own level lets it; the ring keeps
// Info and above whatever the next handler's level.
func TestHandlerPassesOnAtTheNextLevel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		next    slog.Level
		level   slog.Level
		kept    bool
		written bool
	}{
		{"info, next at warn", slog.LevelWarn, slog.LevelInfo, true, false},
		{"warn, next at warn", slog.LevelWarn, slog.LevelWarn, true, true},
		{"error, next at error", slog.LevelError, slog.LevelError, true, true},
		{"debug, next at debug", slog.LevelDebug, slog.LevelDebug, false, true},
		{"debug, next at info", slog.LevelInfo, slog.LevelDebug, false, false},
		{"info, next at info", slog.LevelInfo, slog.LevelInfo, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(tc.next)
			l := r.log.With("process", "p", "source", "stdout")
			l.Log(context.Background(), tc.level, "the line", "k", "v")
			_, _, kept := r.book.Since("p", 0, 0)
			if kept != tc.kept {
				t.Errorf("kept in the ring: %v, want %v", kept, tc.kept)
			}
			written := strings.Contains(r.out.String(), "the line")
			if written != tc.written {
				t.Errorf("passed to the next handler: %v, want %v (output %q)", written, tc.written, r.out.String())
			}
			// The next handler sees the record whole, attributes included.
			if written && (!strings.Contains(r.out.String(), "process=p") || !strings.Contains(r.out.String(), "k=v")) {
				t.Errorf("next handler lost attributes: %q", r.out.String())
			}
			// Enabled: the ring wants Info and above, the next handler its own.
			wantEnabled := tc.level >= slog.LevelInfo || tc.level >= tc.next
			if got := l.Enabled(context.Background(), tc.level); got != wantEnabled {
				t.Errorf("Enabled(%v) = %v, want %v", tc.level, got, wantEnabled)
			}
		})
	}
}

// TestConcurrentWritersAndReader: writers log through the handler and Add
// directly while a reader follows every ring with Since and Changed, and
// another goroutine forgets an unrelated ring; the reader sees each
// process's lines exactly once, in order (run with -race).
func TestConcurrentWritersAndReader(t *testing.T) {
	const writers, perWriter = 4, 300
	b := logring.New(writers*perWriter, 0)
	log := slog.New(b.Handler(slog.DiscardHandler))
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("w%d", w)
			l := log.With("process", name)
			for i := range perWriter {
				if i%2 == 0 {
					l.Info(fmt.Sprintf("%d", i), "source", "stdout")
				} else {
					b.Add(name, logring.Line{Level: "INFO", Source: "stdout", Text: fmt.Sprintf("%d", i)})
				}
			}
		}()
	}
	stopForget := make(chan struct{})
	forgot := make(chan struct{})
	go func() {
		defer close(forgot)
		for {
			select {
			case <-stopForget:
				return
			default:
			}
			b.Add("scratch", logring.Line{Text: "x"})
			b.Forget("scratch")
		}
	}()

	// The reader: follow every writer's ring until all lines are seen.
	after := make([]uint64, writers)
	seen := make([]int, writers) // next expected text per writer
	deadline := time.After(30 * time.Second)
	for {
		changed := b.Changed() // before reading: no line slips between
		done, more := true, false
		for w := range writers {
			lines, next, _ := b.Since(fmt.Sprintf("w%d", w), after[w], 50)
			for _, l := range lines {
				if l.Seq <= after[w] {
					t.Fatalf("w%d: seq %d not after %d", w, l.Seq, after[w])
				}
				if want := fmt.Sprintf("%d", seen[w]); l.Text != want {
					t.Fatalf("w%d: line %q, want %q (a line lost, repeated or out of order)", w, l.Text, want)
				}
				after[w] = l.Seq
				seen[w]++
			}
			more = more || len(lines) == 50
			if len(lines) > 0 && next != after[w] {
				t.Fatalf("w%d: next %d, last seq %d", w, next, after[w])
			}
			if seen[w] < perWriter {
				done = false
			}
		}
		if done {
			break
		}
		if more {
			continue // a full page: more lines may be waiting already
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("reader saw %v of %d lines each", seen, perWriter)
		}
	}
	wg.Wait()
	close(stopForget)
	<-forgot
}
