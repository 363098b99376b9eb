package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// TestVectorCountsAcceptRealModules: every example module (Go, C, WAT)
// passes the walk.
func TestVectorCountsAcceptRealModules(t *testing.T) {
	dir := filepath.Dir(testwasm.Path(t, "echo"))
	files, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil || len(files) < 10 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkVectorCounts(data); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
}

// TestVectorCountsRefuseOverclaims: a few bytes claiming billions of
// entries are refused before wazero allocates for them.
func TestVectorCountsRefuseOverclaims(t *testing.T) {
	const hdr = "\x00asm\x01\x00\x00\x00"
	for _, tc := range []struct{ name, wasm, want string }{
		{"imports", hdr + "\x02\x05\xff\xff\xff\xff\x07", "claims 2147483647 entries"},
		{"parameters", hdr + "\x01\x0d\x03\x60\x87\x87\x87\x87\x04\x00\x30\x30\x30\x30\x30", "claims 1088537479 entries"},
		{"results", hdr + "\x01\x08\x01\x60\x00\xff\xff\xff\xff\x0f", "claims 4294967295 entries"},
		{"import name", hdr + "\x02\x07\x01\xff\xff\xff\xff\x0f\x00", "claims 4294967295 entries"},
		{"export name", hdr + "\x07\x07\x01\xff\xff\xff\xff\x0f\x00", "claims 4294967295 entries"},
		{"data bytes", hdr + "\x0b\x08\x01\x01\xff\xff\xff\xff\x0f\x00", "claims 4294967295 entries"},
		{"element exprs", hdr + "\x09\x09\x01\x05\x70\xff\xff\xff\xff\x0f\x00", "claims 4294967295 entries"},
		{"function body", hdr + "\x0a\x07\x01\xff\xff\xff\xff\x0f\x00", "function body claims"},
		{"locals", hdr + "\x0a\x0a\x01\x08\x01\xff\xff\xff\xff\x0f\x7f\x0b", "more than 1048576 locals"},
		{"names", hdr + "\x00\x0d\x04name\x01\x06\xff\xff\xff\xff\x0f\x00", "claims 4294967295 entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkVectorCounts([]byte(tc.wasm))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// BenchmarkCheckVectorCounts measures the pre-check on a 3 MB Go module
// (its compile takes ~1.7 s).
func BenchmarkCheckVectorCounts(b *testing.B) {
	wasm := testwasm.Read(b, "stats")
	b.SetBytes(int64(len(wasm)))
	for b.Loop() {
		if err := checkVectorCounts(wasm); err != nil {
			b.Fatal(err)
		}
	}
}
