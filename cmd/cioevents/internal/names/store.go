package names

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Load reads <dir>/names.ndjson. A missing file is an empty index: a data
// directory nobody refreshed names for still reports, by ID.
func Load(dir string) (*Index, error) {
	records, err := ReadFile(filepath.Join(dir, File))
	if err != nil {
		return nil, err
	}
	return NewIndex(records), nil
}

// ReadFile reads the records of one NDJSON file, in file order. A missing
// file holds no records.
func ReadFile(path string) ([]Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("names: %w", err)
	}
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r Record
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("names: %s line %d: %w", path, n, err)
		}
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("names: %s line %d: %w", path, n, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("names: %s: %w", path, err)
	}
	return out, nil
}

// Merge writes records into <dir>/names.ndjson, replacing the row of each
// record's key and keeping every other row (a message deleted in Customer.io
// keeps its last known name: old events still carry its ID). It returns how
// many rows were new and how many replaced. Running it twice with the same
// records changes nothing.
//
// The file is written whole to a temporary file and renamed over the old one,
// so a crash leaves one complete version; like the rest of the data directory
// it is readable by its owner only.
func Merge(dir string, records []Record) (added, replaced int, err error) {
	for _, r := range records {
		if err := r.Validate(); err != nil {
			return 0, 0, err
		}
	}
	path := filepath.Join(dir, File)
	old, err := ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	ix := NewIndex(old)
	for _, r := range records {
		if _, ok := ix.m[r.Key()]; ok {
			replaced++
		} else {
			added++
		}
		ix.m[r.Key()] = r
	}
	if err := writeFile(dir, ix.Records()); err != nil {
		return 0, 0, err
	}
	return added, replaced, nil
}

func writeFile(dir string, records []Record) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("names: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, r := range records {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("names: %w", err)
		}
	}
	tmp, err := os.CreateTemp(dir, File+".tmp-*") // CreateTemp makes it 0600
	if err != nil {
		return fmt.Errorf("names: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("names: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("names: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("names: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, File)); err != nil {
		return fmt.Errorf("names: %w", err)
	}
	return nil
}
