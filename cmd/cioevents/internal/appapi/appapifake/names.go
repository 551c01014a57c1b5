package appapifake

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The names endpoints: the lists of campaigns, broadcasts, newsletters and
// transactional messages, and the actions (newsletters: contents) of one
// campaign, broadcast or newsletter. The fake serves a Catalog rendered in the
// shapes of Customer.io's OpenAPI description of the App API (the fixtures in
// testdata/responses are the description's schemas and examples, and a test
// holds the rendering to their fields). Like the real lists, one response
// holds the whole list unless PageNames asks for pages; an ID the catalog
// does not hold (or DeleteNamed removed) answers 404 with the API's text.
//
// Besides the gate every endpoint shares (auth, region, FailNext, Throttle:
// 429 with Retry-After, 5xx), these endpoints can lose a response after
// doing the work (LoseNext: the connection closes, as when a proxy drops it)
// and stall until the client gives up (StallNext: a timeout).

// Message is a campaign, broadcast, newsletter or transactional message of
// the catalog; Actions are a campaign's or broadcast's actions, or a
// newsletter's contents (variants).
type Message struct {
	ID      int64
	Name    string
	Actions []Message
}

// Catalog is what a workspace holds, as far as names go.
type Catalog struct {
	Campaigns     []Message
	Broadcasts    []Message
	Newsletters   []Message
	Transactional []Message
}

// Calls per refresh of the catalog: one list call per kind, and one actions
// (contents) call per campaign, broadcast or newsletter that has any.
func (c Catalog) Calls() int {
	n := 4
	for _, ms := range [][]Message{c.Campaigns, c.Broadcasts, c.Newsletters} {
		for _, m := range ms {
			if len(m.Actions) > 0 {
				n++
			}
		}
	}
	return n
}

type namesState struct {
	bodies   map[string]map[string]any // path → response body
	gone     map[string]bool           // paths DeleteNamed removed
	pageSize int
}

// SampleCatalog names every campaign, broadcast, newsletter, transactional
// message, action and content ID the repository's sample webhook bodies
// (testdata/, `cioevents send --all`) carry. Action and content IDs are a
// workspace's own, each under one parent, as in Customer.io; a few older
// samples pair an action with another campaign than the one named here.
func SampleCatalog() Catalog {
	return Catalog{
		Campaigns: []Message{
			{ID: 42, Name: "Onboarding: welcome series", Actions: []Message{
				{ID: 116, Name: "Welcome email"}, {ID: 117, Name: "Day 3: tips to get started"},
				{ID: 202, Name: "Random cohort split"}, {ID: 203, Name: "Day 7: invite your team"}}},
			{ID: 57, Name: "Trial ending reminders", Actions: []Message{
				{ID: 118, Name: "Trial ends tomorrow"}, {ID: 119, Name: "Trial ends in 3 days"}}},
			{ID: 63, Name: "Mobile re-engagement", Actions: []Message{
				{ID: 239, Name: "Wait 2 days"}, {ID: 241, Name: "We miss you (push)"}}},
			{ID: 104, Name: "Product news drip", Actions: []Message{
				{ID: 240, Name: "March product news"}, {ID: 311, Name: "Product news (push)"}}},
		},
		Broadcasts: []Message{
			{ID: 9, Name: "Order shipped (API-triggered)", Actions: []Message{
				{ID: 330, Name: "Shipping follow-up"}, {ID: 331, Name: "Shipping email"}}},
			{ID: 14, Name: "Black Friday preview", Actions: []Message{
				{ID: 301, Name: "Black Friday email"}, {ID: 302, Name: "Black Friday push"}}},
		},
		Newsletters: []Message{
			{ID: 88, Name: "December product newsletter", Actions: []Message{{ID: 1, Name: "English"}, {ID: 4, Name: "Deutsch"}}},
			{ID: 91, Name: "Billing update", Actions: []Message{{ID: 2, Name: "Variant B"}}},
			{ID: 97, Name: "Holiday opening hours", Actions: []Message{{ID: 3, Name: "Mobile variant"}}},
		},
		Transactional: []Message{
			{ID: 3, Name: "Password reset"},
			{ID: 7, Name: "Welcome: verify your address"},
			{ID: 9, Name: "Confirm your email"},
			{ID: 12, Name: "Order shipped (push)"},
		},
	}
}

// SetNames replaces what the names endpoints serve with c, rendered as the
// API renders it; at stamps created/updated.
func (s *Server) SetNames(c Catalog, at time.Time) {
	bodies := Render(c, at)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names.bodies, s.names.gone = bodies, nil
}

// DeleteNamed makes one path answer 404 from now on, as a campaign (or
// broadcast, newsletter) deleted after a list named it: e.g.
// "/v1/campaigns/42/actions".
func (s *Server) DeleteNamed(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.names.gone == nil {
		s.names.gone = map[string]bool{}
	}
	s.names.gone[path] = true
}

// PageNames makes the names lists answer at most n items per response, with
// a `next` cursor to send back as `start` (0: one response, as the API's
// description has it).
func (s *Server) PageNames(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names.pageSize = n
}

// LoseNext makes the next n names requests that pass the gate lose their
// response: the fake serves them, then closes the connection unanswered.
func (s *Server) LoseNext(n int) { s.failNames(LoseResponse, n) }

// StallNext makes the next n names requests that pass the gate never
// answer: each waits until its client gives up (a client timeout).
func (s *Server) StallNext(n int) { s.failNames(Hang, n) }

// callNames is the FailCall name all names endpoints share.
const callNames = "names"

func (s *Server) failNames(f Fault, n int) {
	for range n {
		s.FailCall(callNames, f)
	}
}

// Render renders c as the names endpoints' response bodies, by path.
func Render(c Catalog, at time.Time) map[string]map[string]any {
	ts := at.Unix()
	out := map[string]map[string]any{}
	dedup := func(id int64) string { return strconv.FormatInt(id, 10) + ":" + strconv.FormatInt(ts, 10) }
	refs := func(as []Message) []any {
		r := make([]any, 0, len(as))
		for _, a := range as {
			r = append(r, map[string]any{"id": a.ID, "type": "email"})
		}
		return r
	}
	action := func(a Message, parentKey string, parent int64) map[string]any {
		m := map[string]any{
			"id": a.ID, parentKey: parent, "deduplicate_id": dedup(a.ID), "name": a.Name,
			"layout": "", "created": ts, "updated": ts, "body": "<p>Hello {{customer.first_name}}</p>",
			"type": "email", "from": "Acme <hello@example.com>", "from_id": 1, "reply_to": nil, "reply_to_id": nil,
			"preprocessor": "premailer", "recipient": "{{customer.email}}", "subject": a.Name, "bcc": "",
			"fake_bcc": false, "preheader_text": "", "headers": []any{},
		}
		if parentKey == "newsletter_id" {
			// A content has no sending state and no timestamps.
			delete(m, "created")
			delete(m, "updated")
		} else {
			m["sending_state"] = "automatic"
		}
		if parentKey == "campaign_id" {
			m["parent_action_id"] = nil
		}
		return m
	}
	campaigns := []any{}
	for _, m := range c.Campaigns {
		campaigns = append(campaigns, map[string]any{
			"id": m.ID, "deduplicate_id": dedup(m.ID), "name": m.Name, "type": "segment", "created": ts,
			"updated": ts, "active": true, "actions": refs(m.Actions), "first_started": ts,
			"created_by": "marketing@example.com", "tags": []any{}, "filter_segment_ids": []any{},
			"trigger_segment_ids": []any{}, "msg_templates": []any{},
		})
		acts := []any{}
		for _, a := range m.Actions {
			acts = append(acts, action(a, "campaign_id", m.ID))
		}
		out["/v1/campaigns/"+strconv.FormatInt(m.ID, 10)+"/actions"] = map[string]any{"actions": acts}
	}
	out["/v1/campaigns"] = map[string]any{"campaigns": campaigns}
	broadcasts := []any{}
	for _, m := range c.Broadcasts {
		broadcasts = append(broadcasts, map[string]any{
			"id": m.ID, "deduplicate_id": dedup(m.ID), "name": m.Name, "type": "triggered_broadcast",
			"created": ts, "updated": ts, "active": true, "actions": refs(m.Actions), "tags": []any{},
			"first_started": ts, "created_by": "marketing@example.com", "msg_template_ids": []any{},
		})
		acts := []any{}
		for _, a := range m.Actions {
			acts = append(acts, action(a, "broadcast_id", m.ID))
		}
		out["/v1/broadcasts/"+strconv.FormatInt(m.ID, 10)+"/actions"] = map[string]any{"actions": acts}
	}
	out["/v1/broadcasts"] = map[string]any{"broadcasts": broadcasts}
	newsletters := []any{}
	for _, m := range c.Newsletters {
		ids := []any{}
		contents := []any{}
		for _, a := range m.Actions {
			ids = append(ids, a.ID)
			contents = append(contents, action(a, "newsletter_id", m.ID))
		}
		newsletters = append(newsletters, map[string]any{
			"id": m.ID, "deduplicate_id": dedup(m.ID), "name": m.Name, "subject": m.Name, "created": ts,
			"updated": ts, "sent_at": ts, "recipient_segment_ids": []any{}, "msg_template_ids": []any{},
			"content_ids": ids, "tags": []any{},
		})
		out["/v1/newsletters/"+strconv.FormatInt(m.ID, 10)+"/contents"] = map[string]any{"contents": contents}
	}
	out["/v1/newsletters"] = map[string]any{"newsletters": newsletters}
	messages := []any{}
	for _, m := range c.Transactional {
		messages = append(messages, map[string]any{
			"id": m.ID, "name": m.Name, "description": "", "send_to_unsubscribed": true, "link_tracking": true,
			"open_tracking": true, "hide_message_body": false, "queue_drafts": false, "created_at": ts,
			"updated_at": ts,
		})
	}
	out["/v1/transactional"] = map[string]any{"messages": messages}
	return out
}

func (s *Server) routeNames(mux *http.ServeMux) {
	for _, p := range []string{
		"/v1/campaigns", "/v1/campaigns/{id}/actions", "/v1/broadcasts", "/v1/broadcasts/{id}/actions",
		"/v1/newsletters", "/v1/newsletters/{id}/contents", "/v1/transactional",
	} {
		mux.HandleFunc("GET "+p, s.serve(callNames, s.answerName))
	}
}

// notFound is the API's 404 text per parent kind.
var notFound = map[string]string{
	"campaigns":   "The campaign you requested does not exist.",
	"broadcasts":  "The broadcast you requested does not exist.",
	"newsletters": "The newsletter you requested does not exist.",
}

// answerName finds the body of r's path and cuts the page start asks for.
func (s *Server) answerName(r *http.Request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := &s.names
	path := r.URL.Path
	body, found := n.bodies[path]
	if !found || n.gone[path] {
		if strings.Count(path, "/") == 2 { // a list: empty workspace
			return http.StatusOK, map[string]any{strings.TrimPrefix(path, "/v1/"): []any{}}
		}
		kind := strings.Split(path, "/")[2]
		return http.StatusNotFound, errBody(notFound[kind])
	}
	var key string
	var items []any
	for k, v := range body {
		if a, isList := v.([]any); isList {
			key, items = k, a
		}
	}
	start := 0
	if c := r.URL.Query().Get("start"); c != "" {
		i, err := strconv.Atoi(c)
		if err != nil || i < 0 || i > len(items) {
			return http.StatusBadRequest, errBody("start is not a cursor this API returned")
		}
		start = i
	}
	page := map[string]any{key: items[start:]}
	if n.pageSize > 0 && len(items)-start > n.pageSize {
		page[key] = items[start : start+n.pageSize]
		page["next"] = strconv.Itoa(start + n.pageSize)
	} else if n.pageSize > 0 {
		page["next"] = ""
	}
	return http.StatusOK, page
}

// NamesCalls counts the names requests received so far (any status).
func (s *Server) NamesCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if isNamesPath(c.Path) {
			n++
		}
	}
	return n
}

func isNamesPath(p string) bool {
	parts := strings.Split(strings.TrimPrefix(p, "/v1/"), "/")
	return slices.Contains([]string{"campaigns", "broadcasts", "newsletters", "transactional"}, parts[0])
}
