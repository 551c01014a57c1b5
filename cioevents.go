// Package cioevents is the root the Cloud Functions Go build compiles: it
// registers both functions (ReceiveWebhook and ProcessEvent) so that each
// deployment picks its own entry point from one source upload.
package cioevents

import (
	"embed"

	_ "github.com/cioevents/cioevents/functions/processor"
	_ "github.com/cioevents/cioevents/functions/receiver"
)

// Fixtures holds the real-shaped sample webhook bodies that `cioevents send`
// signs and posts: events/ (one per object_type × metric), odd/ (authentic
// but unusual) and malformed/ (authentic, quarantined).
//
//go:embed testdata/events testdata/odd testdata/malformed
var Fixtures embed.FS
