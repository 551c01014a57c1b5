package funnel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The Terraform output is the Go URL over the module's project and dataset,
// and names every data source the views template creates.
func TestLookerStudioOutput(t *testing.T) {
	tf, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "terraform", "modules", "cioevents", "outputs.tf"))
	if err != nil {
		t.Fatal(err)
	}
	want := LookerStudioURL("${var.project_id}", "${google_bigquery_dataset.events.dataset_id}")
	if !strings.Contains(string(tf), `"`+want+`"`) {
		t.Errorf("outputs.tf has no looker_studio_url of\n%s", want)
	}
	names := map[string]bool{"deliveries": true}
	for _, v := range Views() {
		names[v.Name] = true
	}
	for _, tb := range LookerTables {
		if !names[tb] {
			t.Errorf("Looker data source %s is neither the deliveries table nor a view", tb)
		}
	}
}
