// Package cioevents is the root the Cloud Functions Go build compiles: it
// registers both functions (ReceiveWebhook and ProcessEvent) so that each
// deployment picks its own entry point from one source upload.
package cioevents

import (
	"embed"
	"os"

	_ "github.com/cioevents/cioevents/functions/processor"
	_ "github.com/cioevents/cioevents/functions/receiver"
	"github.com/cioevents/cioevents/shared/logging"
)

// A deployed function (FUNCTION_TARGET is set by Cloud Functions and by
// `cioevents serve`) shares stdout and stderr with functions-framework,
// whose plain-text prints would break Cloud Logging's one-JSON-object-per-line
// parsing; route them through the JSON filter. This init runs after both
// functions' own, so a configuration they refuse is still reported directly.
func init() {
	if os.Getenv("FUNCTION_TARGET") != "" {
		if err := logging.RouteProcessOutput(); err != nil {
			logging.New(os.Stdout, "info").Warn("framework output not routed through the JSON filter", "error", err.Error())
		}
	}
}

// Fixtures holds the real-shaped sample webhook bodies that `cioevents send`
// signs and posts: events/ (one per object_type × metric), odd/ (authentic
// but unusual), malformed/ (authentic, quarantined) and funnel/ (deliveries
// that move through sent, delivered, opened and clicked over days).
//
//go:embed testdata/events testdata/odd testdata/malformed testdata/funnel
var Fixtures embed.FS
