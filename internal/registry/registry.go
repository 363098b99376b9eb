package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// Registry is an open registry directory. Its methods are safe for
// concurrent use; writers are serialised by the index's write transaction,
// readers see consistent snapshots.
type Registry struct {
	dir      string
	db       *bolt.DB
	store    *store
	log      *slog.Logger
	triggers func(*manifest.Manifest) []Trigger
	maxSize  int64
	now      func() time.Time
}

// Open opens (creating if needed) the registry in dir: DIR/index.db and
// DIR/blobs/sha256. It removes temporary files left by interrupted
// installs. It fails with api.ErrTimeout when another process holds the
// index for longer than Options.LockTimeout.
func Open(ctx context.Context, dir string, o Options) (*Registry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open registry %s: %w: %w", dir, api.ErrClosed, err)
	}
	r := &Registry{
		dir:      dir,
		store:    &store{root: filepath.Join(dir, "blobs", "sha256")},
		log:      o.Logger,
		triggers: o.Triggers,
		maxSize:  o.MaxPackageSize,
		now:      o.Now,
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.triggers == nil {
		r.triggers = ManifestTriggers
	}
	if r.maxSize <= 0 {
		r.maxSize = DefaultMaxPackageSize
	}
	if r.now == nil {
		r.now = time.Now
	}
	timeout := o.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	if err := os.MkdirAll(r.store.root, 0o750); err != nil {
		return nil, fmt.Errorf("open registry %s: %w", dir, err)
	}
	db, err := bolt.Open(filepath.Join(dir, "index.db"), 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open registry %s: index is in use by another process: %w", dir, api.ErrTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open registry %s: index: %w", dir, err)
	}
	r.db = db
	if err := db.Update(initBuckets); err != nil {
		db.Close()
		return nil, fmt.Errorf("open registry %s: %w", dir, err)
	}
	// The index lock is held: no other process is writing blobs here, so
	// every temporary file is a leftover of a crash.
	n, err := r.store.removeTemp()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open registry %s: %w", dir, err)
	}
	if n > 0 {
		r.log.Info("registry: removed temporary files of interrupted installs", "dir", dir, "count", n)
	}
	return r, nil
}

// Close closes the index. Blobs need no closing.
func (r *Registry) Close() error {
	if err := r.db.Close(); err != nil {
		return fmt.Errorf("close registry %s: %w", r.dir, err)
	}
	return nil
}

// Dir returns the registry's directory.
func (r *Registry) Dir() string { return r.dir }

// Install stores a package that the trust gate has opened and verified
// (package install; the registry itself trusts nothing and verifies
// nothing): it checks the manifest's name, version and kind, resolves its
// dependencies against the installed modules, stores the blob atomically
// and writes the record and its index entries in one transaction.
// Reinstalling the same module digest is a no-op that returns the
// installed record. Errors wrap an api class: api.ErrTooLarge,
// api.ErrBadManifest, api.ErrBadModule, api.ErrExists (another digest
// under the same name@version, or the name is taken by another kind),
// api.ErrNotFound / api.ErrVersion / api.ErrInvalid / api.ErrLimit
// (dependencies) or api.ErrClosed (ctx cancelled).
func (r *Registry) Install(ctx context.Context, p Package, o InstallOptions) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("install: %w: %w", api.ErrClosed, err)
	}
	data, m, digest, verdict := p.Data, p.Manifest, p.Digest, p.Verdict
	if int64(len(data)) > r.maxSize {
		return Record{}, fmt.Errorf("install: package is %d bytes, at most %d: %w", len(data), r.maxSize, api.ErrTooLarge)
	}
	if m == nil {
		return Record{}, fmt.Errorf("install: %w: no manifest", api.ErrBadManifest)
	}
	if err := checkManifest(m); err != nil {
		return Record{}, fmt.Errorf("install: %w", err)
	}
	digest = strings.TrimPrefix(digest, "sha256:")
	if !validDigest(digest) {
		return Record{}, fmt.Errorf("install %s: package digest %q is not a hex sha256: %w", m, digest, api.ErrBadModule)
	}
	mjson, err := json.Marshal(m)
	if err != nil {
		return Record{}, fmt.Errorf("install %s: encode manifest: %w: %w", m, api.ErrBadManifest, err)
	}
	rec := Record{
		Name:        m.Name,
		Version:     m.Version.String(),
		Kind:        string(m.Kind),
		Description: m.Description,
		Digest:      digest,
		Blob:        digestOf(data),
		Size:        int64(len(data)),
		Verdict:     verdict,
		Triggers:    r.triggers(m),
	}
	var (
		out     Record
		already bool
		old     *Record
	)
	err = r.db.Update(func(tx *bolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", api.ErrClosed, err)
		}
		cur, ok, err := getRecord(tx, rec.Name, rec.Version)
		if err != nil {
			return err
		}
		if ok && cur.Digest == rec.Digest {
			already, out = true, cur
			if cur.Blob == rec.Blob { // restore a missing or damaged blob
				return r.store.put(rec.Blob, data)
			}
			if !r.store.exists(cur.Blob) {
				return fmt.Errorf("blob sha256:%s of the installed module is missing; reinstall it with force: %w", cur.Blob, api.ErrNotFound)
			}
			return nil
		}
		if ok && !o.Force {
			return fmt.Errorf("already installed with module digest %s, this package has %s (force replaces it): %w", cur.Digest, rec.Digest, api.ErrExists)
		}
		if s, found, err := getSummary(tx, rec.Name); err != nil {
			return err
		} else if found && s.Kind != rec.Kind {
			return fmt.Errorf("%s is installed as %s %s, this package is %s %s: %w", rec.Name, article(string(s.Kind)), s.Kind, article(string(rec.Kind)), rec.Kind, api.ErrExists)
		}
		deps, err := resolveDeps(tx, m)
		if err != nil {
			return err
		}
		rec.Dependencies = deps
		if ok {
			rec.Pinned = cur.Pinned
			if err := deleteRecord(tx, &cur); err != nil {
				return err
			}
			old = &cur
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", api.ErrClosed, err)
		}
		// The blob is durable before the transaction that names it commits.
		if err := r.store.put(rec.Blob, data); err != nil {
			return err
		}
		rec.Installed = r.now().UTC()
		if err := putRecord(tx, &rec, mjson, m); err != nil {
			return err
		}
		out = rec
		return refreshSummary(tx, rec.Name)
	})
	if err != nil {
		return Record{}, fmt.Errorf("install %s: %w", m, err)
	}
	switch {
	case already:
		r.log.Debug("registry: already installed", "module", out.Ref(), "digest", out.Digest)
	case old != nil:
		r.log.Info("registry: replaced", "module", out.Ref(), "digest", out.Digest, "old_digest", old.Digest, "verdict", out.Verdict)
	default:
		r.log.Info("registry: installed", "module", out.Ref(), "kind", out.Kind, "digest", out.Digest, "size", out.Size, "verdict", out.Verdict)
	}
	return out, nil
}

// checkManifest checks what the registry relies on, whatever the Opener.
func checkManifest(m *manifest.Manifest) error {
	switch {
	case m == nil:
		return fmt.Errorf("opener returned no manifest: %w", api.ErrBadManifest)
	case manifest.ValidateName(m.Name) != nil:
		return fmt.Errorf("module name %q: %w", m.Name, api.ErrBadManifest)
	case m.Version == nil:
		return fmt.Errorf("%s: no version: %w", m.Name, api.ErrBadManifest)
	}
	switch m.Kind {
	case manifest.KindApp, manifest.KindLibrary, manifest.KindDriver, manifest.KindService:
	default:
		return fmt.Errorf("%s: kind %q: %w", m, m.Kind, api.ErrBadManifest)
	}
	if _, err := semver.StrictNewVersion(m.Version.String()); err != nil {
		return fmt.Errorf("%s: version: %w", m, api.ErrBadManifest)
	}
	for _, d := range m.Dependencies {
		if d.Constraint == nil {
			return fmt.Errorf("%s: dependency %s has no parsed range: %w", m, d.Name, api.ErrBadManifest)
		}
	}
	return nil
}

// Remove removes version of name, or every version when version is empty,
// and returns the removed records. Unless force, it refuses with ErrInUse
// when an installed module that resolves now would no longer resolve (see
// the package documentation). The blobs stay until GC.
func (r *Registry) Remove(name, version string, force bool) ([]Record, error) {
	what := name
	if version != "" {
		what = ref(name, version)
	}
	var removed []Record
	err := r.db.Update(func(tx *bolt.Tx) error {
		var recs []Record
		if version == "" {
			all, err := versionsOf(tx, name)
			if err != nil {
				return err
			}
			recs = all
		} else {
			rec, ok, err := getRecord(tx, name, version)
			if err != nil {
				return err
			}
			if ok {
				recs = []Record{rec}
			}
		}
		if len(recs) == 0 {
			return fmt.Errorf("not installed: %w", api.ErrNotFound)
		}
		if !force {
			if err := checkRemoval(tx, name, recs); err != nil {
				return err
			}
		}
		for i := range recs {
			if err := deleteRecord(tx, &recs[i]); err != nil {
				return err
			}
		}
		removed = recs
		return refreshSummary(tx, name)
	})
	if err != nil {
		return nil, fmt.Errorf("remove %s: %w", what, err)
	}
	for _, rec := range removed {
		r.log.Info("registry: removed", "module", rec.Ref(), "forced", force)
	}
	return removed, nil
}

// checkRemoval refuses to remove recs (versions of name) when a module
// depending on name, directly or transitively, resolves now and would not
// without them.
func checkRemoval(tx *bolt.Tx, name string, recs []Record) error {
	excl := map[string]bool{}
	for _, rec := range recs {
		excl[rec.Ref()] = true
	}
	// Every module that reaches name through dependencies.
	var affected []string
	seenName := map[string]bool{name: true}
	seenRef := map[string]bool{}
	queue := []string{name}
	for len(queue) > 0 {
		lib := queue[0]
		queue = queue[1:]
		err := scanPrefix(tx, bDependents, clean(lib)+sep, func(key string, _ []byte) error {
			dep := key[len(clean(lib))+len(sep):]
			if !seenRef[dep] {
				seenRef[dep] = true
				affected = append(affected, dep)
			}
			if n, _ := splitRef(dep); !seenName[n] {
				seenName[n] = true
				queue = append(queue, n)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	// Direct dependents come first (breadth first), so a refusal names
	// the closest module that breaks.
	before, after := newSolver(tx, nil), newSolver(tx, excl)
	for _, dr := range affected {
		if excl[dr] {
			continue
		}
		n, v := splitRef(dr)
		rec, ok, err := getRecord(tx, n, v)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		p, err := before.recordPick(rec)
		if err != nil {
			return err
		}
		if _, err := before.solve(p); err != nil {
			continue // already broken: not this removal's doing
		}
		if _, err := after.solve(p); err != nil {
			if errors.Is(err, api.ErrLimit) {
				return err
			}
			return fmt.Errorf("%w: %s would no longer resolve: %v", ErrInUse, dr, err)
		}
	}
	return nil
}

// Pin makes version the pinned version of name: Resolve and dependency
// resolution try it first whenever it is in range (used to roll back or
// hold an upgrade). An empty version unpins.
func (r *Registry) Pin(name, version string) error {
	err := r.db.Update(func(tx *bolt.Tx) error {
		recs, err := versionsOf(tx, name)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return fmt.Errorf("not installed: %w", api.ErrNotFound)
		}
		found := version == ""
		for i := range recs {
			want := recs[i].Version == version
			found = found || want
			if recs[i].Pinned != want {
				recs[i].Pinned = want
				if err := updateRecord(tx, &recs[i]); err != nil {
					return err
				}
			}
		}
		if !found {
			return fmt.Errorf("version %s is not installed: %w", version, api.ErrNotFound)
		}
		return refreshSummary(tx, name)
	})
	if err != nil {
		return fmt.Errorf("pin %s: %w", name, err)
	}
	r.log.Info("registry: pinned", "name", name, "version", version)
	return nil
}

// Resolve returns the installed version of name to bind to for the version
// range rng: the pinned version if it is in range, else the highest in
// range, skipping versions whose own dependency closure no longer resolves.
// An empty rng accepts any version (pre-releases included). Errors wrap
// api.ErrNotFound (not installed), api.ErrInvalid (bad range) or
// api.ErrVersion (nothing in range, or nothing in range that resolves).
func (r *Registry) Resolve(name, rng string) (Record, error) {
	what := name
	if rng != "" {
		what += " " + rng
	}
	var c *semver.Constraints
	if rng != "" {
		var err error
		if c, err = parseRange(rng); err != nil {
			return Record{}, fmt.Errorf("resolve %s: %q is not a version range: %w", what, rng, api.ErrInvalid)
		}
	}
	var out Record
	err := r.db.View(func(tx *bolt.Tx) error {
		s := newSolver(tx, nil)
		cs, err := s.candidates(name)
		if err != nil {
			return err
		}
		if len(cs.list) == 0 {
			return fmt.Errorf("not installed: %w", api.ErrNotFound)
		}
		var first error
		for _, cand := range cs.list {
			if c != nil && !c.Check(cand.v) {
				continue
			}
			p, err := s.recordPick(cand.rec)
			if err != nil {
				return err
			}
			if _, err := s.solve(p); err != nil {
				if first == nil {
					first = fmt.Errorf("%w: %s does not resolve: %v", api.ErrVersion, cand.rec.Ref(), err)
				}
				continue
			}
			out = cand.rec
			return nil
		}
		if first != nil {
			return first
		}
		return fmt.Errorf("%w (installed: %s)", api.ErrVersion, cs.installed())
	})
	if err != nil {
		return Record{}, fmt.Errorf("resolve %s: %w", what, err)
	}
	return out, nil
}

// Get returns the record of name@version; an empty version means the
// pinned version, else the latest.
func (r *Registry) Get(name, version string) (Record, error) {
	var out Record
	err := r.db.View(func(tx *bolt.Tx) error {
		rec, err := lookup(tx, name, version)
		out = rec
		return err
	})
	if err != nil {
		return Record{}, fmt.Errorf("get %s: %w", refOrName(name, version), err)
	}
	return out, nil
}

// lookup finds name@version, or the pinned/latest version of name.
func lookup(tx *bolt.Tx, name, version string) (Record, error) {
	if version == "" {
		s, ok, err := getSummary(tx, name)
		if err != nil {
			return Record{}, err
		}
		if !ok {
			return Record{}, fmt.Errorf("not installed: %w", api.ErrNotFound)
		}
		version = s.Latest
		if s.Pinned != "" {
			version = s.Pinned
		}
	}
	rec, ok, err := getRecord(tx, name, version)
	if err != nil {
		return Record{}, err
	}
	if !ok {
		return Record{}, fmt.Errorf("not installed: %w", api.ErrNotFound)
	}
	return rec, nil
}

func refOrName(name, version string) string {
	if version == "" {
		return name
	}
	return ref(name, version)
}

// Read returns the package bytes of name@version (empty version: pinned,
// else latest) after verifying them against the stored digest. A missing
// blob wraps api.ErrNotFound, a corrupt one api.ErrBadModule.
func (r *Registry) Read(name, version string) ([]byte, Record, error) {
	var rec Record
	err := r.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = lookup(tx, name, version)
		return err
	})
	if err != nil {
		return nil, Record{}, fmt.Errorf("read %s: %w", refOrName(name, version), err)
	}
	data, err := r.store.get(rec.Blob)
	if err != nil {
		return nil, Record{}, fmt.Errorf("read %s: %w", rec.Ref(), err)
	}
	return data, rec, nil
}

// GC removes blobs that no record references and temporary files. It runs
// inside the index's write transaction, so it never races an install.
func (r *Registry) GC(ctx context.Context) (GCReport, error) {
	var rep GCReport
	err := r.db.Update(func(tx *bolt.Tx) error {
		used, err := referencedBlobs(tx)
		if err != nil {
			return err
		}
		files, err := r.store.walk()
		if err != nil {
			return err
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("%w: %w", api.ErrClosed, err)
			}
			switch {
			case f.temp:
				rep.Temp++
			case f.stray:
				continue // not ours to judge
			case used[f.digest]:
				rep.Kept++
				continue
			default:
				rep.Removed = append(rep.Removed, f.digest)
				rep.Freed += f.size
			}
			if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("gc %s: %w", r.dir, err)
	}
	if len(rep.Removed)+rep.Temp > 0 {
		r.log.Info("registry: garbage collected", "blobs", len(rep.Removed), "temp", rep.Temp, "freed", rep.Freed)
	}
	return rep, nil
}

// referencedBlobs returns the blobs named by some record.
func referencedBlobs(tx *bolt.Tx) (map[string]bool, error) {
	used := map[string]bool{}
	err := tx.Bucket(bModules).ForEachBucket(func(name []byte) error {
		return tx.Bucket(bModules).Bucket(name).ForEach(func(k, v []byte) error {
			var rec Record
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("index record %s@%s: %w", name, k, err)
			}
			used[rec.Blob] = true
			return nil
		})
	})
	return used, err
}

// Check verifies the registry: every record's blob exists and matches its
// digest, every record has its manifest and summary, and the secondary
// indexes hold exactly the entries the records imply. It reads every blob.
func (r *Registry) Check(ctx context.Context) (Report, error) {
	var rep Report
	problem := func(format string, args ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...)) }
	err := r.db.View(func(tx *bolt.Tx) error {
		want := map[string]map[string]string{} // bucket → key → value
		for _, b := range indexBuckets {
			want[string(b)] = map[string]string{}
		}
		used := map[string]bool{}
		var names []string
		if err := tx.Bucket(bModules).ForEachBucket(func(n []byte) error {
			names = append(names, string(n))
			return nil
		}); err != nil {
			return err
		}
		refs := map[string]bool{}
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("%w: %w", api.ErrClosed, err)
			}
			recs, err := versionsOf(tx, name)
			if err != nil {
				problem("%v", err)
				continue
			}
			if len(recs) == 0 {
				problem("modules/%s: empty bucket", name)
				continue
			}
			for i := range recs {
				rec := &recs[i]
				rep.Records++
				refs[rec.Ref()] = true
				used[rec.Blob] = true
				if rec.Name != name {
					problem("modules/%s/%s: record names %s", name, rec.Version, rec.Ref())
				}
				if _, err := r.store.get(rec.Blob); err != nil {
					problem("%s: %v", rec.Ref(), err)
				}
				m, err := getManifest(tx, rec.Name, rec.Version)
				if err != nil {
					problem("%s: %v", rec.Ref(), err)
					continue
				}
				if m.Name != rec.Name || m.Version == nil || m.Version.String() != rec.Version || string(m.Kind) != rec.Kind {
					problem("%s: manifest says %s (%s)", rec.Ref(), m, m.Kind)
				}
				for _, e := range entriesFor(rec, m) {
					want[string(e.bucket)][e.key] = string(e.val)
				}
			}
			s, ok, err := getSummary(tx, name)
			switch {
			case err != nil:
				problem("%v", err)
			case !ok:
				problem("names/%s: missing", name)
			default:
				exp := summaryOf(name, recs)
				got, _ := json.Marshal(s)
				wantJSON, _ := json.Marshal(exp)
				if string(got) != string(wantJSON) {
					problem("names/%s: %s, records imply %s", name, got, wantJSON)
				}
			}
		}
		if err := tx.Bucket(bNames).ForEach(func(k, _ []byte) error {
			if tx.Bucket(bModules).Bucket(k) == nil {
				problem("names/%s: no records", k)
			}
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bManifests).ForEach(func(k, _ []byte) error {
			if !refs[string(k)] {
				problem("manifests/%s: no record", k)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, b := range indexBuckets {
			w := want[string(b)]
			seen := 0
			if err := tx.Bucket(b).ForEach(func(k, v []byte) error {
				exp, ok := w[string(k)]
				switch {
				case !ok:
					problem("%s/%q: no record implies it", b, k)
				case exp != string(v):
					problem("%s/%q: value %q, record implies %q", b, k, v, exp)
				default:
					seen++
				}
				return nil
			}); err != nil {
				return err
			}
			if seen != len(w) {
				for k := range w {
					if tx.Bucket(b).Get([]byte(k)) == nil {
						problem("%s/%q: missing", b, k)
					}
				}
			}
		}
		files, err := r.store.walk()
		if err != nil {
			return err
		}
		for _, f := range files {
			switch {
			case f.temp:
				rep.Temp = append(rep.Temp, f.name)
			case f.stray:
				problem("blobs: unexpected file %s", f.path)
			default:
				rep.Blobs++
				if !used[f.digest] {
					rep.Orphans = append(rep.Orphans, f.digest)
				}
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("check %s: %w", r.dir, err)
	}
	sort.Strings(rep.Problems)
	return rep, nil
}
