package warehouse

import (
	"context"
	"errors"
)

// Writer stores rows. Implementations are safe for concurrent use and
// idempotent per event_id (BigQuery: best-effort, via the insert ID).
type Writer interface {
	InsertEvent(ctx context.Context, r Row) error
	InsertRejected(ctx context.Context, r Rejected) error
}

// ErrPermanent marks an insert that can never succeed as it stands: the row
// is invalid. Any other error is worth retrying (with backoff), because it
// may be an outage or a misconfiguration whose fix must not cost the row.
var ErrPermanent = errors.New("warehouse: permanent insert failure")

// IsPermanent reports whether err wraps ErrPermanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// insertError carries a message chosen to be safe to log (table, insert ID,
// status and reasons; never row values, which hold personal data) while still
// unwrapping to the underlying client error for errors.As.
type insertError struct {
	msg       string
	permanent bool
	cause     error
}

func (e *insertError) Error() string { return e.msg }

func (e *insertError) Unwrap() []error {
	if e.permanent {
		return []error{ErrPermanent, e.cause}
	}
	return []error{e.cause}
}
