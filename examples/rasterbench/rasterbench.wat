;; rasterbench: a reactor for the raster benchmarks. frame(len) submits the
;; command list the host wrote at offset 65536 to a 256x256 window (made on
;; the first call) and presents it: one host call per frame, as a guest
;; that draws does.
(module
  (import "orbital_v1" "surface_create" (func $create (param i32 i32 i32) (result i32)))
  (import "orbital_v1" "surface_submit" (func $submit (param i32 i32 i32) (result i32)))
  (import "orbital_v1" "surface_present" (func $present (param i32) (result i32)))
  (memory (export "memory") 64)
  (global $s (mut i32) (i32.const 0))
  (func (export "_initialize"))
  (func (export "frame") (param $len i32) (result i32)
    (local $r i32)
    (if (i32.eqz (global.get $s))
      (then (global.set $s (call $create (i32.const 256) (i32.const 256) (i32.const 1)))))
    (if (i32.le_s (global.get $s) (i32.const 0)) (then (return (global.get $s))))
    (local.set $r (call $submit (global.get $s) (i32.const 65536) (local.get $len)))
    (if (i32.ne (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (call $present (global.get $s)))
)
