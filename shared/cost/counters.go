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

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
)

// The counters see what the services bill, at the wire: whatever the code
// above them does, a Firestore write is a Write in a committed request and a
// Pub/Sub byte is a byte of a published message.

// firestoreCounter counts billable Firestore operations from the RPCs.
type firestoreCounter struct {
	reads, writes, deletes, rpcs atomic.Int64
	// docs are the documents written: the TTL policy deletes each once,
	// however it was created (a create, a set in a transaction).
	docs sync.Map
}

func (c *firestoreCounter) reset() {
	c.reads.Store(0)
	c.writes.Store(0)
	c.deletes.Store(0)
	c.rpcs.Store(0)
	c.docs.Clear()
}

// ttlDeletes is the number of distinct documents written.
func (c *firestoreCounter) ttlDeletes() int64 {
	var n int64
	c.docs.Range(func(any, any) bool { n++; return true })
	return n
}

func (c *firestoreCounter) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	c.rpcs.Add(1)
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err != nil {
		// A failed commit (a lost precondition, an existing document)
		// writes nothing and is not billed as a write.
		return err
	}
	switch r := req.(type) {
	case *firestorepb.CommitRequest:
		c.commit(r.GetWrites())
	case *firestorepb.BatchWriteRequest:
		// Each write of a batch succeeds or fails on its own.
		st := reply.(*firestorepb.BatchWriteResponse).GetStatus()
		var ok []*firestorepb.Write
		for i, w := range r.GetWrites() {
			if i < len(st) && st[i].GetCode() == 0 {
				ok = append(ok, w)
			}
		}
		c.commit(ok)
	case *firestorepb.GetDocumentRequest:
		c.reads.Add(1)
	}
	return nil
}

func (c *firestoreCounter) commit(ws []*firestorepb.Write) {
	for _, w := range ws {
		if w.GetDelete() != "" {
			c.deletes.Add(1)
			continue
		}
		c.writes.Add(1)
		name := w.GetUpdate().GetName()
		if name == "" {
			name = w.GetTransform().GetDocument()
		}
		c.docs.Store(name, true)
	}
}

func (c *firestoreCounter) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	c.rpcs.Add(1)
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &countedStream{ClientStream: s, c: c}, nil
}

// countedStream counts the documents BatchGetDocuments and RunQuery return:
// each is a read, and so is a lookup that found nothing or a query that
// matched nothing (Firestore bills a minimum of one read).
type countedStream struct {
	grpc.ClientStream
	c       *firestoreCounter
	query   bool
	queried int
	done    bool
}

func (s *countedStream) SendMsg(m any) error {
	if _, ok := m.(*firestorepb.RunQueryRequest); ok {
		s.query = true
	}
	return s.ClientStream.SendMsg(m)
}

func (s *countedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		if err == io.EOF && s.query && s.queried == 0 && !s.done {
			s.done = true
			s.c.reads.Add(1)
		}
		return err
	}
	switch r := m.(type) {
	case *firestorepb.BatchGetDocumentsResponse:
		if r.GetFound() != nil || r.GetMissing() != "" {
			s.c.reads.Add(1)
		}
	case *firestorepb.RunQueryResponse:
		if r.GetDocument() != nil {
			s.queried++
			s.c.reads.Add(1)
		}
	}
	return nil
}

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
