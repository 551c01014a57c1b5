package main

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"-layout", "a", "-push", "r"}, {"-layout", "a", "extra"}, {"-nope"}} {
		if err := run(context.Background(), args); !errors.Is(err, errUsage) {
			t.Errorf("jobimage %q: %v, want the usage error", args, err)
		}
	}
}

// -layout writes the image CI and Cloud Build build, offline, as an OCI
// image layout holding one image.
func TestLayout(t *testing.T) {
	t.Setenv("GOPROXY", "off")
	t.Chdir("../../../..")
	dir := t.TempDir()
	if err := run(context.Background(), []string{"-layout", dir}); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("the layout holds %d images, want 1", len(m.Manifests))
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Architecture != "amd64" || cfg.OS != "linux" {
		t.Errorf("the default image is %s/%s, want linux/amd64 (what Cloud Run runs)", cfg.OS, cfg.Architecture)
	}
}
