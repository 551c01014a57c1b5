// Package signature signs and verifies Customer.io reporting-webhook requests.
//
// Customer.io sends X-CIO-Timestamp (unix seconds) and X-CIO-Signature, the
// lowercase hex HMAC-SHA256, keyed with the webhook signing key, of
//
//	"v0:" + X-CIO-Timestamp + ":" + raw body
//
// Verification runs over the exact bytes received and the exact header string:
// re-serialising the body or normalising the timestamp breaks it.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"time"
)

// Header names Customer.io uses.
const (
	HeaderSignature = "X-CIO-Signature"
	HeaderTimestamp = "X-CIO-Timestamp"
)

// Default timestamp policy. Customer.io retries a failed delivery for 7 days
// and it is not documented whether a retry carries a fresh timestamp, so an
// age limit tighter than that could reject every retry of a stuck event and
// freeze the stream; replay defence is the event_id ledger, not the clock.
const (
	DefaultMaxAge   = 8 * 24 * time.Hour
	DefaultMaxAhead = time.Hour
)

// Errors. Each is one category a caller may log; none carries a key or body.
var (
	ErrNoKeys             = errors.New("signature: no signing key configured")
	ErrMissingSignature   = errors.New("signature: missing X-CIO-Signature header")
	ErrMissingTimestamp   = errors.New("signature: missing X-CIO-Timestamp header")
	ErrMalformedSignature = errors.New("signature: X-CIO-Signature is not 64 hex characters")
	ErrMalformedTimestamp = errors.New("signature: X-CIO-Timestamp is not an integer")
	ErrMismatch           = errors.New("signature: no signing key matches")
	ErrTooOld             = errors.New("signature: timestamp older than the maximum age")
	ErrTooNew             = errors.New("signature: timestamp too far in the future")
)

// Category is a short stable name for a verification error, for logs and
// metrics ("mismatch", "too_old", …); "other" for errors of other origin.
func Category(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{ErrNoKeys, "no_keys"},
		{ErrMissingSignature, "missing_signature"},
		{ErrMissingTimestamp, "missing_timestamp"},
		{ErrMalformedSignature, "malformed_signature"},
		{ErrMalformedTimestamp, "malformed_timestamp"},
		{ErrMismatch, "mismatch"},
		{ErrTooOld, "too_old"},
		{ErrTooNew, "too_new"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "other"
}

// Sign returns the X-CIO-Signature value for body sent with timestamp.
func Sign(key []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, key)
	writePrefix(m, timestamp)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Headers returns the timestamp and signature headers for body sent at t.
func Headers(key []byte, t time.Time, body []byte) (timestamp, sig string) {
	timestamp = strconv.FormatInt(t.Unix(), 10)
	return timestamp, Sign(key, timestamp, body)
}

// Verified describes a request that passed verification.
type Verified struct {
	// KeyIndex is the position of the matching key in the Verifier's keys,
	// so rotations can be watched without logging a key.
	KeyIndex int
	// Timestamp is X-CIO-Timestamp as a time.
	Timestamp time.Time
}

// Verifier checks signatures against one or more keys (several keys allow
// zero-downtime rotation and several workspaces) and a timestamp window.
// The zero value of MaxAge and MaxAhead means the defaults.
type Verifier struct {
	Keys     [][]byte
	MaxAge   time.Duration
	MaxAhead time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verify checks a complete body. It is the one call most callers need.
func (v *Verifier) Verify(body []byte, timestamp, sig string) (Verified, error) {
	d, err := v.Start(timestamp, sig)
	if err != nil {
		return Verified{}, err
	}
	d.Write(body)
	return d.Finish()
}

// Verify checks body with the default timestamp policy against keys.
func Verify(body []byte, timestamp, sig string, keys ...[]byte) (Verified, error) {
	v := Verifier{Keys: keys}
	return v.Verify(body, timestamp, sig)
}

// Start checks the headers and the timestamp window and returns a Digest to
// which the body is written, so a body too large to hold can still be
// verified over every byte as it streams past.
func (v *Verifier) Start(timestamp, sig string) (*Digest, error) {
	if len(v.Keys) == 0 {
		return nil, ErrNoKeys
	}
	if sig == "" {
		return nil, ErrMissingSignature
	}
	if timestamp == "" {
		return nil, ErrMissingTimestamp
	}
	want := make([]byte, sha256.Size)
	if len(sig) != hex.EncodedLen(sha256.Size) {
		return nil, ErrMalformedSignature
	}
	if _, err := hex.Decode(want, []byte(sig)); err != nil {
		return nil, ErrMalformedSignature
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return nil, ErrMalformedTimestamp
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	maxAge, maxAhead := v.MaxAge, v.MaxAhead
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if maxAhead <= 0 {
		maxAhead = DefaultMaxAhead
	}
	if err := window(sec, now(), maxAge, maxAhead); err != nil {
		return nil, err
	}
	ts := time.Unix(sec, 0)
	d := &Digest{want: want, ts: ts.UTC(), macs: make([]hash.Hash, len(v.Keys))}
	for i, k := range v.Keys {
		d.macs[i] = hmac.New(sha256.New, k)
		writePrefix(d.macs[i], timestamp)
	}
	return d, nil
}

// Digest accumulates the body for every key. It implements io.Writer.
type Digest struct {
	want []byte
	ts   time.Time
	macs []hash.Hash
}

var _ io.Writer = (*Digest)(nil)

// Write feeds body bytes; it never fails.
func (d *Digest) Write(p []byte) (int, error) {
	for _, m := range d.macs {
		m.Write(p)
	}
	return len(p), nil
}

// Finish reports which key, if any, produced the expected signature. Every
// key is compared, in constant time, so timing reveals neither which key
// matched nor how much of the signature did.
func (d *Digest) Finish() (Verified, error) {
	match := -1
	sum := make([]byte, 0, sha256.Size)
	for i, m := range d.macs {
		sum = m.Sum(sum[:0])
		if hmac.Equal(sum, d.want) && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return Verified{}, ErrMismatch
	}
	return Verified{KeyIndex: match, Timestamp: d.ts}, nil
}

// window checks sec against [now-maxAge, now+maxAhead] in whole seconds on
// the bounds, never on sec: a time.Duration spans only ±292 years and
// time.Unix wraps for seconds near the int64 limits, so either would let a
// far-future timestamp overflow into the window.
func window(sec int64, now time.Time, maxAge, maxAhead time.Duration) error {
	// sec < oldest, with oldest possibly fractional: compare against its
	// floor and, when it has nanoseconds, also reject the floor itself.
	oldest := now.Add(-maxAge)
	if o := oldest.Unix(); sec < o || sec == o && oldest.Nanosecond() > 0 {
		return fmt.Errorf("%w (timestamp %d, oldest accepted %d)", ErrTooOld, sec, o)
	}
	// sec > newest: for a whole sec that is sec > floor(newest).
	if n := now.Add(maxAhead).Unix(); sec > n {
		return fmt.Errorf("%w (timestamp %d, newest accepted %d)", ErrTooNew, sec, n)
	}
	return nil
}

func writePrefix(w io.Writer, timestamp string) {
	io.WriteString(w, "v0:")
	io.WriteString(w, timestamp)
	io.WriteString(w, ":")
}
