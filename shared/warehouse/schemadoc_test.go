package warehouse

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/internal/testsupport/gendoc"
)

// schemaDoc is where the column tables are shown; they are generated from
// the committed terraform/modules/cioevents/schema/*.json (which TestCommittedSchemaFiles holds
// to the Go definition), so the doc cannot describe another schema than the
// one Terraform creates.
const schemaDoc = "../../docs/schema.md"

var schemaPart = gendoc.Part{Name: "schema", Regen: "go test ./shared/warehouse -update"}

// TestSchemaDoc fails when docs/schema.md's column tables differ from
// terraform/modules/cioevents/schema/*.json; -update rewrites them.
func TestSchemaDoc(t *testing.T) {
	body, err := renderSchemaDoc(schemaDir, []string{"events", "rejected_events"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gendoc.Check(schemaDoc, schemaPart, body, *update); err != nil {
		t.Error(err)
	}
}

// renderSchemaDoc writes one Markdown table per table, columns in schema
// order (the order BigQuery shows and new columns are appended in).
func renderSchemaDoc(dir string, tables []string) ([]byte, error) {
	var b strings.Builder
	for i, table := range tables {
		raw, err := os.ReadFile(filepath.Join(dir, table+".json"))
		if err != nil {
			return nil, err
		}
		var cols []struct {
			Name, Type, Mode, Description string
		}
		if err := json.Unmarshal(raw, &cols); err != nil {
			return nil, fmt.Errorf("%s.json: %w", table, err)
		}
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "### `%s`\n\n", table)
		b.WriteString("| column | type | mode | meaning |\n|---|---|---|---|\n")
		for _, c := range cols {
			mode := c.Mode
			if mode == "" {
				mode = "NULLABLE"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", c.Name, c.Type, mode, strings.ReplaceAll(c.Description, "|", `\|`))
		}
	}
	return []byte(b.String()), nil
}
