package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/api/iterator"
)

// Tombstone says that `cioevents forget` erased a person: Key is a keyed
// hash of one of their identifiers (shared/tombstone), never the
// identifier itself. It lives in the ledger's store until ExpireAt.
type Tombstone struct {
	Key       string
	CreatedAt time.Time
	ExpireAt  time.Time
}

// Tombstones is the part of a store that keeps tombstones. List returns
// those created at or after since (the zero time: all), so an instance that
// holds the set refreshes it by reading only what is new.
type Tombstones interface {
	PutTombstones(ctx context.Context, ts []Tombstone) error
	ListTombstones(ctx context.Context, since time.Time) ([]Tombstone, error)
}

var (
	_ Tombstones = (*Firestore)(nil)
	_ Tombstones = (*Bolt)(nil)
	_ Tombstones = (*Memory)(nil)
)

// tombstonePrefix leads a tombstone's document ID in the ledger collection.
// It starts with "_" and differs from hashedPrefix, so it can equal no
// event's document ID; after it comes the creation time, fixed-width, so
// that IDs sort by time and a refresh is a range read of the IDs.
const tombstonePrefix = "_forgotten_"

// tombstoneEnd sorts after every tombstone ID ('`' follows '_').
const tombstoneEnd = "_forgotten`"

func tombstoneID(t Tombstone) string {
	return tombstonePrefix + fmt.Sprintf("%020d", t.CreatedAt.UnixNano()) + "_" + t.Key
}

func parseTombstoneID(id string) (Tombstone, bool) {
	rest, ok := strings.CutPrefix(id, tombstonePrefix)
	if !ok || len(rest) < 22 || rest[20] != '_' {
		return Tombstone{}, false
	}
	ns, err := strconv.ParseInt(rest[:20], 10, 64)
	if err != nil {
		return Tombstone{}, false
	}
	return Tombstone{Key: rest[21:], CreatedAt: time.Unix(0, ns).UTC()}, true
}

// tombstoneDoc holds only ledger fields (terraform/modules/cioevents/firestore.tf exempts
// them from indexing; expire_at carries the TTL policy, which deletes the
// tombstone when it ends).
type tombstoneDoc struct {
	CreatedAt time.Time `firestore:"created_at"`
	ExpireAt  time.Time `firestore:"expire_at"`
}

// PutTombstones implements Tombstones.
func (f *Firestore) PutTombstones(ctx context.Context, ts []Tombstone) error {
	for _, t := range ts {
		if _, err := f.coll.Doc(tombstoneID(t)).Set(ctx, tombstoneDoc{CreatedAt: t.CreatedAt, ExpireAt: t.ExpireAt}); err != nil {
			return fmt.Errorf("ledger: tombstone: %w", err)
		}
	}
	return nil
}

// ListTombstones implements Tombstones: one range query over document IDs
// (always indexed), reading only the tombstones created since.
func (f *Firestore) ListTombstones(ctx context.Context, since time.Time) ([]Tombstone, error) {
	from := tombstonePrefix
	if !since.IsZero() {
		from = tombstoneID(Tombstone{CreatedAt: since})
	}
	it := f.coll.Where(firestore.DocumentID, ">=", f.coll.Doc(from)).
		Where(firestore.DocumentID, "<", f.coll.Doc(tombstoneEnd)).Documents(ctx)
	defer it.Stop()
	var out []Tombstone
	for {
		snap, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("ledger: tombstones: %w", err)
		}
		t, ok := parseTombstoneID(snap.Ref.ID)
		if !ok {
			continue
		}
		var d tombstoneDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("ledger: tombstone %s: %w", snap.Ref.ID, err)
		}
		t.ExpireAt = d.ExpireAt
		out = append(out, t)
	}
}

var boltTombstones = []byte("tombstones")

// PutTombstones implements Tombstones.
func (b *Bolt) PutTombstones(ctx context.Context, ts []Tombstone) error {
	return PutBoltTombstones(b.db, ts)
}

// ListTombstones implements Tombstones.
func (b *Bolt) ListTombstones(ctx context.Context, since time.Time) ([]Tombstone, error) {
	return ListBoltTombstones(b.db, since)
}

// PutBoltTombstones stores ts in db, a dev ledger file that no running
// ledger holds (`cioevents forget --data-dir`).
func PutBoltTombstones(db *bolt.DB, ts []Tombstone) error {
	err := db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(boltTombstones)
		if err != nil {
			return err
		}
		for _, t := range ts {
			v, _ := json.Marshal(map[string]time.Time{"expire_at": t.ExpireAt})
			if err := bk.Put([]byte(tombstoneID(t)), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger: tombstone: %w", err)
	}
	return nil
}

// ListBoltTombstones reads db's tombstones created since.
func ListBoltTombstones(db *bolt.DB, since time.Time) ([]Tombstone, error) {
	var out []Tombstone
	err := db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltTombstones)
		if bk == nil {
			return nil
		}
		from := []byte(tombstonePrefix)
		if !since.IsZero() {
			from = []byte(tombstoneID(Tombstone{CreatedAt: since}))
		}
		c := bk.Cursor()
		for k, v := c.Seek(from); k != nil && bytes.HasPrefix(k, []byte(tombstonePrefix)); k, v = c.Next() {
			t, ok := parseTombstoneID(string(k))
			if !ok {
				continue
			}
			var d struct {
				ExpireAt time.Time `json:"expire_at"`
			}
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			t.ExpireAt = d.ExpireAt
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: tombstones: %w", err)
	}
	return out, nil
}

// DeleteBolt removes the records of eventIDs from db, a dev ledger file
// that no running ledger holds, under this release's and the legacy
// document IDs, and returns how many it removed.
func DeleteBolt(db *bolt.DB, eventIDs []string) (int, error) {
	n := 0
	err := db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltBucket)
		if bk == nil {
			return nil
		}
		for _, id := range eventIDs {
			for _, k := range []string{DocID(id), LegacyDocID(id)} {
				if bk.Get([]byte(k)) == nil {
					continue
				}
				if err := bk.Delete([]byte(k)); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("ledger: delete: %w", err)
	}
	return n, nil
}

// PutTombstones implements Tombstones.
func (m *Memory) PutTombstones(ctx context.Context, ts []Tombstone) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tombstones = append(m.tombstones, ts...)
	return nil
}

// ListTombstones implements Tombstones.
func (m *Memory) ListTombstones(ctx context.Context, since time.Time) ([]Tombstone, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Tombstone
	for _, t := range m.tombstones {
		if !t.CreatedAt.Before(since) {
			out = append(out, t)
		}
	}
	return out, nil
}
