package signature

import (
	"errors"
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
