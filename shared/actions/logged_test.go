package actions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/actions/trackfake"
	"github.com/cioevents/cioevents/shared/logging"
)

func TestLoggedWritesOneLinePerCall(t *testing.T) {
	fake := trackfake.New(siteID, apiKey)
	defer fake.Close()
	tests := []struct {
		name    string
		fail    int // status the fake answers, 0 for success
		person  string
		outcome string
		status  float64
		class   string
		level   string
	}{
		{"applied", 0, "42", actions.ActionApplied, 200, "2xx", "INFO"},
		{"bad credentials", 401, "42", actions.ActionRetry, 401, "4xx", "ERROR"},
		{"forbidden", 403, "42", actions.ActionRetry, 403, "4xx", "ERROR"},
		{"malformed call", 422, "42", actions.ActionFailed, 422, "4xx", "ERROR"},
		{"rate limited", 429, "42", actions.ActionRetry, 429, "4xx", "WARNING"},
		{"server error", 503, "42", actions.ActionRetry, 503, "5xx", "WARNING"},
		{"nobody", 0, "", actions.ActionSkipped, 0, "none", "INFO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			c := actions.Logged(newTrack(t, fake, apiKey), logging.New(&buf, "info"))
			if tt.fail != 0 {
				fake.FailNext(1, tt.fail, "")
			}
			call := identify(tt.person)
			call.EventID = "ev-1"
			err := c.Do(context.Background(), call)
			if (err != nil) != (tt.fail != 0 || tt.person == "") {
				t.Fatalf("Do = %v", err)
			}
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("not one JSON line: %q", buf.String())
			}
			want := map[string]any{"message": "action", "outcome": tt.outcome, "status": tt.status,
				"status_class": tt.class, "severity": tt.level, "event_id": "ev-1", "kind": "identify"}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("%s = %v, want %v (line %s)", k, line[k], v, buf.String())
				}
			}
			if tt.person != "" && strings.Contains(buf.String(), `"`+tt.person+`"`) {
				t.Errorf("line names the person: %s", buf.String())
			}
		})
	}
}

func TestLoggedDryRun(t *testing.T) {
	var buf bytes.Buffer
	c := actions.Logged(actions.NewDryRun(io.Discard), logging.New(&buf, "info"))
	if err := c.Do(context.Background(), identify("42")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"outcome":"dry_run"`) || !strings.Contains(buf.String(), `"status_class":"none"`) {
		t.Errorf("dry-run line = %s", buf.String())
	}
}
