package ledger

import (
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDocID(t *testing.T) {
	cases := []struct {
		id       string
		readable bool
	}{
		{"01JDXK5Z8M3V7Q2W4E6R8T0Y1U", true},
		{"3f0c1a2b-9d8e-4f7a-b6c5-d4e3f2a1b0c9", true},
		{"a_b-c", true},
		{strings.Repeat("x", 200), true},
		{strings.Repeat("x", 201), false},
		{"", false},
		{"a/b", false},
		{".", false},
		{"..", false},
		{"__x__", false},
		{"_leading", false},
		{"-leading", false},
		{"a.b", false},
		{"ev\n", false},
		{"événement", false},
		{strings.Repeat("x", 2000), false},
		{hashedPrefix + strings.Repeat("0", 64), false},
	}
	reserved := regexp.MustCompile(`^__.*__$`)
	seen := map[string]string{}
	for _, tc := range cases {
		got := DocID(tc.id)
		if readable := strings.HasSuffix(got, "-"+tc.id) && len(got) == spreadLen+1+len(tc.id); readable != tc.readable {
			t.Errorf("DocID(%.30q) = %.40q, readable=%v, want readable=%v", tc.id, got, readable, tc.readable)
		}
		if !tc.readable && (!strings.HasPrefix(got, hashedPrefix) || len(got) != len(hashedPrefix)+64) {
			t.Errorf("DocID(%.30q) = %q, want %s + 64 hex", tc.id, got, hashedPrefix)
		}
		if got == "" || got == "." || got == ".." || strings.Contains(got, "/") || reserved.MatchString(got) || len(got) > 1500 {
			t.Errorf("DocID(%.30q) = %.40q is not a valid Firestore document ID", tc.id, got)
		}
		if DocID(tc.id) != got {
			t.Errorf("DocID(%.30q) not deterministic", tc.id)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("DocID(%.30q) == DocID(%.30q)", tc.id, prev)
		}
		seen[got] = tc.id
	}
}

func FuzzDocID(f *testing.F) {
	f.Add("01JDXK5Z8M3V7Q2W4E6R8T0Y1U")
	f.Add("a/b")
	f.Add(hashedPrefix + strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, id string) {
		got := DocID(id)
		if got == "" || got == "." || got == ".." || strings.Contains(got, "/") || len(got) > 1500 ||
			strings.HasPrefix(got, "__") && strings.HasSuffix(got, "__") {
			t.Fatalf("DocID(%q) = %q is not a valid Firestore document ID", id, got)
		}
		// Disjoint forms: a readable ID is hex digits, "-" and the input;
		// a hashed one starts with the prefix, which no readable one does.
		readable := len(got) == spreadLen+1+len(id) && got[spreadLen:] == "-"+id
		if readable == strings.HasPrefix(got, hashedPrefix) {
			t.Fatalf("DocID(%q) = %q mixes the two forms", id, got)
		}
	})
}

// A day of time-ordered event IDs must not crowd one end of the key space:
// Firestore splits a collection by key ranges, and keys that grow with time
// all write to the last one. The first byte of the document IDs must be
// uniform (chi-square over 256 buckets), and consecutive events' IDs must be
// in no particular order. The raw ULIDs fail both checks, which is what
// shows the checks can fail.
func TestDocIDSpreadsTimeOrderedIDs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	const perSecond = 2
	var ids []string
	for ms := int64(0); ms < 24*3600*1000; ms += 1000 / perSecond {
		ids = append(ids, ulid(start.Add(time.Duration(ms)*time.Millisecond), rng))
	}
	spread := func(id string) string { return DocID(id) }
	raw := func(id string) string { return id }

	if chi2, ok := uniformFirstByte(ids, spread); !ok {
		t.Errorf("document IDs: first byte not uniform over a day (chi-square %.0f over 255 degrees of freedom)", chi2)
	}
	if up := increasingShare(ids, spread); math.Abs(up-0.5) > 0.01 {
		t.Errorf("document IDs: %.3f of consecutive events sort in time order, want 0.5", up)
	}
	if _, ok := uniformFirstByte(ids, raw); ok {
		t.Error("raw ULIDs pass the uniformity check: the check cannot fail")
	}
	if up := increasingShare(ids, raw); up < 0.99 {
		t.Errorf("raw ULIDs: only %.3f sort in time order; the fixture is not time-ordered", up)
	}
}

// uniformFirstByte is a chi-square test of the first byte of key(id) —
// two hex digits of a spread ID, or the raw byte — against 256 equal
// buckets, at a threshold (p ≈ 1e-6) a uniform source essentially never
// reaches; the data is seeded, so the result is the same every run.
func uniformFirstByte(ids []string, key func(string) string) (float64, bool) {
	var counts [256]float64
	for _, id := range ids {
		k := key(id)
		b := k[0]
		if len(k) >= 2 && isHex(k[0]) && isHex(k[1]) {
			b = unhex(k[0])<<4 | unhex(k[1])
		}
		counts[b]++
	}
	want := float64(len(ids)) / 256
	chi2 := 0.0
	for _, c := range counts {
		chi2 += (c - want) * (c - want) / want
	}
	// Mean 255, standard deviation sqrt(510) ≈ 22.6: 400 is 6.4 sigma.
	return chi2, chi2 < 400
}

// increasingShare is the share of consecutive IDs whose keys sort in time order.
func increasingShare(ids []string, key func(string) string) float64 {
	up := 0
	for i := 1; i < len(ids); i++ {
		if key(ids[i]) > key(ids[i-1]) {
			up++
		}
	}
	return float64(up) / float64(len(ids)-1)
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// ulid is a ULID for t: 48 bits of milliseconds, 80 random bits, in
// Crockford's base 32, as Customer.io's event IDs are.
func ulid(t time.Time, rng *rand.Rand) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	hi := uint64(t.UnixMilli())<<16 | rng.Uint64()&0xffff
	lo := rng.Uint64()
	var out [26]byte
	// 128 bits in 26 digits of 5 bits: the first digit carries 3.
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
