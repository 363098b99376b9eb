package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	bolt "go.etcd.io/bbolt"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	"github.com/orbitalfoundation/orbital/internal/shape"
)

// Buckets of the index; see the package documentation.
var (
	bMeta       = []byte("meta")
	bModules    = []byte("modules")
	bManifests  = []byte("manifests")
	bNames      = []byte("names")
	bExports    = []byte("exports")
	bSubjects   = []byte("subjects")
	bDependents = []byte("dependents")
	bCaps       = []byte("capabilities")
	bTriggers   = []byte("triggers")

	allBuckets   = [][]byte{bMeta, bModules, bManifests, bNames, bExports, bSubjects, bDependents, bCaps, bTriggers}
	indexBuckets = [][]byte{bExports, bSubjects, bDependents, bCaps, bTriggers}
)

// schemaKey in bMeta holds schemaVersion.
var schemaKey = []byte("schema")

const schemaVersion = "1"

// sep separates the parts of an index key. Names, versions, subjects and
// capability strings never contain it (clean replaces it if they do).
const sep = "\x00"

// Via values of subject index entries.
const (
	viaListen    = "listen"
	viaSubscribe = "subscribe"
	viaTrigger   = "trigger"
)

// clean makes s safe as a part of an index key.
func clean(s string) string { return strings.ReplaceAll(s, sep, "\uFFFD") }

// ref returns "name@version".
func ref(name, version string) string { return name + "@" + version }

// splitRef splits "name@version"; names never contain '@'.
func splitRef(r string) (name, version string) {
	name, version, _ = strings.Cut(r, "@")
	return name, version
}

// entry is one secondary index entry.
type entry struct {
	bucket []byte
	key    string
	val    []byte
}

// exportVal is the value of an exports entry.
type exportVal struct {
	Args   string `json:"args"`
	Result string `json:"result"`
}

// depVal is the value of a dependents entry.
type depVal struct {
	Range     string   `json:"range"`
	Optional  bool     `json:"optional,omitempty"`
	Functions []string `json:"functions,omitempty"`
}

// entriesFor returns every secondary index entry of rec, whose manifest is
// m: a pure function of the record, so Check can recompute it and Remove
// can delete exactly what Install wrote. It uses only manifest fields that
// survive a JSON round trip.
func entriesFor(rec *Record, m *manifest.Manifest) []entry {
	r := clean(rec.Ref())
	var out []entry
	seen := map[string]int{} // bucket + key → index in out
	add := func(b []byte, key string, val []byte) {
		k := string(b) + "/" + key
		if i, ok := seen[k]; ok {
			switch {
			case len(val) == 0 || bytes.Equal(out[i].val, val):
			case len(out[i].val) == 0:
				out[i].val = append([]byte(nil), val...)
			default:
				out[i].val = append(append(out[i].val, ','), val...)
			}
			return
		}
		seen[k] = len(out)
		out = append(out, entry{bucket: b, key: key, val: append([]byte(nil), val...)})
	}

	for _, e := range m.ExportList() {
		v, _ := json.Marshal(exportVal{Args: e.Args, Result: e.Result})
		add(bExports, clean(e.Name)+sep+r, v)
	}
	for _, p := range m.Bus.Listen {
		add(bSubjects, clean(p)+sep+r+sep+viaListen, nil)
	}
	for _, p := range m.Bus.Subscribe {
		add(bSubjects, clean(p)+sep+r+sep+viaSubscribe, nil)
	}
	for _, t := range rec.Triggers {
		if t.Kind == TriggerSubject && t.Value != "" {
			add(bSubjects, clean(t.Value)+sep+r+sep+viaTrigger, nil)
		}
		add(bTriggers, clean(t.Kind)+sep+clean(t.Value)+sep+r, nil)
	}
	for _, d := range m.DependencyList() {
		v, _ := json.Marshal(depVal{Range: d.Range, Optional: d.Optional, Functions: d.Functions})
		add(bDependents, clean(d.Name)+sep+r, v)
	}

	c := m.Capabilities
	addCap := func(key, detail string) { add(bCaps, clean(key)+sep+r, []byte(detail)) }
	if c.Args {
		addCap("args", "")
	}
	for _, g := range c.Env {
		addCap("env:"+g, "")
	}
	if c.Clock {
		addCap("clock", "")
	}
	if c.Random {
		addCap("random", "")
	}
	for _, n := range c.Network {
		addCap("network:"+n, "")
	}
	for _, f := range c.FS {
		d := "rw"
		if f.ReadOnly {
			d = "ro"
		}
		if f.Optional {
			d += " optional"
		}
		addCap("fs:"+f.Path, d)
	}
	for _, d := range m.DependencyList() {
		detail := "*"
		if len(d.Functions) > 0 {
			detail = strings.Join(d.Functions, " ")
		}
		if d.Optional {
			detail += " optional"
		}
		addCap("calls:"+d.Name, detail)
	}
	for _, p := range m.Bus.Publish {
		addCap("publish:"+p, "")
	}
	for _, p := range m.Bus.Subscribe {
		addCap("subscribe:"+p, "")
	}
	for _, p := range m.Bus.Listen {
		addCap("subscribe:"+p, "listen")
	}
	for _, n := range m.Bus.Send {
		addCap("send:"+n, "")
	}
	return out
}

// initBuckets creates the buckets and checks the schema version.
func initBuckets(tx *bolt.Tx) error {
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bMeta)
	switch v := meta.Get(schemaKey); {
	case v == nil:
		return meta.Put(schemaKey, []byte(schemaVersion))
	case string(v) != schemaVersion:
		return fmt.Errorf("index schema %q, this build reads %q: %w", v, schemaVersion, api.ErrInvalid)
	}
	return nil
}

// getRecord reads name@version; ok is false if it is not installed.
func getRecord(tx *bolt.Tx, name, version string) (Record, bool, error) {
	nb := tx.Bucket(bModules).Bucket([]byte(name))
	if nb == nil {
		return Record{}, false, nil
	}
	v := nb.Get([]byte(version))
	if v == nil {
		return Record{}, false, nil
	}
	var rec Record
	if err := json.Unmarshal(v, &rec); err != nil {
		return Record{}, false, fmt.Errorf("index record %s: %w", ref(name, version), err)
	}
	return rec, true, nil
}

// versionsOf returns every record of name, highest version first.
func versionsOf(tx *bolt.Tx, name string) ([]Record, error) {
	nb := tx.Bucket(bModules).Bucket([]byte(name))
	if nb == nil {
		return nil, nil
	}
	var out []Record
	err := nb.ForEach(func(k, v []byte) error {
		var rec Record
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("index record %s: %w", ref(name, string(k)), err)
		}
		out = append(out, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	vc := versionCache{}
	sort.Slice(out, func(i, j int) bool { return vc.less(out[j].Version, out[i].Version) })
	return out, nil
}

// versionLess orders versions by semantic version precedence, then as
// strings (build metadata), so the order is total.
func versionLess(a, b string) bool { return versionCache{}.less(a, b) }

// versionCache holds parsed versions for the length of one sort.
type versionCache map[string]*semver.Version

func (c versionCache) get(s string) *semver.Version {
	v, ok := c[s]
	if !ok {
		v, _ = semver.StrictNewVersion(s) // nil if invalid: ordered as a string
		c[s] = v
	}
	return v
}

func (c versionCache) less(a, b string) bool {
	if va, vb := c.get(a), c.get(b); va != nil && vb != nil {
		if x := va.Compare(vb); x != 0 {
			return x < 0
		}
	}
	return a < b
}

// modLess orders modules by name, then by version precedence.
func (c versionCache) modLess(n1, v1, n2, v2 string) bool {
	if n1 != n2 {
		return n1 < n2
	}
	return c.less(v1, v2)
}

// maxRanges bounds the cache of parsed version ranges.
const maxRanges = 4096

var ranges struct {
	sync.Mutex
	m map[string]*semver.Constraints
}

// parseRange parses a version range, caching the result: ranges repeat
// across records and parsing one costs microseconds. Constraints are
// read-only once parsed.
func parseRange(s string) (*semver.Constraints, error) {
	ranges.Lock()
	c, ok := ranges.m[s]
	ranges.Unlock()
	if ok {
		return c, nil
	}
	c, err := semver.NewConstraint(s)
	if err != nil {
		return nil, err
	}
	ranges.Lock()
	if ranges.m == nil || len(ranges.m) >= maxRanges {
		ranges.m = map[string]*semver.Constraints{}
	}
	ranges.m[s] = c
	ranges.Unlock()
	return c, nil
}

// getManifest reads and decodes the manifest of name@version.
func getManifest(tx *bolt.Tx, name, version string) (*manifest.Manifest, error) {
	v := tx.Bucket(bManifests).Get([]byte(ref(name, version)))
	if v == nil {
		return nil, fmt.Errorf("manifest of %s: %w", ref(name, version), api.ErrNotFound)
	}
	return decodeManifest(v)
}

// decodeManifest decodes a manifest stored as JSON and restores the parsed
// forms that JSON does not carry (version constraints, shapes).
func decodeManifest(b []byte) (*manifest.Manifest, error) {
	var m manifest.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("stored manifest: %w: %w", api.ErrBadManifest, err)
	}
	for k, d := range m.Dependencies {
		c, err := parseRange(d.Range)
		if err != nil {
			return nil, fmt.Errorf("stored manifest: dependency %s: %w: %w", k, api.ErrBadManifest, err)
		}
		d.Constraint = c
		m.Dependencies[k] = d
	}
	for k, e := range m.Exports {
		var err1, err2 error
		e.ArgsShape, err1 = shape.Parse(e.Args)
		e.ResultShape, err2 = shape.Parse(e.Result)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("stored manifest: export %s: %w", k, api.ErrBadManifest)
		}
		m.Exports[k] = e
	}
	return &m, nil
}

// putRecord writes rec, its manifest and every secondary index entry.
func putRecord(tx *bolt.Tx, rec *Record, mjson []byte, m *manifest.Manifest) error {
	nb, err := tx.Bucket(bModules).CreateBucketIfNotExists([]byte(rec.Name))
	if err != nil {
		return err
	}
	rj, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := nb.Put([]byte(rec.Version), rj); err != nil {
		return err
	}
	if err := tx.Bucket(bManifests).Put([]byte(rec.Ref()), mjson); err != nil {
		return err
	}
	for _, e := range entriesFor(rec, m) {
		if err := tx.Bucket(e.bucket).Put([]byte(e.key), e.val); err != nil {
			return err
		}
	}
	return nil
}

// updateRecord rewrites rec without touching its indexes (for Pin).
func updateRecord(tx *bolt.Tx, rec *Record) error {
	nb := tx.Bucket(bModules).Bucket([]byte(rec.Name))
	if nb == nil {
		return fmt.Errorf("%s: %w", rec.Ref(), api.ErrNotFound)
	}
	rj, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return nb.Put([]byte(rec.Version), rj)
}

// deleteRecord removes rec, its manifest and its index entries.
func deleteRecord(tx *bolt.Tx, rec *Record) error {
	m, err := getManifest(tx, rec.Name, rec.Version)
	if err != nil {
		return err
	}
	for _, e := range entriesFor(rec, m) {
		if err := tx.Bucket(e.bucket).Delete([]byte(e.key)); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bManifests).Delete([]byte(rec.Ref())); err != nil {
		return err
	}
	mods := tx.Bucket(bModules)
	nb := mods.Bucket([]byte(rec.Name))
	if nb == nil {
		return nil
	}
	if err := nb.Delete([]byte(rec.Version)); err != nil {
		return err
	}
	if k, _ := nb.Cursor().First(); k == nil {
		return mods.DeleteBucket([]byte(rec.Name))
	}
	return nil
}

// refreshSummary recomputes names/NAME from the records of name.
func refreshSummary(tx *bolt.Tx, name string) error {
	recs, err := versionsOf(tx, name)
	if err != nil {
		return err
	}
	names := tx.Bucket(bNames)
	if len(recs) == 0 {
		return names.Delete([]byte(name))
	}
	s := summaryOf(name, recs)
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return names.Put([]byte(name), b)
}

// summaryOf builds the summary of name from its records (highest first).
func summaryOf(name string, recs []Record) Summary {
	s := Summary{Name: name, Kind: recs[0].Kind, Latest: recs[0].Version, Versions: make([]string, len(recs))}
	for i, r := range recs {
		s.Versions[len(recs)-1-i] = r.Version
		if r.Pinned {
			s.Pinned = r.Version
		}
	}
	return s
}

// getSummary reads names/NAME; ok is false if name is not installed.
func getSummary(tx *bolt.Tx, name string) (Summary, bool, error) {
	v := tx.Bucket(bNames).Get([]byte(name))
	if v == nil {
		return Summary{}, false, nil
	}
	var s Summary
	if err := json.Unmarshal(v, &s); err != nil {
		return Summary{}, false, fmt.Errorf("index summary %s: %w", name, err)
	}
	return s, true, nil
}

// scanPrefix calls fn for every key of bucket b starting with prefix.
func scanPrefix(tx *bolt.Tx, b []byte, prefix string, fn func(key string, val []byte) error) error {
	c := tx.Bucket(b).Cursor()
	p := []byte(prefix)
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if err := fn(string(k), v); err != nil {
			return err
		}
	}
	return nil
}
