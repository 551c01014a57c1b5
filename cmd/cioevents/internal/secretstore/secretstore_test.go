package secretstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/secretstore"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/secretstore/secretstorefake"
)

func TestGoogleAgainstFake(t *testing.T) {
	ctx := context.Background()
	fake, err := secretstorefake.New()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fake.AddSecret("projects/p/secrets/keys", []byte("old"))
	store, err := secretstore.New(ctx, "p", fake.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	n, err := store.Add(ctx, "keys", []byte("new"))
	if err != nil || n != "2" {
		t.Fatalf("Add = %q, %v; want version 2", n, err)
	}
	for _, c := range []struct{ version, data, number string }{{"latest", "new", "2"}, {"1", "old", "1"}} {
		data, num, err := store.Access(ctx, "keys", c.version)
		if err != nil || string(data) != c.data || num != c.number {
			t.Errorf("Access(%s) = %q, %q, %v; want %q, %q", c.version, data, num, err, c.data, c.number)
		}
	}
	if _, _, err := store.Access(ctx, "nope", "latest"); !errors.Is(err, secretstore.ErrNotFound) {
		t.Errorf("missing secret: %v, want ErrNotFound", err)
	}
	fake.Deny("AddSecretVersion")
	_, err = store.Add(ctx, "keys", []byte("x"))
	if !errors.Is(err, secretstore.ErrPermission) || !strings.Contains(err.Error(), "secretmanager.versions.add") {
		t.Errorf("denied add: %v, want ErrPermission naming secretmanager.versions.add", err)
	}
}
