package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// jsonLines fails t unless out is lines that are each one JSON object with
// a string severity, and returns them decoded.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.SplitAfter(out, "\n") {
		if l == "" {
			continue
		}
		if !strings.HasSuffix(l, "\n") {
			t.Fatalf("line without newline: %q", l)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not one JSON object: %q (%v)", l, err)
		}
		if s, ok := m["severity"].(string); !ok || s == "" {
			t.Fatalf("no severity: %q", l)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestReformat(t *testing.T) {
	warning := `WARNING: failed to extract Pub/Sub topic name from the URL request path: "/", configure your subscription's push endpoint to use the following path pattern: 'projects/PROJECT_NAME/topics/TOPIC_NAME'`
	ours := `{"time":"2026-11-28T01:00:00Z","severity":"INFO","message":"event","event_id":"e1"}`
	tests := []struct {
		name, in, severity string
		want               []string // "severity|message" or the exact JSON line
	}{
		{"our lines pass unchanged", ours + "\n" + ours + "\n", "INFO", []string{ours, ours}},
		{"warning glued to a JSON line", warning + ours + "\n", "INFO", []string{"WARNING|" + warning, ours}},
		{"blank flush lines dropped", "\n\n" + ours + "\n\r\n  \n", "INFO", []string{ours}},
		{"function error on stderr", "Function error: processor: bigquery: backendError\n", "ERROR",
			[]string{"ERROR|Function error: processor: bigquery: backendError"}},
		{"plain text on stdout", "Serving function: \"ReceiveWebhook\"\n", "INFO", []string{`INFO|Serving function: "ReceiveWebhook"`}},
		{"no newline at the end", warning, "INFO", []string{"WARNING|" + warning}},
		{"JSON without severity", `{"a":1}` + "\n{}\n", "INFO", []string{`{"severity":"INFO","a":1}`, `{"severity":"INFO"}`}},
		{"JSON array is text", "[1,2]\n", "INFO", []string{"INFO|[1,2]"}},
		{"braces in text", "panic: x {not json} y\n", "INFO", []string{"ERROR|panic: x [redacted]"}},
		{"echoed push body", `parsing background event body {"message":{"data":"amFuZUBleGFtcGxlLmNvbQ=="}}: illegal base64` + "\n",
			"ERROR", []string{"ERROR|parsing background event body [redacted]"}},
		{"invalid UTF-8 text", "bad \xff bytes\n", "INFO", []string{"INFO|bad \ufffd bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			Reformat(&out, strings.NewReader(tt.in), tt.severity)
			got := jsonLines(t, out.String())
			raw := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(got), len(tt.want), out.String())
			}
			for i, w := range tt.want {
				if sev, msg, ok := strings.Cut(w, "|"); ok && !strings.HasPrefix(w, "{") {
					if got[i]["severity"] != sev || got[i]["message"] != msg {
						t.Errorf("line %d = %s, want severity %s message %q", i, raw[i], sev, msg)
					}
				} else if raw[i] != w {
					t.Errorf("line %d = %s, want %s", i, raw[i], w)
				}
			}
		})
	}
}

// A line that never gets its newline (the framework's warning) is written on
// its own once the stream goes quiet, before whatever comes next.
func TestReformatFlushesPartialLine(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	go func() {
		Reformat(outW, inR, "INFO")
		outW.Close()
	}()
	lines := bufio.NewReader(outR)
	io.WriteString(inW, "WARNING: no newline")
	first, err := lines.ReadString('\n') // waits for the quiet period, however long the machine takes
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(inW, `{"severity":"INFO","message":"next"}`+"\n")
	second, _ := lines.ReadString('\n')
	inW.Close()
	got := jsonLines(t, first+second)
	if got[0]["message"] != "WARNING: no newline" || got[1]["message"] != "next" {
		t.Fatalf("lines %q %q", first, second)
	}
}
