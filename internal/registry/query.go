package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	bolt "go.etcd.io/bbolt"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	subj "github.com/orbitalfoundation/orbital/internal/subject" // WhatFires's parameter is named subject
)

// List returns every installed name with its kind and versions, sorted by
// name.
func (r *Registry) List() ([]Summary, error) {
	out := []Summary{}
	err := r.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bNames).ForEach(func(k, v []byte) error {
			var s Summary
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("index summary %s: %w", k, err)
			}
			out = append(out, s)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return out, nil
}

// Info returns name@version (empty version: the pinned version, else the
// latest) with its parsed manifest, the installed versions of its name and
// the modules that depend on the name.
func (r *Registry) Info(name, version string) (ModuleInfo, error) {
	var out ModuleInfo
	err := r.db.View(func(tx *bolt.Tx) error {
		rec, err := lookup(tx, name, version)
		if err != nil {
			return err
		}
		m, err := getManifest(tx, rec.Name, rec.Version)
		if err != nil {
			return err
		}
		s, _, err := getSummary(tx, name)
		if err != nil {
			return err
		}
		deps, err := dependents(tx, name)
		if err != nil {
			return err
		}
		out = ModuleInfo{Record: rec, Manifest: m, Versions: s.Versions, Dependents: deps}
		return nil
	})
	if err != nil {
		return ModuleInfo{}, fmt.Errorf("info %s: %w", refOrName(name, version), err)
	}
	return out, nil
}

// WhoExports returns the installed library versions that export function
// fn, sorted by name and version.
func (r *Registry) WhoExports(fn string) ([]ExportRef, error) {
	if err := manifest.ValidateExportName(fn); err != nil {
		return nil, fmt.Errorf("who exports: %v: %w", err, api.ErrInvalid)
	}
	out := []ExportRef{}
	err := r.db.View(func(tx *bolt.Tx) error {
		return scanPrefix(tx, bExports, fn+sep, func(key string, val []byte) error {
			var v exportVal
			if err := json.Unmarshal(val, &v); err != nil {
				return fmt.Errorf("index exports/%q: %w", key, err)
			}
			mref := key[len(fn)+len(sep):]
			n, ver := splitRef(mref)
			out = append(out, ExportRef{Module: mref, Name: n, Version: ver, Function: fn, Args: v.Args, Result: v.Result})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("who exports %s: %w", fn, err)
	}
	vc := versionCache{}
	sort.SliceStable(out, func(i, j int) bool { return vc.modLess(out[i].Name, out[i].Version, out[j].Name, out[j].Version) })
	return out, nil
}

// WhatFires returns the modules that a message on subject reaches or
// starts: those whose [bus] listen or subscribe patterns match it and those
// with a subject trigger matching it (NATS-style matching: '*' one token,
// '>' the rest). The index is walked token by token along the subject's
// literal tokens, '*' and '>', so the cost follows the answer, not the
// number of patterns installed.
func (r *Registry) WhatFires(subject string) ([]Firing, error) {
	if err := subj.Valid(subject); err != nil {
		return nil, fmt.Errorf("what fires: %w: %w", err, api.ErrInvalid)
	}
	toks := strings.Split(subject, ".")
	out := []Firing{}
	err := r.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bSubjects).Cursor()
		scan := func(prefix string) {
			p := []byte(prefix)
			for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
				parts := strings.Split(string(k), sep)
				if len(parts) != 3 || !subj.Match(parts[0], subject) {
					continue
				}
				n, v := splitRef(parts[1])
				out = append(out, Firing{Module: parts[1], Name: n, Version: v, Pattern: parts[0], Via: parts[2]})
			}
		}
		exists := func(prefix string) bool {
			k, _ := c.Seek([]byte(prefix))
			return k != nil && bytes.HasPrefix(k, []byte(prefix))
		}
		// walk visits the patterns whose first i tokens match the subject's;
		// prefix is those tokens followed by '.'.
		var walk func(prefix string, i int)
		walk = func(prefix string, i int) {
			scan(prefix + ">" + sep) // '>' takes the remaining tokens
			for _, t := range []string{toks[i], "*"} {
				p := prefix + clean(t)
				if i == len(toks)-1 {
					scan(p + sep)
				} else if exists(p + ".") {
					walk(p+".", i+1)
				}
			}
		}
		walk("", 0)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("what fires %s: %w", subject, err)
	}
	sortFirings(out)
	return out, nil
}

func sortFirings(out []Firing) {
	vc := versionCache{}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name || a.Version != b.Version {
			return vc.modLess(a.Name, a.Version, b.Name, b.Version)
		}
		if a.Pattern != b.Pattern {
			return a.Pattern < b.Pattern
		}
		return a.Via < b.Via
	})
}

// Triggered returns the modules declaring a trigger of kind (a Trigger*
// constant, e.g. TriggerBoot); Firing.Pattern is the trigger's value.
func (r *Registry) Triggered(kind string) ([]Firing, error) {
	if kind == "" || strings.Contains(kind, sep) {
		return nil, fmt.Errorf("triggered: trigger kind %q: %w", kind, api.ErrInvalid)
	}
	out := []Firing{}
	err := r.db.View(func(tx *bolt.Tx) error {
		return scanPrefix(tx, bTriggers, kind+sep, func(key string, _ []byte) error {
			parts := strings.Split(key, sep)
			if len(parts) != 3 {
				return nil
			}
			n, v := splitRef(parts[2])
			out = append(out, Firing{Module: parts[2], Name: n, Version: v, Pattern: parts[1], Via: kind})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("triggered %s: %w", kind, err)
	}
	sortFirings(out)
	return out, nil
}

// Dependents returns the installed modules whose [dependencies] name lib,
// with the highest installed version of lib each range accepts.
func (r *Registry) Dependents(lib string) ([]Dependent, error) {
	var out []Dependent
	err := r.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = dependents(tx, lib)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dependents of %s: %w", lib, err)
	}
	return out, nil
}

func dependents(tx *bolt.Tx, lib string) ([]Dependent, error) {
	out := []Dependent{}
	var versions []*semver.Version // of lib, descending
	if s, ok, err := getSummary(tx, lib); err != nil {
		return nil, err
	} else if ok && s.Kind == string(manifest.KindLibrary) {
		for i := len(s.Versions) - 1; i >= 0; i-- {
			if v, err := semver.StrictNewVersion(s.Versions[i]); err == nil {
				versions = append(versions, v)
			}
		}
	}
	prefix := clean(lib) + sep
	err := scanPrefix(tx, bDependents, prefix, func(key string, val []byte) error {
		var v depVal
		if err := json.Unmarshal(val, &v); err != nil {
			return fmt.Errorf("index dependents/%q: %w", key, err)
		}
		mref := key[len(prefix):]
		n, ver := splitRef(mref)
		d := Dependent{Module: mref, Name: n, Version: ver, Library: lib, Range: v.Range, Functions: v.Functions, Optional: v.Optional}
		if c, err := parseRange(v.Range); err == nil {
			for _, lv := range versions {
				if c.Check(lv) {
					d.Satisfied = lv.String()
					break
				}
			}
		}
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	vc := versionCache{}
	sort.SliceStable(out, func(i, j int) bool { return vc.modLess(out[i].Name, out[i].Version, out[j].Name, out[j].Version) })
	return out, nil
}

// Capability kinds that WhoMay understands.
var capKinds = []string{"args", "clock", "random", "env", "network", "fs", "calls", "publish", "subscribe", "send"}

// WhoMay returns the installed modules that request capability c. c is a
// kind alone — "args", "clock", "random", "env", "network", "fs", "calls",
// "publish", "subscribe", "send" — matching every request of that kind, or
// KIND:ARG:
//
//	fs:/data/x          areas that contain /data/x or lie under it
//	env:LANG            env globs matching LANG
//	network:tcp://h:443 that network address (a declared port "*" matches any)
//	calls:vision        modules that call library vision
//	calls:vision.stats  … and may call its function stats
//	publish:a.b         publish patterns matching subject a.b (likewise subscribe; listen counts as subscribe)
//	send:logger         send name patterns matching logger
//
// Requests are what manifests ask for; what a process is granted also
// depends on the node (package capability). The stdio capabilities, on by
// default, are not indexed.
func (r *Registry) WhoMay(c string) ([]Grant, error) {
	kind, arg, hasArg := strings.Cut(c, ":")
	known := false
	for _, k := range capKinds {
		known = known || k == kind
	}
	if !known || (hasArg && arg == "") || strings.Contains(c, sep) {
		return nil, fmt.Errorf("who may %q: want one of %s, optionally followed by :ARG: %w", c, strings.Join(capKinds, ", "), api.ErrInvalid)
	}
	if kind == "fs" && hasArg && (!path.IsAbs(arg) || path.Clean(arg) != arg) {
		return nil, fmt.Errorf("who may %q: %q is not an absolute, clean path: %w", c, arg, api.ErrInvalid)
	}
	out := []Grant{}
	err := r.db.View(func(tx *bolt.Tx) error {
		scan := func(prefix string) error {
			return scanPrefix(tx, bCaps, prefix, func(key string, val []byte) error {
				capKey, mref, _ := strings.Cut(key, sep)
				if capKey != kind && !strings.HasPrefix(capKey, kind+":") {
					return nil // e.g. "clockwork" under prefix "clock"
				}
				if hasArg && !capMatches(kind, strings.TrimPrefix(capKey, kind+":"), string(val), arg) {
					return nil
				}
				n, v := splitRef(mref)
				out = append(out, Grant{Module: mref, Name: n, Version: v, Capability: capKey, Detail: string(val)})
				return nil
			})
		}
		for _, p := range capPrefixes(kind, arg, hasArg) {
			if err := scan(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("who may %s: %w", c, err)
	}
	vc := versionCache{}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name || out[i].Version != out[j].Version {
			return vc.modLess(out[i].Name, out[i].Version, out[j].Name, out[j].Version)
		}
		return out[i].Capability < out[j].Capability
	})
	return out, nil
}

// capPrefixes returns the index key prefixes that can hold a match for a
// WhoMay query: every key of the kind, narrowed for file-system paths (the
// path, its ancestors, what lies under it) and library calls.
func capPrefixes(kind, arg string, hasArg bool) []string {
	if !hasArg {
		return []string{kind}
	}
	switch kind {
	case "fs":
		if arg == "/" {
			return []string{"fs:"}
		}
		var out []string
		for p := arg; ; p = path.Dir(p) {
			out = append(out, "fs:"+p+sep)
			if p == "/" {
				break
			}
		}
		return append(out, "fs:"+arg+"/")
	case "calls":
		out := []string{"calls:" + arg + sep}
		if i := strings.LastIndexByte(arg, '.'); i > 0 {
			out = append(out, "calls:"+arg[:i]+sep)
		}
		return out
	}
	return []string{kind}
}

// capMatches reports whether a declared capability (kind:declared, with its
// index detail) covers the query argument.
func capMatches(kind, declared, detail, arg string) bool {
	switch kind {
	case "fs":
		return declared == arg || pathUnder(arg, declared) || pathUnder(declared, arg)
	case "env":
		ok, err := path.Match(declared, arg)
		return declared == arg || (err == nil && ok)
	case "network":
		if declared == arg {
			return true
		}
		host, port, ok := cutPort(declared)
		ahost, _, aok := cutPort(arg)
		return ok && aok && port == "*" && host == ahost
	case "calls":
		if declared == arg {
			return true
		}
		fns, _, _ := strings.Cut(detail, " optional")
		if fn, ok := strings.CutPrefix(arg, declared+"."); ok && !strings.Contains(fn, ".") {
			if fns == "*" {
				return true
			}
			for _, f := range strings.Fields(fns) {
				if f == fn {
					return true
				}
			}
		}
		return false
	case "publish", "subscribe":
		return declared == arg || (subj.Valid(arg) == nil && subj.Match(declared, arg))
	case "send":
		ok, err := path.Match(declared, arg)
		return declared == arg || (err == nil && ok)
	}
	return declared == arg
}

// pathUnder reports whether p lies strictly under dir (both clean and
// absolute).
func pathUnder(p, dir string) bool {
	if dir == "/" {
		return p != "/" && strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, dir+"/")
}

// cutPort splits "scheme://host:port" at the last ':'.
func cutPort(s string) (hostPart, port string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || !strings.Contains(s, "://") || i < strings.Index(s, "://")+3 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}
