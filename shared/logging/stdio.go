package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// lockedWriter serialises whole writes, so lines from several sources never
// interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// CaptureStdio makes every line the process writes to os.Stdout and
// os.Stderr reach w as a JSON log line. Code that is not ours
// (functions-framework) prints plain text with fmt; here a line that is
// already a JSON object passes through unchanged, and any other line becomes
// {"severity": "INFO" (stdout) or "ERROR" (stderr), "message": line}. It
// returns a logger on w and restore, which puts the files back and waits for
// the last line. Only a command that owns the process (`cioevents serve`)
// should call it.
func CaptureStdio(w io.Writer, level string) (log *slog.Logger, restore func(), err error) {
	out := &lockedWriter{w: w}
	oldOut, oldErr := os.Stdout, os.Stderr
	rOut, wOut, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	rErr, wErr, err := os.Pipe()
	if err != nil {
		rOut.Close()
		wOut.Close()
		return nil, nil, err
	}
	var wg sync.WaitGroup
	wg.Go(func() { copyLines(out, rOut, "INFO") })
	wg.Go(func() { copyLines(out, rErr, "ERROR") })
	os.Stdout, os.Stderr = wOut, wErr
	var once sync.Once
	restore = func() {
		once.Do(func() {
			os.Stdout, os.Stderr = oldOut, oldErr
			wOut.Close()
			wErr.Close()
			wg.Wait()
		})
	}
	return New(out, level), restore, nil
}

// copyLines re-emits each line of r on w as JSON until r ends.
func copyLines(w io.Writer, r io.ReadCloser, severity string) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			_, _ = w.Write(jsonLine(line, severity))
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_, _ = w.Write(jsonLine([]byte("log capture: "+err.Error()), "ERROR"))
			}
			return
		}
	}
}

func jsonLine(line []byte, severity string) []byte {
	t := bytes.TrimRight(line, "\r\n")
	if len(bytes.TrimSpace(t)) == 0 {
		// functions-framework prints bare newlines to flush on Cloud Run.
		return nil
	}
	if t[0] == '{' && json.Valid(t) {
		return append(t, '\n')
	}
	b, _ := json.Marshal(struct {
		Time     time.Time `json:"time"`
		Severity string    `json:"severity"`
		Message  string    `json:"message"`
	}{time.Now(), severity, string(t)})
	return append(b, '\n')
}
