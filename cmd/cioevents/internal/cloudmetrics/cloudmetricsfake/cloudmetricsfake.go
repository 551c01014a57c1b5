// Package cloudmetricsfake is an in-process gRPC fake of Cloud Monitoring's
// ListTimeSeries for the official client: it answers the filter
// cloudmetrics.Filter writes (metric type and subscription ID, nothing else)
// with the series Set stored, and refuses any other filter as the service
// refuses an invalid one.
package cloudmetricsfake

import (
	"context"
	"net"
	"regexp"
	"sync"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/api/option"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
	monitoredrespb "google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Server is the fake. Safe for concurrent use.
type Server struct {
	monitoringpb.UnimplementedMetricServiceServer
	addr string
	gs   *grpc.Server

	mu     sync.Mutex
	values map[[2]string]int64 // {metric type, subscription}
	calls  int
}

// New starts a fake on a free local port.
func New() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{addr: ln.Addr().String(), gs: grpc.NewServer(), values: map[[2]string]int64{}}
	monitoringpb.RegisterMetricServiceServer(s.gs, s)
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

// Set stores the current value of metricType for subscription.
func (s *Server) Set(metricType, subscription string, v int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[[2]string{metricType, subscription}] = v
}

// Calls counts ListTimeSeries requests.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

var filterRE = regexp.MustCompile(`^metric\.type = "([^"]+)" AND resource\.type = "pubsub_subscription" AND resource\.labels\.subscription_id = "([^"]+)"$`)

// ListTimeSeries implements the service method.
func (s *Server) ListTimeSeries(_ context.Context, req *monitoringpb.ListTimeSeriesRequest) (*monitoringpb.ListTimeSeriesResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	m := filterRE.FindStringSubmatch(req.GetFilter())
	if m == nil {
		return nil, status.Errorf(codes.InvalidArgument, "cloudmetricsfake: unsupported filter %q", req.GetFilter())
	}
	if req.GetInterval().GetEndTime() == nil {
		return nil, status.Error(codes.InvalidArgument, "interval.end_time is required")
	}
	v, ok := s.values[[2]string{m[1], m[2]}]
	if !ok {
		return &monitoringpb.ListTimeSeriesResponse{}, nil
	}
	end := req.GetInterval().GetEndTime().AsTime().Add(-time.Minute)
	return &monitoringpb.ListTimeSeriesResponse{TimeSeries: []*monitoringpb.TimeSeries{{
		Metric:   &metricpb.Metric{Type: m[1]},
		Resource: &monitoredrespb.MonitoredResource{Type: "pubsub_subscription", Labels: map[string]string{"subscription_id": m[2]}},
		Points: []*monitoringpb.Point{{Interval: &monitoringpb.TimeInterval{EndTime: timestamppb.New(end)},
			Value: &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_Int64Value{Int64Value: v}}}},
	}}}, nil
}
