// Package datadir makes one process at a time the writer of a local data
// directory (what `cioevents dev` writes): dev holds it while it runs, and
// `forget --data-dir` and `backfill --data-dir`, which rewrite or append to
// the same files and ledger, refuse to run beside it instead of writing
// under it (a rewritten file would take every event dev accepts afterwards
// with it).
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LockFile is the lock's name in the directory; it holds who has it.
const LockFile = "lock"

// ErrHeld: another process holds the directory. The error Acquire returns
// is a *HeldError.
var ErrHeld = errors.New("the data directory is in use")

// HeldError names the directory and its holder, as the holder wrote itself
// into the lock: the command, its pid and since when. That is all it says:
// the one remedy is to stop that process, or to work on another directory.
type HeldError struct{ Dir, Holder string }

func (e *HeldError) Error() string {
	return "data directory " + e.Dir + " is in use by " + e.Holder
}

// Is makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Lock is a held directory.
type Lock struct{ f *os.File }

// Acquire takes dir for this process, which is what (e.g. "cioevents dev");
// if another process holds it, the error is a *HeldError naming that
// process. The lock ends with the process, however it ends.
func Acquire(dir, what string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("datadir: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("datadir: %w", err)
	}
	if err := lock(f); err != nil {
		who, _ := os.ReadFile(path)
		f.Close()
		holder := strings.TrimSpace(string(who))
		if holder == "" {
			holder = "another process"
		}
		return nil, &HeldError{Dir: dir, Holder: holder}
	}
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%s (pid %d, since %s)\n", what, os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	}
	return &Lock{f: f}, nil
}

// Release gives the directory up.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing drops the lock
	l.f = nil
	return err
}
