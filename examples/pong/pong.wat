;; pong: the smallest bus service, for density and latency benchmarks.
;; _start loops on orbital_v1.recv into its one page of memory. A request is
;; answered (reply) with its own data; any other message is sent straight
;; back to its sender (send to the envelope's from). A message too big for
;; the buffer grows memory to fit (recv keeps it; recv_size tells the size).
;; Returns from _start on ERR_CLOSED or any other error.
(module
  (import "orbital_v1" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "orbital_v1" "recv_size" (func $recv_size (result i32)))
  (import "orbital_v1" "reply" (func $reply (param i32 i32 i32 i32) (result i32)))
  (import "orbital_v1" "send" (func $send (param i32 i32 i32 i32) (result i32)))
  (import "orbital_v1" "blob_release" (func $blob_release (param i64) (result i32)))
  (memory (export "memory") 1)

  ;; Envelope at address 0: kind@0 subject_len@4 reply_len@8 from_len@12
  ;; data_len@16 blob@20 (u64), then subject, reply, from, data from 28.
  (func (export "_start")
    (local $n i32) (local $need i32)
    (local $rl i32) (local $fl i32) (local $reply i32) (local $data i32)
    (loop $next
      (local.set $n (call $recv (i32.const 0)
        (i32.shl (memory.size) (i32.const 16)) (i32.const -1)))

      ;; -8 ERR_BUFFER: grow memory to recv_size() bytes and retry.
      (if (i32.eq (local.get $n) (i32.const -8))
        (then
          (local.set $need (call $recv_size))
          (if (i32.gt_u (local.get $need) (i32.shl (memory.size) (i32.const 16)))
            (then
              (br_if 3 (i32.eq (i32.const -1)
                (memory.grow (i32.sub
                  (i32.shr_u (i32.add (local.get $need) (i32.const 65535)) (i32.const 16))
                  (memory.size)))))))
          (br $next)))
      ;; -7 ERR_CLOSED, or any other error: stop. 0 (timeout): wait again.
      (br_if 1 (i32.lt_s (local.get $n) (i32.const 0)))
      (br_if $next (i32.eqz (local.get $n)))

      (local.set $rl (i32.load offset=8 (i32.const 0)))
      (local.set $fl (i32.load offset=12 (i32.const 0)))
      (local.set $reply (i32.add (i32.const 28) (i32.load offset=4 (i32.const 0))))
      (local.set $data (i32.add (local.get $reply) (i32.add (local.get $rl) (local.get $fl))))
      (if (local.get $rl)
        (then (drop (call $reply (local.get $reply) (local.get $rl)
                                 (local.get $data) (i32.load offset=16 (i32.const 0)))))
        (else (drop (call $send (local.get $reply) (local.get $fl) ;; from follows subject when rl = 0
                                (local.get $data) (i32.load offset=16 (i32.const 0))))))
      ;; A blob handle means we hold a reference: drop it.
      (if (i64.ne (i64.load offset=20 align=4 (i32.const 0)) (i64.const 0))
        (then (drop (call $blob_release (i64.load offset=20 align=4 (i32.const 0))))))
      (br $next))))
