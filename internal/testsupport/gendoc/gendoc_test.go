package gendoc_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/internal/testsupport/gendoc"
)

func TestCheck(t *testing.T) {
	p := gendoc.Part{Name: "things", Regen: "go test ./things -update"}
	doc := "# Title\n\nProse.\n\n" + p.Begin() + "\n\n| a |\n|---|\n| 1 |\n\n" + p.End() + "\n\nMore prose.\n"
	for _, tc := range []struct {
		name    string
		doc     string
		body    string
		update  bool
		wantErr error  // nil: no error
		errText string // substring of a non-ErrDrift error
		after   string // the file afterwards
	}{
		{name: "equal", doc: doc, body: "| a |\n|---|\n| 1 |\n", after: doc},
		{name: "equal without trailing newline", doc: doc, body: "| a |\n|---|\n| 1 |", after: doc},
		{name: "drift", doc: doc, body: "| a |\n|---|\n| 2 |\n", wantErr: gendoc.ErrDrift, after: doc},
		{name: "update", doc: doc, body: "| a |\n|---|\n| 2 |\n", update: true,
			after: strings.Replace(doc, "| 1 |", "| 2 |", 1)},
		{name: "no begin", doc: "# Title\n" + p.End() + "\n", body: "x", errText: "no line"},
		{name: "no end", doc: "# Title\n" + p.Begin() + "\nx\n", body: "x", errText: "no line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "doc.md")
			if err := os.WriteFile(path, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			err := gendoc.Check(path, p, []byte(tc.body), tc.update)
			switch {
			case tc.errText != "":
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v, want %q", err, tc.errText)
				}
				return
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), p.Regen) {
					t.Fatalf("err = %v, want %v naming %q", err, tc.wantErr, p.Regen)
				}
			case err != nil:
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.after {
				t.Errorf("file afterwards:\n%s\nwant:\n%s", got, tc.after)
			}
		})
	}
}
