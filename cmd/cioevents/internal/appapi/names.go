package appapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// The App API endpoints that name what the reporting webhooks only number
// (contract §8, from Customer.io's OpenAPI description of the App API):
//
//	GET /v1/campaigns                           {"campaigns": [...]}
//	GET /v1/campaigns/{campaign_id}/actions     {"actions": [...]}     404: no such campaign
//	GET /v1/broadcasts                          {"broadcasts": [...]}
//	GET /v1/broadcasts/{broadcast_id}/actions   {"actions": [...]}     404: no such broadcast
//	GET /v1/newsletters                         {"newsletters": [...]}
//	GET /v1/newsletters/{newsletter_id}/contents {"contents": [...]}   404: no such newsletter
//	GET /v1/transactional                       {"messages": [...]}
//
// The description gives these lists no paging: one response holds them all.
// Other App API lists page with a `next` cursor sent back as `start` (GET
// /v1/messages); a response that carries one is followed the same way, so a
// workspace that gets paged later loses nothing. Each request goes through
// the client's limiter (10/s) and its retries: 429 after Retry-After, 5xx
// and lost responses with backoff.

// Ref is an action as a campaign or broadcast list names it: its ID and
// type, no name.
type Ref struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

// Campaign is one item of GET /v1/campaigns (the fields names need).
type Campaign struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Active  bool   `json:"active"`
	Updated int64  `json:"updated"`
	// Actions lists the campaign's actions without names; nil when the
	// response left the key out (then only the actions call tells).
	Actions *[]Ref `json:"actions"`
}

// Broadcast is one item of GET /v1/broadcasts.
type Broadcast struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Active  bool   `json:"active"`
	Updated int64  `json:"updated"`
	Actions *[]Ref `json:"actions"`
}

// Newsletter is one item of GET /v1/newsletters.
type Newsletter struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Updated int64  `json:"updated"`
	SentAt  *int64 `json:"sent_at"`
	// ContentIDs are the newsletter's variants (languages, A/B tests); nil
	// when the response left the key out.
	ContentIDs *[]int64 `json:"content_ids"`
}

// Transactional is one item of GET /v1/transactional: a transactional
// message (the template a delivery's transactional_message_id names).
type Transactional struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	UpdatedAt int64  `json:"updated_at"`
}

// Action is one item of GET /v1/campaigns/{id}/actions or
// /v1/broadcasts/{id}/actions: a tile of the workflow. Its body, sender and
// subject are in the response too; names read none of them.
type Action struct {
	ID             int64  `json:"id"`
	CampaignID     *int64 `json:"campaign_id"`
	BroadcastID    *int64 `json:"broadcast_id"`
	ParentActionID *int64 `json:"parent_action_id"`
	Name           string `json:"name"`
	Type           string `json:"type"`
	Updated        int64  `json:"updated"`
}

// Content is one item of GET /v1/newsletters/{id}/contents: a variant of a
// newsletter, which its deliveries carry as content_id.
type Content struct {
	ID           int64  `json:"id"`
	NewsletterID *int64 `json:"newsletter_id"`
	Name         string `json:"name"`
	Type         string `json:"type"`
}

// Campaigns lists the workspace's campaigns.
func (c *Client) Campaigns(ctx context.Context) ([]Campaign, error) {
	return listNamed[Campaign](ctx, c, "/v1/campaigns", "campaigns")
}

// CampaignActions lists campaign id's actions; a campaign deleted since it
// was listed is an error wrapping ErrNotFound.
func (c *Client) CampaignActions(ctx context.Context, id int64) ([]Action, error) {
	return listNamed[Action](ctx, c, "/v1/campaigns/"+strconv.FormatInt(id, 10)+"/actions", "actions")
}

// Broadcasts lists the workspace's broadcasts.
func (c *Client) Broadcasts(ctx context.Context) ([]Broadcast, error) {
	return listNamed[Broadcast](ctx, c, "/v1/broadcasts", "broadcasts")
}

// BroadcastActions lists broadcast id's actions (ErrNotFound: deleted).
func (c *Client) BroadcastActions(ctx context.Context, id int64) ([]Action, error) {
	return listNamed[Action](ctx, c, "/v1/broadcasts/"+strconv.FormatInt(id, 10)+"/actions", "actions")
}

// Newsletters lists the workspace's newsletters.
func (c *Client) Newsletters(ctx context.Context) ([]Newsletter, error) {
	return listNamed[Newsletter](ctx, c, "/v1/newsletters", "newsletters")
}

// NewsletterContents lists newsletter id's variants (ErrNotFound: deleted).
func (c *Client) NewsletterContents(ctx context.Context, id int64) ([]Content, error) {
	return listNamed[Content](ctx, c, "/v1/newsletters/"+strconv.FormatInt(id, 10)+"/contents", "contents")
}

// TransactionalMessages lists the workspace's transactional messages.
func (c *Client) TransactionalMessages(ctx context.Context) ([]Transactional, error) {
	return listNamed[Transactional](ctx, c, "/v1/transactional", "messages")
}

// maxPages stops a server that keeps answering with a cursor.
const maxPages = 10_000

// listNamed GETs path and the pages its `next` cursor leads to, and decodes
// the array under key. A response without key is an error: a list the
// client cannot read must not look like an empty one.
func listNamed[T any](ctx context.Context, c *Client, path, key string) ([]T, error) {
	var out []T
	cursor := ""
	for range maxPages {
		p := path
		if cursor != "" {
			p += "?" + url.Values{"start": {cursor}}.Encode()
		}
		var wire map[string]json.RawMessage
		if err := c.do(ctx, http.MethodGet, p, nil, &wire); err != nil {
			return nil, err
		}
		raw, ok := wire[key]
		if !ok {
			return nil, fmt.Errorf("appapi: GET %s: response has no %q list", path, key)
		}
		var items []T
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("appapi: GET %s: %s: %w", path, key, err)
		}
		out = append(out, items...)
		cursor = ""
		if n, ok := wire["next"]; ok {
			_ = json.Unmarshal(n, &cursor) // null or a number: no cursor
		}
		if cursor == "" || len(items) == 0 {
			return out, nil
		}
	}
	return nil, errors.New("appapi: GET " + path + ": the cursor never ended")
}
