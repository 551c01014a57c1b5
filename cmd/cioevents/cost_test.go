package main

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/cioevents/cioevents"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cost"
)

// TestCostTables: the committed cost tables are what a fresh run through
// both functions counts, and the documents show exactly the committed
// measurement. When the ledger, the logs or the published attributes
// change, regenerate with `go run ./cmd/cioevents cost -n 2000 --write`.
func TestCostTables(t *testing.T) {
	committed, err := cost.Committed()
	if err != nil {
		t.Fatal(err)
	}
	if committed.Events == 0 {
		t.Fatalf("%s holds no measurement; run `go run ./cmd/cioevents cost -n 2000 --write`", cost.MeasurementFile)
	}
	for _, d := range []struct {
		file, begin, end string
		render           func(cost.Measurement) (string, error)
	}{
		{"../../" + cost.DeployDoc, cost.TableBegin, cost.TableEnd, cost.Render},
		{"../../" + cost.SummaryDoc, cost.SummaryBegin, cost.SummaryEnd, cost.Summary},
	} {
		b, err := os.ReadFile(d.file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cost.Section(string(b), d.begin, d.end)
		if err != nil {
			t.Fatalf("%s: %v", d.file, err)
		}
		want, err := d.render(committed)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: the generated section differs from %s; run `go run ./cmd/cioevents cost -n 2000 --write`\n--- in the file:\n%s\n--- rendered:\n%s",
				d.file, cost.MeasurementFile, got, want)
		}
	}

	// 200 events: cheap, and the mix repeats every 100 events, so the
	// counts per event are those of the committed 2,000-event run.
	fresh, err := cost.Measure(context.Background(), costFunctions(), cost.Options{Events: 200, Seed: committed.Seed,
		Fixtures: cioevents.Fixtures})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fresh: %.2f reads, %.2f writes, %.2f TTL deletes per event; %.0f log bytes; %d retries; CPU %.0f + %.0f µs",
		fresh.FirestoreReads, fresh.FirestoreWrites, fresh.FirestoreDeletes,
		fresh.Receiver.LogBytes+fresh.Processor.LogBytes, fresh.Retries, fresh.Receiver.CPUMicros, fresh.Processor.CPUMicros)
	if err := cost.Compare(committed, fresh, 0.03); err != nil {
		t.Error(err)
	}
	// Every event is one row, one publish and one push; the mix's opens,
	// clicks, bounces and complaints are 27 in 100, one Track call each
	// (a retried delivery may repeat a call; Compare allows for it).
	if fresh.Retries == 0 && (fresh.BigQueryRows != 1 || fresh.PublishRequests != 1 || fresh.TrackCalls != 0.27) {
		t.Errorf("rows %.3f, publish requests %.3f, Track calls %.3f per event; want 1, 1, 0.27",
			fresh.BigQueryRows, fresh.PublishRequests, fresh.TrackCalls)
	}
}

// TestCostCompareCatchesAChange: a measurement whose writes per event
// moved is stale; one whose CPU time moved is not.
func TestCostCompareCatchesAChange(t *testing.T) {
	base := cost.Measurement{Events: 200, FirestoreWrites: 3.27, FirestoreDeletes: 1, PublishBytes: 842, BigQueryRows: 1}
	moreWrites := base
	moreWrites.FirestoreWrites = 2.27
	if err := cost.Compare(base, moreWrites, 0.03); !errors.Is(err, cost.ErrStale) {
		t.Errorf("one write fewer per event: %v, want ErrStale", err)
	}
	slower := base
	slower.Processor.CPUMicros = 5000
	if err := cost.Compare(base, slower, 0.03); err != nil {
		t.Errorf("CPU time alone: %v, want nil", err)
	}
	bigger := base
	bigger.PublishBytes = 900
	if err := cost.Compare(base, bigger, 0.03); !errors.Is(err, cost.ErrStale) {
		t.Errorf("7%% more bytes published: %v, want ErrStale", err)
	}
}

// TestCostDefaultsMatchTerraform: the estimate's default deployment is the
// one terraform/ creates.
func TestCostDefaultsMatchTerraform(t *testing.T) {
	src, err := os.ReadFile("../../terraform/modules/cioevents/variables.tf")
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, "variables.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	defaults := map[string]string{}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "variable" || len(b.Labels) != 1 {
			continue
		}
		if a, ok := b.Body.Attributes["default"]; ok {
			v, d := a.Expr.Value(nil)
			if d.HasErrors() {
				continue
			}
			if v.Type().FriendlyName() == "number" {
				defaults[b.Labels[0]] = v.AsBigFloat().Text('f', -1)
			} else if v.Type().FriendlyName() == "string" {
				defaults[b.Labels[0]] = v.AsString()
			}
		}
	}
	for name, want := range map[string]string{
		"firestore_location":    cost.Defaults.FirestoreLocation,
		"receiver_concurrency":  strconv.Itoa(cost.Defaults.ReceiverConcurrency),
		"processor_concurrency": strconv.Itoa(cost.Defaults.ProcessorConcurrency),
		"receiver_memory_mib":   strconv.Itoa(cost.Defaults.ReceiverMemoryMiB),
		"processor_memory_mib":  strconv.Itoa(cost.Defaults.ProcessorMemoryMiB),
	} {
		if defaults[name] != want {
			t.Errorf("terraform variable %s defaults to %q; cmd/cioevents/internal/cost.Defaults says %q", name, defaults[name], want)
		}
	}
}
