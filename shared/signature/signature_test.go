package signature

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestVectors(t *testing.T) {
	vector2, err := os.ReadFile("testdata/vector2.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key, ts string
		body          []byte
		want          string
	}{
		{"daily.dev static", "topsecret", "1715784949",
			[]byte(`{"userId":"1","marketingCtaId":"worlds-best-campaign"}`),
			"b01e7dfc3ce67eaab1010b7021b86ce2ba12677d191e0e04b14cd859e347f866"},
		{"reference example A", "cio-test-signing-key", "1767225660", vector2,
			"f8dab1ec8588ff181227c5789d5df5b3e42bf12fb815c12ae2be28ec117851fe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sign([]byte(tt.key), tt.ts, tt.body); got != tt.want {
				t.Fatalf("Sign = %s, want %s", got, tt.want)
			}
			sec, _ := strconv.ParseInt(tt.ts, 10, 64)
			v := Verifier{Keys: [][]byte{[]byte("other"), []byte(tt.key)}, Now: func() time.Time { return time.Unix(sec+60, 0) }}
			got, err := v.Verify(tt.body, tt.ts, tt.want)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.KeyIndex != 1 || got.Timestamp.Unix() != sec {
				t.Fatalf("Verify = %+v, want key 1 at %d", got, sec)
			}
		})
	}
}

// The docs' "combining your key with the body" wording has led others to sign
// the body alone; that construction must not verify.
func TestBodyOnlySignatureRejected(t *testing.T) {
	body, err := os.ReadFile("testdata/vector2.json")
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, []byte("cio-test-signing-key"))
	m.Write(body)
	bodyOnly := hex.EncodeToString(m.Sum(nil))
	if !strings.HasPrefix(bodyOnly, "694f9b43") {
		t.Fatalf("body-only HMAC = %s, the reference says 694f9b43…", bodyOnly)
	}
	v := Verifier{Keys: [][]byte{[]byte("cio-test-signing-key")}, Now: func() time.Time { return time.Unix(1767225660, 0) }}
	if _, err := v.Verify(body, "1767225660", bodyOnly); !errors.Is(err, ErrMismatch) {
		t.Fatalf("body-only signature: err = %v, want ErrMismatch", err)
	}
}

func TestVerifyErrors(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	key := []byte("k1")
	body := []byte(`{"event_id":"e1"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := Sign(key, ts, body)
	at := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	tests := []struct {
		name     string
		keys     [][]byte
		body     []byte
		ts, sig  string
		maxAge   time.Duration
		want     error
		category string
	}{
		{"ok", [][]byte{key}, body, ts, good, 0, nil, ""},
		{"uppercase hex accepted", [][]byte{key}, body, ts, strings.ToUpper(good), 0, nil, ""},
		{"no keys", nil, body, ts, good, 0, ErrNoKeys, "no_keys"},
		{"missing signature", [][]byte{key}, body, ts, "", 0, ErrMissingSignature, "missing_signature"},
		{"missing timestamp", [][]byte{key}, body, "", good, 0, ErrMissingTimestamp, "missing_timestamp"},
		{"short signature", [][]byte{key}, body, ts, good[:63], 0, ErrMalformedSignature, "malformed_signature"},
		{"non-hex signature", [][]byte{key}, body, ts, "zz" + good[2:], 0, ErrMalformedSignature, "malformed_signature"},
		{"prefixed signature", [][]byte{key}, body, ts, "sha256=" + good, 0, ErrMalformedSignature, "malformed_signature"},
		{"non-integer timestamp", [][]byte{key}, body, "17e8", good, 0, ErrMalformedTimestamp, "malformed_timestamp"},
		{"wrong key", [][]byte{[]byte("k2")}, body, ts, good, 0, ErrMismatch, "mismatch"},
		{"body changed", [][]byte{key}, append([]byte(" "), body...), ts, good, 0, ErrMismatch, "mismatch"},
		{"timestamp changed", [][]byte{key}, body, at(time.Second), good, 0, ErrMismatch, "mismatch"},
		{"7 days old accepted", [][]byte{key}, body, at(-7 * 24 * time.Hour), Sign(key, at(-7*24*time.Hour), body), 0, nil, ""},
		{"9 days old", [][]byte{key}, body, at(-9 * 24 * time.Hour), Sign(key, at(-9*24*time.Hour), body), 0, ErrTooOld, "too_old"},
		{"custom max age", [][]byte{key}, body, at(-2 * time.Hour), Sign(key, at(-2*time.Hour), body), time.Hour, ErrTooOld, "too_old"},
		{"59 min ahead accepted", [][]byte{key}, body, at(59 * time.Minute), Sign(key, at(59*time.Minute), body), 0, nil, ""},
		{"2 h ahead", [][]byte{key}, body, at(2 * time.Hour), Sign(key, at(2*time.Hour), body), 0, ErrTooNew, "too_new"},
		// Values that overflow a time.Duration or wrap time.Unix.
		{"2^62 s ahead", [][]byte{key}, body, "4611686018427387904", Sign(key, "4611686018427387904", body), 0, ErrTooNew, "too_new"},
		{"max int64", [][]byte{key}, body, "9223372036854775807", Sign(key, "9223372036854775807", body), 0, ErrTooNew, "too_new"},
		{"300 years ahead", [][]byte{key}, body, "11267049600", Sign(key, "11267049600", body), 0, ErrTooNew, "too_new"},
		{"min int64", [][]byte{key}, body, "-9223372036854775808", Sign(key, "-9223372036854775808", body), 0, ErrTooOld, "too_old"},
		{"negative", [][]byte{key}, body, "-1", Sign(key, "-1", body), 0, ErrTooOld, "too_old"},
		{"-2^62", [][]byte{key}, body, "-4611686018427387904", Sign(key, "-4611686018427387904", body), 0, ErrTooOld, "too_old"},
		{"beyond int64", [][]byte{key}, body, "9223372036854775808", Sign(key, "9223372036854775808", body), 0, ErrMalformedTimestamp, "malformed_timestamp"},
		{"exactly 1 h ahead accepted", [][]byte{key}, body, at(time.Hour), Sign(key, at(time.Hour), body), 0, nil, ""},
		{"1 h 1 s ahead", [][]byte{key}, body, at(time.Hour + time.Second), Sign(key, at(time.Hour+time.Second), body), 0, ErrTooNew, "too_new"},
		{"exactly 8 days old accepted", [][]byte{key}, body, at(-DefaultMaxAge), Sign(key, at(-DefaultMaxAge), body), 0, nil, ""},
		{"8 days 1 s old", [][]byte{key}, body, at(-DefaultMaxAge - time.Second), Sign(key, at(-DefaultMaxAge-time.Second), body), 0, ErrTooOld, "too_old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Verifier{Keys: tt.keys, MaxAge: tt.maxAge, Now: func() time.Time { return now }}
			_, err := v.Verify(tt.body, tt.ts, tt.sig)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil {
				if c := Category(err); c != tt.category {
					t.Fatalf("Category = %q, want %q", c, tt.category)
				}
				if strings.Contains(err.Error(), "k1") || strings.Contains(err.Error(), "event_id") {
					t.Fatalf("error %q leaks key or body", err)
				}
			}
		})
	}
}

func TestDigestStreams(t *testing.T) {
	key := []byte("stream-key")
	body := bytes.Repeat([]byte("0123456789"), 100_000)
	ts, sig := Headers(key, time.Now(), body)
	v := Verifier{Keys: [][]byte{[]byte("old"), key}}
	d, err := v.Start(ts, sig)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(body); i += 4096 {
		d.Write(body[i:min(i+4096, len(body))])
	}
	got, err := d.Finish()
	if err != nil || got.KeyIndex != 1 {
		t.Fatalf("Finish = %+v, %v", got, err)
	}
}

func TestCategoryOther(t *testing.T) {
	if c := Category(errors.New("x")); c != "other" {
		t.Fatalf("Category = %q", c)
	}
}

// A request from NewRequest is what Customer.io sends: its headers verify
// against its body with the key, and not with another key.
func TestNewRequestVerifies(t *testing.T) {
	body := []byte(`{"event_id":"01J","object_type":"email","metric":"sent"}`)
	now := time.Now()
	req, err := NewRequest(context.Background(), "http://example.test/hook", []byte("k1"), now, body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(req.Body)
	if err != nil || !bytes.Equal(got, body) || req.Method != http.MethodPost {
		t.Fatalf("request: %s %q, %v", req.Method, got, err)
	}
	ts, sig := req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderSignature)
	if _, err := Verify(body, ts, sig, []byte("k2"), []byte("k1")); err != nil {
		t.Fatalf("does not verify: %v", err)
	}
	if _, err := Verify(body, ts, sig, []byte("k2")); err == nil {
		t.Fatal("verifies with another key")
	}
}
