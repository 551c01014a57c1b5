package workspace

import "testing"

func TestValid(t *testing.T) {
	for _, ok := range []string{"default", "b", "brand_b", "eu-shop-2", "a23456789012345678901234567890"} {
		if !Valid(ok) {
			t.Errorf("Valid(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "B", "2b", "_b", "-b", "brand b", "brand.b", "a=b", "a,b", "a:b", "é",
		"a234567890123456789012345678901"} {
		if Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}

func TestOrDefault(t *testing.T) {
	if OrDefault("") != Default || OrDefault("b") != "b" {
		t.Fatal(OrDefault(""), OrDefault("b"))
	}
}
