// Package secretstorefake is an in-process gRPC fake of the two Secret
// Manager methods cioevents calls, AccessSecretVersion and AddSecretVersion,
// for the official client (secretmanager.NewClient with ClientOptions). It
// checks resource names and CRC32C as the service does, answers NotFound for
// a secret that was not created and PermissionDenied where Deny says so, and
// records every call.
package secretstorefake

import (
	"context"
	"fmt"
	"hash/crc32"
	"net"
	"regexp"
	"strconv"
	"sync"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Server is the fake. Safe for concurrent use.
type Server struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer

	addr string
	gs   *grpc.Server

	mu       sync.Mutex
	versions map[string][][]byte // secret resource name → versions, 1-based by index+1
	denied   map[string]bool     // method name
	calls    []string
}

// New starts a fake on a free local port.
func New() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{addr: ln.Addr().String(), gs: grpc.NewServer(), versions: map[string][][]byte{},
		denied: map[string]bool{}}
	secretmanagerpb.RegisterSecretManagerServiceServer(s.gs, s)
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

// AddSecret makes secret (e.g. "projects/p/secrets/s") exist, with the
// given versions.
func (s *Server) AddSecret(name string, versions ...[]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versions[name] = append(s.versions[name], versions...)
}

// Versions returns the data of every version of secret, oldest first.
func (s *Server) Versions(name string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.versions[name]...)
}

// Deny makes method ("AccessSecretVersion", "AddSecretVersion") answer
// PermissionDenied, as for credentials without the permission.
func (s *Server) Deny(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[method] = true
}

// Calls lists the methods called, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

var (
	secretRE  = regexp.MustCompile(`^projects/[^/]+/secrets/[A-Za-z0-9_-]{1,255}$`)
	versionRE = regexp.MustCompile(`^(projects/[^/]+/secrets/[A-Za-z0-9_-]{1,255})/versions/(latest|[1-9][0-9]*)$`)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (s *Server) enter(method string) error {
	s.calls = append(s.calls, method)
	if s.denied[method] {
		return status.Errorf(codes.PermissionDenied, "Permission '%s' denied for resource (or it may not exist).",
			map[string]string{"AccessSecretVersion": "secretmanager.versions.access",
				"AddSecretVersion": "secretmanager.versions.add"}[method])
	}
	return nil
}

// AccessSecretVersion implements the service method.
func (s *Server) AccessSecretVersion(_ context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("AccessSecretVersion"); err != nil {
		return nil, err
	}
	m := versionRE.FindStringSubmatch(req.GetName())
	if m == nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid resource name %q", req.GetName())
	}
	vs, ok := s.versions[m[1]]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", m[1])
	}
	n := len(vs)
	if m[2] != "latest" {
		n, _ = strconv.Atoi(m[2])
	}
	if n < 1 || n > len(vs) {
		return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found.", req.GetName())
	}
	name := fmt.Sprintf("%s/versions/%d", m[1], n)
	crc := int64(crc32.Checksum(vs[n-1], castagnoli))
	return &secretmanagerpb.AccessSecretVersionResponse{Name: name,
		Payload: &secretmanagerpb.SecretPayload{Data: vs[n-1], DataCrc32C: &crc}}, nil
}

// AddSecretVersion implements the service method.
func (s *Server) AddSecretVersion(_ context.Context, req *secretmanagerpb.AddSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("AddSecretVersion"); err != nil {
		return nil, err
	}
	if !secretRE.MatchString(req.GetParent()) {
		return nil, status.Errorf(codes.InvalidArgument, "invalid resource name %q", req.GetParent())
	}
	if _, ok := s.versions[req.GetParent()]; !ok {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found.", req.GetParent())
	}
	p := req.GetPayload()
	if len(p.GetData()) > 64<<10 {
		return nil, status.Error(codes.InvalidArgument, "Secret Payload cannot exceed 65536 bytes.")
	}
	if p.DataCrc32C != nil && int64(crc32.Checksum(p.GetData(), castagnoli)) != p.GetDataCrc32C() {
		return nil, status.Error(codes.DataLoss, "Checksum mismatch.")
	}
	s.versions[req.GetParent()] = append(s.versions[req.GetParent()], append([]byte(nil), p.GetData()...))
	return &secretmanagerpb.SecretVersion{Name: fmt.Sprintf("%s/versions/%d", req.GetParent(), len(s.versions[req.GetParent()])),
		State: secretmanagerpb.SecretVersion_ENABLED}, nil
}
