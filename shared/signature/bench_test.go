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
