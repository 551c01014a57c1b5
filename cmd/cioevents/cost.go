package main

import (
	"context"
	"net/http"

	cloudevent "github.com/cloudevents/sdk-go/v2/event"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/cost"
	"github.com/cioevents/cioevents/functions/processor"
	"github.com/cioevents/cioevents/functions/receiver"
	"github.com/cioevents/cioevents/shared/config"
)

// costFunctions are the deployed functions, built as in production with the
// measurement's hooks.
func costFunctions() cost.Functions {
	return cost.Functions{
		Receiver: func(ctx context.Context, getenv config.Getenv, h cost.ReceiverHooks) (http.Handler, error) {
			return receiver.NewWith(ctx, getenv, receiver.Overrides{PubSubOptions: h.PubSubOptions, LogOutput: h.LogOutput})
		},
		Processor: func(ctx context.Context, getenv config.Getenv, h cost.ProcessorHooks) (func(context.Context, cloudevent.Event) error, error) {
			p, err := processor.New(ctx, getenv, processor.Overrides{
				FirestoreOptions: h.FirestoreOptions, BigQueryOptions: h.BigQueryOptions,
				TrackBaseURL: h.TrackBaseURL, TrackHTTPClient: h.TrackHTTPClient, LogOutput: h.LogOutput,
			})
			if err != nil {
				return nil, err
			}
			return processor.Handle(p), nil
		},
	}
}
