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
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
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

// NewRequest returns a POST of body to url signed with key at t, as
// Customer.io sends a webhook: the load generator and tests use it.
func NewRequest(ctx context.Context, url string, key []byte, t time.Time, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	ts, sig := Headers(key, t, body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, sig)
	return req, nil
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

	// states holds a *macCache: keyed HMAC states reused across requests,
	// because hmac.New hashes the padded key twice and allocates several
	// times, which costs more than hashing a 1 KB body.
	states atomic.Value
}

// Verify checks a complete body. It is the one call most callers need.
func (v *Verifier) Verify(body []byte, timestamp, sig string) (Verified, error) {
	var d Digest
	if err := v.start(&d, timestamp, sig); err != nil {
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
	d := new(Digest)
	if err := v.start(d, timestamp, sig); err != nil {
		return nil, err
	}
	return d, nil
}

func (v *Verifier) start(d *Digest, timestamp, sig string) error {
	if len(v.Keys) == 0 {
		return ErrNoKeys
	}
	if sig == "" {
		return ErrMissingSignature
	}
	if timestamp == "" {
		return ErrMissingTimestamp
	}
	if !decodeHex(&d.want, sig) {
		return ErrMalformedSignature
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrMalformedTimestamp
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
		return err
	}
	d.ts = time.Unix(sec, 0).UTC()
	c := v.cache()
	d.cache = c
	if len(c.pools) > len(d.inline) {
		d.more = make([]*mac, len(c.pools))
	}
	d.n = len(c.pools)
	macs := d.macs()
	for i := range macs {
		macs[i] = c.get(i)
		macs[i].prefix(timestamp)
	}
	return nil
}

// cache returns the HMAC states for the current Keys, building them anew
// when Keys changed since the last call (compared by content, so a copied
// or edited Verifier never checks against a stale key).
func (v *Verifier) cache() *macCache {
	if c, _ := v.states.Load().(*macCache); c != nil && c.matches(v.Keys) {
		return c
	}
	c := &macCache{keys: make([][]byte, len(v.Keys)), pools: make([]sync.Pool, len(v.Keys))}
	for i, k := range v.Keys {
		c.keys[i] = bytes.Clone(k)
		if c.keys[i] == nil {
			c.keys[i] = []byte{}
		}
	}
	v.states.Store(c)
	return c
}

// macCache pools, per key, HMAC states that Reset rewinds to just after the
// key, so a request costs only its own bytes.
type macCache struct {
	keys  [][]byte
	pools []sync.Pool // of *mac, one pool per key
}

func (c *macCache) matches(keys [][]byte) bool {
	if len(keys) != len(c.keys) {
		return false
	}
	for i, k := range keys {
		if !bytes.Equal(k, c.keys[i]) {
			return false
		}
	}
	return true
}

func (c *macCache) get(i int) *mac {
	if m, _ := c.pools[i].Get().(*mac); m != nil {
		m.h.Reset()
		return m
	}
	return &mac{key: i, h: hmac.New(sha256.New, c.keys[i]), sum: make([]byte, 0, sha256.Size)}
}

// mac is one keyed HMAC state with its scratch space, so that feeding the
// prefix and taking the sum through the hash.Hash interface allocate nothing.
type mac struct {
	key     int
	h       hash.Hash
	scratch []byte
	sum     []byte
}

func (m *mac) prefix(timestamp string) {
	m.scratch = append(append(append(m.scratch[:0], "v0:"...), timestamp...), ':')
	m.h.Write(m.scratch)
}

// Digest accumulates the body for every key. It implements io.Writer.
type Digest struct {
	want   [sha256.Size]byte
	ts     time.Time
	cache  *macCache
	n      int     // keys in use; 0 once finished
	inline [2]*mac // the usual one or two keys, without an allocation
	more   []*mac  // used instead of inline for more keys

	done bool
	res  Verified
	err  error
}

var _ io.Writer = (*Digest)(nil)

// macs is the states in use; an index rather than a slice field into inline
// keeps a Digest on the stack when Verify uses one.
func (d *Digest) macs() []*mac {
	if d.more != nil {
		return d.more[:d.n]
	}
	return d.inline[:d.n]
}

// Write feeds body bytes; it never fails. Bytes written after Finish are
// ignored.
func (d *Digest) Write(p []byte) (int, error) {
	for _, m := range d.macs() {
		m.h.Write(p)
	}
	return len(p), nil
}

// Finish reports which key, if any, produced the expected signature. Every
// key is compared, in constant time, so timing reveals neither which key
// matched nor how much of the signature did. Finish ends the Digest: calling
// it again returns the same answer.
func (d *Digest) Finish() (Verified, error) {
	if d.done {
		return d.res, d.err
	}
	match := -1
	macs := d.macs()
	for i, m := range macs {
		m.sum = m.h.Sum(m.sum[:0])
		if hmac.Equal(m.sum, d.want[:]) && match < 0 {
			match = i
		}
		d.cache.pools[m.key].Put(m)
		macs[i] = nil
	}
	d.n, d.more, d.done = 0, nil, true
	if match < 0 {
		d.err = ErrMismatch
	} else {
		d.res = Verified{KeyIndex: match, Timestamp: d.ts}
	}
	return d.res, d.err
}

// decodeHex decodes a 64-character hex signature, either case, into dst
// without the allocation of converting it to bytes first.
func decodeHex(dst *[sha256.Size]byte, s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
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
