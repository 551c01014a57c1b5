package tfcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// RuleAlert names the problems CheckMonitoring reports.
const RuleAlert = "alert"

// LogMetric is a google_logging_metric with its expressions evaluated as a
// plan with the variables' defaults would.
type LogMetric struct {
	Resource       string // resource name in Terraform
	Name           string // metric name, e.g. "cioevents/webhook_requests"
	Filter         string
	ValueType      string            // INT64 or DISTRIBUTION
	Labels         []string          // declared in metric_descriptor
	LabelExtractor map[string]string // label → EXTRACT(...)
	ValueExtractor string
	Where          string
}

// AlertCondition is one condition of an alert policy.
type AlertCondition struct {
	Kind              string // "threshold" or "absent"
	Filter            string
	DenominatorFilter string
	Duration          string
	AlignmentPeriods  []string
	Where             string
}

// AlertPolicy is a google_monitoring_alert_policy, evaluated.
type AlertPolicy struct {
	Resource      string
	Severity      string
	Documentation string
	Conditions    []AlertCondition
	Where         string
}

// runbookRef finds the runbook page an alert's documentation links.
var runbookRef = regexp.MustCompile(`runbooks/([a-z0-9-]+\.md)`)

// Runbook returns the file name (under docs/runbooks/) the documentation
// links, or "".
func (a AlertPolicy) Runbook() string {
	if m := runbookRef.FindStringSubmatch(a.Documentation); m != nil {
		return m[1]
	}
	return ""
}

var metricType = regexp.MustCompile(`metric\.type="([^"]+)"`)

// MetricTypes returns the metric types the policy's conditions read.
func (a AlertPolicy) MetricTypes() []string {
	var out []string
	for _, c := range a.Conditions {
		for _, f := range []string{c.Filter, c.DenominatorFilter} {
			for _, m := range metricType.FindAllStringSubmatch(f, -1) {
				out = append(out, m[1])
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// LogMetrics returns every google_logging_metric, evaluated.
func (m *Module) LogMetrics() ([]LogMetric, error) {
	var out []LogMetric
	for _, r := range m.typed("google_logging_metric") {
		lm := LogMetric{Resource: r.name, Where: where(r.block.DefRange()), LabelExtractor: map[string]string{}}
		var err error
		if lm.Name, err = m.evalString(attr(r.block, "name")); err != nil {
			return nil, fmt.Errorf("google_logging_metric.%s name: %w", r.name, err)
		}
		if lm.Filter, err = m.evalString(attr(r.block, "filter")); err != nil {
			return nil, fmt.Errorf("google_logging_metric.%s filter: %w", r.name, err)
		}
		if a := attr(r.block, "value_extractor"); a != nil {
			if lm.ValueExtractor, err = m.evalString(a); err != nil {
				return nil, fmt.Errorf("google_logging_metric.%s value_extractor: %w", r.name, err)
			}
		}
		if a := attr(r.block, "label_extractors"); a != nil {
			v, err := m.Eval(a.Expr)
			if err != nil || !v.Type().IsObjectType() && !v.Type().IsMapType() {
				return nil, fmt.Errorf("google_logging_metric.%s label_extractors: not an object (%v)", r.name, err)
			}
			for k, e := range v.AsValueMap() {
				lm.LabelExtractor[k] = e.AsString()
			}
		}
		if md := child(r.block, "metric_descriptor"); md != nil {
			if lm.ValueType, err = m.evalString(attr(md, "value_type")); err != nil {
				return nil, fmt.Errorf("google_logging_metric.%s value_type: %w", r.name, err)
			}
			for _, l := range children(md, "labels") {
				k, err := m.evalString(attr(l, "key"))
				if err != nil {
					return nil, fmt.Errorf("google_logging_metric.%s label key: %w", r.name, err)
				}
				lm.Labels = append(lm.Labels, k)
			}
		}
		out = append(out, lm)
	}
	return out, nil
}

// AlertPolicies returns every google_monitoring_alert_policy, evaluated.
func (m *Module) AlertPolicies() ([]AlertPolicy, error) {
	var out []AlertPolicy
	for _, r := range m.typed("google_monitoring_alert_policy") {
		ap := AlertPolicy{Resource: r.name, Where: where(r.block.DefRange())}
		id := "google_monitoring_alert_policy." + r.name
		var err error
		if a := attr(r.block, "severity"); a != nil {
			if ap.Severity, err = m.evalString(a); err != nil {
				return nil, fmt.Errorf("%s severity: %w", id, err)
			}
		}
		if d := child(r.block, "documentation"); d != nil {
			if ap.Documentation, err = m.evalString(attr(d, "content")); err != nil {
				return nil, fmt.Errorf("%s documentation: %w", id, err)
			}
		}
		for _, c := range children(r.block, "conditions") {
			for _, kind := range []string{"threshold", "absent"} {
				cb := child(c, "condition_"+kind)
				if cb == nil {
					continue
				}
				ac := AlertCondition{Kind: kind, Where: where(cb.DefRange())}
				if ac.Filter, err = m.evalString(attr(cb, "filter")); err != nil {
					return nil, fmt.Errorf("%s filter: %w", id, err)
				}
				if a := attr(cb, "denominator_filter"); a != nil {
					if ac.DenominatorFilter, err = m.evalString(a); err != nil {
						return nil, fmt.Errorf("%s denominator_filter: %w", id, err)
					}
				}
				if ac.Duration, err = m.evalString(attr(cb, "duration")); err != nil {
					return nil, fmt.Errorf("%s duration: %w", id, err)
				}
				for _, agg := range append(children(cb, "aggregations"), children(cb, "denominator_aggregations")...) {
					p, err := m.evalString(attr(agg, "alignment_period"))
					if err != nil {
						return nil, fmt.Errorf("%s alignment_period: %w", id, err)
					}
					ac.AlignmentPeriods = append(ac.AlignmentPeriods, p)
				}
				ap.Conditions = append(ap.Conditions, ac)
			}
		}
		out = append(out, ap)
	}
	return out, nil
}

// CheckMonitoring checks the alerting rules: every alert policy has a
// severity, notification channels, documentation linking a runbook that
// exists in runbookDir and names each metric the policy reads, and
// durations Cloud Monitoring accepts and an operator can live with; every
// log-based metric extracts exactly the labels it declares.
func (m *Module) CheckMonitoring(runbookDir string) []Problem {
	var ps []Problem
	add := func(at, format string, a ...any) {
		ps = append(ps, Problem{RuleAlert, at, fmt.Sprintf(format, a...)})
	}
	metrics, err := m.LogMetrics()
	if err != nil {
		return []Problem{{RuleAlert, m.Dir, err.Error()}}
	}
	for _, lm := range metrics {
		id := "google_logging_metric." + lm.Resource
		declared := slices.Sorted(slices.Values(lm.Labels))
		var extracted []string
		for k := range lm.LabelExtractor {
			extracted = append(extracted, k)
		}
		slices.Sort(extracted)
		if !slices.Equal(declared, extracted) {
			add(lm.Where, "%s: labels declared %v but extracted %v", id, declared, extracted)
		}
		if strings.TrimSpace(lm.Filter) == "" {
			add(lm.Where, "%s: empty filter counts every log entry in the project", id)
		}
		if lm.ValueType == "DISTRIBUTION" && lm.ValueExtractor == "" {
			add(lm.Where, "%s: a DISTRIBUTION metric needs a value_extractor", id)
		}
	}
	policies, err := m.AlertPolicies()
	if err != nil {
		return []Problem{{RuleAlert, m.Dir, err.Error()}}
	}
	for _, ap := range policies {
		id := "google_monitoring_alert_policy." + ap.Resource
		if !slices.Contains([]string{"CRITICAL", "ERROR", "WARNING"}, ap.Severity) {
			add(ap.Where, "%s: severity must be CRITICAL, ERROR or WARNING, not %q", id, ap.Severity)
		}
		if attr(m.resources["google_monitoring_alert_policy."+ap.Resource], "notification_channels") == nil {
			add(ap.Where, "%s: no notification_channels, so nobody is told", id)
		}
		if len(ap.Conditions) == 0 {
			add(ap.Where, "%s: no condition_threshold or condition_absent", id)
		}
		rb := ap.Runbook()
		switch {
		case strings.TrimSpace(ap.Documentation) == "":
			add(ap.Where, "%s: no documentation content; the notification would not say what broke", id)
		case rb == "":
			add(ap.Where, "%s: documentation links no runbooks/<name>.md", id)
		default:
			page, err := os.ReadFile(filepath.Join(runbookDir, rb))
			if err != nil {
				add(ap.Where, "%s: runbook %s: %v", id, rb, err)
				break
			}
			for _, mt := range ap.MetricTypes() {
				short := mt[strings.LastIndex(mt, "/")+1:]
				if !strings.Contains(string(page), short) {
					add(ap.Where, "%s: runbook %s does not name the metric %s", id, rb, short)
				}
			}
		}
		for _, c := range ap.Conditions {
			d, err := seconds(c.Duration)
			lo, hi := time.Duration(0), time.Hour
			if c.Kind == "absent" {
				// Cloud Monitoring's limits for absence: 2 min to 23.5 h.
				lo, hi = 2*time.Minute, 23*time.Hour+30*time.Minute
			}
			if err != nil || d < lo || d > hi || d%time.Minute != 0 {
				add(c.Where, "%s: %s duration %q must be whole minutes from %s to %s", id, c.Kind, c.Duration, lo, hi)
			}
			if len(c.AlignmentPeriods) == 0 {
				add(c.Where, "%s: condition has no aggregations; raw points make a flapping alert", id)
			}
			for _, p := range c.AlignmentPeriods {
				d, err := seconds(p)
				if err != nil || d < time.Minute || d > 24*time.Hour {
					add(c.Where, "%s: alignment_period %q must be from 60s to 86400s", id, p)
				}
			}
			if c.Kind == "absent" && len(c.AlignmentPeriods) > 0 {
				if a, _ := seconds(c.AlignmentPeriods[0]); a > d {
					add(c.Where, "%s: absence alignment_period %s is longer than its duration %s", id, a, d)
				}
			}
		}
	}
	return ps
}

// seconds parses the API's duration form, "<n>s".
func seconds(s string) (time.Duration, error) {
	if !strings.HasSuffix(s, "s") || strings.ContainsAny(s, "hm") {
		return 0, fmt.Errorf("duration %q is not <n>s", s)
	}
	return time.ParseDuration(s)
}

// --- evaluation with the variables' defaults ------------------------------------

func (m *Module) evalString(a *hclsyntax.Attribute) (string, error) {
	if a == nil {
		return "", fmt.Errorf("missing")
	}
	v, err := m.Eval(a.Expr)
	if err != nil {
		return "", err
	}
	if !v.IsWhollyKnown() || v.IsNull() {
		return "", fmt.Errorf("%s: not known without a provider", where(a.SrcRange))
	}
	v, err = convertString(v)
	if err != nil {
		return "", fmt.Errorf("%s: %w", where(a.SrcRange), err)
	}
	return v.AsString(), nil
}

func convertString(v cty.Value) (cty.Value, error) {
	switch v.Type() {
	case cty.String:
		return v, nil
	case cty.Number:
		return cty.StringVal(v.AsBigFloat().Text('f', -1)), nil
	case cty.Bool:
		if v.True() {
			return cty.StringVal("true"), nil
		}
		return cty.StringVal("false"), nil
	}
	return cty.NilVal, fmt.Errorf("not a string but %s", v.Type().FriendlyName())
}

// Eval evaluates expr as a plan would with every variable at its default:
// locals are followed, a resource's attribute is the expression written for
// it (so google_cloudfunctions2_function.receiver.name is the name the
// configuration gives), and anything only the provider knows is unknown.
func (m *Module) Eval(expr hcl.Expression) (cty.Value, error) {
	return m.eval(expr, 0)
}

func (m *Module) eval(expr hcl.Expression, depth int) (cty.Value, error) {
	return m.evalEach(expr, depth, cty.NilVal)
}

// evalEach is eval with each.key and each.value bound to the instance key of
// a for_each resource (unless each is null, as cty.NilVal is).
func (m *Module) evalEach(expr hcl.Expression, depth int, each cty.Value) (cty.Value, error) {
	if depth > 10 {
		return cty.DynamicVal, nil
	}
	vars := map[string]cty.Value{}
	locals := map[string]cty.Value{}
	resources := map[string]map[string]map[string]cty.Value{} // type → name → attr → value
	for _, t := range expr.Variables() {
		root := t.RootName()
		n, _ := attrName(t, 1)
		switch root {
		case "var":
			v := cty.DynamicVal
			if dv, ok := m.defaultOf(n); ok {
				v = dv
			}
			vars[n] = v
		case "local":
			v := cty.DynamicVal
			if a := m.locals[n]; a != nil {
				ev, err := m.eval(a.Expr, depth+1)
				if err != nil {
					return cty.NilVal, err
				}
				v = ev
			}
			locals[n] = v
		case "path", "data", "module", "count", "each", "self", "terraform":
			// Unknown here; an expression that needs them stays unknown.
		default:
			b := m.resources[root+"."+n]
			if b == nil {
				continue
			}
			if resources[root] == nil {
				resources[root] = map[string]map[string]cty.Value{}
			}
			if resources[root][n] == nil {
				resources[root][n] = map[string]cty.Value{}
			}
			an, ok := attrName(t, 2)
			if !ok {
				continue
			}
			v := cty.DynamicVal
			if a := b.Body.Attributes[an]; a != nil && b.Body.Attributes["for_each"] == nil && b.Body.Attributes["count"] == nil {
				ev, err := m.eval(a.Expr, depth+1)
				if err != nil {
					return cty.NilVal, err
				}
				v = ev
			}
			resources[root][n][an] = v
		}
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":   cty.ObjectVal(vars),
			"local": cty.ObjectVal(locals),
		},
		Functions: evalFunctions,
	}
	if !each.IsNull() {
		ctx.Variables["each"] = cty.ObjectVal(map[string]cty.Value{"key": each, "value": each})
	}
	for typ, byName := range resources {
		objs := map[string]cty.Value{}
		for n, attrs := range byName {
			objs[n] = cty.ObjectVal(attrs)
		}
		ctx.Variables[typ] = cty.ObjectVal(objs)
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("tfcheck: %s", diags.Error())
	}
	return v, nil
}

var evalFunctions = map[string]function.Function{
	"trimsuffix": stdlib.TrimSuffixFunc,
	"floor":      stdlib.FloorFunc,
	"join":       stdlib.JoinFunc,
	"format":     stdlib.FormatFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
	"values":     stdlib.ValuesFunc,
	"tostring":   stdlib.MakeToFunc(cty.String),
	"toset":      stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
}

// ResourceAttr evaluates attribute name of resource typ.res (see Eval).
func (m *Module) ResourceAttr(typ, res, name string) (cty.Value, error) {
	b := m.resources[typ+"."+res]
	if b == nil {
		return cty.NilVal, fmt.Errorf("tfcheck: no resource %s.%s", typ, res)
	}
	a := attr(b, name)
	if a == nil {
		return cty.NilVal, fmt.Errorf("tfcheck: %s.%s has no attribute %s", typ, res, name)
	}
	return m.Eval(a.Expr)
}
