package tfcheck_test

import (
	"bytes"
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
// answers `console` with the project_id of the -var-file it was given, as
// the real CLI would.
const fakeTerraform = `#!/bin/sh
printf '%s\n' "$*" >> "$TF_CALLS"
if [ "$1" = console ]; then
  for a in "$@"; do
    case "$a" in -var-file=*) f=${a#-var-file=} ;; esac
  done
  sed -n 's/^project_id *= *\("[^"]*"\).*/\1/p' "$f"
fi
`

// runBuild runs the Terraform steps of cloudbuild.yaml (those in terraform/)
// as Cloud Build would, with terraform replaced by a recorder, in a
// workspace holding the given environment files. It returns the recorded
// calls and the output, and fails the test only on setup errors; a step that
// exits non-zero ends the build, as in Cloud Build.
func runBuild(t *testing.T, userSubs map[string]string, env map[string]string) (calls []string, out string, ok bool) {
	t.Helper()
	c, _ := loadBuild(t)
	ws := t.TempDir()
	for name, content := range env {
		writeFile(t, filepath.Join(ws, "terraform", "env", name), content)
	}
	bin := filepath.Join(ws, "fakebin")
	writeFile(t, filepath.Join(bin, "terraform"), fakeTerraform)
	if err := os.Chmod(filepath.Join(bin, "terraform"), 0o755); err != nil {
		t.Fatal(err)
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
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "TF_CALLS=" + log}
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

func TestCloudBuildAppliesTheEnvironmentFile(t *testing.T) {
	calls, out, ok := runBuild(t, map[string]string{"_ENV": "staging", "_APPLY": "true", "_DEPLOYER_SA": "d@my-project-id.iam.gserviceaccount.com"}, staging)
	if !ok {
		t.Fatalf("build failed:\n%s", out)
	}
	want := map[string]string{
		"init":  "-backend-config=env/staging.gcs.tfbackend",
		"plan":  "-var-file=env/staging.tfvars",
		"apply": "tfplan",
	}
	for cmd, arg := range want {
		got := callsOf(calls, cmd)
		if len(got) != 1 || !slices.Contains(strings.Fields(got[0]), arg) {
			t.Errorf("terraform %s calls %q, want one with %s; all calls:\n%s", cmd, got, arg, strings.Join(calls, "\n"))
		}
	}
	plan := callsOf(calls, "plan")
	if len(plan) == 1 && !slices.Contains(strings.Fields(plan[0]), "-out=tfplan") {
		t.Errorf("plan %q does not save the plan that apply applies", plan[0])
	}
	// Settings come from the file alone: a -var or a TF_VAR_ of the build
	// would be a setting a laptop apply does not have.
	for _, c := range calls {
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
	calls, out, ok := runBuild(t, map[string]string{"_ENV": "staging"}, staging)
	if !ok {
		t.Fatalf("build failed:\n%s", out)
	}
	if len(callsOf(calls, "plan")) != 1 || len(callsOf(calls, "apply")) != 0 {
		t.Errorf("without _APPLY=true the build must plan and not apply; calls:\n%s", strings.Join(calls, "\n"))
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
		{"no such environment", map[string]string{"_ENV": "prod"}, staging, "terraform/env/prod.tfvars is missing"},
		{"environment of another project", map[string]string{"_ENV": "other"}, map[string]string{
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
	if _, out, ok := runBuild(t, map[string]string{"_ENV": "example"}, env); !ok {
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
