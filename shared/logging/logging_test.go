package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
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

func TestJSONLine(t *testing.T) {
	for _, tc := range []struct {
		in, severity, wantMsg string
		passThrough           bool
	}{
		{in: `Serving function: "ProcessEvent"` + "\n", severity: "INFO", wantMsg: `Serving function: "ProcessEvent"`},
		{in: "function error: boom\r\n", severity: "ERROR", wantMsg: "function error: boom"},
		{in: `{"severity":"INFO","message":"event"}` + "\n", passThrough: true},
		{in: `{"not closed"` + "\n", severity: "INFO", wantMsg: `{"not closed"`},
	} {
		got := jsonLine([]byte(tc.in), tc.severity)
		if tc.passThrough {
			if string(got) != tc.in {
				t.Errorf("jsonLine(%q) = %q, want it unchanged", tc.in, got)
			}
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(got, &m); err != nil {
			t.Fatalf("jsonLine(%q) = %q: not JSON: %v", tc.in, got, err)
		}
		if m["severity"] != tc.severity || m["message"] != tc.wantMsg {
			t.Errorf("jsonLine(%q) = %v, want severity %s message %q", tc.in, m, tc.severity, tc.wantMsg)
		}
	}
	if got := jsonLine([]byte("\n"), "INFO"); got != nil {
		t.Errorf("a bare newline gave %q, want nothing", got)
	}
}

func TestCaptureStdio(t *testing.T) {
	var buf bytes.Buffer
	log, restore, err := CaptureStdio(&buf, "info")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("plain stdout")
	fmt.Fprintln(os.Stderr, "plain stderr")
	log.Info("structured")
	restore()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
	}
	seen := map[string]string{}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		seen[m["message"].(string)] = m["severity"].(string)
	}
	want := map[string]string{"plain stdout": "INFO", "plain stderr": "ERROR", "structured": "INFO"}
	for msg, sev := range want {
		if seen[msg] != sev {
			t.Errorf("%q: severity %q, want %q (all: %v)", msg, seen[msg], sev, seen)
		}
	}
}
