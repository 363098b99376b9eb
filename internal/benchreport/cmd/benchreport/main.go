// Command benchreport runs the benchmarks of docs/bench/report.toml and
// writes docs/bench/results.txt (-run), then renders the tables of
// docs/BENCHMARKS.md from it. `make bench` and `make bench-report` call
// it; run it from the module root.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/orbitalfoundation/orbital/internal/benchreport"
)

func main() {
	run := flag.Bool("run", false, "run the benchmarks and write the results file first (otherwise render the existing one)")
	only := flag.String("only", "", "with -run: only the runs of this package (and those below it), e.g. internal/engine or .")
	specPath := flag.String("spec", "docs/bench/report.toml", "the spec")
	resultsPath := flag.String("results", "docs/bench/results.txt", "the results file")
	docPath := flag.String("doc", "docs/BENCHMARKS.md", "the document to render the tables into")
	flag.Parse()
	if err := mainErr(*run, *only, *specPath, *resultsPath, *docPath); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		os.Exit(1)
	}
}

func mainErr(run bool, only, specPath, resultsPath, docPath string) error {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	spec, err := benchreport.ParseSpec(raw)
	if err != nil {
		return err
	}
	if run {
		if err := runAll(spec, only, resultsPath); err != nil {
			return err
		}
	}
	f, err := os.Open(resultsPath)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := benchreport.ReadResults(f, resultsPath)
	if err != nil {
		return err
	}
	secs, err := benchreport.Sections(spec, res)
	if err != nil {
		return err
	}
	doc, err := os.ReadFile(docPath)
	if err != nil {
		return err
	}
	out, err := benchreport.Replace(string(doc), secs)
	if err != nil {
		return fmt.Errorf("%s: %w", docPath, err)
	}
	if err := os.WriteFile(docPath, []byte(out), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "benchreport: %s: %d tables from %s\n", docPath, len(spec.Tables), resultsPath)
	return nil
}

// runAll runs every benchmark run, echoing go test's output to the
// terminal as it comes, and writes the results file: a header of
// configuration lines, then each run's benchmark and configuration lines.
// With only, the results of the other runs are kept from the old file.
func runAll(spec *benchreport.Spec, only, resultsPath string) error {
	var body bytes.Buffer
	var failed []string
	kept := map[string][]byte{}
	if only != "" {
		kept = oldRuns(resultsPath)
	}
	for i, r := range spec.Runs {
		if only != "" && r.Pkg != only && r.Pkg != "./"+only && !strings.HasPrefix(r.Pkg, "./"+only+"/") {
			body.Write(kept[runTag(r)])
			continue
		}
		args := []string{"test", "-run", "^$", "-bench", r.Bench, "-benchmem", "-count", fmt.Sprint(max(r.Count, 1))}
		if r.Benchtime != "" {
			args = append(args, "-benchtime", r.Benchtime)
		}
		if r.Tags != "" {
			args = append(args, "-tags", r.Tags)
		}
		args = append(args, r.Pkg)
		fmt.Fprintf(os.Stderr, "benchreport: [%d/%d] go %s\n", i+1, len(spec.Runs), strings.Join(args, " "))
		cmd := exec.Command("go", args...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		body.WriteString(runTag(r) + "\n")
		sc := bufio.NewScanner(io.TeeReader(out, os.Stderr))
		for sc.Scan() {
			line := sc.Text()
			if isResultLine(line) || isConfigLine(line) {
				body.WriteString(line + "\n")
			}
		}
		if err := cmd.Wait(); err != nil {
			failed = append(failed, fmt.Sprintf("go %s: %v", strings.Join(args, " "), err))
		}
	}
	var head bytes.Buffer
	fmt.Fprintf(&head, "date: %s\nmachine: %s\ngo: %s\nwazero: %s\n", time.Now().UTC().Format("2006-01-02"), machine(), runtime.Version(), wazeroVersion())
	if err := os.WriteFile(resultsPath, append(head.Bytes(), body.Bytes()...), 0o644); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d runs failed (their other results are recorded):\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

// isResultLine: "BenchmarkNAME-N <iterations> <value> <unit>…", not a
// "--- FAIL" or a name printed alone.
func isResultLine(line string) bool {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return false
	}
	_, err := strconv.Atoi(f[1])
	return err == nil
}

// runTag marks where a run's lines begin in the results file (benchfmt
// reads it as a configuration line).
func runTag(r benchreport.Run) string {
	return "run: " + r.Pkg + " " + r.Bench
}

// oldRuns splits an existing results file by run.
func oldRuns(path string) map[string][]byte {
	out := map[string][]byte{}
	data, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	var cur string
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.HasPrefix(line, "run: ") {
			cur = strings.TrimRight(line, "\n")
		}
		if cur != "" {
			out[cur] = append(out[cur], line...)
		}
	}
	return out
}

// isConfigLine: the configuration lines go test prints before a
// package's benchmarks (what a test prints itself is left out).
func isConfigLine(line string) bool {
	k, _, ok := strings.Cut(line, ": ")
	return ok && (k == "goos" || k == "goarch" || k == "pkg" || k == "cpu")
}

// machine describes this computer: CPUs, memory, OS.
func machine() string {
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %d GiB", (kb+(1<<19))>>20)
		}
	}
	return fmt.Sprintf("%d CPUs%s, %s", runtime.NumCPU(), mem, runtime.GOOS)
}

func wazeroVersion() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/tetratelabs/wazero").Output()
	if err == nil {
		return strings.TrimSpace(string(out))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				return d.Version
			}
		}
	}
	return "unknown"
}
