;; hostcall: a reactor for host-call overhead benchmarks. `loop(n)` calls
;; the no-op host function orbital_v1.nop n times, so
;; (time(loop n) - time(loop 0)) / n is the cost of one guest->host call.
(module
  (import "orbital_v1" "nop" (func $nop))
  (memory (export "memory") 1)

  (func (export "loop") (param $n i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (call $nop)
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again))))

  ;; Reactors may export _initialize; nothing to set up here.
  (func (export "_initialize")))
