// Package servetarget keeps FUNCTION_TARGET for `cioevents serve` alone.
//
// Each function's init refuses to start (exits) when FUNCTION_TARGET names it
// and its configuration is invalid: that is the deployed fail-closed start,
// and init is the only hook a Cloud Functions build offers. The cioevents
// binary links both functions, so an exported FUNCTION_TARGET would make
// `schema`, `send` or `dev` exit in that init too, and `serve` exit with a
// JSON line instead of its one-line refusal (which it also makes when
// FUNCTION_TARGET is unset and it serves both). This package's init hides
// the variable from every command before the functions' init runs, and
// serve reads it back with Target: Go initialises packages in import-path order among those whose
// imports are ready (spec, "Package initialization", since Go 1.21), and
// github.com/cioevents/cioevents/cmd/… sorts before …/functions/…, whose
// imports include this package's only import, os. A test in cmd/cioevents
// runs the built binary to keep that true.
package servetarget

import (
	"os"
	"strings"
)

// Env is the variable the functions and functions-framework read.
const Env = "FUNCTION_TARGET"

// Hidden is the FUNCTION_TARGET value hidden from the command.
var Hidden string

func init() {
	// Only a command word hides it: a test binary (flags only, or no
	// arguments when it re-runs itself as a deployed function) keeps the
	// environment it was given.
	if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-") {
		return
	}
	Hidden = os.Getenv(Env)
	os.Unsetenv(Env)
}

// Target is the FUNCTION_TARGET the process was started with.
func Target() string {
	if Hidden != "" {
		return Hidden
	}
	return os.Getenv(Env)
}
