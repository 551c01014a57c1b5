package logfilter

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Resource is the monitored resource a log line is written under.
type Resource struct {
	Type   string
	Labels map[string]string
}

// FromStdout turns one JSON line a function wrote to stdout into the
// LogEntry Cloud Logging stores: the object becomes jsonPayload, except
// that severity, time and the trace move to the entry itself (message stays
// in jsonPayload, where filters find it as jsonPayload.message).
func FromStdout(line []byte, r Resource) (map[string]any, error) {
	var payload map[string]any
	if err := json.Unmarshal(line, &payload); err != nil {
		return nil, fmt.Errorf("logfilter: not a JSON object line: %w", err)
	}
	labels := map[string]any{}
	for k, v := range r.Labels {
		labels[k] = v
	}
	entry := map[string]any{
		"resource":    map[string]any{"type": r.Type, "labels": labels},
		"jsonPayload": payload,
		"severity":    "DEFAULT",
	}
	for from, to := range map[string]string{"severity": "severity", "time": "timestamp", "logging.googleapis.com/trace": "trace"} {
		if v, ok := payload[from]; ok {
			entry[to] = v
			delete(payload, from)
		}
	}
	return entry, nil
}

var (
	extractRe       = regexp.MustCompile(`^EXTRACT\(\s*([A-Za-z0-9_.]+)\s*\)$`)
	regexpExtractRe = regexp.MustCompile(`^REGEXP_EXTRACT\(\s*([A-Za-z0-9_.]+)\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)$`)
)

// Extract applies a log-based metric extractor — EXTRACT(path) or
// REGEXP_EXTRACT(path, "re") — to an entry. ok is false when the field is
// absent or the regular expression does not match.
func Extract(extractor string, entry map[string]any) (value string, ok bool, err error) {
	extractor = strings.TrimSpace(extractor)
	if m := extractRe.FindStringSubmatch(extractor); m != nil {
		v, ok := Lookup(entry, m[1])
		if !ok {
			return "", false, nil
		}
		return text(v), true, nil
	}
	if m := regexpExtractRe.FindStringSubmatch(extractor); m != nil {
		re, err := regexp.Compile(strings.ReplaceAll(m[2], `\"`, `"`))
		if err != nil {
			return "", false, fmt.Errorf("%w: %v", ErrSyntax, err)
		}
		if re.NumSubexp() != 1 {
			return "", false, fmt.Errorf("%w: REGEXP_EXTRACT needs exactly one capture group", ErrSyntax)
		}
		v, ok := Lookup(entry, m[1])
		if !ok {
			return "", false, nil
		}
		sm := re.FindStringSubmatch(text(v))
		if sm == nil {
			return "", false, nil
		}
		return sm[1], true, nil
	}
	return "", false, fmt.Errorf("%w: extractor %q is not EXTRACT(...) or REGEXP_EXTRACT(...)", ErrSyntax, extractor)
}

// ExtractorField returns the path an extractor reads.
func ExtractorField(extractor string) string {
	if m := extractRe.FindStringSubmatch(strings.TrimSpace(extractor)); m != nil {
		return m[1]
	}
	if m := regexpExtractRe.FindStringSubmatch(strings.TrimSpace(extractor)); m != nil {
		return m[1]
	}
	return ""
}
