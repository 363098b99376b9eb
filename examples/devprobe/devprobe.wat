;; devprobe: tries to use the device "camera" and reports what the kernel
;; answered, for the device-permission tests. At start it binds
;; camera.snapshot, calls it when the bind succeeded, subscribes to
;; camera.>, and publishes three little-endian i32 on probe.result: the
;; bind result, the call result (0 when not called; the result length or
;; a negative ABI error) and the subscribe result.
(module
  (import "orbital_v1" "call_bind" (func $call_bind (param i32 i32 i32 i32) (result i32)))
  (import "orbital_v1" "call" (func $call (param i32 i32 i32 i32 i32) (result i64)))
  (import "orbital_v1" "subscribe" (func $subscribe (param i32 i32 i32 i32) (result i32)))
  (import "orbital_v1" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "camera")
  (data (i32.const 16) "snapshot")
  (data (i32.const 32) "camera.>")
  (data (i32.const 48) "probe.result")

  (func (export "_start")
    (local $h i32)
    (local.set $h (call $call_bind (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 8)))
    (i32.store (i32.const 64) (local.get $h))
    (i32.store (i32.const 68) (i32.const 0))
    (if (i32.ge_s (local.get $h) (i32.const 0))
      (then
        (i32.store (i32.const 68)
          (i32.wrap_i64 (call $call (local.get $h) (i32.const 0) (i32.const 0) (i32.const 1024) (i32.const 4096))))))
    (i32.store (i32.const 72) (call $subscribe (i32.const 32) (i32.const 8) (i32.const 0) (i32.const 0)))
    (drop (call $publish (i32.const 48) (i32.const 12) (i32.const 64) (i32.const 12)))))
