// Package opcount counts the operations Google Cloud services bill, at the
// wire: whatever the code above does, a Firestore write is a Write in a
// committed request and a read is a document a lookup returned. The cost
// benchmark (cmd/cioevents/internal/cost) and the ledger's operation tests use it.
package opcount

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Firestore counts billable Firestore operations from the RPCs of a
// client connection it intercepts (see Dial).
type Firestore struct {
	reads, writes, deletes, rpcs atomic.Int64
	// docs are the documents written: the TTL policy deletes each once,
	// however it was created (a create, a set in a transaction).
	docs sync.Map
}

// Reset sets every count back to zero.
func (c *Firestore) Reset() {
	c.reads.Store(0)
	c.writes.Store(0)
	c.deletes.Store(0)
	c.rpcs.Store(0)
	c.docs.Clear()
}

// TTLDeletes is the number of distinct documents written: the deletes a
// TTL policy will make.
func (c *Firestore) TTLDeletes() int64 {
	var n int64
	c.docs.Range(func(any, any) bool { n++; return true })
	return n
}

func (c *Firestore) Unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
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

func (c *Firestore) commit(ws []*firestorepb.Write) {
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

func (c *Firestore) Stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
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
	c       *Firestore
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

// Reads, Writes, Deletes and RPCs are the counts so far.
func (c *Firestore) Reads() int64   { return c.reads.Load() }
func (c *Firestore) Writes() int64  { return c.writes.Load() }
func (c *Firestore) Deletes() int64 { return c.deletes.Load() }
func (c *Firestore) RPCs() int64    { return c.rpcs.Load() }

// Dial connects to the Firestore emulator at addr through c. The Firestore
// client dials the emulator itself and then ignores dial options, so a
// counted client is made with option.WithGRPCConn on this connection.
func (c *Firestore) Dial(addr string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
		grpc.WithChainUnaryInterceptor(c.Unary), grpc.WithChainStreamInterceptor(c.Stream))
	if err != nil {
		return nil, fmt.Errorf("opcount: firestore emulator %s: %w", addr, err)
	}
	return conn, nil
}

// emulatorOwner is the credential the Firestore emulator expects, as the
// client sends it.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}
func (emulatorOwner) RequireTransportSecurity() bool { return false }
