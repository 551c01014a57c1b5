package pipeline

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cioevents/cioevents/shared/ledger"
)

// opCounter counts Firestore operations as Firestore bills them: each
// write in a commit, each document a batch get returns (found or missing).
type opCounter struct {
	mu            sync.Mutex
	writes, reads int
}

func (c *opCounter) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if r, ok := req.(*pb.CommitRequest); ok {
		c.mu.Lock()
		c.writes += len(r.Writes)
		c.mu.Unlock()
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (c *opCounter) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	return &countingStream{ClientStream: s, c: c}, err
}

type countingStream struct {
	grpc.ClientStream
	c *opCounter
}

func (s *countingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if r, ok := m.(*pb.BatchGetDocumentsResponse); ok && err == nil && r.Result != nil {
		s.c.mu.Lock()
		s.c.reads++
		s.c.mu.Unlock()
	}
	return err
}

// emulatorOwner is the credential the Firestore emulator expects.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}
func (emulatorOwner) RequireTransportSecurity() bool { return false }

func (c *opCounter) take() (writes, reads int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	writes, reads = c.writes, c.reads
	c.writes, c.reads = 0, 0
	return writes, reads
}

// The ledger's cost per event, counted at the Firestore API: an event
// without actions (most events) costs one read and one write, an event
// with actions two writes; a duplicate delivery one read. Strict mode pays
// a write per step on top.
func TestLedgerOperationsPerEvent(t *testing.T) {
	cases := []struct {
		fixture       string
		strict        bool
		writes, reads int
	}{
		{"events/email.delivered.json", false, 1, 1},
		{"events/email.sent.json", false, 1, 1},
		{"events/email.bounced.json", false, 2, 0},
		{"events/email.opened.json", false, 2, 0},
		{"malformed/truncated.json", false, 1, 1},
		{"events/email.delivered.json", true, 3, 0},
		{"events/email.bounced.json", true, 4, 0},
	}
	for _, tc := range cases {
		t.Run(mode(tc.strict)+"/"+tc.fixture, func(t *testing.T) {
			r := newRig(t, firestoreLedger)
			counter := &opCounter{}
			// The client dials the emulator itself and drops dial options,
			// so the counting connection is dialled here, as it does.
			conn, err := grpc.NewClient(os.Getenv("FIRESTORE_EMULATOR_HOST"),
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithPerRPCCredentials(emulatorOwner{}),
				grpc.WithChainUnaryInterceptor(counter.unary), grpc.WithChainStreamInterceptor(counter.stream))
			if err != nil {
				t.Fatal(err)
			}
			client, err := firestore.NewClient(context.Background(), project, option.WithGRPCConn(conn))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Close() })
			f := ledger.NewFirestore(client, fmt.Sprintf("ops_%d", collSeq.Add(1)), testLease)
			r.p.Ledger, r.p.RecordEachStep = f, tc.strict
			m := fixture(t, tc.fixture)
			if _, err := r.p.Process(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			if w, rd := counter.take(); w != tc.writes || rd != tc.reads {
				t.Errorf("first delivery: %d writes, %d reads; want %d and %d", w, rd, tc.writes, tc.reads)
			}
			res, err := r.p.Process(context.Background(), m)
			if err != nil || res.Outcome != OutcomeDuplicate {
				t.Fatalf("second delivery: %+v, %v", res, err)
			}
			// Lean mode reads first; strict mode's Create fails and it reads.
			wantW := 0
			if tc.strict || tc.reads == 0 {
				wantW = 1
			}
			if w, rd := counter.take(); w != wantW || rd != 1 {
				t.Errorf("duplicate delivery: %d writes, %d reads; want %d and 1", w, rd, wantW)
			}
		})
	}
}
