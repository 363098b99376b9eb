package metrics_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/admin"
	"github.com/orbitalfoundation/orbital/internal/control"
	"github.com/orbitalfoundation/orbital/internal/node"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/testwait"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// startNode runs a real node (echo and the calltest library from
// build/wasm) behind a real control server and returns the server's info.
func startNode(t *testing.T) (*node.Node, api.ControlInfo) {
	t.Helper()
	wasmDir := filepath.Dir(testwasm.Path(t, "echo"))
	toml := "[node]\nmodule_path = [\"" + wasmDir + "\"]\ngrace = \"2s\"\n" + `
[[process]]
name = "echo"
module = "echo"
[[process]]
name = "calltest"
module = "calltest"
calls = ["calltest"]
`
	cfg, err := config.Parse([]byte(toml), "test.toml", t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := node.Start(context.Background(), cfg, testwasm.Home(t), log, node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	srv, err := serve(control.Options{Home: home}, n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		_ = n.Close(ctx)
	})
	data, err := os.ReadFile(control.InfoPath(home))
	if err != nil {
		t.Fatal(err)
	}
	var info api.ControlInfo
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatal(err)
	}
	return n, info
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 30*time.Second, what, cond)
}

// get fetches /metrics with the given Authorization header ("" for none).
func get(t *testing.T, addr, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// value returns the value of name's series whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	for _, m := range fams[name].GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && got[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func TestMetricsEndpointOnARealNode(t *testing.T) {
	n, info := startNode(t)
	waitFor(t, "echo running", func() bool {
		for _, p := range n.Runner().Processes() {
			if p.Name == "echo" && p.State == api.StateRunning {
				return true
			}
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.Kernel().Call(ctx, "calltest", "echo", []byte("hi")); err != nil {
		t.Fatal(err)
	}

	t.Run("refused", func(t *testing.T) {
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + info.Token + "x"} {
			if code, _ := get(t, info.Addr, auth); code != http.StatusUnauthorized {
				t.Errorf("Authorization %q: status %d, want 401", auth, code)
			}
		}
	})

	t.Run("served", func(t *testing.T) {
		code, body := get(t, info.Addr, "Bearer "+info.Token)
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		tests := []struct {
			name   string
			labels map[string]string
			check  func(float64) bool
		}{
			{"orbital_process_up", map[string]string{"name": "echo", "module": "echo@1.0.0", "state": "running"}, func(v float64) bool { return v == 1 }},
			{"orbital_process_memory_bytes", map[string]string{"name": "echo"}, func(v float64) bool { return v > 0 }},
			{"orbital_processes", map[string]string{"state": "running"}, func(v float64) bool { return v >= 1 }},
			{"orbital_library_calls_total", map[string]string{"name": "calltest", "version": "1.0.0"}, func(v float64) bool { return v >= 1 }},
			{"orbital_library_instances", map[string]string{"name": "calltest"}, func(v float64) bool { return v >= 1 }},
			{"orbital_bus_subscriptions", nil, func(v float64) bool { return v >= 1 }},
			{"orbital_registry_modules", nil, func(v float64) bool { return v == 0 }},
			{"go_goroutines", nil, func(v float64) bool { return v > 0 }},
			{"process_resident_memory_bytes", nil, func(v float64) bool { return v > 0 }},
		}
		for _, tt := range tests {
			v, ok := value(fams, tt.name, tt.labels)
			if !ok {
				t.Errorf("%s%v: no such series", tt.name, tt.labels)
				continue
			}
			if !tt.check(v) {
				t.Errorf("%s%v = %v", tt.name, tt.labels, v)
			}
		}
	})
}

// serve serves a node's control API and admin panel as `orbital up` does.
func serve(o control.Options, n *node.Node) (*control.Server, error) {
	srv, err := control.Listen(o)
	if err != nil {
		return nil, err
	}
	admin.Serve(srv, n.Backends())
	return srv, nil
}
