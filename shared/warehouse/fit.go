package warehouse

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// MaxInsertBytes is the most one row may weigh as an insertAll request
// carries it. BigQuery refuses requests over 10 MB; the rest is headroom for
// the request envelope. A request over the limit is refused as a whole, every
// time, so a row that does not fit must be made to fit before it is sent or
// it would be retried until it dead-letters.
const MaxInsertBytes = 9 << 20

// keptBodyBytes is how much of a body a shrunk rejected row keeps, as the
// receiver's oversized stub does.
const keptBodyBytes = 64 << 10

// escapeFactor is the worst growth of a text as a JSON string: Go's encoder
// writes <, > and & as \u003c (6 bytes for 1).
const escapeFactor = 6

// insertSize is what r weighs in an insertAll request, where the JSON column
// travels as a string.
func (r Row) insertSize() int {
	raw := r.Raw
	r.Raw = json.RawMessage(`{}`)
	rest, _ := json.Marshal(r)
	q, _ := json.Marshal(string(raw))
	return len(rest) + len(q)
}

// Fit returns r as it can be inserted: unchanged when it fits in
// MaxInsertBytes, else with Raw replaced by a small object that says so and
// identifies the body (size and SHA-256) while every typed column is kept.
// The bool reports whether Raw was replaced. The body as received is in the
// Pub/Sub message, so nothing is lost by the warehouse choosing not to keep
// it; the typed columns, which are what queries read, stay complete.
func (r Row) Fit() (Row, bool) {
	if len(r.Raw)*escapeFactor < MaxInsertBytes || r.insertSize() <= MaxInsertBytes {
		return r, false
	}
	sum := sha256.Sum256(r.Raw)
	stub, _ := json.Marshal(map[string]any{
		"event_id":    r.EventID,
		"object_type": r.ObjectType,
		"metric":      r.Metric,
		RawOmittedKey: map[string]any{
			"reason": fmt.Sprintf("body of %d bytes exceeds a BigQuery insert (%d bytes) once encoded", len(r.Raw), MaxInsertBytes),
			"bytes":  len(r.Raw),
			"sha256": hex.EncodeToString(sum[:]),
		},
	})
	r.Raw = stub
	return r, true
}

// RawOmittedKey is the key of the object that replaces a raw body too large
// to insert; query `JSON_QUERY(raw, '$.cioevents_raw_omitted')` to find them.
const RawOmittedKey = "cioevents_raw_omitted"

// Fit returns r as it can be inserted: unchanged when its body is small
// enough, else with the body cut to its first 64 KiB (on a UTF-8 boundary) and
// the reason saying how large it was and its SHA-256.
func (r Rejected) Fit() Rejected {
	if len(r.Body)*escapeFactor < MaxInsertBytes {
		return r
	}
	if q, _ := json.Marshal(r); len(q) <= MaxInsertBytes {
		return r
	}
	sum := sha256.Sum256([]byte(r.Body))
	cut := keptBodyBytes
	for cut > 0 && !utf8.RuneStart(r.Body[cut]) {
		cut--
	}
	r.Reason = fmt.Sprintf("%s (body truncated to %d of %d bytes, sha256 %s)", r.Reason, cut, len(r.Body), hex.EncodeToString(sum[:]))
	r.Body = r.Body[:cut]
	return r
}
