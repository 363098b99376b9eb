// Package registry is the module registry of a device: which packages are
// installed, at which versions, what they depend on, which functions they
// export, which subjects fire them and which capabilities they request —
// stored persistently so that a node reboots into the same set of modules.
//
// A package is a wasm binary with its manifest embedded (custom section
// "orbital.manifest"). Parsing it and verifying its signatures is not this
// package's job: Options.Open, an Opener, does it and returns the manifest,
// the module digest and a verdict on the signatures.
//
// # On disk
//
//	DIR/index.db                     bbolt database: records and indexes
//	DIR/blobs/sha256/ab/abcdef…      package bytes, named by the sha256 of the bytes
//	DIR/blobs/sha256/ab/.tmp-…       a blob being written (removed by Open and GC)
//
// A blob is written to a temporary file in its final directory, synced,
// renamed into place, and the directory is synced; reads verify the digest.
// The index holds these buckets, all written in the same transaction as the
// record they derive from:
//
//	modules/NAME/VERSION             Record (JSON)
//	manifests/NAME@VERSION           the parsed manifest (JSON)
//	names/NAME                       Summary: kind, versions, latest, pinned
//	exports/FN\0NAME@VERSION         library functions (value: args/result shapes)
//	subjects/PATTERN\0REF\0VIA       bus listen/subscribe patterns and subject triggers
//	dependents/LIB\0REF              [dependencies] (value: range, optional, functions)
//	capabilities/CAP\0REF            requested capabilities (value: detail, e.g. "rw")
//	triggers/KIND\0VALUE\0REF        trigger declarations (see Trigger)
//
// # Crash safety
//
// Install writes the blob first (durably, under a temporary name, then
// renamed) and the index second, in one bbolt transaction. A crash at any
// point leaves the old index or the new one; the index never names a blob
// that is missing or partial. A crash can leave an orphan blob (harmless:
// GC removes it) or a temporary file (Open removes it). Every writer —
// Install, Remove, Pin, GC — runs inside bbolt's single write transaction,
// so GC never deletes the blob of an install in progress. bbolt's file lock
// keeps a second process from opening the same directory.
//
// # Versions and dependencies
//
// Several versions of a name may be installed; all of them have the same
// kind. A module's [dependencies] name libraries with semantic version
// ranges (Masterminds/semver syntax). Install resolves them against the
// installed modules, transitively, with these rules:
//
//   - One version per library in a closure: the module being installed and
//     every library it reaches (directly or through other libraries) must
//     agree on a single version of each library name. The module itself
//     stands for its own name.
//
//   - Highest first: for each library the pinned version (see Pin) is tried
//     first when it is in range, then the installed versions from highest
//     to lowest; the search backtracks, so a diamond resolves whenever a
//     common version exists.
//
//   - Only modules of kind "library" satisfy a dependency.
//
//   - An optional dependency (optional = true) never fails an install:
//     when it is not installed, has no version in range or conflicts with
//     the rest of the closure, it is left out (Dependency.Resolved is empty)
//     and its own dependencies are not followed.
//
//   - The search gives up after MaxResolveSteps steps (api.ErrLimit).
//
// Errors name the chain from the module being installed. A missing library
// wraps api.ErrNotFound, a module of another kind api.ErrInvalid, no
// version in range api.ErrVersion:
//
//	app@1.0.0 → kv@1.0.0 needs vision ^1.2: vision is not installed: not found
//	app@1.0.0 needs tool ^1: tool is an app, not a library: invalid
//	app@1.0.0 needs vision ^3: no matching version (installed: 1.2.0, 2.0.0)
//
// A conflict — two ranges on one library that no installed version
// satisfies together — wraps api.ErrVersion and names both chains:
//
//	app@1.0.0 needs vision ^2 but app@1.0.0 → kv@1.0.0 needs vision ^1.2: no matching version (installed: 1.2.0, 2.0.0)
//
// When no single earlier range is to blame (a version satisfying both
// exists but fails elsewhere), the error says which version was chosen for
// whom ("… needs vision ^1.2 but vision 2.0.0 was chosen for app@1.0.0 →
// x@1.0.0"). After backtracking, the first error met on the highest-first
// path is reported.
//
// The chosen versions are recorded (Record.Dependencies) for information;
// Resolve re-checks at bind time: it returns the pinned or highest version
// in range whose own closure still resolves against what is installed now.
//
// Remove refuses (ErrInUse, which wraps api.ErrInvalid) to remove versions
// that an installed module needs: a module that depends on the name,
// directly or transitively, whose closure resolves now and would no longer
// resolve without the removed versions. The closest such module is named:
//
//	remove vision@1.2.0: invalid: in use: kv@1.0.0 would no longer resolve: kv@1.0.0 needs vision ^1.2: no matching version (installed: 2.0.0)
//
// So removing a version is allowed when another installed version
// satisfies every dependent. Optional dependencies never block a removal.
// force skips the check (Resolve then reports what broke). Remove leaves
// blobs to GC.
//
// Reinstalling the same name@version with the same module digest is a no-op
// (the record, its time and its verdict are kept; a missing blob is
// restored). A different digest under the same name@version is refused with
// api.ErrExists unless InstallOptions.Force replaces it.
//
// # Queries
//
// List, Info, WhoExports, WhatFires, Triggered, Dependents and WhoMay read
// one bbolt snapshot and return plain JSON-taggable structs for the CLI and
// the control API. They use the secondary indexes, so their cost follows
// the size of the answer rather than the number of installed versions
// (WhatFires walks the pattern index token by token along the subject).
//
// Triggers come from the manifest's [triggers] table (ManifestTriggers; a
// module without the table starts at boot); Options.Triggers may replace
// the extraction. They are stored in Record.Triggers and indexed: Triggered
// lists the modules with a trigger of a kind, and subject triggers also
// answer WhatFires.
package registry
