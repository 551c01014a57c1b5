//go:build cioevents_deps

package cioevents

import (
	_ "cloud.google.com/go/bigquery"
	_ "cloud.google.com/go/firestore"
	_ "cloud.google.com/go/pubsub/v2"
	_ "cloud.google.com/go/pubsub/v2/pstest"
	_ "github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"
	_ "github.com/cloudevents/sdk-go/v2/event"
	_ "github.com/customerio/go-customerio/v3"
	_ "github.com/hashicorp/hcl/v2/hclparse"
	_ "golang.org/x/time/rate"
)
