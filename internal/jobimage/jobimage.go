// Package jobimage builds the container image of the cioevents jobs (the
// nightly backfill, and any other job that runs the CLI): the cioevents
// binary, static (CGO_ENABLED=0) with CA roots compiled in
// (golang.org/x/crypto/x509roots/fallback, imported by cmd/cioevents), as
// the only file of an empty base, run as a non-root user.
//
// It needs no base image and no registry, so the build works offline: CI
// builds the image and runs its binary (jobimage_test.go), and the plan build
// of cloudbuild.yaml builds the same image and pushes it (Push) to the
// Artifact Registry repository Terraform creates, then plans with its digest.
//
// It is build tooling, neither deployed nor a command of the CLI, so it lives
// under internal/ (with its entry point in internal/jobimage/cmd/jobimage)
// and keeps go-containerregistry out of the cioevents binary.
package jobimage

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// Entrypoint is where the binary is in the image.
	Entrypoint = "/cioevents"
	// User is the numeric uid:gid the job runs as: not root, and numeric
	// because the image has no /etc/passwd to look a name up in. 65532 is
	// the distroless images' "nonroot".
	User = "65532:65532"
	// Home is the job's working directory and $HOME, owned by User: backfill
	// writes its checkpoint file to the working directory.
	Home = "/home/nonroot"
	// Package is what is built into the image.
	Package = "./cmd/cioevents"
)

// epoch is every timestamp of the image (file times, created): the same
// source and toolchain give the same digest.
var epoch = time.Unix(0, 0).UTC()

// Options says what to build.
type Options struct {
	Dir    string // the module root (holds go.mod); "" is the working directory
	GOARCH string // the image's architecture; "" is amd64, what Cloud Run runs
	Go     string // the go command; "" finds go on PATH
}

// Build compiles cmd/cioevents for linux and returns the image holding it.
// The image's layers stay in memory; write or push it before it is dropped.
func Build(ctx context.Context, o Options) (v1.Image, error) {
	arch := o.GOARCH
	if arch == "" {
		arch = "amd64"
	}
	goCmd := o.Go
	if goCmd == "" {
		goCmd = "go"
	}
	tmp, err := os.MkdirTemp("", "jobimage")
	if err != nil {
		return nil, fmt.Errorf("jobimage: %w", err)
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "cioevents")
	// -trimpath and no VCS stamp, so the binary does not depend on where the
	// checkout is; -s -w drop the symbol tables a job never reads.
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, Package)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("jobimage: go build %s: %w\n%s", Package, err, stderr.String())
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("jobimage: %w", err)
	}
	return FromBinary(binary, arch)
}

// FromBinary returns the image of a linux binary already built for arch.
func FromBinary(binary []byte, arch string) (v1.Image, error) {
	layerTar, err := rootfs(binary)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("jobimage: layer: %w", err)
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: arch,
		OS:           "linux",
		Created:      v1.Time{Time: epoch},
		Config: v1.Config{
			Entrypoint: []string{Entrypoint},
			User:       User,
			WorkingDir: Home,
			Env:        []string{"HOME=" + Home},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("jobimage: config: %w", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		History:   v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "internal/jobimage: " + Package},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, fmt.Errorf("jobimage: %w", err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON), nil
}

// rootfs is the image's only layer: the binary, the user's home and a /tmp.
func rootfs(binary []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	uid, gid := 65532, 65532
	entries := []struct {
		hdr  tar.Header
		body []byte
	}{
		{tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(Entrypoint, "/"), Mode: 0o755, Size: int64(len(binary))}, binary},
		{tar.Header{Typeflag: tar.TypeDir, Name: "home/", Mode: 0o755}, nil},
		{tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(Home, "/") + "/", Mode: 0o700, Uid: uid, Gid: gid}, nil},
		{tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777}, nil},
	}
	for _, e := range entries {
		h := e.hdr
		h.ModTime, h.Format = epoch, tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("jobimage: layer: %w", err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("jobimage: layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("jobimage: layer: %w", err)
	}
	return buf.Bytes(), nil
}

// ErrNotFound is returned by Binary when the image has no entrypoint file.
var ErrNotFound = errors.New("jobimage: the image holds no " + Entrypoint)

// Binary reads the entrypoint's file back out of an image (of any origin:
// built, read from a layout, pulled), as a container runtime would unpack it.
func Binary(img v1.Image) ([]byte, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("jobimage: reading the image: %w", err)
		}
		if "/"+strings.TrimPrefix(h.Name, "./") == Entrypoint && h.Typeflag == tar.TypeReg {
			return io.ReadAll(tr)
		}
	}
}
