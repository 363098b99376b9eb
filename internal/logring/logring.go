// Package logring keeps the last lines each process logged, for the admin
// panel and `orbital logs`: a bounded ring per process fed by a slog.Handler
// that sits in front of the node's own handler. A record belongs to the
// process named by its "process" attribute (set with Logger.With, as the
// kernel does for each process, or on the record itself). Readers page
// through a ring by sequence number and wait for new lines without
// polling.
package logring

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/orbitalfoundation/orbital/api"
)

// Attribute keys with a meaning here.
const (
	// ProcessKey names the process a record belongs to.
	ProcessKey = "process"
	// SourceKey says where a line came from: "stdout", "stderr", "guest"
	// (orbital_v1.log) or, when absent, "node" (the node's own records
	// about the process: starts, crashes, triggers).
	SourceKey = "source"
)

// Defaults.
const (
	// DefaultLines is how many lines each process's ring keeps.
	DefaultLines = 1000
	// DefaultProcesses bounds how many rings are kept; the ring written
	// least recently goes first.
	DefaultProcesses = 4096
	// MaxText bounds one line's text; longer lines are cut.
	MaxText = 8 << 10
	// MaxBytes bounds the text kept by a whole book: past it, the rings
	// written least recently are dropped (a small device does not give
	// its memory to old log lines).
	MaxBytes = 32 << 20
	// lineOverhead is what a kept line costs beyond its text.
	lineOverhead = 64
)

// Line is one kept log line (the control API's wire type).
type Line = api.LogLine

// Book holds the rings of every process.
type Book struct {
	lines, procs int

	mu      sync.Mutex
	seq     uint64
	bytes   int // text and overhead of every kept line
	rings   map[string]*ring
	changed chan struct{} // closed at the next Add when someone took it
	taken   bool          // Changed handed out changed
}

type ring struct {
	buf   []Line // circular, len ≤ cap
	start int    // index of the oldest line
	used  uint64 // the sequence number of its newest line
	bytes int    // its share of Book.bytes
}

// New returns a book keeping lines lines per process (0: DefaultLines) for
// at most procs processes (0: DefaultProcesses).
func New(lines, procs int) *Book {
	if lines <= 0 {
		lines = DefaultLines
	}
	if procs <= 0 {
		procs = DefaultProcesses
	}
	return &Book{lines: lines, procs: procs, rings: map[string]*ring{}}
}

// Add appends a line to process's ring, giving it the next sequence
// number, and wakes the waiters.
func (b *Book) Add(process string, l Line) {
	if len(l.Text) > MaxText {
		cut := MaxText
		for cut > 0 && !utf8.RuneStart(l.Text[cut]) { // keep whole characters
			cut--
		}
		l.Text = l.Text[:cut] + "…"
	}
	b.mu.Lock()
	r := b.rings[process]
	if r == nil {
		if len(b.rings) >= b.procs {
			b.evictLocked()
		}
		r = &ring{buf: make([]Line, 0, min(b.lines, 64))}
		b.rings[process] = r
	}
	b.seq++
	l.Seq = b.seq
	r.used = b.seq
	size := len(l.Text) + lineOverhead
	if len(r.buf) < b.lines {
		r.buf = append(r.buf, l)
	} else {
		size -= len(r.buf[r.start].Text) + lineOverhead
		r.buf[r.start] = l
		r.start = (r.start + 1) % len(r.buf)
	}
	r.bytes += size
	b.bytes += size
	for b.bytes > MaxBytes && len(b.rings) > 1 {
		b.evictLocked()
	}
	if b.taken {
		close(b.changed)
		b.changed, b.taken = nil, false
	}
	b.mu.Unlock()
}

func (b *Book) evictLocked() {
	var oldest string
	var at uint64
	for name, r := range b.rings {
		if oldest == "" || r.used < at {
			oldest, at = name, r.used
		}
	}
	b.dropLocked(oldest)
}

func (b *Book) dropLocked(process string) {
	if r := b.rings[process]; r != nil {
		b.bytes -= r.bytes
		delete(b.rings, process)
	}
}

// Since returns up to limit lines of process with a sequence number above
// after (limit ≤ 0: all kept), oldest first, and the sequence number to
// pass next time. ok is false when nothing is kept for process.
func (b *Book) Since(process string, after uint64, limit int) (lines []Line, next uint64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.rings[process]
	if r == nil {
		return nil, after, false
	}
	next = after
	n := len(r.buf)
	at := func(i int) Line { return r.buf[(r.start+i)%n] }
	// Sequence numbers increase from the oldest line: search the first
	// one after after.
	first := sort.Search(n, func(i int) bool { return at(i).Seq > after })
	count := n - first
	if limit > 0 && count > limit {
		count = limit
	}
	if count == 0 {
		return nil, next, true
	}
	lines = make([]Line, count)
	for i := range lines {
		lines[i] = at(first + i)
	}
	return lines, lines[count-1].Seq, true
}

// Changed returns a channel that is closed at the next Add.
func (b *Book) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed == nil {
		b.changed = make(chan struct{})
	}
	b.taken = true
	return b.changed
}

// Forget drops process's ring.
func (b *Book) Forget(process string) {
	b.mu.Lock()
	b.dropLocked(process)
	b.mu.Unlock()
}

// Handler returns a slog.Handler that keeps every record carrying a
// process attribute at level Info or above in the book and passes all records on to next, which keeps its own level.
func (b *Book) Handler(next slog.Handler) slog.Handler {
	return &handler{book: b, next: next}
}

type handler struct {
	book    *Book
	next    slog.Handler
	process string      // from WithAttrs, outside any group
	source  string      // likewise
	attrs   []slog.Attr // other attributes from WithAttrs, for the text
	group   bool        // a WithGroup was applied: later attrs are nested
}

func (h *handler) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= slog.LevelInfo || h.next.Enabled(ctx, lv)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	process, source := h.process, h.source
	var extra []slog.Attr
	if !h.group {
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case ProcessKey:
				process = a.Value.String()
			case SourceKey:
				source = a.Value.String()
			default:
				extra = append(extra, a)
			}
			return true
		})
	}
	if process != "" && r.Level >= slog.LevelInfo {
		if source == "" {
			source = "node"
		}
		h.book.Add(process, Line{Time: r.Time, Level: r.Level.String(), Source: source, Text: text(r.Message, h.attrs, extra)})
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

// text renders a message and its attributes (the process's id and name
// left out: the ring is the process's).
func text(msg string, sets ...[]slog.Attr) string {
	var sb strings.Builder
	for _, set := range sets {
		for _, a := range set {
			if a.Key == "pid" || a.Equal(slog.Attr{}) {
				continue
			}
			if sb.Len() == 0 {
				sb.WriteString(msg)
			}
			sb.WriteByte(' ')
			sb.WriteString(a.Key)
			sb.WriteByte('=')
			sb.WriteString(a.Value.Resolve().String())
		}
	}
	if sb.Len() == 0 {
		return msg // the common case: an output line
	}
	return sb.String()
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	if !h.group {
		c.attrs = append([]slog.Attr(nil), h.attrs...)
		for _, a := range as {
			switch a.Key {
			case ProcessKey:
				c.process = a.Value.String()
			case SourceKey:
				c.source = a.Value.String()
			default:
				c.attrs = append(c.attrs, a)
			}
		}
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	c.group = true
	return &c
}
