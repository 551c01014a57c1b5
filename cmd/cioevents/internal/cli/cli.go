// Package cli holds what every cioevents command shares about its command
// line: a usage mistake is an error main maps to exit status 2 (1 is for a
// command that ran and failed), and flags are parsed one way.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// UsageError is a mistake in the command line. Msg names the flag to fix;
// it is empty when the flag package already printed the mistake and the
// flags.
type UsageError struct{ Cmd, Msg string }

func (e *UsageError) Error() string { return e.Cmd + ": " + e.Msg }

// Usagef returns a UsageError of command cmd.
func Usagef(cmd, format string, args ...any) error {
	return &UsageError{Cmd: cmd, Msg: fmt.Sprintf(format, args...)}
}

// Parse parses fl (ContinueOnError, output already set) and refuses
// positional arguments, which no command takes: a stray word is a typo, not
// something to ignore. -h returns flag.ErrHelp, which exits 0.
func Parse(fl *flag.FlagSet, args []string) error {
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{Cmd: fl.Name()}
	}
	if fl.NArg() > 0 {
		return Usagef(fl.Name(), "unexpected argument %q (every option is a --flag)", fl.Arg(0))
	}
	return nil
}

// ErrUsage marks, wrapped in a command's error, a command line or
// environment the command cannot run with: the same exit status 2 as a
// UsageError, for commands that find the mistake deep in their setup.
var ErrUsage = errors.New("usage")

// AsUsage turns an error of command cmd that wraps ErrUsage into a
// UsageError whose message is what follows "usage: "; the bare sentinel
// means the flag package already printed why. Other errors pass unchanged.
func AsUsage(cmd string, err error) error {
	switch {
	case err == ErrUsage:
		return &UsageError{Cmd: cmd}
	case err != nil && errors.Is(err, ErrUsage):
		msg := err.Error()
		if _, after, ok := strings.Cut(msg, ErrUsage.Error()+": "); ok {
			msg = after
		}
		return &UsageError{Cmd: cmd, Msg: msg}
	}
	return err
}

// ErrConfig marks, wrapped in a command's error, a setting the command
// cannot run with: a variable missing or invalid in the environment. Like a
// usage mistake it exits 2, since nothing was attempted, but it is reported
// as one line, "cioevents: <cmd>: <what to set>", with no pointer to -h,
// whose flags would not fix it.
var ErrConfig = errors.New("configuration")

// Config marks err (nil stays nil) as ErrConfig without changing its text.
func Config(err error) error {
	if err == nil {
		return nil
	}
	return configError{err}
}

type configError struct{ error }

func (e configError) Unwrap() error      { return e.error }
func (configError) Is(target error) bool { return target == ErrConfig }
