package jobimage

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push uploads img to the repository repo (REGISTRY/PATH, no tag) by its
// digest, and returns the reference a deployment pins: repo@sha256:....
// Pushing by digest makes a rerun harmless (the same content lands at the
// same name) and leaves no tag to move under a running job.
func Push(ctx context.Context, img v1.Image, repo string, auth authn.Authenticator, opts ...remote.Option) (string, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return "", fmt.Errorf("jobimage: repository %q: %w", repo, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("jobimage: %w", err)
	}
	ref := r.Digest(d.String())
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuth(auth)}, opts...)
	if err := remote.Write(ref, img, opts...); err != nil {
		return "", fmt.Errorf("jobimage: pushing to %s: %w", repo, err)
	}
	return ref.String(), nil
}
