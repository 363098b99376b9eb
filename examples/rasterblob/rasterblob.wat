;; rasterblob: a test guest for surface_present_blob. It creates a 4x4
;; window, puts 64 bytes of pixels (premultiplied RGBA: a green top half,
;; a blue bottom half) into a blob, shows the blob as its frame without a
;; copy, drops its own handle (the surface keeps a reference) and spins.
(module
  (import "orbital_v1" "surface_create" (func $create (param i32 i32 i32) (result i32)))
  (import "orbital_v1" "surface_present_blob" (func $present_blob (param i32 i64) (result i32)))
  (import "orbital_v1" "blob_create" (func $blob_create (param i32 i32) (result i64)))
  (import "orbital_v1" "blob_release" (func $blob_release (param i64) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0)
    "\00\ff\00\ff\00\ff\00\ff\00\ff\00\ff\00\ff\00\ff"
    "\00\ff\00\ff\00\ff\00\ff\00\ff\00\ff\00\ff\00\ff"
    "\00\00\ff\ff\00\00\ff\ff\00\00\ff\ff\00\00\ff\ff"
    "\00\00\ff\ff\00\00\ff\ff\00\00\ff\ff\00\00\ff\ff")
  (func (export "_start")
    (local $s i32) (local $b i64)
    (local.set $s (call $create (i32.const 4) (i32.const 4) (i32.const 1)))
    (if (i32.le_s (local.get $s) (i32.const 0)) (then (call $exit (i32.const 3))))
    (local.set $b (call $blob_create (i32.const 0) (i32.const 64)))
    (if (i64.le_s (local.get $b) (i64.const 0)) (then (call $exit (i32.const 4))))
    (if (call $present_blob (local.get $s) (local.get $b)) (then (call $exit (i32.const 5))))
    (drop (call $blob_release (local.get $b)))
    (loop $forever (br $forever)))
)
