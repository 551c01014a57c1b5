package appapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// EnvKey holds the App API key (a bearer token), for the commands that
// manage the webhook.
const EnvKey = "CIO_APP_API_KEY"

// WebhookEvents are the event types a reporting webhook can subscribe to:
// the `events` enum of the App API's /v1/reporting_webhooks (contract §3.6).
// Their names are <object_type>_<metric>, except
// customer_subscription_preferences_changed, whose payload metric is
// cio_subscription_preferences_changed.
var WebhookEvents = []string{
	"customer_subscribed", "customer_unsubscribed", "customer_subscription_preferences_changed",
	"email_drafted", "email_attempted", "email_sent", "email_delivered", "email_opened", "email_clicked",
	"email_converted", "email_bounced", "email_dropped", "email_deferred", "email_spammed", "email_failed",
	"email_unsubscribed", "email_undeliverable",
	"in_app_drafted", "in_app_attempted", "in_app_sent", "in_app_opened", "in_app_clicked", "in_app_converted",
	"in_app_failed", "in_app_undeliverable",
	"push_drafted", "push_attempted", "push_sent", "push_delivered", "push_opened", "push_clicked",
	"push_converted", "push_bounced", "push_dropped", "push_failed", "push_undeliverable",
	"slack_drafted", "slack_attempted", "slack_sent", "slack_clicked", "slack_converted", "slack_failed",
	"sms_drafted", "sms_attempted", "sms_sent", "sms_delivered", "sms_clicked", "sms_converted", "sms_bounced",
	"sms_dropped", "sms_failed", "sms_undeliverable", "sms_replied",
	"whatsapp_drafted", "whatsapp_attempted", "whatsapp_sent", "whatsapp_delivered", "whatsapp_opened",
	"whatsapp_clicked", "whatsapp_converted", "whatsapp_bounced", "whatsapp_dropped", "whatsapp_failed",
	"whatsapp_undeliverable", "whatsapp_replied",
	"webhook_drafted", "webhook_attempted", "webhook_sent", "webhook_clicked", "webhook_converted",
	"webhook_failed", "webhook_undeliverable",
}

// Webhook is one reporting webhook configuration, as /v1/reporting_webhooks
// spells it. The API has no field for the signing key: it is shown only in
// Customer.io's UI.
type Webhook struct {
	ID             int64    `json:"id,omitempty"`
	Name           string   `json:"name"`
	Type           string   `json:"type,omitempty"`
	Endpoint       string   `json:"endpoint"`
	Disabled       bool     `json:"disabled"`
	FullResolution bool     `json:"full_resolution"`
	WithContent    bool     `json:"with_content"`
	Events         []string `json:"events"`
}

// ErrNotFound is a 404 from the App API: for a webhook ID, it was deleted.
var ErrNotFound = errors.New("appapi: not found")

// Webhooks lists every reporting webhook of the workspace.
func (c *Client) Webhooks(ctx context.Context) ([]Webhook, error) {
	var out struct {
		Webhooks []Webhook `json:"reporting_webhooks"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/reporting_webhooks", nil, &out); err != nil {
		return nil, err
	}
	return out.Webhooks, nil
}

// ErrUncertain means a request got no answer to rely on (a lost response, a
// timeout, a 5xx): the API may or may not have made the change.
var ErrUncertain = errors.New("appapi: no reliable answer, the change may or may not have been made")

// CreateWebhook creates w and returns it as stored (with its ID). A create
// is not idempotent: a second POST makes a second webhook. So it is sent
// again only after a 429 (refused before any work); any other failure after
// the request left wraps ErrUncertain, and the caller must list the webhooks
// to learn whether it exists.
func (c *Client) CreateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	w.ID, w.Type = 0, ""
	body, err := json.Marshal(w)
	if err != nil {
		return Webhook{}, fmt.Errorf("appapi: %w", err)
	}
	var out Webhook
	for attempt := 1; ; attempt++ {
		if err := c.lim.Wait(ctx); err != nil {
			return Webhook{}, err
		}
		wait, err := c.call(ctx, http.MethodPost, "/v1/reporting_webhooks", body, &out)
		switch {
		case err == nil:
			return out, nil
		case wait < 0 && ctx.Err() != nil:
			return Webhook{}, fmt.Errorf("%w: %w", ErrUncertain, err)
		case wait < 0:
			return Webhook{}, err
		case wait == 0:
			return Webhook{}, fmt.Errorf("%w: %w", ErrUncertain, err)
		case attempt >= c.attempts:
			return Webhook{}, fmt.Errorf("appapi: gave up after %d attempts: %w", c.attempts, err)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return Webhook{}, err
		}
	}
}

// UpdateWebhook replaces webhook w.ID with w and returns it as stored.
func (c *Client) UpdateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	id := w.ID
	w.ID, w.Type = 0, ""
	var out Webhook
	err := c.do(ctx, http.MethodPut, "/v1/reporting_webhooks/"+strconv.FormatInt(id, 10), w, &out)
	return out, err
}

// do makes one API call with the limiter and retries of List: 429 after
// Retry-After, 5xx and transport errors with backoff, anything else at once.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("appapi: %w", err)
		}
	}
	return c.retry(ctx, method+" "+path, func(ctx context.Context) (time.Duration, error) {
		return c.call(ctx, method, path, body, out)
	})
}

func (c *Client) call(ctx context.Context, method, path string, body []byte, out any) (time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return -1, fmt.Errorf("appapi: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	what := method + " " + path
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return 0, fmt.Errorf("appapi: %s: %w", what, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, fmt.Errorf("appapi: %s: read response: %w", what, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusCreated:
	case resp.StatusCode == http.StatusTooManyRequests:
		return max(parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), time.Second),
			fmt.Errorf("appapi: %s: 429 Too Many Requests", what)
	case resp.StatusCode >= 500:
		return 0, fmt.Errorf("appapi: %s: HTTP %d", what, resp.StatusCode)
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		return -1, fmt.Errorf("%w: %s: HTTP %d", ErrUnauthorized, what, resp.StatusCode)
	case resp.StatusCode == http.StatusNotFound:
		return -1, fmt.Errorf("%w: %s", ErrNotFound, what)
	default:
		return -1, fmt.Errorf("appapi: %s: HTTP %d: %.200s", what, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return -1, fmt.Errorf("appapi: %s: unexpected response: %w", what, err)
		}
	}
	return 0, nil
}
