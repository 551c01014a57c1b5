package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// The functions' own lines are JSON, but functions-framework prints plain
// text on the same streams: "WARNING: failed to extract Pub/Sub topic…"
// with no newline (glued to the next JSON line, so Cloud Logging stores both
// as text), "Function error: …" on stderr, and on Cloud Run an empty line
// after every request. RouteProcessOutput puts a filter between the process
// and its real stdout and stderr so that every line that reaches Cloud
// Logging is one JSON object with a severity.

var routed struct {
	once           sync.Once
	mu             sync.Mutex
	stdout, stderr *os.File // the real ones
	pipes          []*os.File
	done           []chan struct{}
}

// RouteProcessOutput replaces os.Stdout and os.Stderr with pipes whose
// lines are rewritten by Reformat on their way to the real streams. Only
// writes made through the os.Stdout and os.Stderr variables after the call
// are routed, which is what functions-framework does; a logger made with
// Stdout() writes straight to the real stdout, unbuffered. Calling it again
// does nothing.
func RouteProcessOutput() error {
	var err error
	routed.once.Do(func() {
		routed.mu.Lock()
		defer routed.mu.Unlock()
		routed.stdout, routed.stderr = os.Stdout, os.Stderr
		outR, outW, e1 := os.Pipe()
		errR, errW, e2 := os.Pipe()
		if err = errors.Join(e1, e2); err != nil {
			return
		}
		routed.pipes = []*os.File{outW, errW}
		for _, p := range []struct {
			r, real  *os.File
			severity string
		}{{outR, routed.stdout, "INFO"}, {errR, routed.stderr, "ERROR"}} {
			done := make(chan struct{})
			routed.done = append(routed.done, done)
			go func() {
				defer close(done)
				Reformat(p.real, p.r, p.severity)
			}()
		}
		os.Stdout, os.Stderr = outW, errW
	})
	return err
}

// Stdout is where JSON logs should go: the real stdout, also when
// RouteProcessOutput has put a pipe in os.Stdout.
func Stdout() *os.File {
	routed.mu.Lock()
	defer routed.mu.Unlock()
	if routed.stdout != nil {
		return routed.stdout
	}
	return os.Stdout
}

// Stderr is the real stderr, also when RouteProcessOutput has put a pipe
// in os.Stderr.
func Stderr() *os.File {
	routed.mu.Lock()
	defer routed.mu.Unlock()
	if routed.stderr != nil {
		return routed.stderr
	}
	return os.Stderr
}

// FlushProcessOutput closes the pipes and waits (up to two seconds) until
// everything written to them is out, so a process can exit without losing
// its last lines. os.Stdout and os.Stderr are left as they are — other
// goroutines may be reading them — so later writes through them are lost;
// write final words to Stdout() or Stderr().
func FlushProcessOutput() {
	routed.mu.Lock()
	pipes, done := routed.pipes, routed.done
	routed.pipes, routed.done = nil, nil
	routed.mu.Unlock()
	for _, p := range pipes {
		p.Close()
	}
	timeout := time.After(2 * time.Second)
	for _, d := range done {
		select {
		case <-d:
		case <-timeout:
			return
		}
	}
}

// RestoreProcessOutput flushes the pipes and puts the real streams back in
// os.Stdout and os.Stderr, for a process that turns out not to serve (a CLI
// command). Call it before any goroutine prints.
func RestoreProcessOutput() {
	FlushProcessOutput()
	routed.mu.Lock()
	defer routed.mu.Unlock()
	if routed.stdout != nil {
		os.Stdout, os.Stderr = routed.stdout, routed.stderr
	}
}

// partialWait is how long a line without its newline waits for the rest
// before it is written as it is (functions-framework's warning never gets
// one).
const partialWait = 100 * time.Millisecond

// maxText bounds a wrapped plain-text line: the framework echoes whole
// request bodies in some of its errors.
const maxText = 2048

// Reformat copies src to dst line by line until src ends, making each line
// one JSON object with a "severity": JSON objects pass unchanged (given
// severity if they lack one), plain text is wrapped (from its first "{" on
// redacted, as that is where a framework message quotes a body) as
// {"severity":…,"message":…,"origin":"process output"} with severity
// WARNING or ERROR when the text starts so and defaultSeverity otherwise,
// text glued in front of a JSON object is split off into its own line, and
// blank lines are dropped. Each line is written with one Write.
func Reformat(dst io.Writer, src io.Reader, defaultSeverity string) {
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	var pending []byte
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case c, ok := <-chunks:
			if !ok {
				writeLine(dst, pending, defaultSeverity)
				return
			}
			pending = append(pending, c...)
			for {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				writeLine(dst, pending[:i], defaultSeverity)
				pending = pending[i+1:]
			}
			if len(pending) > 0 {
				timer.Reset(partialWait)
			} else {
				timer.Stop()
				pending = nil
			}
		case <-timer.C:
			writeLine(dst, pending, defaultSeverity)
			pending = nil
		}
	}
}

func writeLine(dst io.Writer, line []byte, defaultSeverity string) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	if isObject(line) {
		dst.Write(withSeverity(line, defaultSeverity))
		return
	}
	// "WARNING: …{"time":…}": text with a JSON line glued on.
	if line[len(line)-1] == '}' {
		for i, tries := bytes.IndexByte(line, '{'), 0; i > 0 && tries < 16; tries++ {
			if isObject(line[i:]) {
				writeLine(dst, line[:i], defaultSeverity)
				dst.Write(withSeverity(line[i:], defaultSeverity))
				return
			}
			j := bytes.IndexByte(line[i+1:], '{')
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	text := string(line)
	// functions-framework echoes a whole push body when it cannot parse one
	// ("parsing background event body {…}"): personal data, never logged.
	if i := strings.IndexByte(text, '{'); i >= 0 {
		text = text[:i] + "[redacted]"
	}
	if len(text) > maxText {
		text = strings.ToValidUTF8(text[:maxText], "") + "…"
	}
	b, _ := json.Marshal(struct {
		Severity string `json:"severity"`
		Message  string `json:"message"`
		Origin   string `json:"origin"`
	}{severityOf(text, defaultSeverity), text, "process output"})
	dst.Write(append(b, '\n'))
}

func isObject(b []byte) bool { return len(b) > 1 && b[0] == '{' && json.Valid(b) }

// withSeverity returns the object line with a newline, adding a severity
// when it has none at the top level.
func withSeverity(obj []byte, severity string) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(obj, &top) == nil {
		if _, ok := top["severity"]; !ok {
			rest := bytes.TrimSpace(obj[1:])
			sep := ","
			if len(rest) > 0 && rest[0] == '}' {
				sep = ""
			}
			obj = append([]byte(`{"severity":"`+severity+`"`+sep), rest...)
		}
	}
	return append(bytes.Clone(obj), '\n')
}

func severityOf(text, def string) string {
	upper := strings.ToUpper(text)
	switch {
	case strings.HasPrefix(upper, "WARN"):
		return "WARNING"
	case strings.HasPrefix(upper, "ERROR"), strings.HasPrefix(upper, "FUNCTION ERROR"), strings.HasPrefix(upper, "PANIC"),
		strings.HasPrefix(upper, "FATAL"):
		return "ERROR"
	}
	return def
}
