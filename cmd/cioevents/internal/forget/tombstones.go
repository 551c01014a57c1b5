package forget

import (
	"context"
	"errors"
	"time"

	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/tombstone"
)

// stonesFor are the tombstones of s's identifiers: an address in every
// workspace, an ID or cio_id in its own (tombstone.Hasher.Key); an address
// as the policy stored it (a hash) is keyed as tombstone.KindEmailHash.
func stonesFor(h tombstone.Hasher, s *Identity, now time.Time, lifetime time.Duration) ([]ledger.Tombstone, error) {
	var out []ledger.Tombstone
	for _, i := range s.Idents() {
		kind := i.Kind
		if i.hashed() {
			kind = tombstone.KindEmailHash
		}
		ts, err := tombstone.NewIn(h, i.Workspace, []tombstone.Identifier{{Kind: kind, Value: i.Value}}, now, lifetime)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

// checkKey compares h with the fingerprint the pipeline wrote beside the
// tombstones; where says where the right key lives.
func checkKey(ctx context.Context, store tombstone.FingerprintStore, h tombstone.Hasher, where string) error {
	err := tombstone.CheckFingerprint(ctx, store, h)
	var mismatch *tombstone.KeyMismatchError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tombstone.ErrNoFingerprint):
		return keyError("", h.Fingerprint(), where)
	case errors.As(err, &mismatch):
		return keyError(mismatch.Stored, mismatch.Ours, where)
	}
	return err
}

// checkLocalKey compares h with the fingerprint dev wrote beside its
// tombstones in dir's ledger file.
func checkLocalKey(ctx context.Context, dir string, store *ledger.BoltTombstones, h tombstone.Hasher) error {
	return checkKey(ctx, store, h, "run forget with the "+privacy.EnvKey+" that cioevents dev runs with in "+dir+
		" (dev records its key's fingerprint there when it starts; "+tombstone.FingerprintFile+" shows it)")
}

// checkCloudKey compares h with the fingerprint the processor wrote.
func checkCloudKey(ctx context.Context, store *ledger.Firestore, h tombstone.Hasher, o options) error {
	return checkKey(ctx, store, h, "forget reads the key from Secret Manager secret "+o.secret+
		" (--pii-key-secret), which the processor mounts as "+privacy.EnvKey+"; with another secret or version, or none stored yet (a processor of this release writes the fingerprint when it starts), forget cannot keep the person out")
}

// allTombstoned reports whether every identifier of s that a tombstone can
// name has a live one in store: a rerun of a forget whose rows are gone.
func allTombstoned(ctx context.Context, store ledger.Tombstones, h tombstone.Hasher, s *Identity) (bool, error) {
	ts, _, err := store.ReadTombstones(ctx, "")
	if err != nil {
		return false, err
	}
	live := map[string]bool{}
	for _, t := range ts {
		if t.ExpireAt.After(time.Now()) {
			live[t.Key] = true
		}
	}
	want, err := stonesFor(h, s, time.Now(), 0)
	if err != nil || len(want) == 0 {
		return false, err
	}
	for _, t := range want {
		if !live[t.Key] {
			return false, nil
		}
	}
	return true, nil
}
