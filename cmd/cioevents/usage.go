package main

import (
	"errors"
	"strings"
)

// usageOf makes err a usageError (exit status 2) when it wraps the
// command's own usage sentinel; the bare sentinel means the flag package
// already printed why.
func usageOf(cmd string, sentinel, err error) error {
	switch {
	case err == sentinel:
		return usageError{cmd: cmd}
	case err != nil && errors.Is(err, sentinel):
		return usageError{cmd: cmd, msg: strings.TrimPrefix(err.Error(), sentinel.Error()+": ")}
	}
	return err
}
