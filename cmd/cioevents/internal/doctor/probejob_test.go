package doctor

import (
	"io"
	"os"
	"regexp"
	"testing"
)

// The scheduled probe's job passes doctor flags by name; a flag renamed or
// removed here would make every scheduled run a usage error.
func TestProbeJobFlagsExist(t *testing.T) {
	tf, err := os.ReadFile("../../../../terraform/modules/cioevents/probe.tf")
	if err != nil {
		t.Fatal(err)
	}
	var f flags
	fl := newFlagSet(&f, io.Discard)
	names := regexp.MustCompile(`"--([a-z-]+)"`).FindAllStringSubmatch(string(tf), -1)
	if len(names) < 10 {
		t.Fatalf("found %d flags in probe.tf's args, want the job's whole command line", len(names))
	}
	for _, m := range names {
		if fl.Lookup(m[1]) == nil {
			t.Errorf("probe.tf passes --%s, which doctor does not define", m[1])
		}
	}
}
