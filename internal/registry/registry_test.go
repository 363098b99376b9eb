package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

func TestInstallStoresAndIndexes(t *testing.T) {
	r := openTest(t)
	data := buildPkg(lib("vision", "1.2.0").toml(), 1000)
	rec, err := install(r, context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Ref() != "vision@1.2.0" || rec.Kind != string(manifest.KindLibrary) || rec.Size != int64(len(data)) || rec.Verdict != "unsigned (test)" {
		t.Fatalf("record = %+v", rec)
	}
	if rec.Blob != digestOf(data) || rec.Installed.IsZero() {
		t.Fatalf("blob %s, installed %v", rec.Blob, rec.Installed)
	}
	want := filepath.Join(r.Dir(), "blobs", "sha256", rec.Blob[:2], rec.Blob)
	if !fileExists(want) {
		t.Fatalf("blob not at %s", want)
	}
	got, grec, err := r.Read("vision", "")
	if err != nil || string(got) != string(data) || grec.Ref() != rec.Ref() {
		t.Fatalf("Read = %d bytes, %s, %v", len(got), grec.Ref(), err)
	}
	mustCheck(t, r)

	// Reopening finds the same state.
	dir := r.Dir()
	r.Close()
	r2 := openDir(t, dir)
	list, err := r2.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "vision" || list[0].Latest != "1.2.0" {
		t.Fatalf("List after reopen = %+v", list)
	}
}

func TestReinstall(t *testing.T) {
	ctx := context.Background()
	r := openTest(t)
	first := buildPkg(lib("vision", "1.0.0").toml(), 10)
	rec1, err := install(r, ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)

	// Same digest: a no-op that returns the installed record.
	rec2, err := install(r, ctx, first)
	if err != nil || !reflect.DeepEqual(rec1, rec2) {
		t.Fatalf("reinstall = %+v, %v; want %+v", rec2, err, rec1)
	}
	// ... and that restores a deleted blob.
	os.Remove(r.store.path(rec1.Blob))
	if _, err := install(r, ctx, first); err != nil || !r.store.exists(rec1.Blob) {
		t.Fatalf("reinstall did not restore the blob: %v", err)
	}

	// Other digest, same name@version: refused, unless forced.
	other := buildPkg(lib("vision", "1.0.0").toml(), 20)
	_, err = install(r, ctx, other)
	if !errors.Is(err, api.ErrExists) || !strings.Contains(err.Error(), "force") {
		t.Fatalf("install of another digest: %v, want ErrExists", err)
	}
	if err := r.Pin("vision", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	rec3, err := installWith(r, ctx, other, InstallOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if rec3.Digest == rec1.Digest || !rec3.Pinned {
		t.Fatalf("forced install = %+v (want new digest, pin kept)", rec3)
	}
	rep := mustCheck(t, r)
	if len(rep.Orphans) != 1 || rep.Orphans[0] != rec1.Blob {
		t.Fatalf("orphans = %v, want the replaced blob", rep.Orphans)
	}
	gc, err := r.GC(ctx)
	if err != nil || len(gc.Removed) != 1 || gc.Kept != 1 || gc.Freed != int64(len(first)) {
		t.Fatalf("GC = %+v, %v", gc, err)
	}
	if rep := mustCheck(t, r); len(rep.Orphans) != 0 || rep.Blobs != 1 {
		t.Fatalf("after GC: %+v", rep)
	}
}

func TestInstallRefusals(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	r := openTest(t)
	mustInstall(t, r, lib("vision", "1.0.0"))
	badDigest := func([]byte) (*manifest.Manifest, string, string, error) {
		m, _ := manifest.Parse([]byte(lib("x", "1.0.0").toml()), "")
		return m, "abc", "", nil
	}
	refused := func([]byte) (*manifest.Manifest, string, string, error) {
		return nil, "", "", fmt.Errorf("signature by an untrusted key: %w", api.ErrPermissionDenied)
	}
	tests := []struct {
		name  string
		ctx   context.Context
		data  []byte
		open  opener
		max   int64
		class error
		msg   string
	}{
		{"no manifest", ctx, []byte(wasmHeader), nil, 0, api.ErrBadModule, "no orbital.manifest"},
		{"bad manifest", ctx, buildPkg("name = 3", 0), nil, 0, api.ErrBadManifest, "orbital.manifest:1"},
		{"other kind", ctx, app("vision", "2.0.0").pkg(), nil, 0, api.ErrExists, "vision is installed as a library, this package is an app"},
		{"too large", ctx, buildPkg(lib("big", "1.0.0").toml(), 2000), nil, 1000, api.ErrTooLarge, "at most 1000"},
		{"cancelled", cancelled, lib("y", "1.0.0").pkg(), nil, 0, api.ErrClosed, "install"},
		{"bad digest", ctx, lib("x", "1.0.0").pkg(), badDigest, 0, api.ErrBadModule, "not a hex sha256"},
		{"opener refuses", ctx, lib("x", "1.0.0").pkg(), refused, 0, api.ErrPermissionDenied, "untrusted key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := r
			open := tt.open
			if open == nil {
				open = testOpener
			}
			if tt.max != 0 {
				var err error
				reg, err = Open(ctx, t.TempDir(), Options{MaxPackageSize: tt.max})
				if err != nil {
					t.Fatal(err)
				}
				defer reg.Close()
			}
			_, err := installOpened(reg, tt.ctx, open, tt.data, InstallOptions{})
			if !errors.Is(err, tt.class) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.class, tt.msg)
			}
		})
	}
	mustCheck(t, r)
}

func TestResolveAtInstall(t *testing.T) {
	tests := []struct {
		name      string
		installed []spec
		install   spec
		resolved  map[string]string // dependency → version ("" = left out)
		class     error
		msg       string
	}{
		{
			name:      "highest in range",
			installed: []spec{lib("vision", "1.2.0"), lib("vision", "1.9.1"), lib("vision", "2.0.0")},
			install:   app("app", "1.0.0", "vision ^1.2"),
			resolved:  map[string]string{"vision": "1.9.1"},
		},
		{
			name: "diamond with a common version (backtracks)",
			installed: []spec{
				lib("c", "1.0.0"), lib("c", "1.4.0"), lib("c", "2.0.0"),
				lib("a", "1.0.0", "c >=1.0.0"), lib("b", "1.0.0", "c <1.5.0"),
			},
			install:  app("app", "1.0.0", "a ^1", "b ^1", "c *"),
			resolved: map[string]string{"a": "1.0.0", "b": "1.0.0", "c": "1.4.0"},
		},
		{
			name: "diamond through versions of the middle",
			installed: []spec{
				lib("vision", "1.2.0"), lib("vision", "2.0.0"),
				lib("kv", "1.0.0", "vision ^1.2"), lib("kv", "1.1.0", "vision ^2"),
			},
			install:  app("app", "1.0.0", "kv ^1", "vision ^1"),
			resolved: map[string]string{"kv": "1.0.0", "vision": "1.2.0"},
		},
		{
			name:      "conflict names the chain",
			installed: []spec{lib("vision", "1.2.0"), lib("vision", "2.0.0"), lib("kv", "1.0.0", "vision ^1.2")},
			install:   app("app", "1.0.0", "vision ^2", "kv ^1"),
			class:     api.ErrVersion,
			msg:       "app@1.0.0 needs vision ^2 but app@1.0.0 → kv@1.0.0 needs vision ^1.2: no matching version (installed: 1.2.0, 2.0.0)",
		},
		{
			name:      "conflict deeper down",
			installed: []spec{lib("z", "1.0.0"), lib("z", "2.0.0"), lib("x", "1.0.0", "z ^1"), lib("y", "1.0.0", "z ^2"), lib("w", "1.0.0", "y ^1")},
			install:   app("app", "1.0.0", "x ^1", "w ^1"),
			class:     api.ErrVersion,
			msg:       "app@1.0.0 → x@1.0.0 needs z ^1 but app@1.0.0 → w@1.0.0 → y@1.0.0 needs z ^2",
		},
		{
			name:    "missing",
			install: app("app", "1.0.0", "vision ^1"),
			class:   api.ErrNotFound,
			msg:     "app@1.0.0 needs vision ^1: vision is not installed",
		},
		{
			name:      "no version in range",
			installed: []spec{lib("vision", "1.2.0"), lib("vision", "2.0.0")},
			install:   app("app", "1.0.0", "vision ^3"),
			class:     api.ErrVersion,
			msg:       "app@1.0.0 needs vision ^3: no matching version (installed: 1.2.0, 2.0.0)",
		},
		{
			name:      "pre-releases only when asked for",
			installed: []spec{lib("vision", "2.0.0-rc.1")},
			install:   app("app", "1.0.0", "vision ^2"),
			class:     api.ErrVersion,
			msg:       "installed: 2.0.0-rc.1",
		},
		{
			name:      "not a library",
			installed: []spec{app("tool", "1.0.0")},
			install:   app("app", "1.0.0", "tool ^1"),
			class:     api.ErrInvalid,
			msg:       "tool is an app, not a library",
		},
		{
			name:     "optional and missing",
			install:  app("app", "1.0.0", "kv ^1 optional"),
			resolved: map[string]string{"kv": ""},
		},
		{
			name:      "optional and in conflict: left out",
			installed: []spec{lib("vision", "1.2.0"), lib("kv", "1.0.0", "vision ^1.2"), lib("vision", "2.0.0")},
			install:   app("app", "1.0.0", "vision ^2", "kv ^1 optional"),
			resolved:  map[string]string{"vision": "2.0.0", "kv": ""},
		},
		{
			name:      "optional and present",
			installed: []spec{lib("kv", "1.0.0")},
			install:   app("app", "1.0.0", "kv ^1 optional"),
			resolved:  map[string]string{"kv": "1.0.0"},
		},
		{
			name:      "optional deep down does not fail",
			installed: []spec{lib("kv", "1.0.0", "cache ^1 optional")},
			install:   app("app", "1.0.0", "kv ^1"),
			resolved:  map[string]string{"kv": "1.0.0"},
		},
		{
			name:      "a library may need another version of itself only if it is the one",
			installed: []spec{lib("self", "1.0.0")},
			install:   lib("self", "2.0.0", "self ^1"),
			class:     api.ErrVersion,
			msg:       "self@2.0.0 needs self ^1 but this is self@2.0.0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := openTest(t)
			mustInstall(t, r, tt.installed...)
			rec, err := install(r, context.Background(), tt.install.pkg())
			if tt.class != nil {
				if !errors.Is(err, tt.class) || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("err = %v\nwant %v containing %q", err, tt.class, tt.msg)
				}
				if _, gerr := r.Get(tt.install.name, tt.install.version); !errors.Is(gerr, api.ErrNotFound) {
					t.Fatalf("refused install left a record: %v", gerr)
				}
				mustCheck(t, r)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, d := range rec.Dependencies {
				got[d.Name] = d.Resolved
			}
			if !reflect.DeepEqual(got, tt.resolved) {
				t.Fatalf("resolved %v, want %v", got, tt.resolved)
			}
			mustCheck(t, r)
		})
	}
}

func TestResolveAtBindTime(t *testing.T) {
	r := openTest(t)
	mustInstall(t, r,
		lib("vision", "1.0.0"), lib("vision", "1.5.0"), lib("vision", "2.0.0-beta.1"), lib("vision", "2.0.0"),
		lib("kv", "1.0.0", "vision ~1.0"), lib("kv", "1.1.0", "vision ^1.5"))
	tests := []struct {
		name, rng, want string
		class           error
	}{
		{"vision", "", "2.0.0", nil},
		{"vision", "^1", "1.5.0", nil},
		{"vision", "~1.0", "1.0.0", nil},
		{"vision", ">=2.0.0-0", "2.0.0", nil},
		{"vision", "2.0.0-beta.1", "2.0.0-beta.1", nil},
		{"vision", "^3", "", api.ErrVersion},
		{"vision", "not a range", "", api.ErrInvalid},
		{"nothing", "", "", api.ErrNotFound},
		{"kv", "^1", "1.1.0", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.rng, func(t *testing.T) {
			rec, err := r.Resolve(tt.name, tt.rng)
			if !errors.Is(err, tt.class) || (tt.class == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.class)
			}
			if rec.Version != tt.want {
				t.Fatalf("resolved %s, want %s", rec.Version, tt.want)
			}
		})
	}

	// Re-checked at bind time: after a forced removal kv 1.1.0 no longer
	// resolves, so kv ^1 falls back to 1.0.0; with both gone, an error.
	if _, err := r.Remove("vision", "1.5.0", true); err != nil {
		t.Fatal(err)
	}
	if rec, err := r.Resolve("kv", "^1"); err != nil || rec.Version != "1.0.0" {
		t.Fatalf("Resolve kv ^1 after removal = %s, %v; want 1.0.0", rec.Version, err)
	}
	if _, err := r.Remove("vision", "1.0.0", true); err != nil {
		t.Fatal(err)
	}
	_, err := r.Resolve("kv", "^1")
	if !errors.Is(err, api.ErrVersion) || !strings.Contains(err.Error(), "kv@1.1.0 does not resolve: kv@1.1.0 needs vision ^1.5") {
		t.Fatalf("Resolve kv with its library gone: %v", err)
	}

	// Pinning wins when in range.
	if err := r.Pin("vision", "2.0.0-beta.1"); err != nil {
		t.Fatal(err)
	}
	if rec, err := r.Resolve("vision", ""); err != nil || rec.Version != "2.0.0-beta.1" {
		t.Fatalf("pinned Resolve = %s, %v", rec.Version, err)
	}
	if rec, err := r.Resolve("vision", "2.0.0"); err != nil || rec.Version != "2.0.0" {
		t.Fatalf("Resolve outside the pin = %s, %v", rec.Version, err)
	}
	if err := r.Pin("vision", "9.9.9"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("pin of a missing version: %v", err)
	}
	if err := r.Pin("vision", ""); err != nil {
		t.Fatal(err)
	}
	if rec, err := r.Resolve("vision", ""); err != nil || rec.Version != "2.0.0" {
		t.Fatalf("unpinned Resolve = %s, %v", rec.Version, err)
	}
	mustCheck(t, r)
}

func TestPinSteersInstall(t *testing.T) {
	r := openTest(t)
	mustInstall(t, r, lib("vision", "1.0.0"), lib("vision", "1.1.0"))
	if err := r.Pin("vision", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	rec, err := install(r, context.Background(), app("app", "1.0.0", "vision ^1").pkg())
	if err != nil || rec.Dependencies[0].Resolved != "1.0.0" {
		t.Fatalf("install with a pin = %+v, %v", rec.Dependencies, err)
	}
}

func TestRemoveGuards(t *testing.T) {
	tests := []struct {
		name            string
		installed       []spec
		remove, version string
		force           bool
		msg             string // expected refusal; "" = removed
	}{
		{
			name:      "the only version an app needs",
			installed: []spec{lib("vision", "1.2.0"), app("app", "1.0.0", "vision ^1")},
			remove:    "vision", version: "1.2.0",
			msg: "app@1.0.0 would no longer resolve: app@1.0.0 needs vision ^1: vision is not installed",
		},
		{
			name:      "another version satisfies",
			installed: []spec{lib("vision", "1.2.0"), lib("vision", "1.3.0"), app("app", "1.0.0", "vision ^1")},
			remove:    "vision", version: "1.3.0",
		},
		{
			name:      "another version but out of range",
			installed: []spec{lib("vision", "1.2.0"), lib("vision", "2.0.0"), app("app", "1.0.0", "vision ^1")},
			remove:    "vision", version: "1.2.0",
			msg: "app@1.0.0 needs vision ^1: no matching version (installed: 2.0.0)",
		},
		{
			name:      "every version",
			installed: []spec{lib("vision", "1.2.0"), lib("vision", "1.3.0"), app("app", "1.0.0", "vision ^1")},
			remove:    "vision",
			msg:       "app@1.0.0 would no longer resolve",
		},
		{
			name: "transitively",
			installed: []spec{
				lib("vision", "1.2.0"), lib("vision", "2.0.0"), lib("vision", "3.0.0"),
				lib("x", "1.0.0", "vision <3"), lib("y", "1.0.0", "vision ^1 || ^3"), app("app", "1.0.0", "x ^1", "y ^1"),
			},
			remove: "vision", version: "1.2.0",
			msg: "app@1.0.0 would no longer resolve: app@1.0.0 → x@1.0.0 needs vision <3 but app@1.0.0 → y@1.0.0 needs vision ^1 || ^3",
		},
		{
			name:      "optional dependents do not block",
			installed: []spec{lib("kv", "1.0.0"), app("app", "1.0.0", "kv ^1 optional")},
			remove:    "kv", version: "1.0.0",
		},
		{
			name:      "forced",
			installed: []spec{lib("vision", "1.2.0"), app("app", "1.0.0", "vision ^1")},
			remove:    "vision", version: "1.2.0", force: true,
		},
		{
			name:      "a dependent may go",
			installed: []spec{lib("vision", "1.2.0"), app("app", "1.0.0", "vision ^1")},
			remove:    "app",
		},
		{
			name:      "not installed",
			installed: []spec{lib("vision", "1.2.0")},
			remove:    "vision", version: "9.0.0",
			msg: "not installed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := openTest(t)
			mustInstall(t, r, tt.installed...)
			removed, err := r.Remove(tt.remove, tt.version, tt.force)
			if tt.msg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("err = %v, want one containing %q", err, tt.msg)
				}
				if tt.msg != "not installed" && (!errors.Is(err, ErrInUse) || !errors.Is(err, api.ErrInvalid)) {
					t.Fatalf("refusal %v does not wrap ErrInUse and api.ErrInvalid", err)
				}
				if tt.msg == "not installed" && !errors.Is(err, api.ErrNotFound) {
					t.Fatalf("err = %v, want api.ErrNotFound", err)
				}
				mustCheck(t, r)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range removed {
				if rec.Name != tt.remove || (tt.version != "" && rec.Version != tt.version) {
					t.Fatalf("removed %s", rec.Ref())
				}
				if _, err := r.Get(rec.Name, rec.Version); !errors.Is(err, api.ErrNotFound) {
					t.Fatalf("%s still there: %v", rec.Ref(), err)
				}
			}
			mustCheck(t, r)
		})
	}
}

func TestMultipleVersions(t *testing.T) {
	r := openTest(t)
	mustInstall(t, r, lib("vision", "1.10.0"), lib("vision", "1.2.0"), lib("vision", "2.0.0-rc.1"), lib("vision", "1.9.0"),
		app("app", "0.1.0"))
	list, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []Summary{
		{Name: "app", Kind: string(manifest.KindApp), Versions: []string{"0.1.0"}, Latest: "0.1.0"},
		{Name: "vision", Kind: string(manifest.KindLibrary), Versions: []string{"1.2.0", "1.9.0", "1.10.0", "2.0.0-rc.1"}, Latest: "2.0.0-rc.1"},
	}
	if !reflect.DeepEqual(list, want) {
		t.Fatalf("List = %+v\nwant %+v", list, want)
	}
	if _, err := r.Remove("vision", "2.0.0-rc.1", false); err != nil {
		t.Fatal(err)
	}
	info, err := r.Info("vision", "")
	if err != nil || info.Version != "1.10.0" || len(info.Versions) != 3 {
		t.Fatalf("Info latest = %s %v, %v", info.Version, info.Versions, err)
	}
	if _, err := r.Remove("vision", "", false); err != nil {
		t.Fatal(err)
	}
	if list, _ := r.List(); len(list) != 1 {
		t.Fatalf("List after removing every version = %+v", list)
	}
	mustCheck(t, r)
}

func TestCorruptBlob(t *testing.T) {
	ctx := context.Background()
	r := openTest(t)
	data := buildPkg(lib("vision", "1.0.0").toml(), 4096)
	rec, err := install(r, ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	p := r.store.path(rec.Blob)
	bad := append([]byte(nil), data...)
	bad[len(bad)-100] ^= 0xff
	if err := os.WriteFile(p, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = r.Read("vision", "1.0.0")
	if !errors.Is(err, api.ErrBadModule) || !errors.Is(err, errCorrupt) {
		t.Fatalf("Read of a corrupt blob: %v", err)
	}
	rep, err := r.Check(ctx)
	if err != nil || rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "corrupt") {
		t.Fatalf("Check = %+v, %v; want a corrupt blob", rep, err)
	}
	// Truncated.
	os.WriteFile(p, data[:10], 0o600)
	if _, _, err := r.Read("vision", "1.0.0"); !errors.Is(err, api.ErrBadModule) {
		t.Fatalf("Read of a truncated blob: %v", err)
	}
	// Missing.
	os.Remove(p)
	if _, _, err := r.Read("vision", "1.0.0"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("Read of a missing blob: %v", err)
	}
	// Reinstalling the same package repairs it.
	if _, err := install(r, ctx, data); err != nil {
		t.Fatal(err)
	}
	if got, _, err := r.Read("vision", "1.0.0"); err != nil || string(got) != string(data) {
		t.Fatalf("Read after repair: %v", err)
	}
	mustCheck(t, r)
}

func TestOpenRemovesTempFilesAndGC(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r := openDir(t, dir)
	mustInstall(t, r, lib("vision", "1.0.0"))
	shard := filepath.Join(dir, "blobs", "sha256", "ab")
	os.MkdirAll(shard, 0o750)
	tmp := filepath.Join(shard, tempPrefix+"abcdef-123")
	os.WriteFile(tmp, []byte("partial"), 0o600)
	orphan := strings.Repeat("ab", 32)
	os.WriteFile(filepath.Join(shard, orphan), []byte("x"), 0o600)

	rep := mustCheck(t, r)
	if len(rep.Temp) != 1 || len(rep.Orphans) != 1 || rep.Orphans[0] != orphan {
		t.Fatalf("Check = %+v", rep)
	}
	r.Close()
	r = openDir(t, dir)
	if fileExists(tmp) {
		t.Fatal("Open left a temporary file")
	}
	gc, err := r.GC(ctx)
	if err != nil || len(gc.Removed) != 1 || gc.Removed[0] != orphan || gc.Kept != 1 {
		t.Fatalf("GC = %+v, %v", gc, err)
	}
	if rep := mustCheck(t, r); len(rep.Orphans)+len(rep.Temp) != 0 || rep.Blobs != 1 {
		t.Fatalf("after GC: %+v", rep)
	}
}

func TestOpenLockedAndUnopened(t *testing.T) {
	dir := t.TempDir()
	openDir(t, dir)
	_, err := Open(context.Background(), dir, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, api.ErrTimeout) || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Open: %v", err)
	}
	// The registry verifies nothing itself: a package the gate did not
	// open (no manifest) is refused.
	r := openTest(t)
	if _, err := r.Install(context.Background(), Package{Data: []byte(wasmHeader)}, InstallOptions{}); !errors.Is(err, api.ErrBadManifest) {
		t.Fatalf("Install of an unopened package: %v", err)
	}
}

func TestCheckFindsIndexDamage(t *testing.T) {
	r := openTest(t)
	mustInstall(t, r, lib("vision", "1.0.0", "kv ^1 optional"))
	// Remove one secondary entry and add a stray one behind the registry's back.
	err := r.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bExports).Delete([]byte("f" + sep + "vision@1.0.0")); err != nil {
			return err
		}
		return tx.Bucket(bCaps).Put([]byte("clock"+sep+"ghost@1.0.0"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rep.Problems, "\n")
	if len(rep.Problems) != 2 || !strings.Contains(all, "missing") || !strings.Contains(all, "no record implies it") {
		t.Fatalf("problems = %q", rep.Problems)
	}
}

// TestConcurrentUse installs, removes and queries from several goroutines
// (run it with -race).
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	r := openTest(t)
	mustInstall(t, r, lib("base", "1.0.0"))
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				s := app(fmt.Sprintf("app%d", w), fmt.Sprintf("1.0.%d", i), "base ^1")
				if _, err := install(r, ctx, s.pkg()); err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					if _, err := r.Remove(s.name, s.version, false); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				if _, err := r.List(); err != nil {
					t.Error(err)
				}
				if _, err := r.Dependents("base"); err != nil {
					t.Error(err)
				}
				if _, err := r.Resolve("base", "^1"); err != nil {
					t.Error(err)
				}
				if i%10 == 0 {
					if _, err := r.GC(ctx); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	deps, err := r.Dependents("base")
	if err != nil || len(deps) != 4*10 {
		t.Fatalf("Dependents = %d, %v; want 40", len(deps), err)
	}
	if _, err := r.Remove("base", "", false); !errors.Is(err, ErrInUse) {
		t.Fatalf("removing a library 40 modules need: %v", err)
	}
	mustCheck(t, r)
}
