package logring

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
)

// BenchmarkAdd measures keeping one line in a full ring.
func BenchmarkAdd(b *testing.B) {
	book := New(0, 0)
	l := Line{Level: "INFO", Source: "stdout", Text: "beacon: hello #1"}
	b.ReportAllocs()
	for b.Loop() {
		book.Add("beacon", l)
	}
}

// BenchmarkHandler measures what the ring adds to every process log
// record: a logger like the node's (a text handler, here writing to
// io.Discard) with and without the ring in front of it.
func BenchmarkHandler(b *testing.B) {
	text := slog.NewTextHandler(io.Discard, nil)
	for _, tc := range []struct {
		name string
		log  *slog.Logger
	}{
		{"text", slog.New(text)},
		{"ring+text", slog.New(New(0, 0).Handler(text))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			log := tc.log.With("pid", 7, ProcessKey, "beacon")
			b.ReportAllocs()
			for b.Loop() {
				log.Log(context.Background(), slog.LevelInfo, "beacon: hello", SourceKey, "stdout")
			}
		})
	}
}

// BenchmarkSince measures reading a page of 100 lines from a full ring.
func BenchmarkSince(b *testing.B) {
	book := New(0, 0)
	for i := range DefaultLines {
		book.Add("p", Line{Text: strconv.Itoa(i)})
	}
	lines, _, _ := book.Since("p", 0, 0)
	after := lines[len(lines)-101].Seq
	b.ReportAllocs()
	for b.Loop() {
		book.Since("p", after, 100)
	}
}
