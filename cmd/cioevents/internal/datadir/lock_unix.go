//go:build unix

package datadir

import (
	"os"
	"syscall"
)

// lock takes an exclusive advisory lock without waiting; the kernel drops
// it when the process ends, so a crashed dev never leaves a stale lock.
func lock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }
