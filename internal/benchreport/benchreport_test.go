package benchreport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `date: 2026-12-04
machine: 2 CPUs, 24 GiB, linux
go: go1.26.8
wazero: v1.12.0
run: ./internal/engine .
goos: linux
goarch: amd64
pkg: github.com/orbitalfoundation/orbital/internal/engine
cpu: AMD EPYC
BenchmarkHostCall/orbital-2         	 1000000	      1000 ns/op	        90.00 ns/hostcall	       0 B/op	       0 allocs/op
BenchmarkHostCall/orbital-2         	 1000000	      1000 ns/op	        92.00 ns/hostcall	       0 B/op	       0 allocs/op
BenchmarkHostCall/orbital-2         	 1000000	      1000 ns/op	        99.00 ns/hostcall	       0 B/op	       0 allocs/op
BenchmarkHostCall/raw-wazero-2      	 1000000	      1000 ns/op	        75.00 ns/hostcall	       0 B/op	       0 allocs/op
pkg: github.com/orbitalfoundation/orbital
BenchmarkSpawn-2                    	   20000	     35100 ns/op	     28500 spawns/s	     86323 heap-B/idle-proc
`

func TestReadResultsAndMedian(t *testing.T) {
	res, err := ReadResults(strings.NewReader(sample), "sample")
	if err != nil {
		t.Fatal(err)
	}
	if res.Config["date"] != "2026-12-04" || res.Config["wazero"] != "v1.12.0" || res.Config["cpu"] != "AMD EPYC" {
		t.Fatalf("header %v", res.Config)
	}
	tests := []struct {
		key, unit string
		want      float64
		n         int
	}{
		{"internal/engine HostCall/orbital", "ns/hostcall", 92, 3},
		{"internal/engine HostCall/raw-wazero", "ns/hostcall", 75, 1},
		{"internal/engine HostCall/orbital", "ns/op", 1000, 3}, // the unit as written, not benchfmt's sec/op
		{". Spawn", "spawns/s", 28500, 1},
		{". Spawn", "heap-B/idle-proc", 86323, 1},
	}
	for _, tt := range tests {
		v, n, ok := res.Median(tt.key, tt.unit)
		if !ok || v != tt.want || n != tt.n {
			t.Errorf("%s %s: %v ×%d (%v), want %v ×%d", tt.key, tt.unit, v, n, ok, tt.want, tt.n)
		}
	}
	if _, _, ok := res.Median("internal/engine HostCall/nope", "ns/op"); ok {
		t.Error("a missing benchmark has a median")
	}
	if _, err := ReadResults(strings.NewReader("BenchmarkX-2 notanumber 5 ns/op\n"), "bad"); err == nil {
		t.Error("a malformed result line was accepted")
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{409.6, "ns/op", "410 ns"},
		{90.54, "ns/hostcall", "90.5 ns"},
		{1.9, "ns/op", "1.90 ns"},
		{3290, "ns/op", "3.29 µs"},
		{1.67e9, "ns/op", "1.67 s"},
		{74.4e6, "ns/op", "74.4 ms"},
		{591, "p50-ns", "591 ns"},
		{86323, "heap-B/idle-proc", "84.3 KiB per idle-proc"},
		{140096, "B/instance", "137 KiB per instance"},
		{512, "B/op", "512 B"},
		{44, "allocs/op", "44 allocs"},
		{28512, "spawns/s", "28,500 spawns/s"},
		{9.04e6, "msgs/s", "9.04 M msgs/s"},
		{3600, "Mpix/s", "3,600 Mpix/s"},
		{0.73, "x", "0.730 x"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.v, tt.unit); got != tt.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

func TestFormatRatio(t *testing.T) {
	tests := []struct {
		r    float64
		want string
	}{{1.234, "1.23×"}, {0.73, "0.73×"}, {19.4, "19×"}, {1440, "1,440×"}, {587.0 / 972000, "1/1,656×"}}
	for _, tt := range tests {
		if got := formatRatio(tt.r); got != tt.want {
			t.Errorf("formatRatio(%v) = %q, want %q", tt.r, got, tt.want)
		}
	}
	// Rates are better when higher: the ratio still says how many floors.
	if r := ratio(3000, 4500, "Mpix/s"); r != 1.5 {
		t.Errorf("rate ratio %v", r)
	}
}

func TestRenderTable(t *testing.T) {
	res, err := ReadResults(strings.NewReader(sample), "sample")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ParseSpec([]byte(`
[[table]]
id = "t"
[[table.row]]
what = "guest → host call"
bench = "internal/engine HostCall/orbital"
unit = "ns/hostcall"
floor = "internal/engine HostCall/raw-wazero"
floor_what = "raw wazero"
goal = "<= 100"
[[table.row]]
what = "spawns"
bench = ". Spawn"
unit = "spawns/s"
goal = ">= 50000"
`))
	if err != nil {
		t.Fatal(err)
	}
	secs, err := Sections(spec, res)
	if err != nil {
		t.Fatal(err)
	}
	want := "| what | result | floor | × floor | goal |\n| --- | --- | --- | --- | --- |\n" +
		"| guest → host call | 92.0 ns | 75.0 ns (raw wazero) | 1.23× | ≤ 100 ns ✔ |\n" +
		"| spawns | 28,500 spawns/s | — | — | ≥ 50,000 spawns/s ✘ not met |\n"
	if secs["t"] != want {
		t.Fatalf("got\n%s\nwant\n%s", secs["t"], want)
	}
	if !strings.Contains(secs["header"], "**2026-12-04**") || !strings.Contains(secs["header"], "wazero v1.12.0") {
		t.Fatalf("header %q", secs["header"])
	}
	// A row whose benchmark is not in the results is an error, not a blank.
	spec.Tables[0].Rows[0].Bench = "internal/engine HostCall/gone"
	if _, err := Sections(spec, res); err == nil || !strings.Contains(err.Error(), "no result") {
		t.Fatalf("missing result: %v", err)
	}
}

func TestParseSpecErrors(t *testing.T) {
	tests := []struct{ name, spec, want string }{
		{"unknown key", "[[run]]\npkg = \"./x\"\nbench = \".\"\nbenchmem = true\n", "unknown keys"},
		{"bad regexp", "[[run]]\npkg = \"./x\"\nbench = \"(\"\n", "bench"},
		{"no pkg", "[[run]]\nbench = \".\"\n", "required"},
		{"bad id", "[[table]]\nid = \"a b\"\n", "id"},
		{"duplicate id", "[[table]]\nid = \"a\"\n[[table]]\nid = \"a\"\n", "unique"},
		{"bench without pkg", "[[table]]\nid = \"a\"\n[[table.row]]\nwhat = \"x\"\nbench = \"HostCall\"\n", "PKG NAME"},
		{"Benchmark prefix", "[[table]]\nid = \"a\"\n[[table.row]]\nwhat = \"x\"\nbench = \". BenchmarkSpawn\"\n", "without Benchmark"},
		{"bad goal", "[[table]]\nid = \"a\"\n[[table.row]]\nwhat = \"x\"\nbench = \". Spawn\"\ngoal = \"< 3\"\n", "goal"},
		{"not toml", "[[table", "bench spec"},
	}
	for _, tt := range tests {
		if _, err := ParseSpec([]byte(tt.spec)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestReplace(t *testing.T) {
	doc := "# B\n\n" + beginMarker("a") + "\nold\n" + endMarker("a") + "\n\ntext\n<!-- benchreport:b -->\n" + endMarker("b") + "\n"
	got, err := Replace(doc, map[string]string{"a": "A\n", "b": "B\n"})
	if err != nil {
		t.Fatal(err)
	}
	want := "# B\n\n" + beginMarker("a") + "\nA\n" + endMarker("a") + "\n\ntext\n" + beginMarker("b") + "\nB\n" + endMarker("b") + "\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if again, _ := Replace(got, map[string]string{"a": "A\n", "b": "B\n"}); again != got {
		t.Fatal("Replace is not idempotent")
	}
	bad := []struct{ name, doc, want string }{
		{"missing section", beginMarker("a") + "\n" + endMarker("a") + "\n", `no section "b"`},
		{"unknown section", doc + beginMarker("c") + "\n" + endMarker("c") + "\n", `"c"`},
		{"twice", doc + beginMarker("a") + "\n" + endMarker("a") + "\n", "twice"},
		{"no end", beginMarker("a") + "\nx\n", "no end marker"},
		{"end on the begin line", "<!-- benchreport:a <!-- /benchreport:a -->\n" + beginMarker("b") + "\n" + endMarker("b") + "\n", "no end marker"},
		{"nested", beginMarker("a") + "\n" + beginMarker("b") + "\n" + endMarker("b") + "\n" + endMarker("a") + "\n", "another section"},
	}
	for _, tt := range bad {
		if _, err := Replace(tt.doc, map[string]string{"a": "A\n", "b": "B\n"}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func FuzzReplace(f *testing.F) {
	f.Add(beginMarker("a") + "\nold\n" + endMarker("a") + "\n")
	f.Add("<!-- benchreport:a")
	f.Add("<!-- benchreport:a -->\n<!-- /benchreport:a -->")
	f.Fuzz(func(t *testing.T, doc string) {
		out, err := Replace(doc, map[string]string{"a": "A\n"})
		if err != nil {
			return
		}
		if again, err := Replace(out, map[string]string{"a": "A\n"}); err != nil || again != out {
			t.Fatalf("not idempotent: %v\n%q\n%q", err, out, again)
		}
	})
}

func FuzzReadResults(f *testing.F) {
	f.Add(sample)
	f.Add("BenchmarkX-2 10 5 ns/op 3 B/op\n")
	f.Fuzz(func(t *testing.T, data string) {
		res, err := ReadResults(strings.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		for key := range res.values {
			for _, u := range res.Units(key) {
				if _, _, ok := res.Median(key, u); !ok {
					t.Fatalf("%s %s listed without values", key, u)
				}
			}
		}
	})
}

// TestDocsInSync: docs/BENCHMARKS.md's generated tables are what
// docs/bench/report.toml renders from docs/bench/results.txt, and every
// figure the spec names was measured.
func TestDocsInSync(t *testing.T) {
	root := filepath.Join("..", "..")
	raw, err := os.ReadFile(filepath.Join(root, "docs", "bench", "report.toml"))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ParseSpec(raw)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "docs", "bench", "results.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := ReadResults(f, "docs/bench/results.txt")
	if err != nil {
		t.Fatal(err)
	}
	secs, err := Sections(spec, res)
	if err != nil {
		t.Fatalf("%v (run make bench, or fix docs/bench/report.toml)", err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "BENCHMARKS.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Replace(string(doc), secs)
	if err != nil {
		t.Fatalf("docs/BENCHMARKS.md: %v", err)
	}
	if want != string(doc) {
		t.Fatal("docs/BENCHMARKS.md's generated tables differ from docs/bench/results.txt: run make bench-report (or make bench to measure again); do not edit them by hand")
	}
}
