package backfill

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// checkpoint is where a run stands: the window it is in and the cursor of
// the next page, saved after every page is fully stored. Cursors are
// Customer.io's own; they name a position in the listing, so a resumed run
// neither repeats nor skips a page.
type checkpoint struct {
	Spec   string    `json:"spec"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Window time.Time `json:"window"`
	Cursor string    `json:"cursor,omitempty"`
	Counts
	SavedAt time.Time `json:"saved_at"`
}

func loadCheckpoint(path string) (checkpoint, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return checkpoint{}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, fmt.Errorf("backfill: checkpoint: %w", err)
	}
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return checkpoint{}, false, fmt.Errorf("backfill: checkpoint %s is not readable (delete it to start over): %w", path, err)
	}
	return c, true, nil
}

// save writes through a temporary file and a rename, so a crash leaves the
// old checkpoint or the new one, never half of one.
func (c *checkpoint) save(path string) error {
	c.SavedAt = time.Now().UTC()
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("backfill: checkpoint: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("backfill: checkpoint: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("backfill: checkpoint: %w", err)
	}
	return nil
}

func removeCheckpoint(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("backfill: checkpoint: %w", err)
	}
	return nil
}
