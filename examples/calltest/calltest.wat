;; calltest: a library in WAT for the call path's tests and benchmarks. Its
;; _start is a serve loop on orbital_v1.call_serve: each turn returns the
;; previous call's result and receives the next call at address 1024 as
;; [u32 function length][u32 args length][function][args]. A call too big
;; for memory grows it (call_size tells the size needed).
;;
;; Functions, picked by the first letter of the name:
;;   echo   returns its arguments
;;   fail   returns an application error whose message is the arguments
;;   trap   executes unreachable (the caller gets ERR_CRASHED)
;;   spin   loops forever (stopped at the call's deadline)
;;   relay  calls ARGS.echo (ARGS is a library name) with "x" and returns
;;          the i64 that orbital_v1.call gave back (an error code < 0 when
;;          refused, e.g. -9 ERR_CYCLE when ARGS is on the call chain)
(module
  (import "orbital_v1" "call_serve" (func $serve (param i32 i32 i32 i32 i32) (result i32)))
  (import "orbital_v1" "call_size" (func $size (result i32)))
  (import "orbital_v1" "call_bind" (func $bind (param i32 i32 i32 i32) (result i32)))
  (import "orbital_v1" "call" (func $call (param i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "echox")

  (func (export "_start")
    (local $n i32) (local $need i32) (local $status i32)
    (local $res i32) (local $reslen i32) (local $fl i32) (local $al i32) (local $args i32)
    (local $h i32)
    (local.set $status (i32.const -1))
    (loop $next
      (local.set $n (call $serve (local.get $status) (local.get $res) (local.get $reslen)
        (i32.const 1024) (i32.sub (i32.shl (memory.size) (i32.const 16)) (i32.const 1024))))
      ;; -8 ERR_BUFFER: grow memory to fit, then ask again with no result.
      (if (i32.eq (local.get $n) (i32.const -8))
        (then
          (local.set $need (i32.add (call $size) (i32.const 1024)))
          (br_if 2 (i32.eq (i32.const -1)
            (memory.grow (i32.sub
              (i32.shr_u (i32.add (local.get $need) (i32.const 65535)) (i32.const 16))
              (memory.size)))))
          (local.set $status (i32.const -1))
          (br $next)))
      ;; -7 ERR_CLOSED or any other error: return from _start.
      (br_if 1 (i32.lt_s (local.get $n) (i32.const 0)))

      (local.set $fl (i32.load (i32.const 1024)))
      (local.set $al (i32.load (i32.const 1028)))
      (local.set $args (i32.add (i32.const 1032) (local.get $fl)))
      (local.set $res (local.get $args))
      (local.set $reslen (local.get $al))
      (local.set $status (i32.const 0))
      (block $done
        ;; 'f' fail
        (if (i32.eq (i32.load8_u (i32.const 1032)) (i32.const 102))
          (then (local.set $status (i32.const 1)) (br $done)))
        ;; 't' trap
        (if (i32.eq (i32.load8_u (i32.const 1032)) (i32.const 116))
          (then unreachable))
        ;; 's' spin
        (if (i32.eq (i32.load8_u (i32.const 1032)) (i32.const 115))
          (then (loop $spin (br $spin))))
        ;; 'r' relay: bind ARGS.echo, call it with "x", return the i64 result at 16.
        (if (i32.eq (i32.load8_u (i32.const 1032)) (i32.const 114))
          (then
            (local.set $h (call $bind (local.get $args) (local.get $al) (i32.const 0) (i32.const 4)))
            (if (i32.lt_s (local.get $h) (i32.const 0))
              (then (i64.store (i32.const 16) (i64.extend_i32_s (local.get $h))))
              (else (i64.store (i32.const 16)
                (call $call (local.get $h) (i32.const 4) (i32.const 1) (i32.const 32) (i32.const 64)))))
            (local.set $res (i32.const 16))
            (local.set $reslen (i32.const 8)))))
      (br $next)))
)
