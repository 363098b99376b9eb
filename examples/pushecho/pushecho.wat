;; pushecho: the push model of docs/ABI.md. The kernel calls orbital_alloc
;; for a buffer, writes the envelope there and calls orbital_on_message; the
;; module answers requests with their data. No _start, no recv loop.
(module
  (import "orbital_v1" "reply" (func $reply (param i32 i32 i32 i32) (result i32)))
  (import "orbital_v1" "blob_release" (func $blob_release (param i64) (result i32)))
  (memory (export "memory") 1)

  ;; One message at a time: the buffer at 1024 is reused; memory grows when
  ;; a message does not fit. Returns 0 when memory cannot grow.
  (func (export "orbital_alloc") (param $size i32) (result i32)
    (local $need i32)
    (local.set $need (i32.add (local.get $size) (i32.const 1024)))
    (if (i32.gt_u (local.get $need) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq (i32.const -1)
              (memory.grow (i32.sub
                (i32.shr_u (i32.add (local.get $need) (i32.const 65535)) (i32.const 16))
                (memory.size))))
          (then (return (i32.const 0))))))
    (i32.const 1024))

  ;; Envelope: kind@0 subject_len@4 reply_len@8 from_len@12 data_len@16
  ;; blob@20, then subject, reply, from, data from 28.
  (func (export "orbital_on_message") (param $p i32) (param $len i32)
    (local $rl i32) (local $reply i32) (local $data i32)
    (local.set $rl (i32.load offset=8 (local.get $p)))
    (local.set $reply (i32.add (i32.add (local.get $p) (i32.const 28)) (i32.load offset=4 (local.get $p))))
    (local.set $data (i32.add (local.get $reply)
      (i32.add (local.get $rl) (i32.load offset=12 (local.get $p)))))
    (if (local.get $rl)
      (then (drop (call $reply (local.get $reply) (local.get $rl)
                               (local.get $data) (i32.load offset=16 (local.get $p))))))
    (if (i64.ne (i64.load offset=20 align=4 (local.get $p)) (i64.const 0))
      (then (drop (call $blob_release (i64.load offset=20 align=4 (local.get $p))))))))
