package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/cloudmetrics"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/connect"
	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// Check names.
const (
	nameClosed   = "fails closed"
	nameProbe    = "signed probe"
	nameViews    = "view"
	nameStuck    = "nothing stuck"
	nameDLQ      = "dead letters"
	nameCustomer = "Customer.io webhook"
	namePubSub   = "Pub/Sub names"
)

// Runbooks the failures link.
const (
	runbookFailsOpen    = "docs/runbooks/doctor/fails-open.md"
	runbookReceiverDown = "docs/runbooks/doctor/probe.md#the-receiver-does-not-answer"
	runbookProbeLost    = "docs/runbooks/doctor/probe.md#the-probe-does-not-land"
	runbookKey          = "docs/runbooks/signature-failures.md"
	runbookInsert       = "docs/runbooks/bigquery-insert-failures.md"
	runbookViews        = "docs/runbooks/doctor/views.md"
	runbookBacklog      = "docs/runbooks/backlog.md"
	runbookDeadLetters  = "docs/runbooks/dead-letters.md"
	runbookCustomer     = "docs/runbooks/doctor/customerio-webhook.md"
	runbookTrack        = "docs/runbooks/track-credentials.md"
	runbookFunctions    = "docs/runbooks/function-errors.md"
	runbookPubSub       = "docs/runbooks/doctor/pubsub.md"
	// The sections on what each check's "unknown" means.
	runbookProbeUnknown    = "docs/runbooks/doctor/probe.md#doctor-says-unknown"
	runbookViewsUnknown    = "docs/runbooks/doctor/views.md#doctor-says-unknown"
	runbookBacklogUnknown  = "docs/runbooks/backlog.md#doctor-says-unknown"
	runbookDLQUnknown      = "docs/runbooks/dead-letters.md#doctor-says-unknown"
	runbookCustomerUnknown = "docs/runbooks/doctor/customerio-webhook.md#doctor-says-unknown"
	runbookPubSubUnknown   = "docs/runbooks/doctor/pubsub.md#doctor-says-unknown"
)

func unknown(c Check, measured, cause, runbook string) Check {
	c.Status, c.Measured, c.Cause, c.Runbook = Unknown, measured, cause, runbook
	return c
}

// Customer.io waits this long for a 2xx before it counts a failure.
const cioTimeout = 4 * time.Second

func post(ctx context.Context, o Options, req *http.Request) (int, time.Duration, error) {
	start := time.Now()
	resp, err := o.HTTP.Do(req)
	if err != nil {
		return 0, time.Since(start), err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}

// checkFailsClosed sends an unsigned POST (a probe body, so that a receiver
// that fails open stores a row marked as a probe, not a fake event) and a
// GET.
func checkFailsClosed(ctx context.Context, o Options) Check {
	c := Check{Name: nameClosed}
	ctx, cancel := context.WithTimeout(ctx, 2*cioTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(event.ProbeBody("unsigned-"+randomID(), o.Now())))
	if err != nil {
		return fail(c, fmt.Sprintf("--url %q: %v", o.URL, err), "", "")
	}
	req.Header.Set("Content-Type", "application/json")
	status, _, err := post(ctx, o, req)
	if err != nil {
		return fail(c, fmt.Sprintf("no answer from %s: %v", o.URL, err),
			"the receiver is not running or the URL is wrong (for dev: is `cioevents dev` running on this address?)", runbookReceiverDown)
	}
	if status/100 == 2 {
		c.Status, c.Runbook = Critical, runbookFailsOpen
		c.Measured = fmt.Sprintf("fails open: an unsigned POST got %d", status)
		c.Cause = "the receiver accepts requests without a valid signature: anyone can write events into the warehouse"
		return c
	}
	getReq, _ := http.NewRequestWithContext(ctx, http.MethodGet, o.URL, nil)
	getStatus, _, err := post(ctx, o, getReq)
	if err != nil {
		return fail(c, fmt.Sprintf("unsigned POST → %d, GET: no answer (%v)", status, err), "the receiver stopped answering", runbookReceiverDown)
	}
	c.Measured = fmt.Sprintf("unsigned POST → %d, GET → %d", status, getStatus)
	switch {
	case getStatus/100 == 2:
		c.Status, c.Runbook = Critical, runbookFailsOpen
		c.Cause = "a GET is answered 2xx: this URL is not the cioevents receiver, or something in front of it answers for it"
	case status != http.StatusUnauthorized || getStatus != http.StatusMethodNotAllowed:
		c.Status, c.Runbook = Fail, runbookFailsOpen
		c.Cause = fmt.Sprintf("want 401 and 405: this URL may not be the cioevents receiver (a proxy or another service answers %d)", status)
	default:
		c.Status = Pass
	}
	return c
}

func fail(c Check, measured, cause, runbook string) Check {
	c.Status, c.Measured, c.Cause, c.Runbook = Fail, measured, cause, runbook
	return c
}

func randomID() string {
	var b [10]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func checkProbe(ctx context.Context, o Options) Check {
	c := Check{Name: nameProbe}
	if len(o.Key) == 0 {
		c.Status, c.Measured = Skip, "no signing key (--key, or read from Secret Manager)"
		return c
	}
	if o.Rows == nil {
		c.Status, c.Measured = Skip, "nowhere to look for the row"
		return c
	}
	sent := o.Now()
	id := randomID()
	body := event.ProbeBody(id, sent)
	eventID := event.ProbePrefix + id
	pctx, cancel := context.WithTimeout(ctx, cioTimeout)
	req, err := signature.NewRequest(pctx, o.URL, o.Key, sent, body)
	if err != nil {
		cancel()
		return fail(c, err.Error(), "", "")
	}
	status, took, err := post(pctx, o, req)
	cancel()
	switch {
	case err != nil && pctx.Err() != nil:
		return fail(c, fmt.Sprintf("no answer within Customer.io's %s", cioTimeout),
			"the receiver is too slow: Customer.io would count this delivery as failed and retry it", runbookReceiverDown)
	case err != nil:
		return fail(c, fmt.Sprintf("no answer: %v", err), "the receiver stopped answering", runbookReceiverDown)
	case status == http.StatusUnauthorized:
		return fail(c, fmt.Sprintf("key mismatch: the receiver answered 401 to a probe signed with the key %s", o.KeySource),
			"the receiver does not hold this signing key: the secret version it loaded differs (signing_keys_version), or the key was mistyped; Customer.io's deliveries fail the same way", runbookKey)
	case status/100 != 2:
		return fail(c, fmt.Sprintf("the receiver answered %d to a signed probe", status),
			"a 503 means it could not publish to Pub/Sub; see the receiver's logs", runbookReceiverDown)
	}
	accepted := fmt.Sprintf("accepted %d in %d ms", status, took.Milliseconds())
	deadline := sent.Add(o.Timeout)
	for {
		found, source, err := o.Rows.FindProbe(ctx, eventID, sent)
		if err != nil {
			return unknown(c, fmt.Sprintf("%s; could not look for its row in %s: %v", accepted, o.Rows.Where(), err),
				"doctor's credentials cannot query the table, so whether the probe landed is not known", runbookProbeUnknown)
		}
		if found {
			lat := o.Now().Sub(sent)
			c.LatencyMS = lat.Milliseconds()
			if source != warehouse.SourceProbe {
				return fail(c, fmt.Sprintf("%s; its row landed in %s after %d ms but is marked source=%q, not %q", accepted,
					o.Rows.Where(), lat.Milliseconds(), source, warehouse.SourceProbe),
					"the deployed processor predates probes: it would count probes in the views and act on them; deploy this version", runbookProbeLost)
			}
			c.Status = Pass
			c.Measured = fmt.Sprintf("%s; row in %s after %d ms end to end", accepted, o.Rows.Where(), lat.Milliseconds())
			return c
		}
		if !o.Now().Before(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return fail(c, accepted+"; interrupted while waiting for its row", "", "")
		case <-time.After(o.PollEvery):
		}
	}
	c = fail(c, fmt.Sprintf("%s, but no row in %s within %s", accepted, o.Rows.Where(), o.Timeout),
		"the processor is not running, or every delivery fails (the processor's logs say why)", runbookProbeLost)
	if o.Logs != nil {
		explainFromLogs(ctx, o, sent, &c)
	}
	return c
}

func checkViews(ctx context.Context, o Options) []Check {
	if o.DryRun == nil {
		return []Check{{Name: nameViews + "s", Status: Skip, Measured: o.SkipViews}}
	}
	var out []Check
	since := o.Now().Add(-24 * time.Hour)
	for _, v := range o.Views {
		c := Check{Name: nameViews + " " + v.Name}
		if err := o.DryRun.DryRun(ctx, v.SQL, since); err != nil && denied(err) {
			c = unknown(c, fmt.Sprintf("dry run refused: %v", err), viewCause(err), runbookViewsUnknown)
		} else if err != nil {
			c = fail(c, fmt.Sprintf("dry run failed: %v", err), viewCause(err), runbookViews)
		} else {
			c.Status, c.Measured = Pass, "dry run with its partition filter succeeded"
		}
		out = append(out, c)
	}
	return out
}

func viewCause(err error) string {
	if strings.Contains(err.Error(), "partition elimination") {
		return "the view's filter on event_time does not reach the table's partition filter (require_partition_filter): every query of the view fails"
	}
	if strings.Contains(err.Error(), "Not found") || strings.Contains(err.Error(), "notFound") {
		return "the view does not exist: terraform apply creates it"
	}
	if denied(err) {
		return "your credentials cannot run queries: bigquery.jobs.create (roles/bigquery.jobUser) and bigquery.tables.getData on the dataset"
	}
	return ""
}

// denied reports whether err is a refusal of doctor's own credentials: what
// the check is about was not observed.
func denied(err error) bool {
	return strings.Contains(err.Error(), "denied") || strings.Contains(err.Error(), "403") ||
		strings.Contains(err.Error(), "PermissionDenied")
}

// checkPubSub confirms through the Pub/Sub admin API that the topic and
// both subscriptions exist: a metric of a name that does not exist reads as
// "no data", like a quiet subscription. exist holds the names confirmed.
func checkPubSub(ctx context.Context, o Options) (Check, map[string]bool) {
	exist := map[string]bool{}
	if o.Metrics == nil && o.MetricsErr == nil {
		return Check{}, exist // local: no Pub/Sub
	}
	c := Check{Name: namePubSub}
	if o.Resources == nil {
		return unknown(c, fmt.Sprintf("not checked: %v", o.ResourcesErr), "doctor could not reach the Pub/Sub admin API", runbookPubSubUnknown), exist
	}
	var missing, errs, found []string
	for _, r := range []struct{ kind, id string }{{"topic", o.Topic}, {"subscription", o.Subscription}, {"subscription", o.DeadLetterSubscription}} {
		ok, err := o.Resources.Exists(ctx, o.Project, r.kind, r.id)
		switch {
		case err != nil:
			errs = append(errs, err.Error())
		case !ok:
			missing = append(missing, fmt.Sprintf("%s %s", r.kind, r.id))
		default:
			exist[r.kind+"/"+r.id] = true
			found = append(found, r.kind+" "+r.id)
		}
	}
	switch {
	case len(missing) > 0:
		return fail(c, fmt.Sprintf("%s does not exist in project %s", strings.Join(missing, ", "), o.Project),
			"a wrong name (a flag, or another name_prefix) or a deployment not applied: its metrics would read as \"no data\"", runbookPubSub), exist
	case len(errs) > 0:
		return unknown(c, strings.Join(errs, "; "), "doctor could not confirm the names exist", runbookPubSubUnknown), exist
	}
	c.Status, c.Measured = Pass, fmt.Sprintf("%s exist in project %s", strings.Join(found, ", "), o.Project)
	return c, exist
}

// checkStuck reads the backlog and dead-letter metrics. Missing data is
// unknown, except that Pub/Sub writes no backlog point while nothing waits
// on a subscription: for a subscription checkPubSub just confirmed, no
// point means nothing is waiting, and the line says that is why it passed.
func checkStuck(ctx context.Context, o Options, exist map[string]bool) []Check {
	if o.Metrics == nil && o.MetricsErr == nil {
		return []Check{{Name: nameStuck, Status: Skip, Measured: o.SkipStuck}}
	}
	read := func(c Check, sub, metric, runbookUnknown string) (Check, float64, bool) {
		if o.Metrics == nil {
			return unknown(c, fmt.Sprintf("not read: %v", o.MetricsErr), "doctor could not reach Cloud Monitoring", runbookUnknown), 0, false
		}
		v, err := o.Metrics.Latest(ctx, o.Project, sub, metric)
		switch {
		case errors.Is(err, cloudmetrics.ErrNoData) && exist["subscription/"+sub]:
			c.Status, c.Measured = Pass, fmt.Sprintf("nothing waiting in %s: it exists (confirmed through the Pub/Sub admin API) "+
				"and has no %s point in the last %s, which Pub/Sub leaves out while no message waits", sub, shortMetric(metric), cloudmetrics.Window)
			return c, 0, false
		case errors.Is(err, cloudmetrics.ErrNoData):
			return unknown(c, fmt.Sprintf("no %s data for %s in the last %s, and the subscription was not confirmed to exist",
				shortMetric(metric), sub, cloudmetrics.Window), "no data is not a measurement: see Pub/Sub names above", runbookUnknown), 0, false
		case err != nil:
			return unknown(c, fmt.Sprintf("could not read %s: %v", sub, err), "doctor's credentials cannot read the metric, or Cloud Monitoring failed", runbookUnknown), 0, false
		}
		return c, v, true
	}
	age, v, ok := read(Check{Name: nameStuck}, o.Subscription, cloudmetrics.OldestUnackedAge, runbookBacklogUnknown)
	switch {
	case !ok:
	case time.Duration(v)*time.Second > o.MaxUnackedAge:
		age = fail(age, fmt.Sprintf("oldest unacked message in %s is %s old (threshold %s)", o.Subscription,
			time.Duration(v)*time.Second, o.MaxUnackedAge),
			"the processor is failing or too slow: deliveries are being retried", runbookBacklog)
	default:
		age.Status, age.Measured = Pass, fmt.Sprintf("oldest unacked message in %s is %s old (threshold %s)",
			o.Subscription, time.Duration(v)*time.Second, o.MaxUnackedAge)
	}
	dl, n, ok := read(Check{Name: nameDLQ}, o.DeadLetterSubscription, cloudmetrics.Undelivered, runbookDLQUnknown)
	switch {
	case !ok:
	case n == 0:
		dl.Status, dl.Measured = Pass, fmt.Sprintf("0 messages waiting in %s", o.DeadLetterSubscription)
	default:
		dl = fail(dl, fmt.Sprintf("%.0f messages waiting in %s", n, o.DeadLetterSubscription),
			"events failed every delivery attempt and are parked: fix the cause, then cioevents replay", runbookDeadLetters)
	}
	return []Check{age, dl}
}

// shortMetric is the metric's last path element.
func shortMetric(m string) string { return m[strings.LastIndex(m, "/")+1:] }

func checkCustomerIO(ctx context.Context, o Options) Check {
	c := Check{Name: nameCustomer}
	if o.Webhooks == nil {
		c.Status, c.Measured = Skip, o.SkipCustomer
		return c
	}
	hooks, err := o.Webhooks.Webhooks(ctx)
	if err != nil {
		return unknown(c, fmt.Sprintf("could not list reporting webhooks: %v", err),
			"the App API did not answer, or CIO_APP_API_KEY is wrong or of the other region (CIO_REGION)", runbookCustomerUnknown)
	}
	h, ok := connect.FindWebhook(hooks, o.URL)
	if !ok {
		return fail(c, fmt.Sprintf("no reporting webhook posts to %s (%d others)", o.URL, len(hooks)),
			"Customer.io sends nothing here: run cioevents connect", runbookCustomer)
	}
	missing, _, disabled := connect.Diff(h, o.Events)
	var problems []string
	if disabled {
		problems = append(problems, "disabled")
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("missing %d event types: %s", len(missing), strings.Join(missing, ", ")))
	}
	if len(problems) > 0 {
		return fail(c, fmt.Sprintf("webhook %d %q → %s is %s", h.ID, h.Name, h.Endpoint, strings.Join(problems, "; ")),
			"events of those types are never sent, and none at all while disabled: run cioevents connect", runbookCustomer)
	}
	c.Status = Pass
	c.Measured = fmt.Sprintf("webhook %d %q → %s enabled with all %d event types", h.ID, h.Name, h.Endpoint,
		len(slices.Compact(slices.Sorted(slices.Values(o.Events)))))
	return c
}
