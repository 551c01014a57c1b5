package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Tombstone says that `cioevents forget` erased a person: Key is a keyed
// hash of one of their identifiers (shared/tombstone), never the
// identifier itself. It lives in the ledger's store until ExpireAt.
// CreatedAt is the forgetting machine's clock, kept for people to read;
// nothing is ordered by it, because that clock may be wrong.
type Tombstone struct {
	Key       string
	CreatedAt time.Time
	ExpireAt  time.Time
}

// Tombstones is the part of a store that keeps tombstones and the
// fingerprint of the key that hashed them.
//
// ReadTombstones returns the tombstones written after cursor ("" : all of
// them) and the cursor to pass next time. A cursor is the store's own
// order of writing — Firestore's commit time (a server timestamp), a bbolt
// sequence — never the clock of the machine that ran forget, so a forget
// from a machine whose clock is ahead or behind is still read by the next
// refresh of every instance. A cursor is opaque: pass back what was returned.
type Tombstones interface {
	PutTombstones(ctx context.Context, ts []Tombstone) error
	ReadTombstones(ctx context.Context, cursor string) ([]Tombstone, string, error)
	// PutKeyFingerprint stores fp unless a fingerprint is stored already,
	// and returns the one stored (fp, or the earlier one): first writer
	// wins, so a processor started with the wrong key never overwrites
	// the right one.
	PutKeyFingerprint(ctx context.Context, fp string) (string, error)
	// KeyFingerprint is the stored fingerprint, "" when there is none.
	KeyFingerprint(ctx context.Context) (string, error)
}

var (
	_ Tombstones = (*Firestore)(nil)
	_ Tombstones = (*Bolt)(nil)
	_ Tombstones = (*BoltTombstones)(nil)
	_ Tombstones = (*Memory)(nil)
)

// tombstonePrefix leads a tombstone's document ID in the ledger collection.
// It starts with "_" and differs from hashedPrefix, so it can equal no
// event's document ID; after it comes the creation time, fixed-width, then
// the key. Only the first read of an instance uses the IDs (a range read of
// the prefix); later reads go by written_at.
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

// fingerprintDocID is the document beside the tombstones that holds the
// key fingerprint. It has no expire_at, so the TTL policy never deletes it.
const fingerprintDocID = "_tombstone_key"

// tombstoneDoc: created_at and expire_at are ledger fields (terraform/
// firestore.tf exempts them from indexing; expire_at carries the TTL
// policy, which deletes the tombstone when it ends). written_at is
// Firestore's commit time, set by the server, and is the refresh's cursor:
// it keeps its automatic single-field index, which only tombstones carry
// (a document without the field is not in its index), so the refresh is
// one indexed range query however large the ledger is. Tombstones are few,
// so the index is far from the rate at which an ascending field hotspots.
type tombstoneDoc struct {
	CreatedAt time.Time `firestore:"created_at"`
	ExpireAt  time.Time `firestore:"expire_at"`
	WrittenAt time.Time `firestore:"written_at,serverTimestamp"`
}

// fieldWrittenAt is tombstoneDoc's cursor field.
const fieldWrittenAt = "written_at"

// firestoreOverlap re-reads the tombstones committed in the last minute at
// each refresh. Firestore's reads are strongly consistent, so a commit not
// yet visible to one query carries a later commit time than everything it
// returned; the overlap is a margin on top of that, not what correctness
// rests on, and costs one read per tombstone of the last minute.
const firestoreOverlap = time.Minute

// PutTombstones implements Tombstones.
func (f *Firestore) PutTombstones(ctx context.Context, ts []Tombstone) error {
	for _, t := range ts {
		if _, err := f.coll.Doc(tombstoneID(t)).Set(ctx, tombstoneDoc{CreatedAt: t.CreatedAt, ExpireAt: t.ExpireAt}); err != nil {
			return fmt.Errorf("ledger: tombstone: %w", err)
		}
	}
	return nil
}

// firestoreCursorPrefix marks a Firestore cursor: the latest written_at
// read, in RFC 3339.
const firestoreCursorPrefix = "written_at:"

// ReadTombstones implements Tombstones. The first read ("" cursor) is a
// range query over document IDs (always indexed), which also finds
// tombstones from before written_at existed; later reads query written_at
// from the cursor less firestoreOverlap.
func (f *Firestore) ReadTombstones(ctx context.Context, cursor string) ([]Tombstone, string, error) {
	var q firestore.Query
	var latest time.Time
	switch {
	case cursor == "":
		q = f.coll.Where(firestore.DocumentID, ">=", f.coll.Doc(tombstonePrefix)).
			Where(firestore.DocumentID, "<", f.coll.Doc(tombstoneEnd))
	case strings.HasPrefix(cursor, firestoreCursorPrefix):
		t, err := time.Parse(time.RFC3339Nano, cursor[len(firestoreCursorPrefix):])
		if err != nil {
			return nil, "", fmt.Errorf("ledger: tombstones: cursor %q: %w", cursor, err)
		}
		latest = t
		q = f.coll.Where(fieldWrittenAt, ">=", later(t.Add(-firestoreOverlap), time.Unix(0, 0).UTC()))
	default:
		return nil, "", fmt.Errorf("ledger: tombstones: cursor %q is not Firestore's", cursor)
	}
	it := q.Documents(ctx)
	defer it.Stop()
	var out []Tombstone
	for {
		snap, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("ledger: tombstones: %w", err)
		}
		t, ok := parseTombstoneID(snap.Ref.ID)
		if !ok {
			continue
		}
		var d tombstoneDoc
		if err := snap.DataTo(&d); err != nil {
			return nil, "", fmt.Errorf("ledger: tombstone %s: %w", snap.Ref.ID, err)
		}
		t.ExpireAt = d.ExpireAt
		out = append(out, t)
		if d.WrittenAt.After(latest) {
			latest = d.WrittenAt
		}
	}
	// With nothing written yet, the cursor is the epoch: the next read
	// asks written_at for everything, which is what is new.
	return out, firestoreCursorPrefix + later(latest, time.Unix(0, 0)).UTC().Format(time.RFC3339Nano), nil
}

type fingerprintDoc struct {
	Fingerprint string    `firestore:"key_fingerprint"`
	CreatedAt   time.Time `firestore:"created_at,serverTimestamp"`
}

// PutKeyFingerprint implements Tombstones: one read when it is there,
// else one create.
func (f *Firestore) PutKeyFingerprint(ctx context.Context, fp string) (string, error) {
	ref := f.coll.Doc(fingerprintDocID)
	for range maxConflicts {
		cur, err := f.KeyFingerprint(ctx)
		if err != nil || cur != "" {
			return cur, err
		}
		_, err = ref.Create(ctx, fingerprintDoc{Fingerprint: fp})
		if err == nil {
			return fp, nil
		}
		if status.Code(err) != codes.AlreadyExists {
			return "", fmt.Errorf("ledger: key fingerprint: %w", err)
		}
	}
	return "", fmt.Errorf("ledger: key fingerprint: gave up after %d conflicting writes", maxConflicts)
}

// KeyFingerprint implements Tombstones.
func (f *Firestore) KeyFingerprint(ctx context.Context) (string, error) {
	snap, err := f.coll.Doc(fingerprintDocID).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("ledger: key fingerprint: %w", err)
	}
	var d fingerprintDoc
	if err := snap.DataTo(&d); err != nil {
		return "", fmt.Errorf("ledger: key fingerprint: %w", err)
	}
	return d.Fingerprint, nil
}

var (
	boltTombstones = []byte("tombstones")
	boltMeta       = []byte("tombstone_meta")
	boltKeyFP      = []byte("key_fingerprint")
)

// boltSeqPrefix leads the bbolt key of a tombstone written by this
// release: then the bucket's sequence at its write, fixed-width, so keys
// sort in the order they were written and a refresh seeks past its
// cursor. Keys under tombstonePrefix are earlier releases', read by the
// first read only.
const boltSeqPrefix = "_seq_"

// boltCursorPrefix marks a bbolt cursor: the last sequence read.
const boltCursorPrefix = "seq:"

// BoltTombstones keeps tombstones and the key fingerprint in a bbolt file,
// dev's ledger file: the store of a running Bolt ledger, or of a file no
// ledger holds (`cioevents forget --data-dir`).
type BoltTombstones struct{ db *bolt.DB }

// NewBoltTombstones returns the tombstones of db.
func NewBoltTombstones(db *bolt.DB) *BoltTombstones { return &BoltTombstones{db: db} }

// PutTombstones implements Tombstones.
func (b *Bolt) PutTombstones(ctx context.Context, ts []Tombstone) error {
	return NewBoltTombstones(b.db).PutTombstones(ctx, ts)
}

// ReadTombstones implements Tombstones.
func (b *Bolt) ReadTombstones(ctx context.Context, cursor string) ([]Tombstone, string, error) {
	return NewBoltTombstones(b.db).ReadTombstones(ctx, cursor)
}

// PutKeyFingerprint implements Tombstones.
func (b *Bolt) PutKeyFingerprint(ctx context.Context, fp string) (string, error) {
	return NewBoltTombstones(b.db).PutKeyFingerprint(ctx, fp)
}

// KeyFingerprint implements Tombstones.
func (b *Bolt) KeyFingerprint(ctx context.Context) (string, error) {
	return NewBoltTombstones(b.db).KeyFingerprint(ctx)
}

// PutBoltTombstones stores ts in db, a dev ledger file that no running
// ledger holds (`cioevents forget --data-dir`).
func PutBoltTombstones(db *bolt.DB, ts []Tombstone) error {
	return NewBoltTombstones(db).PutTombstones(context.Background(), ts)
}

type boltTombstone struct {
	CreatedAt time.Time `json:"created_at"`
	ExpireAt  time.Time `json:"expire_at"`
}

// PutTombstones implements Tombstones: one transaction, each tombstone
// under the bucket's next sequence.
func (b *BoltTombstones) PutTombstones(ctx context.Context, ts []Tombstone) error {
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(boltTombstones)
		if err != nil {
			return err
		}
		for _, t := range ts {
			seq, err := bk.NextSequence()
			if err != nil {
				return err
			}
			v, _ := json.Marshal(boltTombstone{CreatedAt: t.CreatedAt.UTC(), ExpireAt: t.ExpireAt.UTC()})
			if err := bk.Put([]byte(boltSeqKey(seq)+"_"+t.Key), v); err != nil {
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

func boltSeqKey(seq uint64) string { return boltSeqPrefix + fmt.Sprintf("%020d", seq) }

// ReadTombstones implements Tombstones: the whole bucket the first time,
// then a seek past the cursor's sequence. One read transaction, so the
// cursor returned is exactly what was read.
func (b *BoltTombstones) ReadTombstones(ctx context.Context, cursor string) ([]Tombstone, string, error) {
	var after uint64
	if cursor != "" {
		s, ok := strings.CutPrefix(cursor, boltCursorPrefix)
		n, err := strconv.ParseUint(s, 10, 64)
		if !ok || err != nil {
			return nil, "", fmt.Errorf("ledger: tombstones: cursor %q is not bbolt's", cursor)
		}
		after = n
	}
	var out []Tombstone
	var seq uint64
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltTombstones)
		if bk == nil {
			return nil
		}
		seq = bk.Sequence()
		c := bk.Cursor()
		var k, v []byte
		if cursor == "" {
			k, v = c.First()
		} else {
			k, v = c.Seek([]byte(boltSeqKey(after + 1)))
		}
		for ; k != nil; k, v = c.Next() {
			t, ok := parseBoltTombstoneKey(string(k))
			if !ok {
				continue
			}
			var d boltTombstone
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			t.ExpireAt = d.ExpireAt
			if !d.CreatedAt.IsZero() {
				t.CreatedAt = d.CreatedAt
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("ledger: tombstones: %w", err)
	}
	return out, boltCursorPrefix + strconv.FormatUint(max(seq, after), 10), nil
}

// parseBoltTombstoneKey reads this release's keys and earlier ones'.
func parseBoltTombstoneKey(k string) (Tombstone, bool) {
	if rest, ok := strings.CutPrefix(k, boltSeqPrefix); ok {
		if len(rest) < 22 || rest[20] != '_' {
			return Tombstone{}, false
		}
		return Tombstone{Key: rest[21:]}, true
	}
	return parseTombstoneID(k)
}

// PutKeyFingerprint implements Tombstones.
func (b *BoltTombstones) PutKeyFingerprint(ctx context.Context, fp string) (string, error) {
	stored := fp
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(boltMeta)
		if err != nil {
			return err
		}
		if v := bk.Get(boltKeyFP); v != nil {
			stored = string(v)
			return nil
		}
		return bk.Put(boltKeyFP, []byte(fp))
	})
	if err != nil {
		return "", fmt.Errorf("ledger: key fingerprint: %w", err)
	}
	return stored, nil
}

// KeyFingerprint implements Tombstones.
func (b *BoltTombstones) KeyFingerprint(ctx context.Context) (string, error) {
	var fp string
	err := b.db.View(func(tx *bolt.Tx) error {
		if bk := tx.Bucket(boltMeta); bk != nil {
			fp = string(bk.Get(boltKeyFP))
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("ledger: key fingerprint: %w", err)
	}
	return fp, nil
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

// ReadTombstones implements Tombstones; the cursor is how many were read.
func (m *Memory) ReadTombstones(ctx context.Context, cursor string) ([]Tombstone, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	from := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 || n > len(m.tombstones) {
			return nil, "", fmt.Errorf("ledger: tombstones: cursor %q is not this memory's", cursor)
		}
		from = n
	}
	return append([]Tombstone(nil), m.tombstones[from:]...), strconv.Itoa(len(m.tombstones)), nil
}

// PutKeyFingerprint implements Tombstones.
func (m *Memory) PutKeyFingerprint(ctx context.Context, fp string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keyFingerprint == "" {
		m.keyFingerprint = fp
	}
	return m.keyFingerprint, nil
}

// KeyFingerprint implements Tombstones.
func (m *Memory) KeyFingerprint(ctx context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keyFingerprint, nil
}
