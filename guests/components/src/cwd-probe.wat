;; cwd-probe (see cwd-probe.wit): prints "cwd=<initial-cwd>", then the
;; contents of "note.txt" in that directory, opened through the first
;; preopen (which must be "/") at the path initial-cwd + "/note.txt".
;; Without an initial-cwd it prints "no initial-cwd"; when the open or the
;; read fails it prints "open: error N" and run returns err.
(module
  (import "wasi:cli/environment@0.2.12" "initial-cwd" (func $initial_cwd (param i32)))
  (import "wasi:filesystem/preopens@0.2.12" "get-directories" (func $get_dirs (param i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.open-at" (func $open_at (param i32 i32 i32 i32 i32 i32 i32)))
  (import "wasi:filesystem/types@0.2.12" "[method]descriptor.read" (func $read (param i32 i64 i64 i32)))
  (import "wasi:cli/stdout@0.2.12" "get-stdout" (func $get_stdout (result i32)))
  (import "wasi:io/streams@0.2.12" "[method]output-stream.blocking-write-and-flush" (func $write (param i32 i32 i32 i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 16384))
  (global $stdout (mut i32) (i32.const -1))
  (data (i32.const 1024) "cwd=")
  (data (i32.const 1032) "\n")
  (data (i32.const 1040) "note.txt")
  (data (i32.const 1056) "no initial-cwd\n")
  (data (i32.const 1080) "open: error ")
  (data (i32.const 1100) "0123456789")

  ;; A bump allocator: the host's lowered values (strings, lists) land here.
  (func (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1))) (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (local.get $p))

  (func $out (param $ptr i32) (param $len i32)
    (if (i32.eq (global.get $stdout) (i32.const -1)) (then (global.set $stdout (call $get_stdout))))
    (call $write (global.get $stdout) (local.get $ptr) (local.get $len) (i32.const 512)))

  ;; "open: error N\n" with N the error-code's discriminant (two digits at most).
  (func $fail (param $code i32) (result i32)
    (call $out (i32.const 1080) (i32.const 12))
    (if (i32.ge_u (local.get $code) (i32.const 10))
      (then (call $out (i32.add (i32.const 1100) (i32.div_u (local.get $code) (i32.const 10))) (i32.const 1))))
    (call $out (i32.add (i32.const 1100) (i32.rem_u (local.get $code) (i32.const 10))) (i32.const 1))
    (call $out (i32.const 1032) (i32.const 1))
    (i32.const 1))

  (func (export "wasi:cli/run@0.2.12#run") (result i32)
    (local $cwd i32) (local $len i32) (local $p i32) (local $fd i32)
    ;; option<string> at 0: tag u8, ptr @4, len @8
    (call $initial_cwd (i32.const 0))
    (if (i32.eqz (i32.load8_u (i32.const 0)))
      (then (call $out (i32.const 1056) (i32.const 15)) (return (i32.const 0))))
    (local.set $cwd (i32.load (i32.const 4)))
    (local.set $len (i32.load (i32.const 8)))
    (call $out (i32.const 1024) (i32.const 4))
    (call $out (local.get $cwd) (local.get $len))
    (call $out (i32.const 1032) (i32.const 1))
    ;; The path, relative to the "/" preopen: the cwd without its leading "/", then "/note.txt".
    (if (i32.and (i32.ne (local.get $len) (i32.const 0)) (i32.eq (i32.load8_u (local.get $cwd)) (i32.const 47)))
      (then
        (local.set $cwd (i32.add (local.get $cwd) (i32.const 1)))
        (local.set $len (i32.sub (local.get $len) (i32.const 1)))))
    (local.set $p (i32.const 4096))
    (memory.copy (local.get $p) (local.get $cwd) (local.get $len))
    (local.set $p (i32.add (local.get $p) (local.get $len)))
    (if (local.get $len)
      (then (i32.store8 (local.get $p) (i32.const 47)) (local.set $p (i32.add (local.get $p) (i32.const 1)))))
    (memory.copy (local.get $p) (i32.const 1040) (i32.const 8))
    (local.set $p (i32.add (local.get $p) (i32.const 8)))
    ;; list<tuple<descriptor, string>> at 16: ptr, len; the first element's handle.
    (call $get_dirs (i32.const 16))
    ;; open-at(symlink-follow, path, no open flags, read): result<descriptor, error-code> at 32
    (call $open_at (i32.load (i32.load (i32.const 16))) (i32.const 1) (i32.const 4096) (i32.sub (local.get $p) (i32.const 4096)) (i32.const 0) (i32.const 1) (i32.const 32))
    (if (i32.load8_u (i32.const 32)) (then (return (call $fail (i32.load8_u (i32.const 36))))))
    (local.set $fd (i32.load (i32.const 36)))
    ;; read(4096, 0): result<tuple<list<u8>, bool>, error-code> at 48
    (call $read (local.get $fd) (i64.const 4096) (i64.const 0) (i32.const 48))
    (if (i32.load8_u (i32.const 48)) (then (return (call $fail (i32.load8_u (i32.const 52))))))
    (call $out (i32.load (i32.const 52)) (i32.load (i32.const 56)))
    (i32.const 0)))
