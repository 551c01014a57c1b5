package backfill

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 30, 15, 500, time.UTC)
	tests := []struct {
		in       string
		endOfDay bool
		want     time.Time
		ok       bool
	}{
		{"2025-03-01", false, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), true},
		{"2025-03-01", true, time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC), true}, // --until includes the day
		{"2025-03-01T10:00:00+02:00", false, time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC), true},
		{"3d", false, time.Date(2026, 1, 7, 12, 30, 15, 0, time.UTC), true},
		{"72h", false, time.Date(2026, 1, 7, 12, 30, 15, 0, time.UTC), true},
		{" 30d ", false, time.Date(2025, 12, 11, 12, 30, 15, 0, time.UTC), true},
		{"0d", false, time.Time{}, false},
		{"-3d", false, time.Time{}, false},
		{"-72h", false, time.Time{}, false},
		{"yesterday", false, time.Time{}, false},
		{"2025-02-30", false, time.Time{}, false},
		{"", false, time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.in, now, tt.endOfDay)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseTime(%q, %v) = %v, %v; want %v, ok %v", tt.in, tt.endOfDay, got, err, tt.want, tt.ok)
		}
	}
}

func TestObjectTypeAndAPIType(t *testing.T) {
	for api, ot := range map[string]string{"twilio": "sms", "email": "email", "push": "push", "in_app": "in_app",
		"live_notification": "live_notification"} {
		if got := ObjectType(api); got != ot {
			t.Errorf("ObjectType(%s) = %s, want %s", api, got, ot)
		}
	}
	for in, api := range map[string]string{"sms": "twilio", "SMS": "twilio", "twilio": "twilio", "email": "email", "": ""} {
		if got := APIType(in); got != api {
			t.Errorf("APIType(%q) = %q, want %q", in, got, api)
		}
	}
	if again := EventID("d", "sent"); EventID("d", "sent") != again || again == EventID("d", "opened") ||
		EventID("d1", "sent") == EventID("d", "1sent") {
		t.Error("event IDs are not a function of (delivery, metric)")
	}
}
