package appapifake

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Webhook is a reporting webhook as /v1/reporting_webhooks stores it.
type Webhook struct {
	ID             int64    `json:"id"`
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	Endpoint       string   `json:"endpoint"`
	Disabled       bool     `json:"disabled"`
	FullResolution bool     `json:"full_resolution"`
	WithContent    bool     `json:"with_content"`
	Events         []string `json:"events"`
}

// EventTypes is the `events` enum of the API's OpenAPI description; a
// webhook naming anything else is refused with 400.
var EventTypes = strings.Fields(`customer_subscribed customer_unsubscribed customer_subscription_preferences_changed
email_drafted email_attempted email_sent email_delivered email_opened email_clicked email_converted email_bounced
email_dropped email_deferred email_spammed email_failed email_unsubscribed email_undeliverable
in_app_drafted in_app_attempted in_app_sent in_app_opened in_app_clicked in_app_converted in_app_failed in_app_undeliverable
push_drafted push_attempted push_sent push_delivered push_opened push_clicked push_converted push_bounced push_dropped
push_failed push_undeliverable
slack_drafted slack_attempted slack_sent slack_clicked slack_converted slack_failed
sms_drafted sms_attempted sms_sent sms_delivered sms_clicked sms_converted sms_bounced sms_dropped sms_failed
sms_undeliverable sms_replied
whatsapp_drafted whatsapp_attempted whatsapp_sent whatsapp_delivered whatsapp_opened whatsapp_clicked
whatsapp_converted whatsapp_bounced whatsapp_dropped whatsapp_failed whatsapp_undeliverable whatsapp_replied
webhook_drafted webhook_attempted webhook_sent webhook_clicked webhook_converted webhook_failed webhook_undeliverable`)

// AddWebhook stores w as if made in Customer.io's UI and returns its ID.
func (s *Server) AddWebhook(w Webhook) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	w.ID = s.nextID
	if w.Type == "" {
		w.Type = "webhook"
	}
	s.webhooks = append(s.webhooks, w)
	return w.ID
}

// Webhooks returns the stored webhooks.
func (s *Server) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Webhook, len(s.webhooks))
	for i, w := range s.webhooks {
		w.Events = slices.Clone(w.Events)
		out[i] = w
	}
	return out
}

// Names of the webhook calls, for FailCall.
const (
	CallList   = "list"
	CallCreate = "create"
	CallGet    = "get"
	CallUpdate = "update"
)

// Fault is how FailCall makes a call fail. The last three do the call's work
// first, so the client cannot tell from what it got whether the change
// happened: the uncertain outcomes a client must not answer by repeating a
// create.
type Fault int

const (
	// Refuse answers 500 and changes nothing.
	Refuse Fault = iota + 1
	// ErrorAfter makes the change, then answers 500 (a gateway that lost
	// the backend's answer).
	ErrorAfter
	// LoseResponse makes the change, then closes the connection without an
	// answer.
	LoseResponse
	// Hang makes the change, then answers nothing until the client gives up
	// (its timeout or context ends the request).
	Hang
	// Forbid answers 403 and changes nothing: a failure the client does not
	// retry (a key without the permission, or revoked meanwhile).
	Forbid
	// Pass lets the call through: FailCall(CallList, Pass, Forbid) fails
	// the second list only.
	Pass
)

// FailCall makes the next calls named name (CallList, CallCreate, CallGet,
// CallUpdate) fail with faults, one fault per call, in order; the calls
// after them succeed. The call is recorded with status 0 when no answer
// was sent.
func (s *Server) FailCall(name string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults == nil {
		s.faults = map[string][]Fault{}
	}
	s.faults[name] = append(s.faults[name], faults...)
}

func (s *Server) nextFault(name string) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.faults[name]
	if len(fs) == 0 {
		return 0
	}
	s.faults[name] = fs[1:]
	return fs[0]
}

// serve wraps a webhook or names endpoint: it applies the gate and any
// fault of name, and records the call.
func (s *Server) serve(name string, h func(r *http.Request) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		call := Call{Method: r.Method, Path: r.URL.Path, Host: r.Host, Query: r.URL.Query()}
		status, body, header, _, ok := s.gate(r, &call)
		fault := Fault(0)
		if ok {
			fault = s.nextFault(name)
		}
		if ok && fault != Refuse && fault != Forbid {
			var v any
			status, v = h(r)
			if b, isBytes := v.([]byte); isBytes {
				body = b
			} else {
				body, _ = json.Marshal(v)
			}
		}
		switch fault {
		case Refuse, ErrorAfter:
			status, body = http.StatusInternalServerError, errBody("appapifake: programmed failure")
		case Forbid:
			status, body = http.StatusForbidden, errBody("appapifake: programmed failure")
		case LoseResponse, Hang:
			status = 0
		}
		s.mu.Lock()
		call.Status = status
		s.calls = append(s.calls, call)
		s.mu.Unlock()
		switch fault {
		case LoseResponse:
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		case Hang:
			<-r.Context().Done()
			return
		}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}
}

func (s *Server) listWebhooks(*http.Request) (int, any) {
	return http.StatusOK, map[string]any{"reporting_webhooks": s.Webhooks()}
}

func (s *Server) find(r *http.Request) int {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return -1
	}
	return slices.IndexFunc(s.webhooks, func(w Webhook) bool { return w.ID == id })
}

func (s *Server) getWebhook(r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(r)
	if i < 0 {
		return http.StatusNotFound, errBody("webhook not found")
	}
	return http.StatusOK, s.webhooks[i]
}

// decodeWebhook reads a create or update body as the API validates it:
// name, endpoint and at least one known event are required.
func decodeWebhook(r *http.Request) (Webhook, []byte) {
	var w Webhook
	if err := json.NewDecoder(r.Body).Decode(&w); err != nil {
		return w, errBody("invalid JSON: " + err.Error())
	}
	switch {
	case w.Name == "":
		return w, errBody("name is required")
	case w.Endpoint == "":
		return w, errBody("endpoint is required")
	case len(w.Events) == 0:
		return w, errBody("events must have at least one item")
	}
	for _, e := range w.Events {
		if !slices.Contains(EventTypes, e) {
			return w, errBody("events: " + strconv.Quote(e) + " is not a valid event type")
		}
	}
	return w, nil
}

// OnChange makes the fake call f with each webhook a create or an update
// through the API stored, before it answers: a test checks there what
// must hold whenever a webhook changes (e.g. that a live one's key is
// stored).
func (s *Server) OnChange(f func(Webhook)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onChange = f
}

func (s *Server) changed(w Webhook) {
	s.mu.Lock()
	f := s.onChange
	s.mu.Unlock()
	if f != nil {
		f(w)
	}
}

func (s *Server) createWebhook(r *http.Request) (int, any) {
	w, bad := decodeWebhook(r)
	if bad != nil {
		return http.StatusBadRequest, bad
	}
	w.ID = s.AddWebhook(w)
	w.Type = "webhook"
	s.changed(w)
	return http.StatusOK, w
}

func (s *Server) updateWebhook(r *http.Request) (int, any) {
	w, bad := decodeWebhook(r)
	if bad != nil {
		return http.StatusBadRequest, bad
	}
	s.mu.Lock()
	i := s.find(r)
	if i < 0 {
		s.mu.Unlock()
		return http.StatusNotFound, errBody("webhook not found")
	}
	w.ID, w.Type = s.webhooks[i].ID, s.webhooks[i].Type
	s.webhooks[i] = w
	s.mu.Unlock()
	s.changed(w)
	return http.StatusOK, w
}

// SetWebhooks replaces the stored webhooks (AddWebhook then numbers new ones).
func (s *Server) SetWebhooks(ws []Webhook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhooks = ws
}
