package main

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/control"
	"github.com/orbitalfoundation/orbital/internal/pack"
)

// TestBinaryRegistry drives the device registry end to end with the real
// binary: keygen, pack, sign, a trust policy, install (refusing unsigned
// and tampered packages and unmet dependencies), list/info/query, the
// removal guard, then `orbital up` booting the installed modules, calls
// into an installed library, an upgrade on the running node and a
// rollback.
func TestBinaryRegistry(t *testing.T) {
	home := newHome(t)
	dir := t.TempDir()
	bin := func(args ...string) (int, string, string) {
		t.Helper()
		return runBinary(t, "", args...)
	}
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := bin(args...)
		if code != 0 {
			t.Fatalf("orbital %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	key := filepath.Join(dir, "pub")
	must("keygen", "-o", key)
	pub, err := pack.LoadPublicKey(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pol := pack.DefaultPolicy()
	if err := pol.Trust("demo publisher", pub, "*"); err != nil {
		t.Fatal(err)
	}
	if err := pol.Save(filepath.Join(home, pack.PolicyFile)); err != nil {
		t.Fatal(err)
	}
	pkg := func(name, manifestPath string) string {
		t.Helper()
		out := filepath.Join(dir, name+".orbital.wasm")
		args := []string{"pack", wasm(t, name), "-o", out}
		if manifestPath != "" {
			args = append(args, "--manifest", manifestPath)
		}
		must(args...)
		must("sign", "--key", key+".key", out)
		return out
	}
	vision, kv, camera := pkg("vision", ""), pkg("kv", ""), pkg("camera", "")

	// Unsigned and tampered packages are refused; nothing is installed.
	unsigned := filepath.Join(dir, "unsigned.orbital.wasm")
	must("pack", wasm(t, "vision"), "-o", unsigned)
	if code, _, errOut := bin("install", unsigned); code != exitNoPerm || !strings.Contains(errOut, "unsigned") {
		t.Fatalf("unsigned install: %d %s", code, errOut)
	}
	data, _ := os.ReadFile(vision)
	data[100] ^= 0xff
	tampered := writeFile(t, dir, "tampered.orbital.wasm", data)
	if code, _, errOut := bin("install", tampered); code == 0 {
		t.Fatalf("tampered install succeeded: %s", errOut)
	}
	// camera needs vision and kv.
	if code, _, errOut := bin("install", camera); code == 0 || !strings.Contains(errOut, "is not installed") {
		t.Fatalf("install with unmet dependencies: %d %s", code, errOut)
	}
	// vision comes from an HTTPS server, kv from an OCI registry (both real,
	// in this process); a download over the size cap is refused.
	visionData, _ := os.ReadFile(vision)
	web := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(visionData)
	}))
	defer web.Close()
	ca := writeFile(t, dir, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: web.Certificate().Raw}))
	if code, _, errOut := bin("install", "--ca", ca, "--max-size", "64KiB", web.URL+"/vision.orbital.wasm"); code != exitBadInput || !strings.Contains(errOut, "too large") {
		t.Fatalf("oversized download: %d %s", code, errOut)
	}
	if code, _, errOut := bin("install", web.URL+"/vision.orbital.wasm"); code == 0 || !strings.Contains(errOut, "certificate") {
		t.Fatalf("HTTPS without trusting the server: %d %s", code, errOut)
	}
	must("install", "--ca", ca, web.URL+"/vision.orbital.wasm")
	oci := httptest.NewServer(registry.New())
	defer oci.Close()
	ref := "oci://" + strings.TrimPrefix(oci.URL, "http://") + "/demo/kv:1.0.0"
	if out := must("push", "--plain-http", kv, ref); !strings.Contains(out, "sha256:") {
		t.Fatalf("push: %s", out)
	}
	if code, _, _ := bin("install", "--plain-http", "oci://"+strings.TrimPrefix(oci.URL, "http://")+"/demo/kv:9.9.9"); code != exitUsage {
		t.Fatalf("unknown tag: exit %d, want %d", code, exitUsage)
	}
	must("install", "--plain-http", ref)
	if out := must("install", camera); !strings.Contains(out, "camera@1.0.0") {
		t.Fatalf("install: %s", out)
	}
	if out := must("list"); !strings.Contains(out, "vision") || !strings.Contains(out, "1.3.0") {
		t.Fatalf("list: %s", out)
	}
	if out := must("query", "exports", "histogram"); !strings.Contains(out, `"module": "vision@1.3.0"`) {
		t.Fatalf("query exports: %s", out)
	}
	if out := must("query", "dependents", "vision"); !strings.Contains(out, "camera") {
		t.Fatalf("query dependents: %s", out)
	}
	if out := must("query", "may", "clock"); !strings.Contains(out, "camera") {
		t.Fatalf("query may clock: %s", out)
	}
	if code, _, errOut := bin("remove", "vision"); code == 0 || !strings.Contains(errOut, "camera") {
		t.Fatalf("removing a library camera needs: %d %s", code, errOut)
	}
	var info struct {
		Name     string
		Manifest struct{ Kind string }
	}
	if err := json.Unmarshal([]byte(must("info", "vision")), &info); err != nil || info.Manifest.Kind != "library" {
		t.Fatalf("info: %v %+v", err, info)
	}

	// A node with no configured processes boots the installed ones.
	cfg := writeFile(t, dir, "node.toml", []byte("[node]\ngrace = \"2s\"\n"))
	c := startBinary(t, nil, "up", cfg)
	checkFor(t, time.Minute, "node.json", func() bool {
		_, err := os.Stat(control.InfoPath(home))
		return err == nil
	})
	ps := func() map[string]api.ProcessInfo { return psByName(t) }
	checkFor(t, time.Minute, "installed modules running", func() bool {
		m := ps()
		return m["camera"].State == api.StateRunning && m["vision"].State == api.StateRunning && m["kv"].State == api.StateRunning
	})
	if out := must("call", "vision", "brightness", "abcdABCD"); strings.TrimSpace(out) != `{"mean":82,"min":66,"max":98}` {
		t.Fatalf("call into the installed library: %q", out)
	}

	// Upgrade vision to 1.4.0 on the running node, then roll back.
	mf, _ := os.ReadFile(strings.TrimSuffix(wasm(t, "vision"), ".wasm") + ".orbital.toml")
	next := writeFile(t, dir, "vision-1.4.0.toml", []byte(strings.Replace(string(mf), `version = "1.3.0"`, `version = "1.4.0"`, 1)))
	must("install", pkg("vision", next))
	checkFor(t, time.Minute, "vision 1.4.0 running", func() bool { return ps()["vision"].Module == "vision@1.4.0" })
	if out := must("call", "vision", "brightness", "abcdABCD"); !strings.Contains(out, `"mean":82`) {
		t.Fatalf("call after the upgrade: %q", out)
	}
	must("rollback", "vision")
	checkFor(t, time.Minute, "vision 1.3.0 running again", func() bool {
		p := ps()["vision"]
		return p.Module == "vision@1.3.0" && p.State == api.StateRunning
	})
	if out := must("list"); !strings.Contains(out, "1.3.0 (pinned)") {
		t.Fatalf("list after rollback: %s", out)
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.wait(t); code != 0 {
		t.Fatalf("orbital up exited %d\n%s", code, c.stderr)
	}
	// Without a node the registry opens directly and remembers the pin.
	if out := must("list"); !strings.Contains(out, "1.3.0 (pinned)") {
		t.Fatalf("list without a node: %s", out)
	}
}
