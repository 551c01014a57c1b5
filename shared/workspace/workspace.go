// Package workspace names the Customer.io workspaces one deployment serves.
// A name comes from CIO_WEBHOOK_SIGNING_KEYS (name=key); the receiver
// publishes the matched key's name as a message attribute, the row records
// it, and the processor acts on the event only with that workspace's Track
// credentials and policy.
package workspace

import "regexp"

// Default is the workspace of an unnamed signing key, and of a message
// published before workspaces existed (no attribute): its Track credentials
// and policy are CIO_SITE_ID, CIO_TRACK_API_KEY and CIO_ACTIONS.
const Default = "default"

// Pattern is what a name must match: short, so it fits every place it goes
// (a Pub/Sub attribute, a log field, a metric label) unchanged, and free of
// the separators of the variables that list names (",", "=", ":").
const Pattern = `^[a-z][a-z0-9_-]{0,29}$`

var pattern = regexp.MustCompile(Pattern)

// Rule says what Pattern means, for error messages. They do not quote the
// bad name: in a secret variable it may be the start of a key.
const Rule = "a workspace name is a lowercase letter, then up to 29 lowercase letters, digits, _ or - (" + Pattern + ")"

// Valid reports whether name matches Pattern.
func Valid(name string) bool { return pattern.MatchString(name) }

// OrDefault is name, or Default when name is empty.
func OrDefault(name string) string {
	if name == "" {
		return Default
	}
	return name
}
