package signature

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

// BenchmarkVerify is the signature check alone on a 1 KB body, with the
// keyed HMAC states reused as they are in a serving receiver.
func BenchmarkVerify(b *testing.B) {
	key := []byte("bench-signing-key")
	body := bytes.Repeat([]byte("x"), 1024)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := Sign(key, ts, body)
	v := &Verifier{Keys: [][]byte{key}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(body, ts, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVerifyAllocs(t *testing.T) {
	key := []byte("alloc-key")
	body := []byte(`{"event_id":"e1"}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := Sign(key, ts, body)
	v := &Verifier{Keys: [][]byte{[]byte("old"), key}}
	// Warm the pools: the first call builds the keyed states.
	if _, err := v.Verify(body, ts, sig); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { v.Verify(body, ts, sig) }); n > 0 {
		t.Errorf("Verify allocates %v times per call with warm states, want 0", n)
	}
}
