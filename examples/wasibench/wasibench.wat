;; wasibench: a reactor for WASI benchmarks, the same bytes for Orbital's
;; own WASI and for wazero's. Memory layout:
;;   0     iovec {buf, len}
;;   8     result slots (nwritten / nread / opened fd / seek position)
;;   64    the file name "bench.dat"
;;   4096  a 4 KiB buffer
;; open(dirfd) opens (creating) bench.dat read-write in the preopen dirfd
;; and returns its fd (or -errno). write(fd, n) and read(fd, n) move n
;; blocks of 4 KiB one fd_write/fd_read each, then seek back to 0 once;
;; open_close(dirfd, n) opens and closes bench.dat n times. Each returns 0
;; or the first errno.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $fd_seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\00\10\00\00\00\10\00\00") ;; iovec: buf 4096, len 4096
  (data (i32.const 64) "bench.dat")

  ;; openf opens bench.dat under dirfd with oflags; the fd lands at 8.
  (func $openf (param $dirfd i32) (param $oflags i32) (result i32)
    (call $path_open (local.get $dirfd) (i32.const 0) (i32.const 64) (i32.const 9)
      (local.get $oflags)
      (i64.const 0x1FFFFFFF) (i64.const 0x1FFFFFFF) ;; every right of preview 1
      (i32.const 0) (i32.const 8)))

  (func (export "open") (param $dirfd i32) (result i32)
    (local $e i32)
    (local.set $e (call $openf (local.get $dirfd) (i32.const 1))) ;; O_CREAT
    (if (result i32) (local.get $e)
      (then (i32.sub (i32.const 0) (local.get $e)))
      (else (i32.load (i32.const 8)))))

  (func $rewind (param $fd i32) (result i32)
    (call $fd_seek (local.get $fd) (i64.const 0) (i32.const 0) (i32.const 8)))

  (func (export "write") (param $fd i32) (param $n i32) (result i32)
    (local $e i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $e (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
        (br_if $done (local.get $e))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))
    (if (result i32) (local.get $e)
      (then (local.get $e))
      (else (call $rewind (local.get $fd)))))

  (func (export "read") (param $fd i32) (param $n i32) (result i32)
    (local $e i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $e (call $fd_read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
        (br_if $done (local.get $e))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))
    (if (result i32) (local.get $e)
      (then (local.get $e))
      (else (call $rewind (local.get $fd)))))

  (func (export "open_close") (param $dirfd i32) (param $n i32) (result i32)
    (local $e i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $e (call $openf (local.get $dirfd) (i32.const 0)))
        (br_if $done (local.get $e))
        (local.set $e (call $fd_close (i32.load (i32.const 8))))
        (br_if $done (local.get $e))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))
    (local.get $e))

  (func (export "_initialize")))
