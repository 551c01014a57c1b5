package processor

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	cloudevent "github.com/cloudevents/sdk-go/v2/event"
)

func TestDecode(t *testing.T) {
	body := []byte(`{"event_id":"01E4C4CT6YDC7Y5M7FE1GWWPQJ"}`)
	b64 := base64.StdEncoding.EncodeToString(body)
	tests := []struct {
		name     string
		data     string
		wantID   string
		wantAttr string
		wantErr  bool
	}{
		{"Eventarc messagePublished",
			`{"message":{"data":"` + b64 + `","attributes":{"event_id":"01E4C4CT6YDC7Y5M7FE1GWWPQJ"},"messageId":"123","publishTime":"2026-11-27T12:00:00Z"},"subscription":"projects/p/subscriptions/s"}`,
			"123", "01E4C4CT6YDC7Y5M7FE1GWWPQJ", false},
		{"framework-converted push body (no messageId in data)",
			`{"message":{"@type":"type.googleapis.com/google.pubsub.v1.PubsubMessage","data":"` + b64 + `","attributes":{"event_id":"01E4C4CT6YDC7Y5M7FE1GWWPQJ"}}}`,
			"ce-1", "01E4C4CT6YDC7Y5M7FE1GWWPQJ", false},
		{"no attributes", `{"message":{"data":"` + b64 + `"}}`, "ce-1", "", false},
		{"not JSON", `not json`, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cloudevent.New()
			e.SetID("ce-1")
			e.SetSource("//pubsub.googleapis.com/projects/p/topics/t")
			e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
			e.SetTime(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
			if err := e.SetData("application/json", []byte(tt.data)); err != nil {
				t.Fatal(err)
			}
			m, err := Decode(e)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if string(m.Data) != string(body) || m.ID != tt.wantID || m.Attributes["event_id"] != tt.wantAttr ||
				m.PublishTime.IsZero() || m.Attributes == nil {
				t.Fatalf("decoded %+v", m)
			}
		})
	}
}

// TestNewChecksPrivacyPolicy: a CIO_PII that cannot be honoured (hashing
// without a key, an unknown field) stops the processor at start-up rather
// than letting rows through unprotected.
func TestNewChecksPrivacyPolicy(t *testing.T) {
	for _, tt := range []struct {
		env     map[string]string
		wantErr string
	}{
		{map[string]string{}, ""},
		{map[string]string{"CIO_PII": "email=hash,subject=drop", "CIO_PII_KEY": "0123456789abcdef0123"}, ""},
		{map[string]string{"CIO_PII": "email=hash"}, "CIO_PII_KEY"},
		{map[string]string{"CIO_PII": "phone=drop"}, "unknown field"},
	} {
		env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "CIO_ACTIONS_DRY_RUN": "true"}
		for k, v := range tt.env {
			env[k] = v
		}
		_, err := New(t.Context(), func(k string) string { return env[k] }, Overrides{CheckOnly: true})
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%v: err %v, want %q", tt.env, err, tt.wantErr)
		}
	}
}

// TestNewChecksWorkspacePolicies: a named workspace's policy is checked like
// CIO_ACTIONS at start-up, naming the workspace.
func TestNewChecksWorkspacePolicies(t *testing.T) {
	for _, tt := range []struct {
		env     map[string]string
		wantErr string
	}{
		{map[string]string{"CIO_WORKSPACE_CREDENTIALS": "shop=s:k", "CIO_WORKSPACE_ACTIONS": `{"shop":"none"}`}, ""},
		{map[string]string{"CIO_WORKSPACE_CREDENTIALS": "shop=s:k",
			"CIO_WORKSPACE_ACTIONS": `{"shop":{"email.spammed":[{"suppress":true}]}}`}, "CIO_WORKSPACE_ACTIONS: workspace shop: actions policy"},
		{map[string]string{"CIO_WORKSPACE_ACTIONS": `{"shop":{"email.teleported":[]}}`}, "workspace shop: actions policy: unknown event"},
		{map[string]string{"CIO_WORKSPACE_CREDENTIALS": "Shop=s:k"}, "CIO_WORKSPACE_CREDENTIALS: entry 1"},
	} {
		env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "CIO_ACTIONS_DRY_RUN": "true"}
		for k, v := range tt.env {
			env[k] = v
		}
		_, err := New(t.Context(), func(k string) string { return env[k] }, Overrides{CheckOnly: true})
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%v: err %v, want %q", tt.env, err, tt.wantErr)
		}
	}
}
