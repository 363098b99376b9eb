;; greeter: a test service for the control API's log tests. It prints
;; "greeter: hello" to stdout, then loops on orbital_v1.recv and prints the
;; data of every message it receives (one stdout line each). It returns
;; from _start when recv fails (ERR_CLOSED at stop, or a message larger than
;; its buffer).
;;
;; control_test.go holds it assembled (greeterHex): after a change, run
;; go test -run TestGreeterIsTheWAT ./internal/control and paste the hex it
;; prints.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "orbital_v1" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 512) "greeter: hello\n")

  ;; write p[0:n] to stdout: one iovec at 0, bytes written at 8.
  (func $write (param $p i32) (param $n i32)
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; Envelope at 1024: kind@0 subject_len@4 reply_len@8 from_len@12
  ;; data_len@16 blob@20 (u64), then subject, reply, from, data from 28.
  (func (export "_start")
    (local $n i32)
    (call $write (i32.const 512) (i32.const 15))
    (loop $next
      (local.set $n (call $recv (i32.const 1024) (i32.const 64512) (i32.const -1)))
      (br_if 1 (i32.lt_s (local.get $n) (i32.const 0)))
      (br_if $next (i32.eqz (local.get $n)))
      (call $write
        (i32.add (i32.const 1052)
          (i32.add (i32.load offset=4 (i32.const 1024))
            (i32.add (i32.load offset=8 (i32.const 1024)) (i32.load offset=12 (i32.const 1024)))))
        (i32.load offset=16 (i32.const 1024)))
      (br $next))))
