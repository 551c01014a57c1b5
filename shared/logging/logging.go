// Package logging writes JSON log lines that Cloud Logging understands:
// "severity" and "message" instead of slog's "level" and "msg", and the
// request's trace so a line joins its request in the console.
package logging

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// TraceKey is the field Cloud Logging reads to link a line to a trace.
const TraceKey = "logging.googleapis.com/trace"

// New returns a JSON logger writing to w at level ("debug", "info", "warn",
// "error"; anything else means info).
func New(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: replace}))
}

func replace(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		a.Key = "severity"
		if lv, ok := a.Value.Any().(slog.Level); ok {
			a.Value = slog.StringValue(severity(lv))
		}
	case slog.MessageKey:
		a.Key = "message"
	case slog.TimeKey:
		a.Key = "time"
	}
	return a
}

func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// Trace returns the Cloud Logging trace attribute for a request, or an empty
// attribute when the request carries no trace header.
func Trace(project string, h http.Header) slog.Attr {
	id := ""
	if v := h.Get("X-Cloud-Trace-Context"); v != "" {
		id, _, _ = strings.Cut(v, "/")
	} else if v := h.Get("Traceparent"); v != "" {
		// W3C: version-traceid-parentid-flags
		if parts := strings.Split(v, "-"); len(parts) == 4 {
			id = parts[1]
		}
	}
	if id == "" || project == "" || !isHex(id) {
		return slog.Attr{}
	}
	return slog.String(TraceKey, "projects/"+project+"/traces/"+id)
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return len(s) <= 64
}

type ctxKey struct{}

// WithLogger stores l in ctx.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From returns the logger in ctx, or slog.Default.
func From(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
