package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/admin"
	"github.com/orbitalfoundation/orbital/internal/control"
)

func TestAdminCommand(t *testing.T) {
	for _, tc := range []struct {
		name     string
		nodeJSON string // "" writes no node.json
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"login link", `{"addr":"127.0.0.1:4123","token":"feedface","pid":1}`, []string{"admin", "url"}, exitOK, "http://127.0.0.1:4123/admin/login?token=feedface\n", ""},
		{"no node", "", []string{"admin", "url"}, exitFailure, "", "orbital up"},
		{"no token", `{"addr":"127.0.0.1:4123"}`, []string{"admin", "url"}, exitFailure, "", "no address or token"},
		{"bad node.json", `{`, []string{"admin", "url"}, exitFailure, "", "node.json"},
		{"no subcommand", "", []string{"admin"}, exitUsage, "", "Usage: orbital admin url"},
		{"unknown subcommand", "", []string{"admin", "open"}, exitUsage, "", "Usage: orbital admin url"},
		{"help", "", []string{"admin", "--help"}, exitOK, "Usage: orbital admin url", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := emptyHome(t)
			if tc.nodeJSON != "" {
				if err := os.WriteFile(control.InfoPath(home), []byte(tc.nodeJSON), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			code, out, errOut := runCLI(t, "", tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d", code, tc.wantCode)
			}
			if tc.wantOut != "" && !strings.Contains(out, tc.wantOut) {
				t.Errorf("stdout %q, want %q", out, tc.wantOut)
			}
			if tc.wantErr != "" && !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr %q, want %q", errOut, tc.wantErr)
			}
		})
	}
}

// The link round-trips any token and uses --home over $ORBITAL_HOME.
func TestAdminURLHomeFlag(t *testing.T) {
	emptyHome(t)
	other := t.TempDir()
	info, _ := json.Marshal(api.ControlInfo{Addr: "127.0.0.1:9", Token: "a+b/c"})
	if err := os.WriteFile(filepath.Join(other, "node.json"), info, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, "", "admin", "url", "--home", other)
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	u, err := url.Parse(strings.TrimSpace(out))
	if err != nil || u.Path != admin.LoginPath || u.Query().Get("token") != "a+b/c" {
		t.Fatalf("link %q", out)
	}
}
