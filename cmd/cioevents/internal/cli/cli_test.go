package cli

import (
	"errors"
	"fmt"
	"testing"
)

// Config marks a setting error for exit 2 without changing what it says,
// keeps it visible to errors.Is through further wrapping, and leaves nil nil.
func TestConfig(t *testing.T) {
	if Config(nil) != nil {
		t.Fatal("Config(nil) is not nil")
	}
	inner := errors.New("CIO_APP_API_KEY: the value is wrapped in quotes")
	err := fmt.Errorf("backfill: %w", Config(inner))
	if !errors.Is(err, ErrConfig) || !errors.Is(err, inner) || err.Error() != "backfill: "+inner.Error() {
		t.Errorf("%q: want ErrConfig and the inner error, text unchanged", err)
	}
	if errors.Is(inner, ErrConfig) || errors.Is(AsUsage("backfill", err), ErrUsage) {
		t.Error("a setting error is not a usage error, nor the other way round")
	}
}
