;; conformlib: the conformance library in WAT, the wasm implementation of
;; the contract in internal/library/librarytest (read its package
;; documentation for what each function must do; this file only implements
;; it). Its _start is a serve loop on orbital_v1.call_serve, as in
;; examples/calltest: each turn returns the previous call's result and
;; receives the next call at address 1024 as
;; [u32 function length][u32 args length][function][args]. A call too big
;; for memory grows it (call_size tells the size needed).
;;
;;   echo       returns its arguments
;;   fail       returns an application error whose message is the arguments
;;   sleep      ARGS is decimal milliseconds: sleeps that long (WASI
;;              poll_oneoff, which needs the clock capability and is cut
;;              short at the call's deadline), then returns its arguments
;;   crash      executes unreachable (the caller gets ERR_CRASHED)
;;   fill       ARGS is a decimal byte count N: returns N bytes, byte i
;;              being i mod 251
;;   shaped     returns its arguments; after JSON whitespace they must
;;              begin with '{' (the host checked them against {n: int}),
;;              otherwise it fails with "unchecked arguments"
;;   badresult  returns its arguments (the host checks them as a result
;;              against {n: int})
;; Any other function fails with "unknown function"; malformed numbers fail
;; with "bad number", a fill that does not fit memory with "out of memory".
(module
  (import "orbital_v1" "call_serve" (func $serve (param i32 i32 i32 i32 i32) (result i32)))
  (import "orbital_v1" "call_size" (func $size (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)

  ;; Function names and messages (offset, length).
  (data (i32.const 0) "echo")                 ;; 0, 4
  (data (i32.const 8) "fail")                 ;; 8, 4
  (data (i32.const 16) "sleep")               ;; 16, 5
  (data (i32.const 24) "crash")               ;; 24, 5
  (data (i32.const 32) "fill")                ;; 32, 4
  (data (i32.const 40) "shaped")              ;; 40, 6
  (data (i32.const 48) "badresult")           ;; 48, 9
  (data (i32.const 64) "unknown function")    ;; 64, 16
  (data (i32.const 96) "unchecked arguments") ;; 96, 19
  (data (i32.const 128) "bad number")         ;; 128, 10
  (data (i32.const 144) "out of memory")      ;; 144, 13
  ;; 256: a WASI clock subscription (48 bytes); 320: its event (32 bytes);
  ;; 360: the event count.

  ;; $is: whether the len bytes at p are the n bytes at q.
  (func $is (param $p i32) (param $len i32) (param $q i32) (param $n i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $len) (local.get $n)) (then (return (i32.const 0))))
    (block $diff
      (loop $cmp
        (br_if $diff (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $q) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $cmp)))
    (i32.const 1))

  ;; $space: whether c is JSON whitespace (space, tab, CR, LF).
  (func $space (param $c i32) (result i32)
    (i32.or (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 9)))
            (i32.or (i32.eq (local.get $c) (i32.const 13)) (i32.eq (local.get $c) (i32.const 10)))))

  ;; $number: the decimal number in the len bytes at p (1 to 9 digits), or
  ;; -1 when they are not one.
  (func $number (param $p i32) (param $len i32) (result i32)
    (local $i i32) (local $v i32) (local $c i32)
    (if (i32.or (i32.eqz (local.get $len)) (i32.gt_u (local.get $len) (i32.const 9)))
      (then (return (i32.const -1))))
    (block $end
      (loop $digit
        (br_if $end (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.sub (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.const 48)))
        (if (i32.gt_u (local.get $c) (i32.const 9)) (then (return (i32.const -1))))
        (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 10)) (local.get $c)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $digit)))
    (local.get $v))

  ;; $ensure: grow memory so that it holds at least end bytes; 0 on failure.
  (func $ensure (param $end i64) (result i32)
    (local $pages i64)
    (local.set $pages (i64.shr_u (i64.add (local.get $end) (i64.const 65535)) (i64.const 16)))
    (if (i64.le_u (local.get $pages) (i64.extend_i32_u (memory.size)))
      (then (return (i32.const 1))))
    (if (i64.gt_u (local.get $pages) (i64.const 65536)) (then (return (i32.const 0))))
    (i32.ne (i32.const -1)
      (memory.grow (i32.sub (i32.wrap_i64 (local.get $pages)) (memory.size)))))

  (func (export "_start")
    (local $n i32) (local $need i32) (local $status i32)
    (local $res i32) (local $reslen i32) (local $fn i32) (local $fl i32) (local $al i32) (local $args i32)
    (local $v i32) (local $i i32)
    (local.set $status (i32.const -1))
    (loop $next
      (local.set $n (call $serve (local.get $status) (local.get $res) (local.get $reslen)
        (i32.const 1024) (i32.sub (i32.shl (memory.size) (i32.const 16)) (i32.const 1024))))
      ;; -8 ERR_BUFFER: grow memory to fit, then ask again with no result.
      (if (i32.eq (local.get $n) (i32.const -8))
        (then
          (local.set $need (i32.add (call $size) (i32.const 1024)))
          (br_if 2 (i32.eqz (call $ensure (i64.extend_i32_u (local.get $need)))))
          (local.set $status (i32.const -1))
          (br $next)))
      ;; -7 ERR_CLOSED or any other error: return from _start.
      (br_if 1 (i32.lt_s (local.get $n) (i32.const 0)))

      (local.set $fl (i32.load (i32.const 1024)))
      (local.set $al (i32.load (i32.const 1028)))
      (local.set $fn (i32.const 1032))
      (local.set $args (i32.add (i32.const 1032) (local.get $fl)))
      ;; By default the result is the arguments.
      (local.set $res (local.get $args))
      (local.set $reslen (local.get $al))
      (local.set $status (i32.const 0))
      (block $done
        (br_if $done (call $is (local.get $fn) (local.get $fl) (i32.const 0) (i32.const 4))) ;; echo
        (if (call $is (local.get $fn) (local.get $fl) (i32.const 8) (i32.const 4)) ;; fail
          (then (local.set $status (i32.const 1)) (br $done)))
        (if (call $is (local.get $fn) (local.get $fl) (i32.const 24) (i32.const 5)) ;; crash
          (then unreachable))
        (if (call $is (local.get $fn) (local.get $fl) (i32.const 16) (i32.const 5)) ;; sleep
          (then
            (local.set $v (call $number (local.get $args) (local.get $al)))
            (if (i32.lt_s (local.get $v) (i32.const 0))
              (then
                (local.set $status (i32.const 1))
                (local.set $res (i32.const 128))
                (local.set $reslen (i32.const 10))
                (br $done)))
            ;; A relative monotonic clock subscription of v ms.
            (i64.store (i32.const 256) (i64.const 0))       ;; userdata
            (i64.store (i32.const 264) (i64.const 0))       ;; tag 0: clock
            (i64.store (i32.const 272) (i64.const 1))       ;; clock id 1: monotonic
            (i64.store (i32.const 280)                      ;; timeout, ns
              (i64.mul (i64.extend_i32_u (local.get $v)) (i64.const 1000000)))
            (i64.store (i32.const 288) (i64.const 0))       ;; precision
            (i64.store (i32.const 296) (i64.const 0))       ;; flags 0: relative
            (drop (call $poll (i32.const 256) (i32.const 320) (i32.const 1) (i32.const 360)))
            (br $done)))
        (if (call $is (local.get $fn) (local.get $fl) (i32.const 32) (i32.const 4)) ;; fill
          (then
            (local.set $v (call $number (local.get $args) (local.get $al)))
            (if (i32.lt_s (local.get $v) (i32.const 0))
              (then
                (local.set $status (i32.const 1))
                (local.set $res (i32.const 128))
                (local.set $reslen (i32.const 10))
                (br $done)))
            ;; The result goes right after the call.
            (local.set $res (i32.add (local.get $args) (local.get $al)))
            (if (i32.eqz (call $ensure (i64.add (i64.extend_i32_u (local.get $res)) (i64.extend_i32_u (local.get $v)))))
              (then
                (local.set $status (i32.const 1))
                (local.set $res (i32.const 144))
                (local.set $reslen (i32.const 13))
                (br $done)))
            (local.set $i (i32.const 0))
            (block $filled
              (loop $byte
                (br_if $filled (i32.ge_u (local.get $i) (local.get $v)))
                (i32.store8 (i32.add (local.get $res) (local.get $i)) (i32.rem_u (local.get $i) (i32.const 251)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $byte)))
            (local.set $reslen (local.get $v))
            (br $done)))
        (if (call $is (local.get $fn) (local.get $fl) (i32.const 40) (i32.const 6)) ;; shaped
          (then
            ;; Skip JSON whitespace; the next byte must be '{'.
            (local.set $i (i32.const 0))
            (block $skipped
              (loop $space
                (br_if $skipped (i32.ge_u (local.get $i) (local.get $al)))
                (local.set $v (i32.load8_u (i32.add (local.get $args) (local.get $i))))
                (br_if $skipped (i32.eqz (call $space (local.get $v))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $space)))
            (if (i32.or (i32.ge_u (local.get $i) (local.get $al))
                        (i32.ne (i32.load8_u (i32.add (local.get $args) (local.get $i))) (i32.const 123))) ;; '{'
              (then
                (local.set $status (i32.const 1))
                (local.set $res (i32.const 96))
                (local.set $reslen (i32.const 19))))
            (br $done)))
        (br_if $done (call $is (local.get $fn) (local.get $fl) (i32.const 48) (i32.const 9))) ;; badresult
        ;; Unknown function.
        (local.set $status (i32.const 1))
        (local.set $res (i32.const 64))
        (local.set $reslen (i32.const 16)))
      (br $next)))
)
