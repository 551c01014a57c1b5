package jobimage_test

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cioevents/cioevents/internal/jobimage"
)

// built is the image of this checkout for this machine's architecture (its
// binary must run here), built once per test binary (the go build is the
// slow part; its cache makes a second build cheap).
var built struct {
	once sync.Once
	img  v1.Image
	err  error
}

func image(t *testing.T) v1.Image {
	t.Helper()
	built.once.Do(func() {
		built.img, built.err = build(t)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.img
}

// build builds offline: the module cache is all it may read.
func build(t *testing.T) (v1.Image, error) {
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "-mod=readonly")
	return jobimage.Build(context.Background(), jobimage.Options{Dir: "../..", GOARCH: runtime.GOARCH})
}

// CI's check of the image: written as an OCI layout and read back, it has
// the binary as its entrypoint, runs it as a non-root user, and the binary
// inside is static, carries its CA roots, and answers `cioevents -h`.
func TestImageRunsCioevents(t *testing.T) {
	img := image(t)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
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
	read, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := read.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want %s", mt, types.OCIManifestSchema1)
	}
	cfg, err := read.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Config.Entrypoint; len(got) != 1 || got[0] != "/cioevents" {
		t.Errorf("entrypoint %q, want [/cioevents]", got)
	}
	if u := cfg.Config.User; u == "" || u == "0" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root") {
		t.Errorf("the image runs as %q, want a non-root user", u)
	}
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", cfg.OS, cfg.Architecture, runtime.GOARCH)
	}
	layers, err := read.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Errorf("%d layers, want the binary's one on an empty base", len(layers))
	}

	binary, err := jobimage.Binary(read)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "cioevents")
	if err := os.WriteFile(bin, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Errorf("the binary needs a dynamic loader, which an empty base lacks (CGO_ENABLED=0)")
		}
	}
	f.Close()
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	roots := false
	for _, d := range info.Deps {
		roots = roots || d.Path == "golang.org/x/crypto/x509roots/fallback"
	}
	if !roots {
		t.Error("the binary has no embedded CA roots (golang.org/x/crypto/x509roots/fallback), and the image has no CA files")
	}
	// As the job would start it: no environment beyond what the image sets.
	cmd := exec.Command(bin, "-h")
	cmd.Env = append([]string{}, cfg.Config.Env...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cioevents -h in the image: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("usage: cioevents <command>")) {
		t.Errorf("cioevents -h printed no usage:\n%s", out)
	}
	size, _ := layers[0].Size()
	t.Logf("image %s: layer %d bytes compressed, binary %d bytes", m.Manifests[0].Digest, size, len(binary))
}

// The same source and toolchain give the same digest: the plan's digest can
// be rebuilt and checked, and a rerun pushes nothing new.
func TestImageIsReproducible(t *testing.T) {
	first := image(t)
	again, err := build(t)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := first.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two builds of one checkout: %s and %s", d1, d2)
	}
}

// Push puts the image in a registry by digest and returns the reference the
// plan pins; pulled by that reference it is the same image. The registry is
// go-containerregistry's in-memory one on loopback.
func TestPushByDigest(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/my-project/cioevents/cioevents"
	img, err := jobimage.FromBinary([]byte("#!/bin/true\n"), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := jobimage.Push(context.Background(), img, repo, authn.Anonymous)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if want := repo + "@" + d.String(); ref != want {
		t.Errorf("Push returned %q, want %q", ref, want)
	}
	parsed, err := name.NewDigest(ref, name.Insecure)
	if err != nil {
		t.Fatalf("the returned reference does not parse as a digest reference: %v", err)
	}
	pulled, err := remote.Image(parsed)
	if err != nil {
		t.Fatal(err)
	}
	if pd, _ := pulled.Digest(); pd != d {
		t.Errorf("pulled %s, pushed %s", pd, d)
	}
	binary, err := jobimage.Binary(pulled)
	if err != nil || string(binary) != "#!/bin/true\n" {
		t.Errorf("the pulled image holds %q (%v), want the pushed binary", binary, err)
	}
	if _, err := jobimage.Push(context.Background(), img, "not a repository!", authn.Anonymous); err == nil {
		t.Error("Push accepted an invalid repository name")
	}
}
