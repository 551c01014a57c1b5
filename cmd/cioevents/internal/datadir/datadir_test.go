package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// One holder at a time; the refusal names the holder; a released directory
// can be taken again.
func TestAcquire(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	dev, err := Acquire(dir, "cioevents dev at 127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, "cioevents forget")
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "cioevents dev at 127.0.0.1:8080") ||
		!strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second holder: %v; want ErrHeld naming dev and its pid", err)
	}
	want := "data directory " + dir + " is in use by cioevents dev at 127.0.0.1:8080 (pid " + strconv.Itoa(os.Getpid()) + ", since "
	if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, ")") {
		t.Errorf("message %q: want %q…) and nothing after the holder", msg, want)
	}
	if err := dev.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := Acquire(dir, "cioevents forget")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.Release()
}
