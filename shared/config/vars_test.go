package config

import (
	"flag"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/internal/testsupport/gendoc"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md's reference from Vars")

const configurationDoc = "../../docs/configuration.md"

var configurationPart = gendoc.Part{Name: "configuration", Regen: "go test ./shared/config -update"}

// TestConfigurationDoc fails when docs/configuration.md's table differs from
// Vars; -update rewrites it.
func TestConfigurationDoc(t *testing.T) {
	if err := gendoc.Check(configurationDoc, configurationPart, renderVars(Vars()), *update); err != nil {
		t.Error(err)
	}
}

func renderVars(vars []Var) []byte {
	readers := map[string]string{"receiver": "receiver", "processor": "processor", "both": "both",
		"local": "processor, local runs only"}
	var b strings.Builder
	b.WriteString("| variable | read by | default | meaning |\n|---|---|---|---|\n")
	for _, v := range vars {
		def := v.Unset
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		doc := v.Doc
		if v.Secret {
			doc += " (a secret, from Secret Manager)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", v.Name, readers[v.Reader], def, strings.ReplaceAll(doc, "|", `\|`))
	}
	return []byte(b.String())
}

// TestVarsListEveryVariable holds Vars to the lists Terraform and the
// loaders are checked against: a variable added to one and not the other
// fails here, so the reference cannot miss one.
func TestVarsListEveryVariable(t *testing.T) {
	by := map[string][]string{}
	seen := map[string]bool{}
	for _, v := range Vars() {
		if seen[v.Name] {
			t.Errorf("%s is listed twice", v.Name)
		}
		seen[v.Name] = true
		if v.Doc == "" || (v.Default == "") == (v.Unset == "") {
			t.Errorf("%s: needs a Doc, and exactly one of Default and Unset", v.Name)
		}
		switch v.Reader {
		case "both":
			by["receiver"] = append(by["receiver"], v.Name)
			by["processor"] = append(by["processor"], v.Name)
		case "receiver", "processor", "local":
			by[v.Reader] = append(by[v.Reader], v.Name)
		default:
			t.Errorf("%s: reader %q", v.Name, v.Reader)
		}
	}
	for reader, want := range map[string][]string{
		"receiver":  ReceiverVars(),
		"processor": append(append(ProcessorVars(), OptionalProcessorVars()...), EnvPII, EnvPIIKey), // privacy_test.go: what privacy reads
		"local":     LocalVars(),
	} {
		got := slices.Sorted(slices.Values(by[reader]))
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(got, want) {
			t.Errorf("Vars lists for the %s\n\t%v\nthe %s reads\n\t%v", reader, got, reader, want)
		}
	}
}

// TestVarsDefaults: setting a variable to its documented default loads the
// same configuration as leaving it unset, so the reference states the
// defaults the code has.
func TestVarsDefaults(t *testing.T) {
	base := map[string]string{EnvProject: "p", EnvSigningKeys: "k", EnvSiteID: "site", EnvTrackAPIKey: "key"}
	load := func(reader string, env map[string]string) (any, error) {
		get := func(k string) string { return env[k] }
		if reader == "receiver" {
			return LoadReceiver(get)
		}
		return LoadProcessor(get)
	}
	checked := 0
	for _, v := range Vars() {
		if v.Default == "" {
			continue
		}
		var readers []string
		switch v.Reader {
		case "both":
			readers = []string{"receiver", "processor"}
		case "receiver", "processor":
			readers = []string{v.Reader}
		}
		if v.Name == EnvPII {
			checked++ // privacy_test.go
			continue
		}
		for _, r := range readers {
			unset, err := load(r, base)
			if err != nil {
				t.Fatalf("%s: base configuration: %v", r, err)
			}
			env := map[string]string{v.Name: v.Default}
			for k, val := range base {
				env[k] = val
			}
			set, err := load(r, env)
			if err != nil {
				t.Errorf("%s=%s (its documented default): %v", v.Name, v.Default, err)
				continue
			}
			if !reflect.DeepEqual(unset, set) {
				t.Errorf("%s=%s (its documented default) loads\n\t%+v\nbut unset loads\n\t%+v", v.Name, v.Default, set, unset)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d defaults; the list has lost its defaults", checked)
	}
}
