package doctor_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cloudmetrics"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/doctor"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// Doubles of doctor's seams, each able to fail as its service does.
type (
	rowsStub    struct{ err error }
	dryRunStub  struct{ err error }
	metricsStub struct{ err map[string]error }
	namesStub   struct{ err error }
	hooksStub   struct {
		url string
		err error
	}
)

func (r rowsStub) FindProbe(context.Context, string, time.Time) (bool, string, error) {
	return r.err == nil, warehouse.SourceProbe, r.err
}
func (rowsStub) Where() string                                       { return "p.d.events" }
func (d dryRunStub) DryRun(context.Context, string, time.Time) error { return d.err }
func (n namesStub) Exists(context.Context, string, string, string) (bool, error) {
	return n.err == nil, n.err
}
func (h hooksStub) Webhooks(context.Context) ([]appapi.Webhook, error) {
	return []appapi.Webhook{{ID: 1, Name: "cioevents", Endpoint: h.url, Events: appapi.WebhookEvents}}, h.err
}

// Latest answers no data unless an error is set for the metric: Pub/Sub's
// answer for a quiet subscription (and for a name that does not exist).
func (m metricsStub) Latest(_ context.Context, _, _, metric string) (float64, error) {
	if err := m.err[metric]; err != nil {
		return 0, err
	}
	return 0, cloudmetrics.ErrNoData
}

// Every check has an "unknown" state: what it is about was not observed.
// Each is not a pass, links the runbook section that says why, and fails
// the run; a healthy deployment whose subscriptions are quiet passes.
func TestUnknownStates(t *testing.T) {
	key := []byte("k")
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		body := make([]byte, r.ContentLength)
		r.Body.Read(body)
		if _, err := signature.Verify(body, r.Header.Get(signature.HeaderTimestamp), r.Header.Get(signature.HeaderSignature), key); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}))
	defer recv.Close()
	denied := errors.New("googleapi: Error 403: Access Denied: the caller does not have permission, accessDenied")
	base := func() doctor.Options {
		return doctor.Options{URL: recv.URL, Key: key, Rows: rowsStub{}, Timeout: time.Minute,
			Views: []doctor.ViewQuery{{Name: "events_deduped", SQL: "SELECT 1"}}, DryRun: dryRunStub{},
			Metrics: metricsStub{}, Resources: namesStub{}, Project: "p", Topic: "t", Subscription: "s", DeadLetterSubscription: "d",
			Webhooks: hooksStub{url: recv.URL}}
	}
	for _, c := range []struct {
		name    string
		change  func(o *doctor.Options)
		unknown []string // checks that must be unknown
		runbook string   // of the first of them
	}{
		{"healthy and quiet", func(*doctor.Options) {}, nil, ""},
		{"probe row not readable", func(o *doctor.Options) { o.Rows = rowsStub{err: denied} },
			[]string{"signed probe"}, "docs/runbooks/doctor/probe.md#doctor-says-unknown"},
		{"view dry run refused", func(o *doctor.Options) { o.DryRun = dryRunStub{err: denied} },
			[]string{"view events_deduped"}, "docs/runbooks/doctor/views.md#doctor-says-unknown"},
		{"Pub/Sub names not confirmable", func(o *doctor.Options) { o.Resources = namesStub{err: denied} },
			[]string{"Pub/Sub names", "nothing stuck", "dead letters"}, "docs/runbooks/doctor/pubsub.md#doctor-says-unknown"},
		{"Pub/Sub admin API unreachable", func(o *doctor.Options) { o.Resources, o.ResourcesErr = nil, errors.New("dial: refused") },
			[]string{"Pub/Sub names", "nothing stuck", "dead letters"}, "docs/runbooks/doctor/pubsub.md#doctor-says-unknown"},
		{"backlog metric not readable", func(o *doctor.Options) {
			o.Metrics = metricsStub{err: map[string]error{cloudmetrics.OldestUnackedAge: denied}}
		}, []string{"nothing stuck"}, "docs/runbooks/backlog.md#doctor-says-unknown"},
		{"dead-letter metric not readable", func(o *doctor.Options) {
			o.Metrics = metricsStub{err: map[string]error{cloudmetrics.Undelivered: denied}}
		}, []string{"dead letters"}, "docs/runbooks/dead-letters.md#doctor-says-unknown"},
		{"Cloud Monitoring unreachable", func(o *doctor.Options) { o.Metrics, o.MetricsErr = nil, errors.New("dial: refused") },
			[]string{"nothing stuck", "dead letters"}, "docs/runbooks/backlog.md#doctor-says-unknown"},
		{"App API not answering", func(o *doctor.Options) { o.Webhooks = hooksStub{err: errors.New("appapi: GET: timeout")} },
			[]string{"Customer.io webhook"}, "docs/runbooks/doctor/customerio-webhook.md#doctor-says-unknown"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := base()
			c.change(&o)
			rep := doctor.Run(context.Background(), o)
			got := map[string]doctor.Check{}
			for _, ch := range rep.Checks {
				got[ch.Name] = ch
				if ch.Status != doctor.Pass && ch.Status != doctor.Unknown {
					t.Errorf("%s: %s: %s", ch.Name, ch.Status, ch.Measured)
				}
			}
			for i, name := range c.unknown {
				ch, ok := got[name]
				if !ok || ch.Status != doctor.Unknown || ch.Measured == "" {
					t.Errorf("check %q = %+v, want unknown saying what was not observed", name, ch)
				}
				if i == 0 && ch.Runbook != c.runbook {
					t.Errorf("check %q links %q, want %q", name, ch.Runbook, c.runbook)
				}
			}
			if n := 0; rep.OK != (len(c.unknown) == 0) {
				for _, ch := range rep.Checks {
					if ch.Status == doctor.Unknown {
						n++
					}
				}
				t.Errorf("OK = %v with %d unknown checks", rep.OK, n)
			}
		})
	}
}
