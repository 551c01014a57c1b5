package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/event"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr error
		want    func(t *testing.T, ev *event.Event)
	}{
		{
			name: "minimal",
			body: `{"event_id":"01A","object_type":"email","metric":"sent","timestamp":1767225600,"data":{}}`,
			want: func(t *testing.T, ev *event.Event) {
				if ev.EventID != "01A" || ev.Name() != "email.sent" || ev.Timestamp != 1767225600 {
					t.Errorf("got %q %q %d", ev.EventID, ev.Name(), ev.Timestamp)
				}
			},
		},
		{
			name: "surrounding whitespace",
			body: " \n\t{\"event_id\":\"01A\"}\n",
		},
		{
			name: "numeric event_id is read as text",
			body: `{"event_id":12345}`,
			want: func(t *testing.T, ev *event.Event) {
				if ev.EventID != "12345" {
					t.Errorf("EventID = %q", ev.EventID)
				}
			},
		},
		{
			name: "object_type wins over object_type_type",
			body: `{"event_id":"01A","object_type":"email","object_type_type":"customer","metric":"opened"}`,
			want: func(t *testing.T, ev *event.Event) {
				if ev.ObjectType != "email" {
					t.Errorf("ObjectType = %q", ev.ObjectType)
				}
			},
		},
		{
			name: "timestamp as numeric string",
			body: `{"event_id":"01A","timestamp":"1767225600"}`,
			want: func(t *testing.T, ev *event.Event) {
				if ev.Timestamp != 1767225600 {
					t.Errorf("Timestamp = %d", ev.Timestamp)
				}
			},
		},
		{
			name: "unreadable envelope field keeps the others",
			body: `{"event_id":"01A","object_type":["email"],"metric":"sent","timestamp":{"s":1},"data":{"subject":"Hi"}}`,
			want: func(t *testing.T, ev *event.Event) {
				if ev.EventID != "01A" || ev.ObjectType != "" || ev.Metric != "sent" || ev.Timestamp != 0 {
					t.Errorf("got %q %q %q %d", ev.EventID, ev.ObjectType, ev.Metric, ev.Timestamp)
				}
				if ev.Data.Subject.Value != "Hi" {
					t.Errorf("Subject = %+v", ev.Data.Subject)
				}
			},
		},
		{
			name: "unreadable data field keeps the others",
			body: `{"event_id":"01A","data":{"campaign_id":"forty-two","link_id":{"x":1},"recipients":"nope","subject":"Hi","action_id":7}}`,
			want: func(t *testing.T, ev *event.Event) {
				d := ev.Data
				if d.CampaignID.Valid || d.LinkID.Valid || d.Recipients != nil {
					t.Errorf("bad fields were not left zero: %+v %+v %+v", d.CampaignID, d.LinkID, d.Recipients)
				}
				if d.Subject.Value != "Hi" || d.ActionID.Value != 7 {
					t.Errorf("good fields lost: %+v %+v", d.Subject, d.ActionID)
				}
			},
		},
		{
			name: "data that is not an object is ignored",
			body: `{"event_id":"01A","data":"oops"}`,
			want: func(t *testing.T, ev *event.Event) {
				if ev.Data.Subject.Valid || ev.Data.Recipients != nil {
					t.Errorf("Data = %+v", ev.Data)
				}
			},
		},
		{name: "event_id that cannot be read", body: `{"event_id":["01A"]}`, wantErr: event.ErrNoEventID},
		{name: "event_id false is text, not absent", body: `{"event_id":false}`},
		{name: "JSON number body", body: `42`, wantErr: event.ErrNotObject},
		{name: "JSON string body", body: `"hello"`, wantErr: event.ErrNotObject},
		{name: "garbage", body: `hello`, wantErr: event.ErrInvalidJSON},
		{name: "whitespace only", body: " \n ", wantErr: event.ErrInvalidJSON},
		{name: "trailing garbage", body: `{"event_id":"01A"} x`, wantErr: event.ErrInvalidJSON},
		{name: "two objects", body: `{"event_id":"01A"}{"event_id":"01B"}`, wantErr: event.ErrInvalidJSON},
		{name: "invalid UTF-8 is still an object", body: "{\"event_id\":\"01A\",\"data\":{\"subject\":\"\xff\"}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := event.Parse([]byte(tt.body))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if ev == nil {
				t.Fatal("nil Event")
			}
			if string(ev.Raw) != tt.body {
				t.Errorf("Raw = %q, want the input", ev.Raw)
			}
			if err == nil && ev.EventID == "" {
				t.Error("no error but empty EventID")
			}
			if tt.want != nil {
				tt.want(t, ev)
			}
		})
	}
}

func TestParseKeepsRawIdentity(t *testing.T) {
	// Raw must be the caller's bytes, not a re-encoding, because those bytes
	// were signed; an unusual spacing shows a re-encoding at once.
	body := []byte(`{ "event_id" : "01A" ,"data":{ "subject":"x" } }`)
	ev, err := event.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev.Raw, body) {
		t.Errorf("Raw = %q", ev.Raw)
	}
}

func TestTime(t *testing.T) {
	ev := &event.Event{Timestamp: 1767225600}
	if got, want := ev.Time(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Time() = %v, want %v UTC", got, want)
	}
	if !(&event.Event{}).Time().IsZero() {
		t.Error("Time() of an event without timestamp is not zero")
	}
}

func TestStringUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    event.String
		wantErr bool
	}{
		{in: `"abc"`, want: event.String{Value: "abc", Valid: true}},
		{in: `""`, want: event.String{Value: "", Valid: true}},
		{in: `15`, want: event.String{Value: "15", Valid: true}},
		{in: `4.2e1`, want: event.String{Value: "4.2e1", Valid: true}},
		{in: `-7`, want: event.String{Value: "-7", Valid: true}},
		{in: `true`, want: event.String{Value: "true", Valid: true}},
		{in: `null`, want: event.String{}},
		{in: `"\u00e9\ud83c\udf89"`, want: event.String{Value: "é🎉", Valid: true}},
		{in: `[1]`, wantErr: true},
		{in: `{"a":1}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got struct {
				V event.String `json:"v"`
			}
			got.V = event.String{Value: "stale", Valid: true}
			err := json.Unmarshal([]byte(`{"v":`+tt.in+`}`), &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && got.V != tt.want {
				t.Errorf("got %+v, want %+v", got.V, tt.want)
			}
		})
	}
}

func TestStringAbsentIsInvalid(t *testing.T) {
	var got struct {
		V event.String `json:"v"`
	}
	if err := json.Unmarshal([]byte(`{}`), &got); err != nil {
		t.Fatal(err)
	}
	if got.V.Valid || got.V.Ptr() != nil {
		t.Errorf("absent field: %+v", got.V)
	}
}

func TestIntUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    event.Int
		wantErr bool
	}{
		{in: `42`, want: event.Int{Value: 42, Valid: true}},
		{in: `"42"`, want: event.Int{Value: 42, Valid: true}},
		{in: `42.0`, want: event.Int{Value: 42, Valid: true}},
		{in: `-3`, want: event.Int{Value: -3, Valid: true}},
		{in: `9223372036854775807`, want: event.Int{Value: 9223372036854775807, Valid: true}},
		{in: `null`, want: event.Int{}},
		{in: `""`, want: event.Int{}},
		{in: `42.5`, wantErr: true},
		{in: `"forty-two"`, wantErr: true},
		{in: `1e300`, wantErr: true},
		{in: `9223372036854775808`, wantErr: true},
		{in: `true`, wantErr: true},
		{in: `[42]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got struct {
				V event.Int `json:"v"`
			}
			err := json.Unmarshal([]byte(`{"v":`+tt.in+`}`), &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v (value %+v), wantErr %v", err, got.V, tt.wantErr)
			}
			if !tt.wantErr && got.V != tt.want {
				t.Errorf("got %+v, want %+v", got.V, tt.want)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in := struct {
		S, NS event.String
		I, NI event.Int
	}{S: event.String{Value: "15", Valid: true}, I: event.Int{Value: 42, Valid: true}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"S":"15","NS":null,"I":42,"NI":null}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
}

func TestPtr(t *testing.T) {
	s := event.String{Value: "x", Valid: true}
	p := s.Ptr()
	if p == nil || *p != "x" {
		t.Fatalf("Ptr() = %v", p)
	}
	*p = "changed"
	if s.Value != "x" {
		t.Error("Ptr() aliases the value")
	}
	n := event.Int{Value: 7, Valid: true}
	if q := n.Ptr(); q == nil || *q != 7 {
		t.Errorf("Int.Ptr() = %v", q)
	}
	if (event.Int{}).Ptr() != nil || (event.String{}).Ptr() != nil {
		t.Error("Ptr() of an invalid value is not nil")
	}
}

func TestKnown(t *testing.T) {
	tests := []struct {
		ot, metric string
		want       bool
	}{
		{"email", "bounced", true},
		{"customer", "cio_subscription_preferences_changed", true},
		{"sms", "dropped", true},
		{"email", "teleported", false},
		{"sms", "opened", false}, // sms has no read receipts; whatsapp does
		{"Email", "bounced", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got := event.Known(tt.ot, tt.metric); got != tt.want {
			t.Errorf("Known(%q, %q) = %v, want %v", tt.ot, tt.metric, got, tt.want)
		}
	}
	pairs := event.Pairs()
	for i := 1; i < len(pairs); i++ {
		if pairs[i-1] >= pairs[i] {
			t.Fatalf("Pairs() not sorted and unique at %d: %q, %q", i, pairs[i-1], pairs[i])
		}
	}
}
