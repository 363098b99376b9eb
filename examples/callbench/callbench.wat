;; callbench: a reactor that calls a library function in a loop, for the
;; cross-module call benchmarks and tests.
;;
;;   bind(name_len i32) -> i32          binds LIB.FN written by the host at
;;                                      address 0 as "LIB\0FN" (name_len
;;                                      bytes), returns the handle or error
;;   run(h i32, n i32, size i32) -> i64 calls handle h n times with size
;;                                      bytes of arguments (from address
;;                                      65536) into a result buffer of the
;;                                      same size; returns the last result
;;                                      length, or the first error (< 0)
(module
  (import "orbital_v1" "call_bind" (func $bind (param i32 i32 i32 i32) (result i32)))
  (import "orbital_v1" "call" (func $call (param i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 40)

  (func (export "bind") (param $len i32) (result i32)
    (local $i i32)
    ;; find the NUL separating LIB and FN
    (block $found
      (loop $scan
        (br_if $found (i32.eqz (i32.load8_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $scan (i32.lt_u (local.get $i) (local.get $len)))))
    (call $bind (i32.const 0) (local.get $i)
      (i32.add (local.get $i) (i32.const 1))
      (i32.sub (local.get $len) (i32.add (local.get $i) (i32.const 1)))))

  (func (export "run") (param $h i32) (param $n i32) (param $size i32) (result i64)
    (local $r i64)
    (block $out
      (loop $again
        (br_if $out (i32.le_s (local.get $n) (i32.const 0)))
        (local.set $r (call $call (local.get $h) (i32.const 65536) (local.get $size)
          (i32.add (i32.const 65536) (i32.const 1310720)) (local.get $size)))
        (br_if $out (i64.lt_s (local.get $r) (i64.const 0)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))
    (local.get $r))
)
