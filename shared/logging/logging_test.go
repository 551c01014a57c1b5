package logging

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

func TestCloudLoggingFields(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, "debug")
	h := http.Header{}
	h.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1")
	l.Warn("webhook", Trace("proj", h), "status", 401)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"severity": "WARNING", "message": "webhook",
		TraceKey: "projects/proj/traces/105445aa7843bc8bf206b12000100000", "status": float64(401)}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["level"]; ok {
		t.Error("slog's level key is still there")
	}
}

func TestTrace(t *testing.T) {
	tests := []struct {
		name, header, value, want string
	}{
		{"cloud trace", "X-Cloud-Trace-Context", "abc123/9;o=1", "projects/p/traces/abc123"},
		{"w3c", "Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736"},
		{"injection refused", "X-Cloud-Trace-Context", "abc\n{\"x\":1}/1", ""},
		{"none", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set(tt.header, tt.value)
			}
			if got := Trace("p", h); got.Value.String() != tt.want && !(tt.want == "" && got.Key == "") {
				t.Fatalf("Trace = %v, want %q", got, tt.want)
			}
		})
	}
}

func TestLevelFilter(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "warn").Info("dropped")
	if buf.Len() != 0 {
		t.Fatalf("info logged at warn level: %s", buf.String())
	}
}
