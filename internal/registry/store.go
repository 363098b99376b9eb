package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/orbitalfoundation/orbital/api"
)

// tempPrefix starts the name of a blob being written.
const tempPrefix = ".tmp-"

// store is the content-addressed blob store under DIR/blobs/sha256. It does
// no locking: its writers run inside the index's write transaction.
type store struct {
	root   string // DIR/blobs/sha256
	noSync bool   // tests and benchmark set-up only
}

// digestOf returns the hex sha256 of data.
func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// validDigest reports whether s is a lowercase hex sha256.
func validDigest(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// path returns where the blob named digest lives.
func (s *store) path(digest string) string {
	return filepath.Join(s.root, digest[:2], digest)
}

// put stores data under digest (its sha256), atomically: a temporary file
// in the final directory, fsync, rename, fsync of the directory. A blob
// already present is kept if its bytes match and replaced otherwise.
func (s *store) put(digest string, data []byte) error {
	final := s.path(digest)
	if ok, err := s.matches(digest); err != nil {
		return err
	} else if ok {
		return nil
	}
	dir := filepath.Dir(final)
	created := false
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("store blob %s: %w", digest, err)
		}
		created = true
	}
	f, err := os.CreateTemp(dir, tempPrefix+digest[:12]+"-*")
	if err != nil {
		return fmt.Errorf("store blob %s: %w", digest, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("store blob %s: %w", digest, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if !s.noSync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store blob %s: %w", digest, err)
	}
	if s.noSync {
		return nil
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("store blob %s: %w", digest, err)
	}
	if created {
		if err := syncDir(s.root); err != nil {
			return fmt.Errorf("store blob %s: %w", digest, err)
		}
	}
	return nil
}

// syncDir makes a directory's entries (a rename, a new file) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// matches reports whether the blob exists with the right bytes.
func (s *store) matches(digest string) (bool, error) {
	f, err := os.Open(s.path(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check blob %s: %w", digest, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, fmt.Errorf("check blob %s: %w", digest, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == digest, nil
}

// exists reports whether a file is stored under digest, without reading it.
func (s *store) exists(digest string) bool {
	fi, err := os.Stat(s.path(digest))
	return err == nil && fi.Mode().IsRegular()
}

// get reads the blob and verifies its digest. A missing blob wraps
// api.ErrNotFound, a corrupt one api.ErrBadModule.
func (s *store) get(digest string) ([]byte, error) {
	if !validDigest(digest) {
		return nil, fmt.Errorf("blob %q: %w digest", digest, api.ErrInvalid)
	}
	data, err := os.ReadFile(s.path(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob sha256:%s: %w", digest, api.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob sha256:%s: %w", digest, err)
	}
	if got := digestOf(data); got != digest {
		return nil, fmt.Errorf("blob sha256:%s: %w (%w: its bytes hash to %s)", digest, api.ErrBadModule, errCorrupt, got)
	}
	return data, nil
}

// blobFile is a file found in the store.
type blobFile struct {
	path   string
	name   string // digest, or the temporary name
	size   int64
	temp   bool // a temporary file left by an interrupted write
	stray  bool // neither a blob name nor a temporary file
	digest string
}

// walk lists every file under the store's shard directories.
func (s *store) walk() ([]blobFile, error) {
	shards, err := os.ReadDir(s.root)
	if err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	var out []blobFile
	for _, sh := range shards {
		if !sh.IsDir() {
			out = append(out, blobFile{path: filepath.Join(s.root, sh.Name()), name: sh.Name(), stray: true})
			continue
		}
		dir := filepath.Join(s.root, sh.Name())
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("list blobs: %w", err)
		}
		for _, e := range ents {
			bf := blobFile{path: filepath.Join(dir, e.Name()), name: e.Name()}
			if info, err := e.Info(); err == nil {
				bf.size = info.Size()
			}
			switch {
			case strings.HasPrefix(e.Name(), tempPrefix):
				bf.temp = true
			case e.Type().IsRegular() && validDigest(e.Name()) && e.Name()[:2] == sh.Name():
				bf.digest = e.Name()
			default:
				bf.stray = true
			}
			out = append(out, bf)
		}
	}
	return out, nil
}

// removeTemp deletes temporary files left by interrupted writes and returns
// how many there were.
func (s *store) removeTemp() (int, error) {
	files, err := s.walk()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		if !f.temp {
			continue
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("remove temporary blob: %w", err)
		}
		n++
	}
	return n, nil
}
