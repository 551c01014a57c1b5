// Package secretstore reads and adds versions of a Secret Manager secret,
// the two things `cioevents connect` and `cioevents doctor` do with the
// signing keys. Store is the seam: Google is the real client, and
// secretstorefake serves the same gRPC API in process for tests.
package secretstore

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors the Store methods wrap; their messages name the permission or the
// secret, never a secret value.
var (
	ErrPermission = errors.New("permission denied")
	ErrNotFound   = errors.New("not found")
)

// Store is the part of Secret Manager cioevents uses.
type Store interface {
	// Access returns the data of version ("latest" or a number) of secret
	// and the version's number.
	Access(ctx context.Context, secret, version string) (data []byte, number string, err error)
	// Add stores data as a new version of secret and returns its number.
	Add(ctx context.Context, secret string, data []byte) (number string, err error)
}

// Google is Store over the Secret Manager API.
type Google struct {
	client  *secretmanager.Client
	project string
}

// New connects to Secret Manager for project (Application Default
// Credentials unless opts say otherwise).
func New(ctx context.Context, project string, opts ...option.ClientOption) (*Google, error) {
	c, err := secretmanager.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("secretstore: %w", err)
	}
	return &Google{client: c, project: project}, nil
}

// Close releases the connection.
func (g *Google) Close() error { return g.client.Close() }

func (g *Google) secret(id string) string { return "projects/" + g.project + "/secrets/" + id }

// Access implements Store.
func (g *Google) Access(ctx context.Context, secret, version string) ([]byte, string, error) {
	resp, err := g.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{
		Name: g.secret(secret) + "/versions/" + version})
	if err != nil {
		return nil, "", classify(err, "read version "+version+" of secret "+secret, "secretmanager.versions.access")
	}
	if p := resp.GetPayload(); p.DataCrc32C != nil && int64(crc32.Checksum(p.Data, castagnoli)) != p.GetDataCrc32C() {
		return nil, "", fmt.Errorf("secretstore: secret %s: payload damaged in transit (CRC32C mismatch)", secret)
	}
	return resp.GetPayload().GetData(), Number(resp.GetName()), nil
}

// Add implements Store.
func (g *Google) Add(ctx context.Context, secret string, data []byte) (string, error) {
	crc := int64(crc32.Checksum(data, castagnoli))
	v, err := g.client.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
		Parent: g.secret(secret), Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &crc}})
	if err != nil {
		return "", classify(err, "add a version to secret "+secret, "secretmanager.versions.add")
	}
	return Number(v.GetName()), nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Number is the last part of a version's resource name.
func Number(name string) string { return name[strings.LastIndex(name, "/")+1:] }

func classify(err error, what, permission string) error {
	switch status.Code(err) {
	case codes.PermissionDenied:
		return fmt.Errorf("secretstore: %s: %w: your credentials need %s (roles/secretmanager.admin, or secretAccessor to read and secretVersionAdder to add)",
			what, ErrPermission, permission)
	case codes.NotFound:
		return fmt.Errorf("secretstore: %s: %w (was terraform apply run, with this project?)", what, ErrNotFound)
	case codes.Unauthenticated:
		return fmt.Errorf("secretstore: %s: no valid credentials (run gcloud auth application-default login): %w", what, err)
	}
	return fmt.Errorf("secretstore: %s: %w", what, err)
}
