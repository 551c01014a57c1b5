package warehouse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// File names inside the directory given to NewFile.
const (
	EventsFile   = "events.ndjson"
	RejectedFile = "rejected.ndjson"
)

// File appends rows as JSON lines, the same JSON as the BigQuery rows (raw
// and attributes embedded as JSON values rather than strings). It is the
// Writer of `cioevents dev` and is safe for concurrent use.
//
// Like BigQuery's insert ID it never writes a second line for the same
// event (Row.Key) or the same rejected insert ID, across reopens too: the
// keys already in the files are loaded on open.
type File struct {
	mu       sync.Mutex
	events   *ndjson
	rejected *ndjson
	closed   bool
}

var _ Writer = (*File)(nil)

// ndjson is one append-only file and the IDs of the rows in it.
type ndjson struct {
	f    *os.File
	name string
	size int64 // end of the last complete line
	ids  map[string]struct{}
}

// NewFile opens (creating if needed) dir/events.ndjson and dir/rejected.ndjson.
// A trailing partial line, left by a crash in the middle of a write, is cut
// off: that row was never reported as written.
func NewFile(dir string) (*File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("warehouse: %w", err)
	}
	events, err := openNDJSON(filepath.Join(dir, EventsFile), eventLineID)
	if err != nil {
		return nil, err
	}
	rejected, err := openNDJSON(filepath.Join(dir, RejectedFile), rejectedLineID)
	if err != nil {
		events.f.Close()
		return nil, err
	}
	return &File{events: events, rejected: rejected}, nil
}

func eventLineID(line []byte) (string, error) {
	var r struct {
		EventID    string    `json:"event_id"`
		DeliveryID *string   `json:"delivery_id"`
		Metric     string    `json:"metric"`
		EventTime  time.Time `json:"event_time"`
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return "", err
	}
	if r.EventID == "" {
		return "", errors.New("no event_id")
	}
	return Row{EventID: r.EventID, DeliveryID: r.DeliveryID, Metric: r.Metric, EventTime: r.EventTime}.Key(), nil
}

func rejectedLineID(line []byte) (string, error) {
	var r Rejected
	if err := json.Unmarshal(line, &r); err != nil {
		return "", err
	}
	return r.InsertID(), nil
}

func openNDJSON(path string, idOf func([]byte) (string, error)) (*ndjson, error) {
	// The rows hold personal data: owner-only, like a local database file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("warehouse: %w", err)
	}
	n := &ndjson{f: f, name: filepath.Base(path), ids: make(map[string]struct{})}
	if err := n.load(idOf); err != nil {
		f.Close()
		return nil, err
	}
	return n, nil
}

func (n *ndjson) load(idOf func([]byte) (string, error)) error {
	br := bufio.NewReaderSize(n.f, 64<<10)
	var off int64
	for lineNo := 1; ; lineNo++ {
		// ReadBytes, not a Scanner: a row may be megabytes long.
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(line) > 0 {
				// A partial last line: drop it so the next append starts clean.
				if err := n.f.Truncate(off); err != nil {
					return fmt.Errorf("warehouse: %s: cut partial last line: %w", n.name, err)
				}
			}
			break
		}
		if err != nil {
			return fmt.Errorf("warehouse: read %s: %w", n.name, err)
		}
		off += int64(len(line))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		id, err := idOf(line)
		if err != nil {
			// Not the line itself: it is personal data.
			return fmt.Errorf("warehouse: %s line %d: %w", n.name, lineNo, err)
		}
		n.ids[id] = struct{}{}
	}
	n.size = off
	return nil
}

// appendLine writes line unless id is already in the file. A failed write is
// cut back so that a later append does not glue onto a partial line.
func (n *ndjson) appendLine(id string, line []byte) error {
	if _, ok := n.ids[id]; ok {
		return nil
	}
	if _, err := n.f.Write(line); err != nil {
		if terr := n.f.Truncate(n.size); terr != nil {
			err = errors.Join(err, terr)
		}
		return fmt.Errorf("warehouse: append to %s: %w", n.name, err)
	}
	n.size += int64(len(line))
	n.ids[id] = struct{}{}
	return nil
}

// encodeLine renders v as one JSON line. HTML escaping is off so the raw
// body keeps its characters; the encoder compacts it onto one line.
func encodeLine(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// InsertEvent appends r to events.ndjson unless a row with its key
// (Row.Key: the same occurrence, from any source) is already there.
func (f *File) InsertEvent(ctx context.Context, r Row) error {
	if err := r.Validate(); err != nil {
		return err
	}
	line, err := encodeLine(r)
	if err != nil {
		return fmt.Errorf("%w: events row %q: %w", ErrPermanent, r.EventID, err)
	}
	return f.append(ctx, f.events, r.Key(), line)
}

// InsertRejected appends r to rejected.ndjson unless a row with the same
// InsertID is already there.
func (f *File) InsertRejected(ctx context.Context, r Rejected) error {
	if err := r.Validate(); err != nil {
		return err
	}
	line, err := encodeLine(r)
	if err != nil {
		return fmt.Errorf("%w: rejected_events row: %w", ErrPermanent, err)
	}
	return f.append(ctx, f.rejected, r.InsertID(), line)
}

func (f *File) append(ctx context.Context, n *ndjson, id string, line []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("warehouse: %s: %w", n.name, os.ErrClosed)
	}
	return n.appendLine(id, line)
}

// Close closes both files. Later inserts fail with os.ErrClosed.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	return errors.Join(f.events.f.Close(), f.rejected.f.Close())
}
