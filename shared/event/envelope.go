package event

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// The receiver's light parse reads five top-level members of a body it does
// not otherwise need to decode; encoding/json would reflect over the envelope
// struct and copy or allocate on every member. scanEnvelope walks the body
// once, checking JSON syntax as encoding/json does and decoding only those
// members. Anything beyond the plain shape of real bodies (an escaped or
// non-ASCII key, deep nesting, invalid JSON) sends the body to parse, which
// remains the one definition of the result: FuzzParse holds the two equal.

// maxScanDepth bounds the scanner's recursion; deeper bodies (encoding/json
// allows 10,000 levels) take the general path.
const maxScanDepth = 64

// envelopeField is which Event field a top-level key sets.
type envelopeField int

const (
	fieldNone envelopeField = iota
	fieldEventID
	fieldObjectType
	fieldObjectTypeType
	fieldMetric
	fieldTimestamp
)

// scanEnvelope reads the envelope of trimmed, a body that starts with '{'.
// It reports false when the body needs the general path.
func scanEnvelope(trimmed []byte) (Envelope, bool) {
	var env struct {
		eventID, objectType, objectTypeType, metric String
		timestamp                                   Int
	}
	b := trimmed
	i := skipSpace(b, 1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return Envelope{}, false
			}
			keyStart := i + 1
			i = skipString(b, keyStart)
			if i < 0 {
				return Envelope{}, false
			}
			key := b[keyStart : i-1]
			for _, c := range key {
				if c == '\\' || c >= utf8.RuneSelf {
					return Envelope{}, false // encoding/json unescapes and Unicode-folds keys
				}
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return Envelope{}, false
			}
			i = skipSpace(b, i+1)
			valStart := i
			if i = skipValue(b, i, 1); i < 0 {
				return Envelope{}, false
			}
			val := b[valStart:i]
			// Each member is applied in document order, as encoding/json
			// does; a value of the wrong type leaves its field zero, as
			// parse's member-by-member fallback does.
			switch matchField(key) {
			case fieldEventID:
				env.eventID = decodeString(val)
			case fieldObjectType:
				env.objectType = decodeString(val)
			case fieldObjectTypeType:
				env.objectTypeType = decodeString(val)
			case fieldMetric:
				env.metric = decodeString(val)
			case fieldTimestamp:
				env.timestamp = decodeInt(val)
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return Envelope{}, false
			}
			if b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if b[i] != '}' {
				return Envelope{}, false
			}
			i++
			break
		}
	}
	if i != len(b) {
		return Envelope{}, false
	}
	out := Envelope{EventID: env.eventID.Value, ObjectType: env.objectType.Value, Metric: env.metric.Value,
		Timestamp: env.timestamp.Value}
	if out.ObjectType == "" {
		out.ObjectType = env.objectTypeType.Value
	}
	return out, true
}

// matchField matches an ASCII key as encoding/json does: exactly or, failing
// that, case-insensitively.
func matchField(key []byte) envelopeField {
	for _, f := range [...]struct {
		name  string
		field envelopeField
	}{
		{"event_id", fieldEventID},
		{"object_type", fieldObjectType},
		{"object_type_type", fieldObjectTypeType},
		{"metric", fieldMetric},
		{"timestamp", fieldTimestamp},
	} {
		if len(key) == len(f.name) && bytes.EqualFold(key, []byte(f.name)) {
			return f.field
		}
	}
	return fieldNone
}

// decodeString is (*String).UnmarshalJSON with the error dropped, cutting
// plain strings out directly and sharing the catalog's names.
func decodeString(val []byte) String {
	if len(val) >= 2 && val[0] == '"' {
		inner := val[1 : len(val)-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			if s, ok := names[string(inner)]; ok {
				return String{Value: s, Valid: true}
			}
			return String{Value: string(inner), Valid: true}
		}
	}
	var s String
	_ = s.UnmarshalJSON(val)
	return s
}

// decodeInt is (*Int).UnmarshalJSON with the error dropped, reading a plain
// integer of up to 18 digits without allocating.
func decodeInt(val []byte) Int {
	digits := val
	neg := len(digits) > 0 && digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if len(digits) > 0 && len(digits) <= 18 {
		var v int64
		for _, c := range digits {
			if c < '0' || c > '9' {
				goto general
			}
			v = v*10 + int64(c-'0')
		}
		if neg {
			v = -v
		}
		return Int{Value: v, Valid: true}
	}
general:
	var n Int
	_ = n.UnmarshalJSON(val)
	return n
}

// names interns the catalog's object types and metrics, so the common
// values cost no allocation.
var names = func() map[string]string {
	m := make(map[string]string)
	for ot, ms := range metrics {
		m[ot] = ot
		for _, metric := range ms {
			m[metric] = metric
		}
	}
	return m
}()

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i], or
// -1 if there is none (or it nests deeper than maxScanDepth).
func skipValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i+1)
	case c == '{':
		if depth >= maxScanDepth {
			return -1
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return -1
			}
			if i = skipString(b, i+1); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return -1
			}
			if i = skipValue(b, skipSpace(b, i+1), depth+1); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case '}':
				return i + 1
			default:
				return -1
			}
		}
	case c == '[':
		if depth >= maxScanDepth {
			return -1
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1
		}
		for {
			if i = skipValue(b, i, depth+1); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case ']':
				return i + 1
			default:
				return -1
			}
		}
	case c == '-' || '0' <= c && c <= '9':
		return skipNumber(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	}
	return -1
}

func skipLiteral(b []byte, i int, lit string) int {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}

// skipNumber follows JSON's number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// stringStop marks the bytes that end a run of plain string content.
var stringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// skipString returns the index just past the closing quote of the string
// whose content starts at b[i], or -1 if it is not a valid JSON string.
// Like encoding/json it rejects control characters and bad escapes and
// accepts any other byte, invalid UTF-8 included.
func skipString(b []byte, i int) int {
	for {
		i = plainRun(b, i)
		for i < len(b) && !stringStop[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if len(b)-i < 5 {
					return -1
				}
				for _, c := range b[i+1 : i+5] {
					if !isHexDigit(c) {
						return -1
					}
				}
				i += 5
			default:
				return -1
			}
		default:
			return -1 // a control character
		}
	}
}

// plainRun skips string content eight bytes at a time while none of them
// is a quote, a backslash or a control character; the byte loop after it
// finds which one stopped it.
func plainRun(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		// Classic "has a zero byte" tests: each flags the first matching
		// byte exactly (and may flag later ones falsely), enough to stop.
		q := w ^ (ones * '"')
		bs := w ^ (ones * '\\')
		stop := (q-ones)&^q | (bs-ones)&^bs | (w-ones*0x20)&^w
		if stop&highs != 0 {
			return i
		}
	}
	return i
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f'
}
