package testwasm

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SharedCache is the compile cache the tests of every package share:
// build/testcache/compiled. Under -race, compiling one Go guest takes
// 10-40 s; one cold cache per test would add many minutes to the suite.
// wazero keys its entries by the binary's hash, its own version and the
// CPU, so an entry is never stale; `make clean` removes it.
func SharedCache(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(Root(tb), "build", "testcache", "compiled")
}

// Home returns a fresh data directory (a t.TempDir) whose compile cache
// (home/cache/compiled) is seeded with hard links to SharedCache; what the
// test compiles is linked back when it ends. Tests that check the compile
// cache itself should start from an empty t.TempDir instead.
func Home(tb testing.TB) string {
	tb.Helper()
	home := tb.TempDir()
	shared, cache := SharedCache(tb), filepath.Join(home, "cache", "compiled")
	LinkTree(tb, shared, cache)
	// Runs before t.TempDir's own cleanup (cleanups are LIFO).
	tb.Cleanup(func() { LinkTree(tb, cache, shared) })
	return home
}

// LinkTree hard-links (or copies) every regular file under src that dst
// lacks. wazero's file cache only ever creates files by rename and deletes
// them, it never writes into one, so sharing them by hard link is safe,
// across processes too.
func LinkTree(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || !d.Type().IsRegular() || strings.HasSuffix(p, ".tmp") {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if _, err := os.Lstat(to); err == nil {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
			return err
		}
		if os.Link(p, to) == nil {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		// Copied, not linked (another file system): by rename, so that a
		// reader never sees half a file.
		tmp := to + ".tmp"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, to)
	})
	if err != nil {
		tb.Errorf("sharing the compile cache %s → %s: %v", src, dst, err)
	}
}
