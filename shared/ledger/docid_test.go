package ledger

import (
	"regexp"
	"strings"
	"testing"
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
		if (got == tc.id) != tc.readable {
			t.Errorf("DocID(%.30q) = %.40q, readable=%v, want readable=%v", tc.id, got, got == tc.id, tc.readable)
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
		// Disjoint forms: a readable ID is the input itself, a hashed one never is.
		if got != id && !strings.HasPrefix(got, hashedPrefix) || got == id && strings.HasPrefix(got, hashedPrefix) {
			t.Fatalf("DocID(%q) = %q mixes the two forms", id, got)
		}
	})
}
