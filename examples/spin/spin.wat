;; spin: a runaway guest. `_start` loops forever without calling the host,
;; so only the host's deadline / interruption can stop it.
(module
  ;; A memory export keeps WASI hosts that insist on one happy.
  (memory (export "memory") 1)

  (func (export "_start")
    (loop $forever
      br $forever)))
