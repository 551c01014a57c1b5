// Package trackfake is an in-process fake of the Customer.io Track API v1:
// identify (PUT /api/v1/customers/{id}) and suppress (POST
// /api/v1/customers/{id}/suppress). It checks Basic auth, records every
// request and answers 200 {} unless told to fail.
package trackfake

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Call is one request the fake received.
type Call struct {
	Method string
	// Path is the path as sent (escaped); Person is its identifier, unescaped.
	Path   string
	Person string
	// Body is the decoded JSON body: map[string]any for identify, nil when
	// the body was empty or not JSON.
	Body   any
	Status int // what the fake answered
	Time   time.Time
	// SiteID is the Basic auth user sent: which workspace's credentials
	// the call used.
	SiteID string
}

// Server is the fake. Safe for concurrent use.
type Server struct {
	// Hold, when set, is called with each request's context before it is
	// handled: a test blocks in it to model a slow Track API. A request whose
	// client gave up while held is still recorded (status 499), because the
	// real service may have applied it. Set it before the first request.
	Hold func(ctx context.Context)

	srv      *httptest.Server
	accepted map[string]string // site ID → API key

	mu          sync.Mutex
	inFlight    int
	maxInFlight int
	calls       []Call
	failLeft    int
	failStatus  int
	failAfter   string
}

// New starts a fake that accepts Basic auth siteID:apiKey.
func New(siteID, apiKey string) *Server {
	s := &Server{accepted: map[string]string{siteID: apiKey}}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /api/v1/customers/{id}", s.identify)
	mux.HandleFunc("POST /api/v1/customers/{id}/suppress", s.suppress)
	s.srv = httptest.NewServer(s.auth(mux))
	return s
}

// Accept makes the fake accept another site ID and API key too, as one
// Track host serves several workspaces.
func (s *Server) Accept(siteID, apiKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accepted[siteID] = apiKey
}

// URL is the base URL to give the client (TrackConfig.BaseURL).
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client for the fake.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close shuts the fake down.
func (s *Server) Close() { s.srv.Close() }

// Calls returns a copy of every request received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// MaxInFlight is the largest number of requests the fake was serving at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// FailNext makes the next n authenticated requests answer status, with a
// Retry-After header when retryAfter is not empty.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLeft, s.failStatus, s.failAfter = n, status, retryAfter
}

// auth checks credentials, applies programmed failures and records the
// call; handlers then only decide their own status.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		call := Call{Method: r.Method, Path: r.URL.EscapedPath(), Body: decode(body), Time: time.Now()}
		s.mu.Lock()
		s.inFlight++
		s.maxInFlight = max(s.maxInFlight, s.inFlight)
		s.mu.Unlock()
		defer func() {
			call.Status = rec.status
			call.Person = r.PathValue("id")
			s.mu.Lock()
			s.inFlight--
			s.calls = append(s.calls, call)
			s.mu.Unlock()
		}()
		if s.Hold != nil {
			s.Hold(r.Context())
			if r.Context().Err() != nil {
				rec.status = 499
				return
			}
		}

		site, key, ok := r.BasicAuth()
		call.SiteID = site
		s.mu.Lock()
		want, known := s.accepted[site]
		s.mu.Unlock()
		if !ok || !known || key != want {
			reply(rec, http.StatusUnauthorized, `{"meta":{"error":"Unauthorized request"}}`)
			return
		}
		s.mu.Lock()
		fail, status, after := s.failLeft > 0, s.failStatus, s.failAfter
		if fail {
			s.failLeft--
		}
		s.mu.Unlock()
		if fail {
			if after != "" {
				rec.Header().Set("Retry-After", after)
			}
			reply(rec, status, `{"meta":{"errors":["trackfake: programmed failure `+strconv.Itoa(status)+`"]}}`)
			return
		}
		next.ServeHTTP(rec, r)
	})
}

func (s *Server) identify(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		reply(w, http.StatusBadRequest, `{"meta":{"errors":["body must be a JSON object"]}}`)
		return
	}
	reply(w, http.StatusOK, `{}`)
}

func (s *Server) suppress(w http.ResponseWriter, _ *http.Request) {
	reply(w, http.StatusOK, `{}`)
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func decode(b []byte) any {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	return v
}

// recorder remembers the status a handler wrote.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}
