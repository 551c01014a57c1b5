// Command jobimage builds the cioevents job image (package
// internal/jobimage) from the module in the working directory, offline, and
// writes it as an OCI layout or pushes it by digest:
//
//	go run ./internal/jobimage/cmd/jobimage -layout DIR
//	go run ./internal/jobimage/cmd/jobimage -push REGISTRY/PROJECT/REPOSITORY/cioevents
//
// -push prints the pinned reference (REPOSITORY@sha256:...) on stdout, the
// value of the Terraform variable job_image; it authenticates with
// Application Default Credentials (in Cloud Build, the build's account).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/google"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/cioevents/cioevents/internal/jobimage"
)

// errUsage marks a command line that names no single output (exit 2).
var errUsage = errors.New("give exactly one of -layout DIR and -push REPOSITORY")

func main() {
	err := run(context.Background(), os.Args[1:])
	switch {
	case err == nil:
	case errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(os.Stderr, "jobimage:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "jobimage:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("jobimage", flag.ContinueOnError)
	dir := fl.String("layout", "", "write the image as an OCI image layout in this directory")
	repo := fl.String("push", "", "push the image by digest to this repository and print its pinned reference")
	arch := fl.String("arch", "amd64", "the image's architecture (GOARCH)")
	if err := fl.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if (*dir == "") == (*repo == "") || fl.NArg() != 0 {
		return errUsage
	}
	img, err := jobimage.Build(ctx, jobimage.Options{GOARCH: *arch})
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	fmt.Fprintf(os.Stderr, "jobimage: built %s (%d bytes compressed)\n", d, size)
	if *dir != "" {
		p, err := layout.Write(*dir, empty.Index)
		if err != nil {
			return err
		}
		return p.AppendImage(img)
	}
	auth, err := google.NewEnvAuthenticator(ctx)
	if err != nil {
		return fmt.Errorf("credentials for %s: %w", *repo, err)
	}
	ref, err := jobimage.Push(ctx, img, *repo, auth)
	if err != nil {
		return err
	}
	fmt.Println(ref)
	return nil
}
