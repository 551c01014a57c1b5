// Package appapifake is an in-process HTTP fake of Customer.io's App API
// GET /v1/messages, built from the shapes of its public OpenAPI description:
// bearer auth, the type/metric/campaign_id/newsletter_id/action_id filters,
// start_ts/end_ts with the 6-month rule (a longer span silently loses its
// older part, as the API documents), cursor paging with start/next and a
// limit of at most 1000, newest deliveries first; and of
// /v1/reporting_webhooks (list, create, get, update), validating event types
// against the API's enum; and of the names endpoints (names.go: campaigns,
// broadcasts, newsletters, transactional messages and their actions and
// contents). It can refuse requests to
// the host of the other region, throttle above a rate with 429, fail on
// demand (a status before the work, or after it: a 5xx, a lost response, a
// hang until the client gives up; see FailCall), and it records every call.
package appapifake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Hosts of the two regions; a request through Client carries one of them.
const (
	HostUS = "api.customer.io"
	HostEU = "api-eu.customer.io"
)

// Delivery is one message delivery, keyed as the API spells it. Nil
// pointers are written as null, as the API does for absent parents.
type Delivery struct {
	ID                  string           `json:"id"`
	DeduplicateID       string           `json:"deduplicate_id"`
	Type                string           `json:"type"`
	Created             int64            `json:"created"`
	CustomerID          *string          `json:"customer_id"`
	CustomerIdentifiers *Identifiers     `json:"customer_identifiers,omitempty"`
	Recipient           *string          `json:"recipient"`
	Subject             *string          `json:"subject"`
	FailureMessage      *string          `json:"failure_message"`
	CampaignID          *int64           `json:"campaign_id"`
	BroadcastID         *int64           `json:"broadcast_id"`
	NewsletterID        *int64           `json:"newsletter_id"`
	ActionID            *int64           `json:"action_id"`
	ParentActionID      *int64           `json:"parent_action_id"`
	ContentID           *int64           `json:"content_id"`
	TriggerEventID      *string          `json:"trigger_event_id"`
	Forgotten           bool             `json:"forgotten"`
	Metrics             map[string]int64 `json:"metrics"`
}

// Identifiers is customer_identifiers.
type Identifiers struct {
	ID    *string `json:"id"`
	Email *string `json:"email"`
	CioID string  `json:"cio_id"`
}

// Call is one request the fake received.
type Call struct {
	Method string
	Path   string
	Host   string
	Query  url.Values
	Status int
	// Returned is how many deliveries the answer held.
	Returned int
}

// Server is the fake. Safe for concurrent use.
type Server struct {
	srv *httptest.Server
	key string

	mu         sync.Mutex
	deliveries []Delivery // newest first, then by id
	ids        map[string]bool
	calls      []Call
	region     string
	now        func() time.Time
	failLeft   int
	failStatus int
	failAfter  string
	webhooks   []Webhook
	faults     map[string][]Fault
	onChange   func(Webhook)
	nextID     int64
	rate       float64
	tokens     float64
	last       time.Time
	names      namesState // the names endpoints (names.go)
}

// New starts a fake that accepts the bearer token key.
func New(key string) *Server {
	s := &Server{key: key, now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/messages", s.list)
	mux.HandleFunc("GET /v1/reporting_webhooks", s.serve(CallList, s.listWebhooks))
	mux.HandleFunc("POST /v1/reporting_webhooks", s.serve(CallCreate, s.createWebhook))
	mux.HandleFunc("GET /v1/reporting_webhooks/{id}", s.serve(CallGet, s.getWebhook))
	mux.HandleFunc("PUT /v1/reporting_webhooks/{id}", s.serve(CallUpdate, s.updateWebhook))
	s.routeNames(mux)
	s.srv = httptest.NewServer(mux)
	return s
}

// URL is the base URL to give the client (--app-api-url).
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the fake down.
func (s *Server) Close() { s.srv.Close() }

// Client returns an HTTP client that sends requests for any host to the
// fake, keeping the Host header, so a client can be pointed at the real
// region hosts and the fake sees which one it chose.
func (s *Server) Client() *http.Client {
	target, _ := url.Parse(s.srv.URL)
	base := s.srv.Client().Transport
	return &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Host = r.URL.Host
		r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
		return base.RoundTrip(r)
	})}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// SetRegion makes the workspace live in region ("us" or "eu"): a request
// addressed to the other region's host is refused with 401, as a key is
// valid in its own region only. Requests to the fake's own address pass.
func (s *Server) SetRegion(region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.region = region
}

// SetNow sets the clock used when a request leaves out start_ts or end_ts.
func (s *Server) SetNow(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Throttle answers 429 with Retry-After: 1 to requests beyond perSecond
// (a token bucket of one second's worth). 0 turns it off.
func (s *Server) Throttle(perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate, s.tokens, s.last = perSecond, perSecond, time.Time{}
}

// FailNext makes the next n authenticated requests answer status, with a
// Retry-After header when retryAfter is not empty.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLeft, s.failStatus, s.failAfter = n, status, retryAfter
}

// Add stores deliveries (a delivery with an ID already stored replaces it,
// as a delivery reaching a new metric would).
func (s *Server) Add(ds ...Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = make(map[string]bool)
	}
	for _, d := range ds {
		if s.ids[d.ID] {
			s.deliveries = slices.DeleteFunc(s.deliveries, func(x Delivery) bool { return x.ID == d.ID })
		}
		s.ids[d.ID] = true
		s.deliveries = append(s.deliveries, d)
	}
	slices.SortFunc(s.deliveries, compare)
}

// compare orders newest first, then by id: the listing order.
func compare(a, b Delivery) int {
	if a.Created != b.Created {
		if a.Created > b.Created {
			return -1
		}
		return 1
	}
	return strings.Compare(a.ID, b.ID)
}

// Calls returns every request so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	call := Call{Method: r.Method, Path: r.URL.Path, Host: r.Host, Query: r.URL.Query()}
	status, body, header := s.answer(r, &call)
	s.mu.Lock()
	call.Status = status
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	for k, v := range header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func errBody(msg string) []byte {
	b, _ := json.Marshal(map[string]any{"meta": map[string]any{"error": msg}})
	return b
}

// gate applies what every endpoint shares: bearer auth, the region of the
// host, programmed failures and the rate limit. ok is false when it answered.
func (s *Server) gate(r *http.Request, call *Call) (status int, body []byte, header map[string]string, now time.Time, ok bool) {
	if r.Header.Get("Authorization") != "Bearer "+s.key {
		return http.StatusUnauthorized, errBody("Unauthorized request"), nil, now, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	region := s.region
	now = s.now()
	if (region == "eu" && call.Host == HostUS) || (region == "us" && call.Host == HostEU) {
		return http.StatusUnauthorized, errBody("Unauthorized request"), nil, now, false
	}
	if s.failLeft > 0 {
		s.failLeft--
		h := map[string]string{}
		if s.failAfter != "" {
			h["Retry-After"] = s.failAfter
		}
		return s.failStatus, errBody("appapifake: programmed failure"), h, now, false
	}
	if s.rate > 0 {
		t := time.Now()
		if !s.last.IsZero() {
			s.tokens = min(s.rate, s.tokens+t.Sub(s.last).Seconds()*s.rate)
		}
		s.last = t
		if s.tokens < 1 {
			return http.StatusTooManyRequests, errBody("over the rate limit"), map[string]string{"Retry-After": "1"}, now, false
		}
		s.tokens--
	}
	return 0, nil, nil, now, true
}

func (s *Server) answer(r *http.Request, call *Call) (int, []byte, map[string]string) {
	status, body, header, now, ok := s.gate(r, call)
	if !ok {
		return status, body, header
	}
	q := r.URL.Query()
	f, err := parseFilter(q, now)
	if err != nil {
		return http.StatusBadRequest, errBody(err.Error()), nil
	}
	s.mu.Lock()
	page, next := f.page(s.deliveries)
	s.mu.Unlock()
	call.Returned = len(page)
	b, err := json.Marshal(struct {
		Messages []Delivery `json:"messages"`
		Next     string     `json:"next"`
	}{Messages: page, Next: next})
	if err != nil {
		return http.StatusInternalServerError, errBody(err.Error()), nil
	}
	return http.StatusOK, b, nil
}

type filter struct {
	typ, metric            string
	campaign, news, action int64
	start, end             int64
	limit                  int
	after                  *Delivery // the cursor: the last delivery served
}

func parseFilter(q url.Values, now time.Time) (filter, error) {
	f := filter{typ: q.Get("type"), metric: q.Get("metric"), limit: 50}
	ints := map[string]*int64{"campaign_id": &f.campaign, "newsletter_id": &f.news, "action_id": &f.action,
		"start_ts": &f.start, "end_ts": &f.end}
	for k, p := range ints {
		if v := q.Get(k); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return f, fmt.Errorf("%s must be an integer", k)
			}
			*p = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, fmt.Errorf("limit must be an integer from 1 to 1000")
		}
		f.limit = n
	}
	if f.typ != "" && !slices.Contains(Types, f.typ) {
		return f, fmt.Errorf("type %q is not one of %s", f.typ, strings.Join(Types, ", "))
	}
	// The documented 6-month rule: the span ends at end_ts (else now) and
	// reaches back at most 6 months, whatever start_ts asked for.
	end := now
	if f.end != 0 {
		end = time.Unix(f.end, 0)
	}
	floor := end.AddDate(0, -6, 0).Unix()
	f.end = end.Unix()
	if f.start == 0 || f.start < floor {
		f.start = floor
	}
	if c := q.Get("start"); c != "" {
		d, err := decodeCursor(c)
		if err != nil {
			return f, err
		}
		f.after = &d
	}
	return f, nil
}

func (f filter) match(d *Delivery) bool {
	if d.Created < f.start || d.Created > f.end {
		return false
	}
	if f.typ != "" && d.Type != f.typ {
		return false
	}
	if f.metric != "" {
		if _, ok := d.Metrics[f.metric]; !ok {
			return false
		}
	}
	for _, c := range []struct {
		want int64
		got  *int64
	}{{f.campaign, d.CampaignID}, {f.news, d.NewsletterID}, {f.action, d.ActionID}} {
		if c.want != 0 && (c.got == nil || *c.got != c.want) {
			return false
		}
	}
	return true
}

func (f filter) page(all []Delivery) ([]Delivery, string) {
	i := 0
	if f.after != nil {
		i, _ = slices.BinarySearchFunc(all, *f.after, compare)
		for i < len(all) && compare(all[i], *f.after) <= 0 {
			i++
		}
	}
	var out []Delivery
	for ; i < len(all); i++ {
		if !f.match(&all[i]) {
			continue
		}
		if len(out) == f.limit {
			return out, encodeCursor(out[len(out)-1])
		}
		out = append(out, all[i])
	}
	return out, ""
}

// A cursor names the last delivery served, so it stays valid while
// deliveries are added, like a real resumable cursor.
func encodeCursor(d Delivery) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(d.Created, 10) + ":" + d.ID))
}

func decodeCursor(c string) (Delivery, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return Delivery{}, fmt.Errorf("start is not a cursor this API returned")
	}
	ts, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil {
		return Delivery{}, fmt.Errorf("start is not a cursor this API returned")
	}
	return Delivery{Created: n, ID: id}, nil
}

// Types are the delivery types of the API.
var Types = []string{"email", "webhook", "twilio", "whatsapp", "slack", "push", "in_app", "live_notification"}

// metricsOf lists, per type, the metrics a delivery of it can reach, in
// the order they happen; the failure metrics end a delivery early.
var metricsOf = map[string][]string{
	"email":             {"sent", "delivered", "opened", "clicked", "converted", "unsubscribed"},
	"webhook":           {"sent", "clicked", "converted"},
	"twilio":            {"sent", "delivered", "clicked", "converted"},
	"whatsapp":          {"sent", "delivered", "opened", "clicked", "converted"},
	"slack":             {"sent", "clicked", "converted"},
	"push":              {"sent", "delivered", "opened", "converted"},
	"in_app":            {"sent", "opened", "clicked", "converted"},
	"live_notification": {"sent", "opened", "clicked"},
}

var failuresOf = map[string][]string{
	"email":   {"bounced", "dropped", "failed", "spammed", "undeliverable"},
	"twilio":  {"failed", "undeliverable", "bounced"},
	"push":    {"bounced", "failed", "undeliverable", "dropped"},
	"webhook": {"failed", "undeliverable"},
}

// Generate returns n deterministic deliveries created in [from, to), of
// every type in turn, with realistic parents, identifiers and metrics
// (including the count metrics human_opened and prefetch_clicked).
func Generate(n int, seed uint64, from, to time.Time) []Delivery {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	span := to.Unix() - from.Unix()
	out := make([]Delivery, n)
	for i := range out {
		typ := Types[i%len(Types)]
		created := from.Unix() + rng.Int64N(max(span, 1))
		raw := make([]byte, 26)
		for j := range raw {
			raw[j] = byte(rng.UintN(256))
		}
		id := base64.StdEncoding.EncodeToString(raw)
		d := Delivery{ID: id, DeduplicateID: id + ":" + strconv.FormatInt(created, 10), Type: typ, Created: created,
			Metrics: map[string]int64{}}
		person := strconv.Itoa(rng.IntN(5000))
		email := "person" + person + "@example.com"
		cio := fmt.Sprintf("%06x", rng.UintN(1<<24))
		d.CustomerID = &person
		d.CustomerIdentifiers = &Identifiers{ID: &person, Email: &email, CioID: cio}
		switch typ {
		case "email":
			subject := "Subject " + strconv.Itoa(i%17)
			d.Recipient, d.Subject = &email, &subject
		case "twilio", "whatsapp":
			phone := fmt.Sprintf("+1555%07d", rng.IntN(10_000_000))
			d.Recipient = &phone
		case "webhook":
			u := "https://hooks.example.com/" + strconv.Itoa(i%5)
			d.Recipient = &u
		case "slack":
			ch := "#channel-" + strconv.Itoa(i%3)
			d.Recipient = &ch
		default:
			d.Recipient = &person
		}
		action := int64(100 + rng.IntN(50))
		d.ActionID = &action
		switch rng.IntN(3) {
		case 0:
			c := int64(1 + rng.IntN(20))
			d.CampaignID = &c
			if rng.IntN(4) == 0 {
				p := action - 1
				d.ParentActionID = &p
			}
			if rng.IntN(3) == 0 {
				t := fmt.Sprintf("01TRIGGER%017d", rng.IntN(1_000_000))
				d.TriggerEventID = &t
			}
		case 1:
			nl, content := int64(1+rng.IntN(10)), int64(1+rng.IntN(3))
			d.NewsletterID, d.ContentID = &nl, &content
		default:
			b := int64(1 + rng.IntN(5))
			d.BroadcastID = &b
		}
		t := created + int64(rng.IntN(60))
		if fails := failuresOf[typ]; len(fails) > 0 && rng.IntN(10) == 0 {
			d.Metrics["sent"] = t
			m := fails[rng.IntN(len(fails))]
			d.Metrics[m] = t + int64(1+rng.IntN(600))
			msg := "550 mailbox unavailable (" + m + ")"
			d.FailureMessage = &msg
		} else {
			for k, m := range metricsOf[typ] {
				if k > 0 && rng.IntN(3) == 0 {
					break
				}
				d.Metrics[m] = t
				t += int64(1 + rng.IntN(86400))
			}
		}
		if _, ok := d.Metrics["opened"]; ok {
			d.Metrics["human_opened"] = int64(rng.IntN(3))
		}
		if _, ok := d.Metrics["clicked"]; ok {
			d.Metrics["prefetch_clicked"] = int64(rng.IntN(2))
		}
		out[i] = d
	}
	return out
}
