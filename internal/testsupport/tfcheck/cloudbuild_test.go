package tfcheck_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const cloudBuildFile = "../../../cloudbuild.yaml"

type buildConfig struct {
	Substitutions map[string]string `yaml:"substitutions"`
	Options       struct {
		Env []string `yaml:"env"`
	} `yaml:"options"`
	Steps []buildStep `yaml:"steps"`
}

type buildStep struct {
	ID         string   `yaml:"id"`
	Name       string   `yaml:"name"`
	Dir        string   `yaml:"dir"`
	Entrypoint string   `yaml:"entrypoint"`
	Env        []string `yaml:"env"`
	Args       []string `yaml:"args"`
}

func loadBuild(t *testing.T) (buildConfig, string) {
	t.Helper()
	raw, err := os.ReadFile(cloudBuildFile)
	if err != nil {
		t.Fatal(err)
	}
	var c buildConfig
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("cloudbuild.yaml: %v", err)
	}
	return c, string(raw)
}

// substitute does what Cloud Build does to a step before running it: $$ is
// a literal $, and $NAME / ${NAME} are substitutions, empty when unset
// (substitutionOption ALLOW_LOOSE).
var substitution = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

func substitute(s string, subs map[string]string) string {
	return substitution.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		name := strings.Trim(m, "${}")
		return subs[name]
	})
}

// fakeTerraform records each call, one line of arguments per call, and
// acts as the real CLI would where the build relies on it: `console` answers
// the project_id of the -var-file it was given; `plan -out=F` writes the
// source zip (archive_file does so during a plan) and a plan naming that
// zip's object; `state pull` prints $TF_STATE (nothing before the first
// apply); `show -json F` prints the plan; `apply F` records what it applied.
const fakeTerraform = `#!/bin/sh
printf '%s\n' "$*" >> "$TF_CALLS"
case "$1" in
console)
  for a in "$@"; do
    case "$a" in -var-file=*) f=${a#-var-file=} ;; esac
  done
  sed -n 's/^project_id *= *\("[^"]*"\).*/\1/p' "$f" ;;
plan)
  for a in "$@"; do
    case "$a" in -out=*) out=${a#-out=} ;; esac
  done
  mkdir -p .terraform
  printf 'zip of the code at %s\n' "$PLAN_STAMP" > .terraform/cioevents-source.zip
  md5=$(md5sum .terraform/cioevents-source.zip | cut -d ' ' -f 1)
  printf '{"made":"%s","object":"source-%s.zip"}\n' "$PLAN_STAMP" "$md5" > "$out" ;;
state)
  if [ -f "$TF_STATE" ]; then cat "$TF_STATE"; fi ;;
show)
  cat "$3" ;;
apply)
  for a in "$@"; do f=$a; done
  printf 'applied %s\n' "$(cat "$f")" >> "$TF_CALLS" ;;
esac
`

// fakeGcloud copies objects: gs://BUCKET/OBJECT is $FAKE_GCS/BUCKET/OBJECT.
const fakeGcloud = `#!/bin/sh
printf 'gcloud %s\n' "$*" >> "$TF_CALLS"
[ "$1 $2" = "storage cp" ] || { echo "fake gcloud: unexpected $*" >&2; exit 2; }
path() { case "$1" in gs://*) echo "$FAKE_GCS/${1#gs://}" ;; *) echo "$1" ;; esac; }
src=$(path "$3"); dst=$(path "$4")
[ -f "$src" ] || { echo "ERROR: (gcloud.storage.cp) $3 not found" >&2; exit 1; }
mkdir -p "$(dirname "$dst")" && cp "$src" "$dst"
`

// cloud is what outlives one build: the buckets and the Terraform state.
type cloud struct {
	gcs   string // directory holding the buckets
	state string // file `terraform state pull` prints
}

func newCloud(t *testing.T) cloud {
	t.Helper()
	d := t.TempDir()
	return cloud{gcs: filepath.Join(d, "gcs"), state: filepath.Join(d, "state.json")}
}

// setState writes the remote state's header as `terraform state pull`
// prints it.
func (c cloud) setState(t *testing.T, lineage string, serial int) {
	t.Helper()
	writeFile(t, c.state, fmt.Sprintf("{\n  \"version\": 4,\n  \"serial\": %d,\n  \"lineage\": %q,\n  \"outputs\": {}\n}\n", serial, lineage))
}

// runBuild runs the Terraform steps of cloudbuild.yaml (those in terraform/)
// as Cloud Build would, with terraform and gcloud replaced by fakes, in a
// fresh workspace holding the given environment files, against a fresh
// cloud. It returns the recorded calls and the output, and fails the test
// only on setup errors; a step that exits non-zero ends the build, as in
// Cloud Build.
func runBuild(t *testing.T, userSubs map[string]string, env map[string]string) (calls []string, out string, ok bool) {
	t.Helper()
	return runBuildIn(t, newCloud(t), userSubs, env)
}

// runBuildIn is runBuild against a given cloud, for a plan build followed by
// an apply build.
func runBuildIn(t *testing.T, cl cloud, userSubs map[string]string, env map[string]string) (calls []string, out string, ok bool) {
	t.Helper()
	c, _ := loadBuild(t)
	ws := t.TempDir()
	for name, content := range env {
		writeFile(t, filepath.Join(ws, "terraform", "env", name), content)
	}
	bin := filepath.Join(ws, "fakebin")
	for name, script := range map[string]string{"terraform": fakeTerraform, "gcloud": fakeGcloud} {
		writeFile(t, filepath.Join(bin, name), script)
		if err := os.Chmod(filepath.Join(bin, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(ws, "calls")
	subs := map[string]string{"PROJECT_ID": "my-project-id"}
	for k, v := range c.Substitutions {
		subs[k] = v
	}
	for k, v := range userSubs {
		subs[k] = v
	}
	var output bytes.Buffer
	ok = true
	for _, s := range c.Steps {
		if s.Dir != "terraform" {
			continue
		}
		args := make([]string, len(s.Args))
		for i, a := range s.Args {
			args[i] = substitute(a, subs)
		}
		entry := filepath.Join(bin, "terraform") // the image's entrypoint
		if s.Entrypoint != "" {
			entry = s.Entrypoint
		}
		cmd := exec.Command(entry, args...)
		cmd.Dir = filepath.Join(ws, s.Dir)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "TF_CALLS=" + log,
			"FAKE_GCS=" + cl.gcs, "TF_STATE=" + cl.state, "PLAN_STAMP=" + ws}
		for _, e := range append(slices.Clone(c.Options.Env), s.Env...) {
			cmd.Env = append(cmd.Env, substitute(e, subs))
		}
		cmd.Stdout, cmd.Stderr = &output, &output
		if err := cmd.Run(); err != nil {
			output.WriteString("step " + s.ID + " failed: " + err.Error() + "\n")
			ok = false
			break
		}
	}
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	calls = strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(b) == 0 {
		calls = nil
	}
	return calls, output.String(), ok
}

// staging is an environment whose settings differ from the defaults.
var staging = map[string]string{
	"staging.tfvars":        "project_id           = \"my-project-id\"\ncio_actions          = \"none\"\nsigning_keys_version = \"7\"\n",
	"staging.gcs.tfbackend": "bucket = \"my-project-id-tfstate\"\nprefix = \"cioevents-staging\"\n",
}

func callsOf(calls []string, cmd string) []string {
	var out []string
	for _, c := range calls {
		if strings.HasPrefix(c, cmd+" ") || c == cmd {
			out = append(out, c)
		}
	}
	return out
}

// commit names the plan in the tests.
const commit = "0123abc"

func TestCloudBuildAppliesTheEnvironmentFile(t *testing.T) {
	cl := newCloud(t)
	subs := map[string]string{"_ENV": "staging", "_COMMIT": commit, "_DEPLOYER_SA": "d@my-project-id.iam.gserviceaccount.com"}
	planCalls, out, ok := runBuildIn(t, cl, subs, staging)
	if !ok {
		t.Fatalf("plan build failed:\n%s", out)
	}
	subs["_APPLY"] = "true"
	applyCalls, out, ok := runBuildIn(t, cl, subs, staging)
	if !ok {
		t.Fatalf("apply build failed:\n%s", out)
	}
	for _, w := range []struct {
		calls    []string
		cmd, arg string
	}{
		{planCalls, "init", "-backend-config=env/staging.gcs.tfbackend"},
		{planCalls, "plan", "-var-file=env/staging.tfvars"},
		{applyCalls, "init", "-backend-config=env/staging.gcs.tfbackend"},
		{applyCalls, "apply", "tfplan"},
	} {
		got := callsOf(w.calls, w.cmd)
		if len(got) != 1 || !slices.Contains(strings.Fields(got[0]), w.arg) {
			t.Errorf("terraform %s calls %q, want one with %s; all calls:\n%s", w.cmd, got, w.arg, strings.Join(w.calls, "\n"))
		}
	}
	plan := callsOf(planCalls, "plan")
	if len(plan) == 1 && !slices.Contains(strings.Fields(plan[0]), "-out=tfplan") {
		t.Errorf("plan %q does not save the plan that apply applies", plan[0])
	}
	// Settings come from the file alone: a -var or a TF_VAR_ of the build
	// would be a setting a laptop apply does not have.
	for _, c := range slices.Concat(planCalls, applyCalls) {
		for _, f := range strings.Fields(c) {
			if f == "-var" || strings.HasPrefix(f, "-var=") {
				t.Errorf("terraform call %q sets a variable outside the environment file", c)
			}
		}
	}
	c, _ := loadBuild(t)
	for _, s := range c.Steps {
		for _, e := range append(slices.Clone(c.Options.Env), s.Env...) {
			if strings.HasPrefix(e, "TF_VAR_") {
				t.Errorf("step %s sets %s, a variable a laptop apply does not get", s.ID, e)
			}
		}
	}
}

func TestCloudBuildPlansOnlyUnlessAsked(t *testing.T) {
	calls, out, ok := runBuild(t, map[string]string{"_ENV": "staging", "_COMMIT": commit}, staging)
	if !ok {
		t.Fatalf("build failed:\n%s", out)
	}
	if len(callsOf(calls, "plan")) != 1 || len(callsOf(calls, "apply")) != 0 {
		t.Errorf("without _APPLY=true the build must plan and not apply; calls:\n%s", strings.Join(calls, "\n"))
	}
}

// The apply build applies the plan the plan build stored, byte for byte, and
// plans nothing itself: what was reviewed is what is applied.
func TestCloudBuildAppliesTheStoredPlan(t *testing.T) {
	cl := newCloud(t)
	cl.setState(t, "lineage-1", 7)
	subs := map[string]string{"_ENV": "staging", "_COMMIT": commit}
	if _, out, ok := runBuildIn(t, cl, subs, staging); !ok {
		t.Fatalf("plan build failed:\n%s", out)
	}
	stored := filepath.Join(cl.gcs, "my-project-id-tfstate", "plans", "staging", commit)
	plan, err := os.ReadFile(stored + ".tfplan")
	if err != nil {
		t.Fatalf("the plan build stored no plan: %v", err)
	}
	for _, ext := range []string{".state", ".source.zip"} {
		if _, err := os.Stat(stored + ext); err != nil {
			t.Errorf("the plan build stored no %s: %v", ext, err)
		}
	}
	subs["_APPLY"] = "true"
	calls, out, ok := runBuildIn(t, cl, subs, staging)
	if !ok {
		t.Fatalf("apply build failed:\n%s", out)
	}
	if n := len(callsOf(calls, "plan")); n != 0 {
		t.Errorf("the apply build planned %d times; it must apply the stored plan only", n)
	}
	want := "applied " + strings.TrimSpace(string(plan))
	if !slices.Contains(calls, want) {
		t.Errorf("the apply build did not apply the stored plan (%s); calls:\n%s", want, strings.Join(calls, "\n"))
	}
}

// The apply build refuses, and applies nothing, without a stored plan of its
// environment and commit, when the state moved since the plan, and when the
// stored source zip is not the one the plan uploads.
func TestCloudBuildRefusesAMissingOrStalePlan(t *testing.T) {
	tests := []struct {
		name  string
		apply map[string]string // the apply build's substitutions
		after func(t *testing.T, cl cloud, stored string)
		want  string
	}{
		{"no plan build", nil, nil, "no stored plan gs://my-project-id-tfstate/plans/staging/" + commit + ".tfplan"},
		{"plan of another commit", map[string]string{"_COMMIT": "fedcba9"}, func(*testing.T, cloud, string) {}, "no stored plan gs://my-project-id-tfstate/plans/staging/fedcba9.tfplan"},
		{"another apply since the plan", nil, func(t *testing.T, cl cloud, _ string) { cl.setState(t, "lineage-1", 8) }, "the state changed since the plan was made"},
		{"state replaced since the plan", nil, func(t *testing.T, cl cloud, _ string) { cl.setState(t, "lineage-2", 7) }, "the state changed since the plan was made"},
		{"source zip swapped", nil, func(t *testing.T, _ cloud, stored string) {
			writeFile(t, stored+".source.zip", "other code\n")
		}, "is not the one the plan uploads"},
		{"no _COMMIT", map[string]string{"_COMMIT": ""}, func(*testing.T, cloud, string) {}, "set _COMMIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := newCloud(t)
			cl.setState(t, "lineage-1", 7)
			subs := map[string]string{"_ENV": "staging", "_COMMIT": commit}
			if tt.after != nil {
				if _, out, ok := runBuildIn(t, cl, subs, staging); !ok {
					t.Fatalf("plan build failed:\n%s", out)
				}
				tt.after(t, cl, filepath.Join(cl.gcs, "my-project-id-tfstate", "plans", "staging", commit))
			}
			subs["_APPLY"] = "true"
			for k, v := range tt.apply {
				subs[k] = v
			}
			calls, out, ok := runBuildIn(t, cl, subs, staging)
			if ok {
				t.Fatalf("apply build succeeded; calls:\n%s", strings.Join(calls, "\n"))
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output does not say %q:\n%s", tt.want, out)
			}
			if n := len(callsOf(calls, "apply")); n != 0 {
				t.Errorf("applied anyway: %v", calls)
			}
		})
	}
}

func TestCloudBuildRefusesAMissingOrForeignEnvironment(t *testing.T) {
	tests := []struct {
		name string
		subs map[string]string
		env  map[string]string
		want string
	}{
		{"no _ENV", map[string]string{}, staging, "set _ENV"},
		{"no such environment", map[string]string{"_ENV": "prod", "_COMMIT": commit}, staging, "terraform/env/prod.tfvars is missing"},
		{"environment of another project", map[string]string{"_ENV": "other", "_COMMIT": commit}, map[string]string{
			"other.tfvars":        "project_id = \"someone-elses\"\n",
			"other.gcs.tfbackend": "bucket = \"x\"\n",
		}, `deploys to project "someone-elses", but this build runs in "my-project-id"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, out, ok := runBuild(t, tt.subs, tt.env)
			if ok {
				t.Fatalf("build succeeded; calls:\n%s", strings.Join(calls, "\n"))
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output does not say %q:\n%s", tt.want, out)
			}
			if len(callsOf(calls, "plan")) != 0 || len(callsOf(calls, "apply")) != 0 {
				t.Errorf("planned or applied anyway: %v", calls)
			}
		})
	}
}

// The committed example environment is what a new user copies; it must be
// complete enough to pass the same steps.
func TestCloudBuildRunsWithTheExampleEnvironment(t *testing.T) {
	env := map[string]string{}
	for _, name := range []string{"example.tfvars", "example.gcs.tfbackend"} {
		b, err := os.ReadFile(filepath.Join(terraformDir, "env", name))
		if err != nil {
			t.Fatal(err)
		}
		env[name] = string(b)
	}
	if _, out, ok := runBuild(t, map[string]string{"_ENV": "example", "_COMMIT": commit}, env); !ok {
		t.Fatalf("build failed with env/example:\n%s", out)
	}
}

// Every substitution the build reads is declared (ALLOW_LOOSE turns an
// undeclared one into an empty string without a word) or required and
// documented in the header.
func TestCloudBuildSubstitutionsAreDeclared(t *testing.T) {
	c, raw := loadBuild(t)
	header := raw[:strings.Index(raw, "\nsubstitutions:")]
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{(_[A-Z0-9_]+)\}|\$(_[A-Z0-9_]+)`).FindAllStringSubmatch(strings.ReplaceAll(raw, "$$", ""), -1) {
		used[m[1]+m[2]] = true
	}
	for name := range c.Substitutions {
		used[name] = true
	}
	for name := range used {
		if !strings.Contains(header, "#   "+name+" ") {
			t.Errorf("substitution %s is not documented in the header of cloudbuild.yaml", name)
		}
		required := regexp.MustCompile(`#   ` + name + `\s+\(required\)`).MatchString(header)
		if _, ok := c.Substitutions[name]; !ok && !required {
			t.Errorf("substitution %s is used but neither declared nor documented as required", name)
		}
	}
}
