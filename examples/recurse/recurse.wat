;; recurse: unbounded recursion. Every call pushes a frame, so the engine
;; eventually raises a call-stack-exhausted trap.
(module
  (memory (export "memory") 1)

  ;; f(n) = f(n + 1) + 1 — not a tail call, so frames really pile up.
  (func $f (param $n i32) (result i32)
    (i32.add
      (call $f (i32.add (local.get $n) (i32.const 1)))
      (i32.const 1)))

  (func (export "_start")
    (drop (call $f (i32.const 0)))))
