package tfcheck

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// OnStateBucket is the "on" of an access table row granted on the bucket
// that holds the Terraform state: the operator's `terraform output` reads
// it, and the module does not declare it (it exists before the first apply,
// docs/deploy.md).
const OnStateBucket = "state_bucket"

// OperatorGrants renders the operator rows of the access table as the
// commands that grant them by hand (the snippet in docs/deploy.md), one
// command per role and resource, each under a comment naming the calls that
// need it. Resource names are the module's defaults (name_prefix
// "cioevents"), as the rest of docs/deploy.md spells them; $OPS is the
// operators' principal, $PROJECT_ID the project.
func (m *Module) OperatorGrants(calls []Call) (string, error) {
	type grant struct{ role, on string }
	var order []grant
	why := map[grant][]string{}
	for _, c := range calls {
		if c.Member != Operator {
			continue
		}
		g := grant{c.Role, c.On}
		if _, ok := why[g]; !ok {
			order = append(order, g)
		}
		why[g] = append(why[g], strings.ReplaceAll(c.Call, "`", ""))
	}
	if len(order) == 0 {
		return "", fmt.Errorf("tfcheck: the access table has no %s rows", Operator)
	}
	var b strings.Builder
	b.WriteString("OPS=group:cioevents-operators@example.com\n")
	for _, g := range order {
		cmd, err := m.grantCommand(g.role, g.on)
		if err != nil {
			return "", err
		}
		for _, line := range wrapComment(strings.Join(slices.Compact(why[g]), "; "), 110) {
			b.WriteString(line + "\n")
		}
		b.WriteString(cmd + "\n")
	}
	return b.String(), nil
}

// grantCommand is the gcloud or bq command that grants role on the resource
// on to $OPS.
func (m *Module) grantCommand(role, on string) (string, error) {
	member := `--member="$OPS" --role=` + role
	if on == "project" {
		return `gcloud projects add-iam-policy-binding "$PROJECT_ID" ` + member + ` --condition=None`, nil
	}
	if on == OnStateBucket {
		return `gcloud storage buckets add-iam-policy-binding "gs://$PROJECT_ID-tfstate" ` + member, nil
	}
	typ, _, _ := strings.Cut(on, ".")
	nameAttr := map[string]string{
		"google_bigquery_dataset":      "dataset_id",
		"google_pubsub_topic":          "name",
		"google_pubsub_subscription":   "name",
		"google_secret_manager_secret": "secret_id",
	}[typ]
	if nameAttr == "" {
		return "", fmt.Errorf("tfcheck: no grant command for an operator grant on %s: add one to grantCommand", on)
	}
	b := m.resources[on]
	if b == nil {
		return "", fmt.Errorf("tfcheck: operator grant on %s, which the module does not declare", on)
	}
	a := attr(b, nameAttr)
	if a == nil {
		return "", fmt.Errorf("tfcheck: %s has no %s", on, nameAttr)
	}
	v, diags := a.Expr.Value(m.evalContext())
	if diags.HasErrors() || v.Type() != cty.String || !v.IsKnown() || v.IsNull() {
		return "", fmt.Errorf("tfcheck: %s.%s does not evaluate from the defaults: %s", on, nameAttr, diags.Error())
	}
	name := v.AsString()
	switch typ {
	case "google_bigquery_dataset":
		return "bq query --use_legacy_sql=false \"GRANT \\`" + role + "\\` ON SCHEMA \\`$PROJECT_ID." + name + "\\` TO '$OPS'\"", nil
	case "google_pubsub_topic":
		return "gcloud pubsub topics add-iam-policy-binding " + name + " " + member, nil
	case "google_pubsub_subscription":
		return "gcloud pubsub subscriptions add-iam-policy-binding " + name + " " + member, nil
	default: // google_secret_manager_secret
		return "gcloud secrets add-iam-policy-binding " + name + " " + member, nil
	}
}

// wrapComment renders text as shell comment lines of at most width.
func wrapComment(text string, width int) []string {
	var out []string
	line := "#"
	for _, w := range strings.Fields(text) {
		if len(line) > 1 && len(line)+1+len(w) > width {
			out = append(out, line)
			line = "#"
		}
		line += " " + w
	}
	return append(out, line)
}
