package tombstone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Every machine that computes tombstone keys — the processor, `dev`,
// backfill, `forget` — must hold the same CIO_PII_KEY, or its keys name
// nobody the others know: a forget under another key exits 0 and the
// person's next event is stored again. The key's Fingerprint, written
// beside the tombstones by the pipeline when it starts, lets each of them
// prove it holds the same key without revealing it.

// FingerprintFile is the file in dev's data directory that holds the
// fingerprint of the key dev hashes with (one line, hex), for forget to
// compare before it writes a tombstone there.
const FingerprintFile = "key-fingerprint"

// ErrNoFingerprint: the store holds no key fingerprint — no processor,
// dev or backfill of this release has started on it yet.
var ErrNoFingerprint = errors.New("tombstone: no key fingerprint stored beside the tombstones")

// KeyMismatchError: the store's fingerprint is another key's.
type KeyMismatchError struct {
	Stored, Ours string
}

func (e *KeyMismatchError) Error() string {
	return fmt.Sprintf("tombstone: the tombstones were keyed with another %s (fingerprint %s; this key's is %s)",
		envKey, e.Stored, e.Ours)
}

// envKey is privacy.EnvKey, spelled here to keep this package's imports
// to what it needs.
const envKey = "CIO_PII_KEY"

// FingerprintStore is where a fingerprint is kept (ledger.Tombstones).
type FingerprintStore interface {
	PutKeyFingerprint(ctx context.Context, fp string) (string, error)
	KeyFingerprint(ctx context.Context) (string, error)
}

// WriteFingerprint stores h's fingerprint in store unless one is there
// (idempotent: a read, and a create the first time). A different stored
// fingerprint is a *KeyMismatchError and is left as it is: the first key
// stays the one whose tombstones are there.
func WriteFingerprint(ctx context.Context, store FingerprintStore, h Hasher) error {
	ours := h.Fingerprint()
	stored, err := store.PutKeyFingerprint(ctx, ours)
	if err != nil {
		return err
	}
	if stored != ours {
		return &KeyMismatchError{Stored: stored, Ours: ours}
	}
	return nil
}

// ReadFingerprint is the fingerprint stored beside the tombstones, or
// ErrNoFingerprint.
func ReadFingerprint(ctx context.Context, store FingerprintStore) (string, error) {
	fp, err := store.KeyFingerprint(ctx)
	if err != nil {
		return "", err
	}
	if fp == "" {
		return "", ErrNoFingerprint
	}
	return fp, nil
}

// CheckFingerprint compares h with the fingerprint in store: nil when they
// match, ErrNoFingerprint when none is stored, else a *KeyMismatchError.
func CheckFingerprint(ctx context.Context, store FingerprintStore, h Hasher) error {
	fp, err := ReadFingerprint(ctx, store)
	if err != nil {
		return err
	}
	if ours := h.Fingerprint(); fp != ours {
		return &KeyMismatchError{Stored: fp, Ours: ours}
	}
	return nil
}

// WriteFingerprintFile writes h's fingerprint to dir/FingerprintFile
// (owner-only, as every file of the data directory).
func WriteFingerprintFile(dir string, h Hasher) error {
	if err := os.WriteFile(filepath.Join(dir, FingerprintFile), []byte(h.Fingerprint()+"\n"), 0o600); err != nil {
		return fmt.Errorf("tombstone: %w", err)
	}
	return nil
}

// ReadFingerprintFile reads dir/FingerprintFile; ErrNoFingerprint when it
// is absent or empty.
func ReadFingerprintFile(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, FingerprintFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", ErrNoFingerprint
	}
	if err != nil {
		return "", fmt.Errorf("tombstone: %w", err)
	}
	fp := strings.TrimSpace(string(b))
	if fp == "" {
		return "", ErrNoFingerprint
	}
	return fp, nil
}

// Start is what a pipeline (processor, dev, backfill) does with the
// tombstones before it processes anything: it writes the fingerprint of
// its key beside them (WriteFingerprint) and reads them whole. A different
// fingerprint is logged as one ERROR line (cause pii_key_mismatch, counted
// by the function_errors metric) and returned with the set loaded: the
// processor keeps running with its own key — refusing would stop every
// event for a fault in erasure — while backfill refuses. Any other error
// is the store's and nothing is loaded.
func (s *Set) Start(ctx context.Context) error {
	ferr := WriteFingerprint(ctx, s.Store, s.Hasher)
	var mismatch *KeyMismatchError
	if ferr != nil && !errors.As(ferr, &mismatch) {
		return ferr
	}
	if err := s.Refresh(ctx); err != nil {
		return err
	}
	if mismatch != nil && s.Logger != nil {
		s.Logger.LogAttrs(ctx, slog.LevelError, "tombstone key mismatch",
			slog.String("cause", "pii_key_mismatch"),
			slog.String("stored_fingerprint", mismatch.Stored),
			slog.String("key_fingerprint", mismatch.Ours),
			slog.String("error", "the tombstones beside this ledger were keyed with another "+envKey+
				": forgotten people are not recognised; give this function the key whose fingerprint is stored (docs/privacy.md)"))
	}
	return ferr
}

// IsKeyMismatch reports whether err is a *KeyMismatchError.
func IsKeyMismatch(err error) bool {
	var m *KeyMismatchError
	return errors.As(err, &m)
}
