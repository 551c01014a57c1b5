package cost

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
)

// The counters see what the services bill, at the wire: whatever the code
// above them does, a Firestore write is a Write in a committed request and a
// Pub/Sub byte is a byte of a published message.

// minBillable is Pub/Sub's minimum billable volume per publish, push or
// pull request, in bytes.
const minBillable = 1000

// timestampBytes is what Pub/Sub adds to a message's volume for its
// publish timestamp.
const timestampBytes = 20

// messageBytes is a message's billable volume without the request minimum.
func messageBytes(data []byte, attrs map[string]string, id string) int64 {
	n := int64(len(data) + timestampBytes + len(id))
	for k, v := range attrs {
		n += int64(len(k) + len(v))
	}
	return n
}

// pubsubCounter counts publish requests and their billable bytes.
type pubsubCounter struct {
	requests, messages, bytes, billable atomic.Int64
}

func (c *pubsubCounter) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	r, ok := req.(*pubsubpb.PublishRequest)
	if !ok || err != nil {
		return err
	}
	ids := reply.(*pubsubpb.PublishResponse).GetMessageIds()
	var n int64
	for i, m := range r.GetMessages() {
		id := ""
		if i < len(ids) {
			id = ids[i]
		}
		n += messageBytes(m.GetData(), m.GetAttributes(), id)
	}
	c.requests.Add(1)
	c.messages.Add(int64(len(r.GetMessages())))
	c.bytes.Add(n)
	c.billable.Add(max(n, minBillable))
	return nil
}

// minRowBytes is BigQuery's minimum billed size of a streamed row.
const minRowBytes = 1024

// bigQueryCounter counts the insertAll requests of the BigQuery client and
// the bytes of the rows they carry.
type bigQueryCounter struct {
	next                            http.RoundTripper
	requests, rows, bytes, billable atomic.Int64
}

func (c *bigQueryCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	if r.Body != nil && strings.HasSuffix(r.URL.Path, "/insertAll") {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		var req struct {
			Rows []struct {
				JSON json.RawMessage `json:"json"`
			} `json:"rows"`
		}
		if json.Unmarshal(b, &req) == nil {
			for _, row := range req.Rows {
				n := int64(len(row.JSON))
				c.rows.Add(1)
				c.bytes.Add(n)
				c.billable.Add(max(n, minRowBytes))
			}
		}
	}
	return c.next.RoundTrip(r)
}

// countingTransport counts the requests an HTTP client makes.
type countingTransport struct {
	next     http.RoundTripper
	requests atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	return c.next.RoundTrip(r)
}

// logCounter stands in for a function's stdout: it counts the bytes and
// lines of the JSON log and keeps nothing.
type logCounter struct {
	mu           sync.Mutex
	bytes, lines int64
}

func (c *logCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.bytes += int64(len(p))
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	c.mu.Unlock()
	return len(p), nil
}

func (c *logCounter) counts() (bytes, lines int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, c.lines
}
