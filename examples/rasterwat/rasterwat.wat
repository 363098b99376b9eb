;; rasterwat: the smallest raster guest, for the kernel's tests. It creates
;; a 64x64 window surface with a depth buffer, clears it to red with one
;; command list, presents it, and then spins forever (a module that never
;; presents again). With any configuration (orbital_v1.config returns > 0)
;; it traps right after presenting instead: a crashed module. When the
;; surface cannot be created it logs surface_error's message and exits 3.
(module
  (import "orbital_v1" "surface_create" (func $create (param i32 i32 i32) (result i32)))
  (import "orbital_v1" "surface_submit" (func $submit (param i32 i32 i32) (result i32)))
  (import "orbital_v1" "surface_present" (func $present (param i32) (result i32)))
  (import "orbital_v1" "surface_error" (func $error (param i32 i32) (result i32)))
  (import "orbital_v1" "log" (func $log (param i32 i32 i32)))
  (import "orbital_v1" "config" (func $config (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  ;; CLEAR: opcode 1, payload 12: rgba 0xff0000ff (red), depth 1.0, mask colour|depth
  (data (i32.const 0) "\01\00\00\00\0c\00\00\00\ff\00\00\ff\00\00\80\3f\03\00\00\00")
  (func (export "_start")
    (local $s i32) (local $n i32)
    ;; RASTER_WINDOW | RASTER_DEPTH32F
    (local.set $s (call $create (i32.const 64) (i32.const 64) (i32.const 3)))
    (if (i32.le_s (local.get $s) (i32.const 0))
      (then
        (local.set $n (call $error (i32.const 1024) (i32.const 1024)))
        (call $log (i32.const 3) (i32.const 1024) (local.get $n))
        (call $exit (i32.const 3))))
    (drop (call $submit (local.get $s) (i32.const 0) (i32.const 20)))
    (drop (call $present (local.get $s)))
    (if (i32.gt_s (call $config (i32.const 2048) (i32.const 256)) (i32.const 0))
      (then unreachable))
    (loop $forever (br $forever)))
)
