;; badimport: imports a host function that no host provides. A host must
;; refuse to instantiate it with a clear "unknown import" error.
(module
  (import "env" "does_not_exist" (func $missing))
  (memory (export "memory") 1)

  (func (export "_start")
    (call $missing)))
