package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"unicode/utf8"
)

// Pub/Sub's production limits on message attributes. The emulator and pstest
// enforce none of them, and production refuses the whole publish when one is
// broken — for a webhook that would mean 503 for ever on an authentic event.
const (
	MaxAttributes          = 100
	MaxAttributeKeyBytes   = 256
	MaxAttributeValueBytes = 1024
)

// AttrAltered is set by SafeAttributes to the comma-separated, sorted keys of
// the attributes whose values it had to replace.
const AttrAltered = "attrs_altered"

// hashMark separates the kept prefix of a replaced value from the hash of the
// whole original: "<prefix>…sha256:<64 hex>".
const hashMark = "…sha256:"

// SafeAttributes returns attrs with every key and value inside Pub/Sub's
// production limits, and the keys it had to change.
//
// A value that is valid UTF-8 and at most 1,024 bytes is kept exactly.
// Anything else is replaced by its longest valid-UTF-8 prefix that fits (each
// run of invalid bytes becomes U+FFFD) followed by "…sha256:" and the hex
// SHA-256 of the original bytes: still readable, at most 1,024 bytes, and two
// different originals stay different, which a bare truncation would not
// guarantee. The message data is never touched; consumers that need the exact
// value read it from the body.
//
// Keys the receiver sets are constants well inside the limits; a key that is
// not (too long, invalid UTF-8, empty, or in Pub/Sub's reserved "goog"
// namespace) is replaced by "x_" and a hash of it. Past 100 attributes the
// ones last in key order are dropped.
//
// attrs itself is returned when it is already within the limits, as nearly
// every set is: the receiver and the publisher both pass through here, and a
// copy per call is most of the cost.
func SafeAttributes(attrs map[string]string) (safe map[string]string, altered []string) {
	if WithinLimits(attrs) {
		return attrs, nil
	}
	safe = make(map[string]string, len(attrs)+1)
	for k, v := range attrs {
		sk := safeKey(k)
		sv := SafeValue(v)
		if sk != k || sv != v {
			altered = append(altered, sk)
		}
		safe[sk] = sv
	}
	if len(altered) > 0 {
		slices.Sort(altered)
		safe[AttrAltered] = SafeValue(strings.Join(altered, ","))
	}
	if len(safe) > MaxAttributes {
		keys := make([]string, 0, len(safe))
		for k := range safe {
			if k != AttrAltered {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys[MaxAttributes-1:] {
			delete(safe, k)
		}
	}
	return safe, altered
}

// SafeValue returns v if Pub/Sub accepts it as an attribute value, else a
// readable prefix of it followed by "…sha256:" and the hash of all of v.
func SafeValue(v string) string {
	if valueOK(v) {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	suffix := hashMark + hex.EncodeToString(sum[:])
	return validPrefix(v, MaxAttributeValueBytes-len(suffix)) + suffix
}

// validPrefix returns the longest prefix of v, with invalid UTF-8 replaced,
// that is at most n bytes and ends on a rune boundary.
func validPrefix(v string, n int) string {
	// Replacing can grow the text (one invalid byte becomes three), so cut a
	// little past n first to bound the work, then cut again exactly.
	p := strings.ToValidUTF8(v[:min(len(v), n+utf8.UTFMax)], "\uFFFD")
	if len(p) <= n {
		return p
	}
	p = p[:n]
	for len(p) > 0 && !utf8.ValidString(p) {
		p = p[:len(p)-1]
	}
	return p
}

func safeKey(k string) string {
	if keyOK(k) {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "x_" + hex.EncodeToString(sum[:16])
}

func valueOK(v string) bool { return len(v) <= MaxAttributeValueBytes && utf8.ValidString(v) }

func keyOK(k string) bool {
	return k != "" && len(k) <= MaxAttributeKeyBytes && utf8.ValidString(k) && !strings.HasPrefix(strings.ToLower(k), "goog")
}

// WithinLimits reports whether Pub/Sub would accept attrs as they are.
func WithinLimits(attrs map[string]string) bool {
	if len(attrs) > MaxAttributes {
		return false
	}
	for k, v := range attrs {
		if !keyOK(k) || !valueOK(v) {
			return false
		}
	}
	return true
}
