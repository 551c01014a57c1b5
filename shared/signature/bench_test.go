package signature

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strconv"
	"testing"
	"time"
)

func benchBodies() map[string][]byte {
	return map[string][]byte{
		"1KB":   bytes.Repeat([]byte("a"), 1<<10),
		"100KB": bytes.Repeat([]byte("a"), 100<<10),
	}
}

// BenchmarkVerify and BenchmarkHMAC together show what verification costs
// beyond the HMAC it cannot avoid.
func BenchmarkVerify(b *testing.B) {
	for _, name := range []string{"1KB", "100KB"} {
		body := benchBodies()[name]
		key := []byte("bench-key")
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		sig := Sign(key, ts, body)
		v := Verifier{Keys: [][]byte{key}}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(body, ts, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHMAC(b *testing.B) {
	for _, name := range []string{"1KB", "100KB"} {
		body := benchBodies()[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				m := hmac.New(sha256.New, []byte("bench-key"))
				m.Write(body)
				_ = m.Sum(nil)
			}
		})
	}
}
