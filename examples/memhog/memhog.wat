;; memhog: grows its memory 16 pages (1 MiB) at a time until memory.grow
;; fails (returns -1), then traps with `unreachable`. The memory has no
;; declared maximum, so only the host's memory limit stops the growth.
(module
  (memory (export "memory") 1)

  (func (export "_start")
    (loop $grow
      ;; memory.grow returns the old size in pages, or -1 on failure.
      (br_if $grow
        (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    ;; The host refused more memory: trap so it sees an abnormal exit.
    unreachable))
