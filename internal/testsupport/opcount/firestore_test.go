package opcount

import (
	"context"
	"io"
	"testing"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

func TestFirestoreCounterCommit(t *testing.T) {
	create := &firestorepb.Write{Operation: &firestorepb.Write_Update{Update: &firestorepb.Document{Name: "a"}},
		CurrentDocument: &firestorepb.Precondition{ConditionType: &firestorepb.Precondition_Exists{Exists: false}}}
	update := &firestorepb.Write{Operation: &firestorepb.Write_Update{Update: &firestorepb.Document{Name: "d"}},
		CurrentDocument: &firestorepb.Precondition{ConditionType: &firestorepb.Precondition_UpdateTime{}}}
	del := &firestorepb.Write{Operation: &firestorepb.Write_Delete{Delete: "d"}}
	for _, tc := range []struct {
		name                         string
		writes                       []*firestorepb.Write
		fail                         bool
		wantWrites, wantTTL, wantDel int64
	}{
		{"create", []*firestorepb.Write{create}, false, 1, 1, 0},
		{"update with precondition", []*firestorepb.Write{update}, false, 1, 1, 0},
		{"two documents written, one deleted", []*firestorepb.Write{create, update, update, del}, false, 3, 2, 1},
		{"failed commit is not billed", []*firestorepb.Write{update}, true, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Firestore{}
			invoke := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				if tc.fail {
					return context.Canceled
				}
				return nil
			}
			_ = c.Unary(context.Background(), "/google.firestore.v1.Firestore/Commit",
				&firestorepb.CommitRequest{Writes: tc.writes}, &firestorepb.CommitResponse{}, nil, invoke)
			if c.Writes() != tc.wantWrites || c.TTLDeletes() != tc.wantTTL || c.Deletes() != tc.wantDel || c.RPCs() != 1 {
				t.Errorf("writes %d, documents for TTL %d, deletes %d, rpcs %d; want %d %d %d 1", c.Writes(), c.TTLDeletes(),
					c.Deletes(), c.RPCs(), tc.wantWrites, tc.wantTTL, tc.wantDel)
			}
		})
	}
}

// fakeStream replays responses, then io.EOF.
type fakeStream struct {
	grpc.ClientStream
	replies []any
}

func (s *fakeStream) SendMsg(any) error { return nil }
func (s *fakeStream) RecvMsg(m any) error {
	if len(s.replies) == 0 {
		return io.EOF
	}
	r := s.replies[0]
	s.replies = s.replies[1:]
	proto.Merge(m.(proto.Message), r.(proto.Message))
	return nil
}

func TestFirestoreCounterReads(t *testing.T) {
	found := &firestorepb.BatchGetDocumentsResponse{Result: &firestorepb.BatchGetDocumentsResponse_Found{Found: &firestorepb.Document{}}}
	missing := &firestorepb.BatchGetDocumentsResponse{Result: &firestorepb.BatchGetDocumentsResponse_Missing{Missing: "d"}}
	doc := &firestorepb.RunQueryResponse{Document: &firestorepb.Document{}}
	empty := &firestorepb.RunQueryResponse{}
	for _, tc := range []struct {
		name    string
		query   bool
		replies []any
		want    int64
	}{
		{"lookup found", false, []any{found}, 1},
		{"lookup missing is billed", false, []any{missing}, 1},
		{"query of two", true, []any{doc, doc, empty}, 2},
		{"empty query is billed one read", true, []any{empty}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Firestore{}
			s, _ := c.Stream(context.Background(), nil, nil, "m",
				func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
					return &fakeStream{replies: tc.replies}, nil
				})
			if tc.query {
				_ = s.SendMsg(&firestorepb.RunQueryRequest{})
			}
			for {
				var err error
				if tc.query {
					err = s.RecvMsg(&firestorepb.RunQueryResponse{})
				} else {
					err = s.RecvMsg(&firestorepb.BatchGetDocumentsResponse{})
				}
				if err != nil {
					break
				}
			}
			if got := c.Reads(); got != tc.want {
				t.Errorf("reads %d, want %d", got, tc.want)
			}
		})
	}
}
