package names

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
)

// Source is the App API as a refresh reads it (*appapi.Client).
type Source interface {
	Campaigns(ctx context.Context) ([]appapi.Campaign, error)
	CampaignActions(ctx context.Context, id int64) ([]appapi.Action, error)
	Broadcasts(ctx context.Context) ([]appapi.Broadcast, error)
	BroadcastActions(ctx context.Context, id int64) ([]appapi.Action, error)
	Newsletters(ctx context.Context) ([]appapi.Newsletter, error)
	NewsletterContents(ctx context.Context, id int64) ([]appapi.Content, error)
	TransactionalMessages(ctx context.Context) ([]appapi.Transactional, error)
}

var _ Source = (*appapi.Client)(nil)

// Fetched is what one read of the App API found.
type Fetched struct {
	Records []Record
	// Count is the number of records per kind.
	Count map[Kind]int
	// Lists and Children are the endpoint calls made: the 4 lists, and one
	// actions (contents) call per campaign, broadcast or newsletter whose
	// list entry shows any. Retries are not in these (see the command's
	// wire count).
	Lists, Children int
	// Gone counts parents deleted between the list and their actions call
	// (a 404): their own name is kept, their actions are not refreshed.
	Gone int
	// Duplicates counts records whose key an earlier record of the same
	// read already had (the first is kept): an action ID under two parents.
	Duplicates int
}

// Fetch reads every name of the workspace from src. Every name passes
// through clean first (the CIO_PII policy's free-text rule: a name is
// typed by people and may quote an address). at stamps refreshed_at.
//
// The calls it makes: 4 lists (campaigns, broadcasts, newsletters,
// transactional messages) + one per campaign, broadcast and newsletter with
// at least one action or content. A parent whose list entry shows none is
// not asked.
func Fetch(ctx context.Context, src Source, workspace string, at time.Time, clean func(string) string) (Fetched, error) {
	f := Fetched{Count: map[Kind]int{}}
	at = at.UTC().Truncate(time.Microsecond) // BigQuery's precision
	seen := map[Key]bool{}
	add := func(kind Kind, id int64, name string, parent *int64) {
		r := Record{Workspace: workspace, Kind: kind, ID: strconv.FormatInt(id, 10), RefreshedAt: at}
		if name != "" {
			n := name
			if clean != nil {
				n = clean(name)
			}
			r.Name = &n
		}
		if parent != nil {
			p := strconv.FormatInt(*parent, 10)
			r.ParentID = &p
		}
		if seen[r.Key()] {
			f.Duplicates++
			return
		}
		seen[r.Key()] = true
		f.Records = append(f.Records, r)
		f.Count[kind]++
	}
	// children runs one actions/contents call; a 404 means the parent went
	// away since the list, which is no reason to fail the refresh.
	children := func(what string, id int64, call func() error) error {
		f.Children++
		err := call()
		if errors.Is(err, appapi.ErrNotFound) {
			f.Gone++
			return nil
		}
		if err != nil {
			return fmt.Errorf("names: %s %d: %w", what, id, err)
		}
		return nil
	}

	f.Lists++
	campaigns, err := src.Campaigns(ctx)
	if err != nil {
		return f, fmt.Errorf("names: campaigns: %w", err)
	}
	for _, c := range campaigns {
		add(Campaign, c.ID, c.Name, nil)
	}
	for _, c := range campaigns {
		if c.Actions != nil && len(*c.Actions) == 0 {
			continue
		}
		err := children("campaign", c.ID, func() error {
			as, err := src.CampaignActions(ctx, c.ID)
			for _, a := range as {
				add(Action, a.ID, a.Name, &c.ID)
			}
			return err
		})
		if err != nil {
			return f, err
		}
	}

	f.Lists++
	broadcasts, err := src.Broadcasts(ctx)
	if err != nil {
		return f, fmt.Errorf("names: broadcasts: %w", err)
	}
	for _, b := range broadcasts {
		add(Broadcast, b.ID, b.Name, nil)
	}
	for _, b := range broadcasts {
		if b.Actions != nil && len(*b.Actions) == 0 {
			continue
		}
		err := children("broadcast", b.ID, func() error {
			as, err := src.BroadcastActions(ctx, b.ID)
			for _, a := range as {
				add(Action, a.ID, a.Name, &b.ID)
			}
			return err
		})
		if err != nil {
			return f, err
		}
	}

	f.Lists++
	newsletters, err := src.Newsletters(ctx)
	if err != nil {
		return f, fmt.Errorf("names: newsletters: %w", err)
	}
	for _, n := range newsletters {
		add(Newsletter, n.ID, n.Name, nil)
	}
	for _, n := range newsletters {
		if n.ContentIDs != nil && len(*n.ContentIDs) == 0 {
			continue
		}
		err := children("newsletter", n.ID, func() error {
			cs, err := src.NewsletterContents(ctx, n.ID)
			for _, c := range cs {
				add(Content, c.ID, c.Name, &n.ID)
			}
			return err
		})
		if err != nil {
			return f, err
		}
	}

	f.Lists++
	messages, err := src.TransactionalMessages(ctx)
	if err != nil {
		return f, fmt.Errorf("names: transactional messages: %w", err)
	}
	for _, m := range messages {
		add(Transactional, m.ID, m.Name, nil)
	}
	return f, nil
}
