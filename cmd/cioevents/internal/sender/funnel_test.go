package sender_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/sender"
	"github.com/cioevents/cioevents/shared/event"
)

var update = flag.Bool("update", false, "rewrite testdata/funnel/deliveries.ndjson from the generator")

// funnelFile is the committed sample of deliveries that form funnels.
var funnelFile = filepath.Join("..", "..", "..", "..", "testdata", sender.DirFunnel, "deliveries.ndjson")

// A sample message: who it is from (the IDs the names catalog knows), when
// its deliveries are sent and how people answer it.
type sampleMessage struct {
	data     map[string]any // campaign/broadcast/newsletter/transactional and action/content IDs
	subject  string
	links    []string
	n        int
	send     func(rng *rand.Rand, i int) time.Time
	openRate float64 // of delivered
	clickOf  float64 // of opened
	// openDelay is the median delay from delivery to a human open.
	openDelay time.Duration
}

var (
	day0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday
	// domains: the mailbox providers' share of the sample's recipients.
	domains = []struct {
		domain string
		weight int
	}{
		{"gmail.com", 34}, {"outlook.com", 10}, {"hotmail.com", 8}, {"yahoo.com", 10}, {"icloud.com", 12},
		{"gmx.de", 6}, {"web.de", 4}, {"example.com", 10}, {"example.org", 6},
	}
	// bounces are real SMTP replies with RFC 3463 enhanced status codes:
	// hard (5.1.1), mailbox full (4.2.2 and 5.2.2) and policy (5.7.1).
	bounces = []string{
		"550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces.",
		"452 4.2.2 The email account that you tried to reach is over quota. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp",
		"554 5.7.1 Service unavailable; Client host [198.51.100.23] blocked using zen.spamhaus.org",
		"550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table", // quotes the recipient
		"552 5.2.2 Mailbox full: the recipient's mailbox has exceeded its storage allocation",
	}
)

func i64(v int64) int64 { return v }

func sampleMessages() []sampleMessage {
	return []sampleMessage{
		{
			// A triggered campaign: a few sends a day, all day long.
			data:    map[string]any{"campaign_id": i64(42), "action_id": i64(117), "journey_id": "01KE0CAMPAIGN42JOURNEY0000"},
			subject: "Day 3: three tips to get started with Acme",
			links:   []string{"https://acme.example.com/guide?utm_campaign=onboarding", "https://acme.example.com/invite?utm_campaign=onboarding"},
			n:       24,
			send: func(rng *rand.Rand, i int) time.Time {
				return day0.AddDate(0, 0, i%5).Add(7*time.Hour + time.Duration(rng.IntN(15*3600))*time.Second)
			},
			openRate: 0.50, clickOf: 0.20, openDelay: 3 * time.Hour,
		},
		{
			// An evening broadcast: everyone at 21:30, most opens after midnight.
			data:    map[string]any{"broadcast_id": i64(14), "action_id": i64(301), "trigger_id": i64(7)},
			subject: "Black Friday starts early for you",
			links:   []string{"https://shop.example.com/black-friday?utm_campaign=bf", "https://shop.example.com/account/preferences"},
			n:       16,
			send: func(rng *rand.Rand, i int) time.Time {
				return day0.AddDate(0, 0, 1).Add(21*time.Hour + 30*time.Minute + time.Duration(i*20+rng.IntN(20))*time.Second)
			},
			openRate: 0.45, clickOf: 0.15, openDelay: 9 * time.Hour,
		},
		{
			// A newsletter, Thursday at 18:00.
			data:    map[string]any{"newsletter_id": i64(88), "content_id": i64(1)},
			subject: "December product newsletter",
			links:   []string{"https://acme.example.com/blog/december", "https://acme.example.com/changelog", "https://acme.example.com/events"},
			n:       16,
			send: func(rng *rand.Rand, i int) time.Time {
				return day0.AddDate(0, 0, 3).Add(18*time.Hour + time.Duration(i*15+rng.IntN(15))*time.Second)
			},
			openRate: 0.40, clickOf: 0.12, openDelay: 5 * time.Hour,
		},
		{
			// A transactional message: answered within minutes.
			data:    map[string]any{"transactional_message_id": i64(3)},
			subject: "Reset your password",
			links:   []string{"https://app.acme.example.com/reset?t=redacted"},
			n:       8,
			send: func(rng *rand.Rand, i int) time.Time {
				return day0.AddDate(0, 0, i%5).Add(8*time.Hour + time.Duration(rng.IntN(14*3600))*time.Second)
			},
			openRate: 0.80, clickOf: 0.60, openDelay: 4 * time.Minute,
		},
	}
}

// funnelSample generates the deliveries: sent, then delivered or bounced;
// then maybe opened (a machine open for most Apple Mail recipients), clicked
// (the first click of a link scanner now and then), unsubscribed, spammed.
// It is deterministic; the committed file is its output.
func funnelSample() [][]byte {
	rng := rand.New(rand.NewPCG(25, 7))
	type ev struct {
		at   time.Time
		body []byte
	}
	var evs []ev
	var totalWeight int
	for _, d := range domains {
		totalWeight += d.weight
	}
	person := 0
	bounced := 0
	spams, unsubs, opens := 0, 0, 0
	for _, m := range sampleMessages() {
		for i := range m.n {
			person++
			w := rng.IntN(totalWeight)
			domain := domains[0].domain
			for _, d := range domains {
				if w < d.weight {
					domain = d.domain
					break
				}
				w -= d.weight
			}
			email := fmt.Sprintf("sample.user%02d@%s", person, domain)
			cust := fmt.Sprintf("u_%d", 1000+person)
			cio := fmt.Sprintf("f00d%08x", rng.Uint32())
			delivery := deliveryID(rng)
			data := func(extra map[string]any) map[string]any {
				d := map[string]any{"delivery_id": delivery, "customer_id": cust, "recipient": email, "subject": m.subject,
					"identifiers": map[string]any{"id": cust, "email": email, "cio_id": cio}}
				for k, v := range m.data {
					d[k] = v
				}
				for k, v := range extra {
					d[k] = v
				}
				return d
			}
			add := func(metric string, at time.Time, extra map[string]any) {
				at = at.Truncate(time.Second)
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false) // "<" as Customer.io writes it, not \u003c
				err := enc.Encode(struct {
					EventID    string         `json:"event_id"`
					ObjectType string         `json:"object_type"`
					Metric     string         `json:"metric"`
					Timestamp  int64          `json:"timestamp"`
					Data       map[string]any `json:"data"`
				}{ulid(rng, at), "email", metric, at.Unix(), data(extra)})
				if err != nil {
					panic(err)
				}
				evs = append(evs, ev{at, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))})
			}
			sent := m.send(rng, i)
			add("sent", sent, nil)
			// A few bounces: one in about fourteen deliveries, spread over
			// the messages, each with its own SMTP reply.
			if (person%14 == 5) && bounced < len(bounces) {
				msg := bounces[bounced]
				if strings.Contains(msg, "%s") {
					msg = fmt.Sprintf(msg, email)
				}
				add("bounced", sent.Add(time.Duration(5+rng.IntN(55))*time.Second), map[string]any{"failure_message": msg})
				bounced++
				continue
			}
			delivered := sent.Add(time.Duration(2+rng.IntN(40)) * time.Second)
			add("delivered", delivered, nil)
			apple := domain == "icloud.com"
			var opened time.Time
			switch {
			case apple && rng.Float64() < 0.8:
				// Apple Mail Privacy Protection fetches the pixel at once.
				opened = delivered.Add(time.Duration(30+rng.IntN(300)) * time.Second)
				add("opened", opened, map[string]any{"proxied": true, "prefetched": false, "synthetic": false})
			case rng.Float64() < m.openRate:
				// Log-normal delays around the median, some a day or two.
				d := time.Duration(float64(m.openDelay) * math.Exp(rng.NormFloat64()*1.1))
				opened = delivered.Add(max(d, 20*time.Second))
				add("opened", opened, map[string]any{"proxied": false, "prefetched": false, "synthetic": false})
			}
			link := rng.IntN(len(m.links))
			switch {
			case !opened.IsZero() && rng.Float64() < m.clickOf:
				add("clicked", opened.Add(time.Duration(10+rng.IntN(1800))*time.Second),
					map[string]any{"href": m.links[link], "link_id": i64(int64(link + 1)), "machine": false})
			case opened.IsZero() && (domain == "example.com" || domain == "outlook.com") && rng.Float64() < 0.25:
				// A corporate link scanner follows the link seconds after delivery.
				add("clicked", delivered.Add(time.Duration(3+rng.IntN(20))*time.Second),
					map[string]any{"href": m.links[link], "link_id": i64(int64(link + 1)), "machine": true})
			}
			if !opened.IsZero() {
				// A complaint in every fifteen opens or so (two in all),
				// hours later; an unsubscribe in every ten (three).
				opens++
				switch {
				case opens%15 == 7 && spams < 2:
					add("spammed", opened.Add(time.Duration(1+rng.IntN(40))*time.Hour), nil)
					spams++
				case opens%10 == 4 && unsubs < 3:
					add("unsubscribed", opened.Add(time.Duration(1+rng.IntN(600))*time.Second), nil)
					unsubs++
				}
			}
		}
	}
	slices.SortStableFunc(evs, func(a, b ev) int { return a.at.Compare(b.at) })
	out := make([][]byte, len(evs))
	for i, e := range evs {
		out[i] = e.body
	}
	return out
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulid is a ULID of at (milliseconds) and 80 random bits, as Customer.io's
// event IDs are.
func ulid(rng *rand.Rand, at time.Time) string {
	ms := uint64(at.UnixMilli())
	var b strings.Builder
	for i := 9; i >= 0; i-- {
		b.WriteByte(crockford[(ms>>(uint(i)*5))&31])
	}
	for range 16 {
		b.WriteByte(crockford[rng.IntN(32)])
	}
	return b.String()
}

func deliveryID(rng *rand.Rand) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, 24)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// TestFunnelSampleFile: the committed file is the generator's output.
func TestFunnelSampleFile(t *testing.T) {
	want := append(bytes.Join(funnelSample(), []byte("\n")), '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(funnelFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(funnelFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(funnelFile)
	if err != nil {
		t.Fatalf("%v; generate it with: go test ./cmd/cioevents/internal/sender -run TestFunnelSampleFile -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the generator; regenerate with: go test ./cmd/cioevents/internal/sender -run TestFunnelSampleFile -update", funnelFile)
	}
}

var enhanced = regexp.MustCompile(`^[245]\d\d [245]\.\d{1,3}\.\d{1,3} `)

// TestFunnelSampleForms: the sample is what it claims. Every body parses as
// a known pair; every delivery is sent first and moves forward in time; no
// (delivery, metric) repeats; some opens fall on a later day than their
// send; bounces carry an SMTP reply with an enhanced status code; every ID
// has a name in the App API fake's sample catalog; and the send-day funnel
// has plausible rates.
func TestFunnelSampleForms(t *testing.T) {
	raw, err := os.ReadFile(funnelFile)
	if err != nil {
		t.Fatal(err)
	}
	type delivery struct {
		sent    time.Time
		metrics map[string]time.Time
	}
	ds := map[string]*delivery{}
	ids := map[string]bool{}
	crossMidnight, bounceCodes := 0, 0
	for n, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		ev, err := event.Parse(line)
		if err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if !ev.Known() {
			t.Errorf("line %d: %s.%s is not a known pair", n+1, ev.ObjectType, ev.Metric)
		}
		if ids[ev.EventID] {
			t.Errorf("line %d: event_id %s repeats", n+1, ev.EventID)
		}
		ids[ev.EventID] = true
		at := time.Unix(ev.Timestamp, 0).UTC()
		id := ev.Data.DeliveryID.Value
		d := ds[id]
		if ev.Metric == "sent" {
			if d != nil {
				t.Errorf("line %d: %s sent twice", n+1, id)
			}
			d = &delivery{sent: at, metrics: map[string]time.Time{}}
			ds[id] = d
		} else if d == nil {
			t.Fatalf("line %d: %s before its sent event", n+1, ev.Metric)
		}
		if _, dup := d.metrics[ev.Metric]; dup {
			t.Errorf("line %d: %s %s repeats", n+1, id, ev.Metric)
		}
		if at.Before(d.sent) {
			t.Errorf("line %d: %s before the send", n+1, ev.Metric)
		}
		d.metrics[ev.Metric] = at
		if ev.Metric == "opened" && at.Truncate(24*time.Hour).After(d.sent.Truncate(24*time.Hour)) {
			crossMidnight++
		}
		if ev.Metric == "bounced" {
			if !enhanced.MatchString(ev.Data.FailureMessage.Value) {
				t.Errorf("line %d: bounce %q has no SMTP reply code and enhanced status code", n+1, ev.Data.FailureMessage.Value)
			}
			bounceCodes++
		}
		for _, missing := range unnamed(line) {
			t.Errorf("line %d: %s has no name in appapifake.SampleCatalog", n+1, missing)
		}
	}
	if crossMidnight < 5 {
		t.Errorf("%d opens fall on a later day than their send, want several", crossMidnight)
	}
	if bounceCodes < 3 {
		t.Errorf("%d bounces, want a few", bounceCodes)
	}
	// The funnel by send-day cohort, over all deliveries.
	count := func(metric string) int {
		n := 0
		for _, d := range ds {
			if _, ok := d.metrics[metric]; ok {
				n++
			}
		}
		return n
	}
	sent, delivered, opened, clicked := len(ds), count("delivered"), count("opened"), count("clicked")
	spammed := count("spammed")
	t.Logf("sample: %d deliveries: %d delivered, %d opened, %d clicked, %d bounced, %d spammed, %d unsubscribed; %d opens after midnight",
		sent, delivered, opened, clicked, count("bounced"), spammed, count("unsubscribed"), crossMidnight)
	rate := func(a, b int) float64 { return float64(a) / float64(b) }
	for _, c := range []struct {
		name     string
		got      float64
		min, max float64
	}{
		{"delivered/sent", rate(delivered, sent), 0.90, 0.98},
		{"opened/delivered", rate(opened, delivered), 0.35, 0.65},
		{"clicked/delivered", rate(clicked, delivered), 0.08, 0.30},
		{"spammed/delivered", rate(spammed, delivered), 0.005, 0.05},
	} {
		if c.got < c.min || c.got > c.max {
			t.Errorf("%s = %.1f %%, want %.0f–%.0f %% (a plausible first report)", c.name, 100*c.got, 100*c.min, 100*c.max)
		}
	}
}

// unnamed lists the IDs of a body that the App API fake's sample catalog
// does not name, so a report on the samples would show a bare ID.
func unnamed(body []byte) []string {
	var env struct{ Data map[string]json.RawMessage }
	if json.Unmarshal(body, &env) != nil || env.Data == nil {
		return nil
	}
	ix := sampleNames()
	var out []string
	for key, kind := range map[string]string{
		"campaign_id": "campaign", "broadcast_id": "broadcast", "newsletter_id": "newsletter",
		"transactional_message_id": "transactional", "action_id": "action", "content_id": "content",
	} {
		v, ok := env.Data[key]
		if !ok || string(v) == "null" {
			continue
		}
		id := strings.Trim(string(v), `"`)
		if !ix[kind+"/"+id] {
			out = append(out, key+" "+id)
		}
	}
	slices.Sort(out)
	return out
}

// sampleNames is the set of kind/id the sample catalog names.
func sampleNames() map[string]bool {
	c := appapifake.SampleCatalog()
	out := map[string]bool{}
	for kind, ms := range map[string][]appapifake.Message{
		"campaign": c.Campaigns, "broadcast": c.Broadcasts, "newsletter": c.Newsletters, "transactional": c.Transactional,
	} {
		for _, m := range ms {
			out[kind+"/"+strconv.FormatInt(m.ID, 10)] = true
			child := "action"
			if kind == "newsletter" {
				child = "content"
			}
			for _, a := range m.Actions {
				out[child+"/"+strconv.FormatInt(a.ID, 10)] = true
			}
		}
	}
	return out
}

// Every ID any sample body carries has a name in the sample catalog, so
// `names refresh --sample` names everything `send --all` sends.
func TestSampleIDsHaveNames(t *testing.T) {
	for _, dir := range []string{sender.DirEvents, "odd"} {
		files, err := filepath.Glob(filepath.Join("..", "..", "..", "..", "testdata", dir, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, missing := range unnamed(b) {
				t.Errorf("%s: %s has no name in appapifake.SampleCatalog", f, missing)
			}
		}
	}
}
