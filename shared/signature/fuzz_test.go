package signature

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"testing"
	"time"
)

// FuzzVerify checks that Verify never panics, accepts exactly what Sign
// produces, and never accepts a signature made over other bytes.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"event_id":"e1"}`), "1767225660", "", []byte("k"))
	f.Add([]byte{}, "0", "00", []byte(""))
	f.Add([]byte("\xff\xfe"), "-1", "zz", []byte("key"))
	now := time.Unix(1767225660, 0)
	f.Fuzz(func(t *testing.T, body []byte, ts, sig string, key []byte) {
		v := Verifier{Keys: [][]byte{key}, Now: func() time.Time { return now }}
		if _, err := v.Verify(body, ts, sig); err == nil && sig != Sign(key, ts, body) && !equalFoldHex(sig, Sign(key, ts, body)) {
			t.Fatalf("accepted a signature that Sign does not produce")
		}
		good := Sign(key, ts, body)
		_, err := v.Verify(body, ts, good)
		if err == nil {
			tampered := append(append([]byte{}, body...), 'x')
			if _, err := v.Verify(tampered, ts, good); !errors.Is(err, ErrMismatch) {
				t.Fatalf("tampered body: err = %v", err)
			}
		}
	})
}

func equalFoldHex(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'F' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// FuzzWindow checks the timestamp window against exact integer arithmetic:
// no timestamp, however far from now, may overflow into the window or land
// in the wrong category.
func FuzzWindow(f *testing.F) {
	for _, sec := range []int64{1767225660, 0, -1, 4611686018427387904, math.MaxInt64, math.MinInt64,
		-4611686018427387904, 1767225660 + 3600, 1767225660 + 3601, 1767225660 - 8*86400, 1767225660 - 8*86400 - 1,
		253402300800, 11267049600} {
		f.Add(sec, int64(500_000_000))
	}
	f.Add(int64(1767225660-8*86400), int64(0))
	f.Fuzz(func(t *testing.T, sec, nanos int64) {
		now := time.Unix(1767225660, nanos%1_000_000_000)
		ts := strconv.FormatInt(sec, 10)
		v := Verifier{Keys: [][]byte{[]byte("k")}, Now: func() time.Time { return now }}
		_, err := v.Start(ts, Sign([]byte("k"), ts, nil))
		// Exact: nanoseconds since the epoch as big integers.
		at := new(big.Int).Mul(big.NewInt(sec), big.NewInt(1e9))
		n := big.NewInt(now.UnixNano())
		oldest := new(big.Int).Sub(n, big.NewInt(int64(DefaultMaxAge)))
		newest := new(big.Int).Add(n, big.NewInt(int64(DefaultMaxAhead)))
		var want error
		switch {
		case at.Cmp(oldest) < 0:
			want = ErrTooOld
		case at.Cmp(newest) > 0:
			want = ErrTooNew
		}
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("timestamp %d at now %d: err = %v, want %v", sec, now.UnixNano(), err, want)
		}
	})
}
