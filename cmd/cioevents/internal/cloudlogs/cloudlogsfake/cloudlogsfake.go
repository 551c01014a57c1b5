// Package cloudlogsfake is an in-process gRPC fake of Cloud Logging's
// ListLogEntries for the official client. It understands exactly the filter
// cloudlogs.Filter writes (service, minimum severity, start time), applies
// it, orders newest first and honours page_size; any other filter is
// refused as invalid.
package cloudlogsfake

import (
	"context"
	"net"
	"regexp"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/api/option"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Server is the fake. Safe for concurrent use.
type Server struct {
	loggingpb.UnimplementedLoggingServiceV2Server
	addr string
	gs   *grpc.Server

	mu      sync.Mutex
	entries []stored
	calls   int
}

type stored struct {
	service string
	e       *loggingpb.LogEntry
}

// New starts a fake on a free local port.
func New() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{addr: ln.Addr().String(), gs: grpc.NewServer()}
	loggingpb.RegisterLoggingServiceV2Server(s.gs, s)
	go s.gs.Serve(ln)
	return s, nil
}

// ClientOptions point the official client at the fake.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(s.addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))}
}

// Close stops the fake.
func (s *Server) Close() { s.gs.Stop() }

// Add stores a JSON log line of Cloud Run service at t; severity is a
// LogSeverity name (WARNING, ERROR, ...).
func (s *Server) Add(service string, t time.Time, severity string, payload map[string]any) {
	p, err := structpb.NewStruct(payload)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = append(s.entries, stored{service: service, e: &loggingpb.LogEntry{
		Timestamp: timestamppb.New(t), Severity: ltype.LogSeverity(ltype.LogSeverity_value[severity]),
		Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: p}}})
}

// Calls counts ListLogEntries requests.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

var filterRE = regexp.MustCompile(`^resource\.type = "cloud_run_revision" AND resource\.labels\.service_name = "([^"]+)" AND severity >= ([A-Z]+) AND timestamp >= "([^"]+)"$`)

// ListLogEntries implements the service method.
func (s *Server) ListLogEntries(_ context.Context, req *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	m := filterRE.FindStringSubmatch(req.GetFilter())
	if m == nil {
		return nil, status.Errorf(codes.InvalidArgument, "cloudlogsfake: unsupported filter %q", req.GetFilter())
	}
	if len(req.GetResourceNames()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "resource_names is required")
	}
	since, err := time.Parse(time.RFC3339, m[3])
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "bad timestamp %q", m[3])
	}
	floor := ltype.LogSeverity_value[m[2]]
	var out []*loggingpb.LogEntry
	for _, st := range s.entries {
		if st.service == m[1] && int32(st.e.GetSeverity()) >= floor && !st.e.GetTimestamp().AsTime().Before(since) {
			out = append(out, st.e)
		}
	}
	slices.SortFunc(out, func(a, b *loggingpb.LogEntry) int {
		return b.GetTimestamp().AsTime().Compare(a.GetTimestamp().AsTime())
	})
	if n := int(req.GetPageSize()); n > 0 && len(out) > n {
		out = out[:n]
	}
	return &loggingpb.ListLogEntriesResponse{Entries: out}, nil
}
