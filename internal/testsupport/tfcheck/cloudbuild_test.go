package tfcheck_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
// acts as the real CLI would where the build relies on it: `init` records
// a lock file when there is none, refuses to without one under
// -lockfile=readonly, and records which lock it read; `console` answers the
// project_id of the -var-file it was given (after, as terraform 1.11 does,
// a failed variable rule on stderr and a warning about it on stdout);
// `plan` fails that rule; `output -raw NAME` prints an
// output of $TF_STATE; `plan -out=F` writes the source zip (archive_file
// does so during a plan) and a plan whose planned values upload that zip's
// object, while its prior state names the zip of older code; `state pull`
// prints $TF_STATE; `show -json F` prints the plan; `apply F` records what
// it applied.
const fakeTerraform = `#!/bin/sh
printf '%s\n' "$*" >> "$TF_CALLS"
# The module's rule: the backfill job needs job_image (or backfill_image).
# Like terraform, console reports it and still answers; plan fails.
needs_image() {
  if grep -q '^backfill_schedule_enabled *= *true' "$1" && ! grep -q '^backfill_image' "$1"; then
    case " $2 " in *" -var=job_image="?*) ;; *)
      echo "Error: Invalid value for variable: backfill_schedule_enabled needs the job image" >&2; return 1 ;;
    esac
  fi
}
case "$1" in
init)
  if [ ! -f .terraform.lock.hcl ]; then
    case " $* " in *" -lockfile=readonly "*)
      echo "Error: Provider dependency changes detected: no .terraform.lock.hcl" >&2; exit 1 ;;
    esac
    printf 'provider "google" { version = "%s" }\n' "$PROVIDER_VERSION" > .terraform.lock.hcl
  fi
  printf 'lock read by init: %s\n' "$(cat .terraform.lock.hcl)" >> "$TF_CALLS" ;;
console)
  for a in "$@"; do
    case "$a" in -var-file=*) f=${a#-var-file=} ;; esac
  done
  needs_image "$f" "$*" || printf '\nWarning: Due to the problems above, some expressions may produce unexpected results.\n\n'
  sed -n 's/^project_id *= *\("[^"]*"\).*/\1/p' "$f" ;;
output)
  for a in "$@"; do n=$a; done
  v=$(sed -n "s/^    \"$n\": {\"value\": \"\([^\"]*\)\"}.*/\1/p" "$TF_STATE" 2>/dev/null)
  [ -n "$v" ] || { echo "Error: Output \"$n\" not found" >&2; exit 1; }
  printf '%s' "$v" ;;
plan)
  for a in "$@"; do
    case "$a" in -out=*) out=${a#-out=} ;; -var=job_image=*) image=${a#-var=job_image=} ;; -var-file=*) f=${a#-var-file=} ;; esac
  done
  needs_image "$f" "$*" || exit 1
  mkdir -p .terraform
  printf 'zip of the code at %s\n' "$PLAN_STAMP" > .terraform/cioevents-source.zip
  md5=$(md5sum .terraform/cioevents-source.zip | cut -d ' ' -f 1)
  old=$(printf 'zip of older code\n' | md5sum | cut -d ' ' -f 1)
  printf '{"made":"%s","job_image":"%s","planned_values":{"root_module":{"child_modules":[{"resources":[{"type":"google_storage_bucket_object","values":{"name":"source-%s.zip"}}]}]}},"prior_state":{"values":{"root_module":{"resources":[{"type":"google_storage_bucket_object","values":{"name":"source-%s.zip"}}]}}}}\n' "$PLAN_STAMP" "$image" "$md5" "$old" > "$out" ;;
state)
  if [ -f "$TF_STATE" ]; then cat "$TF_STATE"; fi ;;
show)
  cat "$3" ;;
apply)
  for a in "$@"; do f=$a; done
  printf 'applied %s\n' "$(cat "$f")" >> "$TF_CALLS" ;;
esac
`

// olderZip is the content of the zip the fake plan's prior state uploaded.
const olderZip = "zip of older code\n"

// fakeGcloud copies objects: gs://BUCKET/OBJECT is $FAKE_GCS/BUCKET/OBJECT.
// With --if-generation-match=0 it refuses to replace an object, as Cloud
// Storage does (412).
const fakeGcloud = `#!/bin/sh
printf 'gcloud %s\n' "$*" >> "$TF_CALLS"
[ "$1 $2" = "storage cp" ] || { echo "fake gcloud: unexpected $*" >&2; exit 2; }
shift 2
once=""
if [ "$1" = "--if-generation-match=0" ]; then once=1; shift; fi
case "$1" in -*) echo "fake gcloud: unexpected flag $1" >&2; exit 2 ;; esac
path() { case "$1" in gs://*) echo "$FAKE_GCS/${1#gs://}" ;; *) echo "$1" ;; esac; }
src=$(path "$1"); dst=$(path "$2")
[ -f "$src" ] || { echo "ERROR: (gcloud.storage.cp) $1 not found" >&2; exit 1; }
if [ -n "$once" ] && [ -e "$dst" ]; then
  echo "ERROR: (gcloud.storage.cp) HTTPError 412: At least one of the pre-conditions you specified did not hold." >&2; exit 1
fi
mkdir -p "$(dirname "$dst")" && cp "$src" "$dst"
`

// fakeGo stands in for "go run ./internal/jobimage/cmd/jobimage -push
// REPO": it prints REPO@sha256:... of a digest that differs per workspace,
// as two builds of different source would.
const fakeGo = `#!/bin/sh
printf 'go %s\n' "$*" >> "$TF_CALLS"
[ "$1 $2 $3 $4 $5" = "-C .. run ./internal/jobimage/cmd/jobimage -push" ] || { echo "fake go: unexpected $*" >&2; exit 2; }
ref="$6@sha256:$(printf '%s' "$PLAN_STAMP" | sha256sum | cut -d ' ' -f 1)"
printf 'pushed %s\n' "$ref" >> "$TF_CALLS"
printf '%s\n' "$ref"
`

// repository is the job image repository the state's output names.
const repository = "registry.example/my-project-id/cioevents"

// cloud is what outlives one build: the buckets and the Terraform state.
type cloud struct {
	gcs   string // directory holding the buckets
	state string // file `terraform state pull` prints
}

// newCloud is a deployment after the bootstrap of docs/deploy.md: its state
// holds the job image repository.
func newCloud(t *testing.T) cloud {
	t.Helper()
	d := t.TempDir()
	c := cloud{gcs: filepath.Join(d, "gcs"), state: filepath.Join(d, "state.json")}
	c.setState(t, "lineage-0", 1)
	return c
}

// setState writes the remote state's header and outputs as `terraform
// state pull` prints them.
func (c cloud) setState(t *testing.T, lineage string, serial int) {
	t.Helper()
	writeFile(t, c.state, fmt.Sprintf("{\n  \"version\": 4,\n  \"serial\": %d,\n  \"lineage\": %q,\n  \"outputs\": {\n    \"job_image_repository\": {\"value\": %q},\n    \"webhook_url\": {\"value\": \"https://receiver.example\"}\n  }\n}\n", serial, lineage, repository))
}

// runBuild runs the Terraform steps of cloudbuild.yaml (those in terraform/)
// as Cloud Build would, with terraform, gcloud and go replaced by fakes, in
// a fresh workspace holding the given files, against a fresh cloud. A file
// name without a slash is an environment file (in terraform/env), one with
// a slash a path in the workspace. It returns the recorded calls and
// the output, and fails the test only on setup errors; a step that exits
// non-zero ends the build, as in Cloud Build.
func runBuild(t *testing.T, userSubs map[string]string, env map[string]string) (calls []string, out string, ok bool) {
	t.Helper()
	return runBuildIn(t, newCloud(t), userSubs, env)
}

// runBuildIn is runBuild against a given cloud, for a plan build followed by
// an apply build.
func runBuildIn(t *testing.T, cl cloud, userSubs map[string]string, env map[string]string) (calls []string, out string, ok bool) {
	t.Helper()
	c, _ := loadBuild(t)
	// The workspace holds the uploaded source only: its hash is what the
	// plan is made from.
	ws := t.TempDir()
	for name, content := range env {
		path := filepath.Join(ws, "terraform", "env", name)
		if strings.Contains(name, "/") {
			path = filepath.Join(ws, filepath.FromSlash(name))
		}
		writeFile(t, path, content)
	}
	tools := t.TempDir()
	bin := filepath.Join(tools, "fakebin")
	for name, script := range map[string]string{"terraform": fakeTerraform, "gcloud": fakeGcloud, "go": fakeGo} {
		writeFile(t, filepath.Join(bin, name), script)
		if err := os.Chmod(filepath.Join(bin, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(tools, "calls")
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
			"FAKE_GCS=" + cl.gcs, "TF_STATE=" + cl.state, "PLAN_STAMP=" + ws, "PROVIDER_VERSION=7.1.0"}
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
	// would be a setting a laptop apply does not have. The one exception is
	// job_image, the image this build pushed (an artifact, like the zip).
	pushed := pushedImage(t, planCalls)
	for _, c := range slices.Concat(planCalls, applyCalls) {
		for _, f := range strings.Fields(c) {
			if f == "-var=job_image="+pushed {
				continue
			}
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
	for _, ext := range []string{".state", ".source.zip", ".terraform.lock.hcl", ".source"} {
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
// environment and commit, when the state moved since the plan, when it was
// given other source than the plan was made from, and when a stored object
// is not the one the plan build stored.
func TestCloudBuildRefusesAMissingOrStalePlan(t *testing.T) {
	tests := []struct {
		name     string
		apply    map[string]string // the apply build's substitutions
		applyEnv map[string]string // the apply build's files; nil: staging
		after    func(t *testing.T, cl cloud, stored string)
		want     string
	}{
		{"no plan build", nil, nil, nil, "no stored plan gs://my-project-id-tfstate/plans/staging/" + commit + ".tfplan"},
		{"plan of another commit", map[string]string{"_COMMIT": "fedcba9"}, nil, func(*testing.T, cloud, string) {}, "no stored plan gs://my-project-id-tfstate/plans/staging/fedcba9.tfplan"},
		{"another apply since the plan", nil, nil, func(t *testing.T, cl cloud, _ string) { cl.setState(t, "lineage-1", 8) }, "the state changed since the plan was made"},
		{"state replaced since the plan", nil, nil, func(t *testing.T, cl cloud, _ string) { cl.setState(t, "lineage-2", 7) }, "the state changed since the plan was made"},
		{"plan swapped", nil, nil, func(t *testing.T, _ cloud, stored string) {
			writeFile(t, stored+".tfplan", "another plan\n")
		}, "the stored tfplan (sha256:"},
		{"state record swapped", nil, nil, func(t *testing.T, _ cloud, stored string) {
			writeFile(t, stored+".state", "lineage lineage-1\nserial 8\n")
		}, "the stored state (sha256:"},
		{"source zip swapped", nil, nil, func(t *testing.T, _ cloud, stored string) {
			writeFile(t, stored+".source.zip", "other code\n")
		}, "the stored source.zip (sha256:"},
		{"lock swapped", nil, nil, func(t *testing.T, _ cloud, stored string) {
			writeFile(t, stored+".terraform.lock.hcl", "provider \"google\" { version = \"7.2.0\" }\n")
		}, "the stored terraform.lock.hcl (sha256:"},
		// The record rewritten to match an older zip, one the state names:
		// only the planned values tell it from the zip the plan uploads.
		{"older zip with its record rewritten", nil, nil, func(t *testing.T, _ cloud, stored string) {
			writeFile(t, stored+".source.zip", olderZip)
			rewriteRecord(t, stored+".source", "source.zip", olderZip)
		}, "is not the one the plan uploads"},
		{"other source than planned", nil, map[string]string{
			"staging.tfvars":        staging["staging.tfvars"] + "cio_actions = \"suppress\"\n",
			"staging.gcs.tfbackend": staging["staging.gcs.tfbackend"],
		}, func(*testing.T, cloud, string) {}, "is not the source the plan was made from"},
		{"another commit's plan copied over", nil, nil, func(t *testing.T, cl cloud, stored string) {
			if _, out, ok := runBuildIn(t, cl, map[string]string{"_ENV": "staging", "_COMMIT": "fedcba9"}, staging); !ok {
				t.Fatalf("plan build of fedcba9 failed:\n%s", out)
			}
			for _, ext := range planObjects {
				b, err := os.ReadFile(filepath.Join(filepath.Dir(stored), "fedcba9"+ext))
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, stored+ext, string(b))
			}
		}, "records commit fedcba9: it is another commit's plan"},
		{"triggered build of another commit", map[string]string{"COMMIT_SHA": "fedcba9876"}, nil, func(*testing.T, cloud, string) {}, "but this build checked out fedcba9876"},
		{"no _COMMIT", map[string]string{"_COMMIT": ""}, nil, func(*testing.T, cloud, string) {}, "set _COMMIT"},
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
			env := staging
			if tt.applyEnv != nil {
				env = tt.applyEnv
			}
			calls, out, ok := runBuildIn(t, cl, subs, env)
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

// planObjects are what a plan build stores under plans/<env>/<commit>.
var planObjects = []string{".tfplan", ".state", ".source.zip", ".terraform.lock.hcl", ".source"}

// rewriteRecord sets the SHA-256 the stored record gives an object to that
// of content, as someone covering a swap would.
func rewriteRecord(t *testing.T, record, object, content string) {
	t.Helper()
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(object) + ` .*$`)
	if !re.Match(b) {
		t.Fatalf("the record has no line for %s:\n%s", object, b)
	}
	writeFile(t, record, re.ReplaceAllString(string(b), object+" sha256:"+hex.EncodeToString(sum[:])))
}

// A stored plan is write-once: a second plan build of the same environment
// and commit (a rerun, a dirty tree, a colleague) fails and leaves every
// object of the reviewed plan as it was; the apply build applies the first.
func TestCloudBuildStoresAPlanOnce(t *testing.T) {
	cl := newCloud(t)
	subs := map[string]string{"_ENV": "staging", "_COMMIT": commit}
	planCalls, out, ok := runBuildIn(t, cl, subs, staging)
	if !ok {
		t.Fatalf("plan build failed:\n%s", out)
	}
	for _, c := range callsOf(planCalls, "gcloud") {
		if strings.HasPrefix(c, "gcloud storage cp ") && strings.Contains(c, " gs://") && !strings.Contains(c, " --if-generation-match=0 ") {
			t.Errorf("%q stores a plan object without a generation precondition", c)
		}
	}
	stored := filepath.Join(cl.gcs, "my-project-id-tfstate", "plans", "staging", commit)
	first := map[string]string{}
	for _, ext := range planObjects {
		b, err := os.ReadFile(stored + ext)
		if err != nil {
			t.Fatalf("the plan build stored no %s: %v", ext, err)
		}
		first[ext] = string(b)
	}
	calls, out, ok := runBuildIn(t, cl, subs, staging)
	if ok {
		t.Fatalf("a second plan build of the same environment and commit succeeded; calls:\n%s", strings.Join(calls, "\n"))
	}
	if !strings.Contains(out, "a stored plan is never replaced") {
		t.Errorf("the second plan build does not say why it failed:\n%s", out)
	}
	for _, ext := range planObjects {
		if b, _ := os.ReadFile(stored + ext); string(b) != first[ext] {
			t.Errorf("the second plan build replaced %s", ext)
		}
	}
	subs["_APPLY"] = "true"
	calls, out, ok = runBuildIn(t, cl, subs, staging)
	if !ok {
		t.Fatalf("apply build failed:\n%s", out)
	}
	if want := "applied " + strings.TrimSpace(first[".tfplan"]); !slices.Contains(calls, want) {
		t.Errorf("the apply build did not apply the first plan; calls:\n%s", strings.Join(calls, "\n"))
	}
}

// The record says what the plan was made from: the hash of the uploaded
// source, the commit (and, in a triggered build, the checkout), the image.
func TestCloudBuildRecordsTheSource(t *testing.T) {
	cl := newCloud(t)
	subs := map[string]string{"_ENV": "staging", "COMMIT_SHA": "0123abcdef"}
	calls, out, ok := runBuildIn(t, cl, subs, staging)
	if !ok {
		t.Fatalf("triggered plan build failed:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(cl.gcs, "my-project-id-tfstate", "plans", "staging", "0123abcdef.source"))
	if err != nil {
		t.Fatal(err)
	}
	rec := string(b)
	for _, want := range []string{"commit 0123abcdef\n", "checkout 0123abcdef\n", "image " + pushedImage(t, calls) + "\n"} {
		if !strings.Contains(rec, want) {
			t.Errorf("the record lacks %q:\n%s", want, rec)
		}
	}
	if !regexp.MustCompile(`(?m)^source sha256:[0-9a-f]{64}$`).MatchString(rec) {
		t.Errorf("the record has no source hash:\n%s", rec)
	}
}

// pushedImage is the reference the plan build's job image push printed.
func pushedImage(t *testing.T, calls []string) string {
	t.Helper()
	pushes := callsOf(calls, "pushed")
	if len(pushes) != 1 {
		t.Fatalf("the plan build pushed the job image %d times, want once; calls:\n%s", len(pushes), strings.Join(calls, "\n"))
	}
	return strings.TrimPrefix(pushes[0], "pushed ")
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

// The lock file travels with the plan: the apply build initialises
// read-only from the one the plan build used, even when a provider release
// landed in between; a committed lock is the plan build's, read-only too.
func TestCloudBuildPinsTheLockFile(t *testing.T) {
	committed := "provider \"google\" { version = \"6.9.0\" }\n"
	withLock := map[string]string{"terraform/.terraform.lock.hcl": committed}
	for k, v := range staging {
		withLock[k] = v
	}
	for _, tt := range []struct {
		name     string
		files    map[string]string
		planInit string // the plan build's -lockfile, "" for none
		lock     string // the stored lock, "" for the one init wrote
	}{
		{"no committed lock", staging, "", ""},
		{"committed lock", withLock, "-lockfile=readonly", committed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl := newCloud(t)
			subs := map[string]string{"_ENV": "staging", "_COMMIT": commit}
			planCalls, out, ok := runBuildIn(t, cl, subs, tt.files)
			if !ok {
				t.Fatalf("plan build failed:\n%s", out)
			}
			if init := callsOf(planCalls, "init"); len(init) != 1 || hasField(init[0], "-lockfile=readonly") != (tt.planInit != "") {
				t.Errorf("plan build's init %q, want lockfile option %q", init, tt.planInit)
			}
			b, err := os.ReadFile(filepath.Join(cl.gcs, "my-project-id-tfstate", "plans", "staging", commit+".terraform.lock.hcl"))
			if err != nil {
				t.Fatalf("the plan build stored no lock file: %v", err)
			}
			stored := string(b)
			if tt.lock != "" && stored != tt.lock {
				t.Errorf("stored lock %q, want the committed %q", stored, tt.lock)
			}
			subs["_APPLY"] = "true"
			applyCalls, out, ok := runBuildIn(t, cl, subs, tt.files)
			if !ok {
				t.Fatalf("apply build failed:\n%s", out)
			}
			if init := callsOf(applyCalls, "init"); len(init) != 1 || !hasField(init[0], "-lockfile=readonly") {
				t.Errorf("apply build's init %q, want -lockfile=readonly", init)
			}
			if want := "lock read by init: " + strings.TrimSpace(stored); !slices.Contains(applyCalls, want) {
				t.Errorf("the apply build's init did not read the stored lock (%s); calls:\n%s", want, strings.Join(applyCalls, "\n"))
			}
		})
	}
}

func hasField(call, field string) bool { return slices.Contains(strings.Fields(call), field) }

// The plan build builds and pushes the job image from its own source into
// the repository Terraform created, and plans with it by digest; the apply
// build pushes nothing. Without the repository in the state (before the
// bootstrap's targeted apply) the plan build says what to do.
func TestCloudBuildPlansWithTheJobImage(t *testing.T) {
	cl := newCloud(t)
	subs := map[string]string{"_ENV": "staging", "_COMMIT": commit}
	calls, out, ok := runBuildIn(t, cl, subs, staging)
	if !ok {
		t.Fatalf("plan build failed:\n%s", out)
	}
	image := pushedImage(t, calls)
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(repository) + `/cioevents@sha256:[0-9a-f]{64}$`).MatchString(image) {
		t.Errorf("pushed %q, want %s/cioevents@sha256:<digest>", image, repository)
	}
	if plan := callsOf(calls, "plan"); len(plan) != 1 || !hasField(plan[0], "-var=job_image="+image) {
		t.Errorf("plan %q does not pin the pushed image %s", plan, image)
	}
	subs["_APPLY"] = "true"
	calls, out, ok = runBuildIn(t, cl, subs, staging)
	if !ok {
		t.Fatalf("apply build failed:\n%s", out)
	}
	if n := len(callsOf(calls, "go")); n != 0 {
		t.Errorf("the apply build built or pushed an image (%d go calls); it applies the planned digest", n)
	}

	bare := newCloud(t)
	writeFile(t, bare.state, "{\n  \"version\": 4,\n  \"serial\": 1,\n  \"lineage\": \"l\",\n  \"outputs\": {}\n}\n")
	calls, out, ok = runBuildIn(t, bare, map[string]string{"_ENV": "staging", "_COMMIT": commit}, staging)
	if ok || !strings.Contains(out, "the state has no job image repository") || len(callsOf(calls, "plan")) != 0 {
		t.Errorf("without a repository the plan build must refuse before planning; ok=%v calls %q\n%s", ok, calls, out)
	}
}

// No builder image floats: every step runs an image given by a substitution
// whose default is an exact version (or a digest), and the Go image is the
// go.mod's Go.
func TestCloudBuildImagesArePinned(t *testing.T) {
	c, _ := loadBuild(t)
	exact := regexp.MustCompile(`^[a-z0-9][a-z0-9./_-]*(:[0-9]+\.[0-9]+\.[0-9]+(-[a-z0-9.]+)?)?(@sha256:[0-9a-f]{64})?$`)
	pinned := func(ref string) bool {
		m := exact.FindStringSubmatch(ref)
		return m != nil && (m[1] != "" || m[3] != "")
	}
	for _, s := range c.Steps {
		sub := regexp.MustCompile(`^\$\{(_[A-Z0-9_]+)\}$`).FindStringSubmatch(s.Name)
		if sub == nil {
			t.Errorf("step %s runs %q: give images as a substitution, so a team can pin the digest", s.ID, s.Name)
			continue
		}
		if def := c.Substitutions[sub[1]]; !pinned(def) {
			t.Errorf("step %s: %s defaults to %q, which floats; use an exact version tag", s.ID, sub[1], def)
		}
	}
	for _, ref := range []string{"golang:1.26", "google/cloud-sdk:emulators", "hashicorp/terraform:latest", "hashicorp/terraform"} {
		if pinned(ref) {
			t.Errorf("the check takes the floating %q for pinned", ref)
		}
	}
	for _, ref := range []string{"hashicorp/terraform:1.11.4", "google/cloud-sdk:528.0.0-emulators", "golang:1.26.8@sha256:" + strings.Repeat("a", 64)} {
		if !pinned(ref) {
			t.Errorf("the check takes the exact %q for floating", ref)
		}
	}
	mod, err := os.ReadFile("../../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go ([0-9]+\.[0-9]+)`).FindSubmatch(mod)
	if goVersion == nil || !strings.HasPrefix(c.Substitutions["_GO_IMAGE"], "golang:"+string(goVersion[1])+".") {
		t.Errorf("_GO_IMAGE %q is not go.mod's Go %s", c.Substitutions["_GO_IMAGE"], goVersion)
	}
}

// Every `gcloud builds submit` command the README, the docs and the build's
// own header show sets each substitution cloudbuild.yaml requires, and
// only substitutions it knows: a copied command must run.
func TestCloudBuildCommandsInDocsSetTheRequiredSubstitutions(t *testing.T) {
	c, raw := loadBuild(t)
	header := raw[:strings.Index(raw, "\nsubstitutions:")]
	var required []string
	for _, m := range regexp.MustCompile(`(?m)^#   (_[A-Z0-9_]+)\s+\(required\)`).FindAllStringSubmatch(header, -1) {
		required = append(required, m[1])
	}
	if len(required) == 0 {
		t.Fatal("cloudbuild.yaml's header documents no required substitution")
	}
	docs, err := filepath.Glob("../../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	for _, path := range append([]string{"../../../README.md", cloudBuildFile}, docs...) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(filepath.ToSlash(path), "../../../")
		for _, cmd := range buildCommands(string(b)) {
			found[name]++
			set := substitutionsOf(cmd)
			for _, r := range required {
				if _, ok := set[r]; !ok {
					t.Errorf("%s: %q does not set %s, which cloudbuild.yaml requires", name, cmd, r)
				}
			}
			for s := range set {
				_, declared := c.Substitutions[s]
				if !declared && !slices.Contains(required, s) && s != "COMMIT_SHA" {
					t.Errorf("%s: %q sets %s, which cloudbuild.yaml does not know", name, cmd, s)
				}
			}
		}
	}
	for _, name := range []string{"README.md", "docs/deploy.md", "cloudbuild.yaml"} {
		if found[name] == 0 {
			t.Errorf("found no gcloud builds submit command in %s", name)
		}
	}
}

// buildCommands returns each `gcloud builds submit` command of a text, with
// its backslash-continued lines joined; a mention of the bare command name
// in inline code is not a command.
func buildCommands(text string) []string {
	var cmds []string
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		at := strings.Index(lines[i], "gcloud builds submit")
		if at < 0 {
			continue
		}
		cmd := lines[i][at:]
		for strings.HasSuffix(strings.TrimSpace(cmd), `\`) && i+1 < len(lines) {
			i++
			cmd = strings.TrimSuffix(strings.TrimSpace(cmd), `\`) + " " + strings.TrimLeft(lines[i], " #")
		}
		if strings.HasPrefix(cmd, "gcloud builds submit`") {
			continue
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}

// substitutionsOf returns the names a command's --substitutions sets.
func substitutionsOf(cmd string) map[string]bool {
	set := map[string]bool{}
	// A value may be a command substitution with spaces: $(git rev-parse HEAD).
	cmd = regexp.MustCompile(`\$\([^)]*\)`).ReplaceAllString(cmd, "V")
	m := regexp.MustCompile(`--substitutions[= ]"?([^"\s]+)`).FindStringSubmatch(cmd)
	if m == nil {
		return set
	}
	for _, kv := range strings.Split(m[1], ",") {
		name, _, _ := strings.Cut(kv, "=")
		set[name] = true
	}
	return set
}

// backfill_schedule_enabled = true needs nothing else in the environment:
// the plan build's own image satisfies the rule, and the check of the
// project before it does not print the rule's error.
func TestCloudBuildRunsTheBackfillWithItsOwnImage(t *testing.T) {
	env := map[string]string{
		"staging.tfvars":        staging["staging.tfvars"] + "backfill_schedule_enabled = true\n",
		"staging.gcs.tfbackend": staging["staging.gcs.tfbackend"],
	}
	calls, out, ok := runBuild(t, map[string]string{"_ENV": "staging", "_COMMIT": commit}, env)
	if !ok {
		t.Fatalf("plan build with the backfill on failed:\n%s", out)
	}
	if strings.Contains(out, "Invalid value for variable") {
		t.Errorf("the plan build printed a variable error it then met:\n%s", out)
	}
	if plan := callsOf(calls, "plan"); len(plan) != 1 || !hasField(plan[0], "-var=job_image="+pushedImage(t, calls)) {
		t.Errorf("plan %q does not pin the pushed image", plan)
	}
}
