// Package emulator starts the Pub/Sub and Firestore emulator jars for tests
// when no *_EMULATOR_HOST is set, so `go test ./...` works by itself. A jar
// that is missing is an error, never a skip: a test that silently does not
// run proves nothing.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Kind names an emulator.
type Kind string

// The emulators this package can start.
const (
	PubSub    Kind = "pubsub"
	Firestore Kind = "firestore"
)

// EnvVar is the variable the Google client libraries read for the emulator.
func (k Kind) EnvVar() string {
	if k == PubSub {
		return "PUBSUB_EMULATOR_HOST"
	}
	return "FIRESTORE_EMULATOR_HOST"
}

// SDKRoot is where the machine image keeps the emulator jars; CLOUDSDK_ROOT
// overrides it.
func SDKRoot() string {
	if r := os.Getenv("CLOUDSDK_ROOT"); r != "" {
		return r
	}
	return "/usr/lib/google-cloud-sdk"
}

// Command returns the command that runs the emulator on host:port.
func Command(k Kind, host string, port int) (*exec.Cmd, error) {
	root := filepath.Join(SDKRoot(), "platform")
	var jar string
	var args []string
	switch k {
	case PubSub:
		jar = filepath.Join(root, "pubsub-emulator", "lib", "cloud-pubsub-emulator-0.8.20-all.jar")
		if m, _ := filepath.Glob(filepath.Join(root, "pubsub-emulator", "lib", "cloud-pubsub-emulator-*-all.jar")); len(m) > 0 {
			jar = m[0]
		}
		args = []string{"-jar", jar, "--host=" + host, "--port=" + strconv.Itoa(port)}
	case Firestore:
		jar = filepath.Join(root, "cloud-firestore-emulator", "cloud-firestore-emulator.jar")
		args = []string{"-Duser.language=en", "-cp", jar, "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
			"start", "--host=" + host, "--port=" + strconv.Itoa(port)}
	default:
		return nil, fmt.Errorf("emulator: unknown kind %q", k)
	}
	if _, err := os.Stat(jar); err != nil {
		return nil, fmt.Errorf("emulator: %s jar not found at %s (install the Google Cloud SDK emulator component or set %s): %w",
			k, jar, k.EnvVar(), err)
	}
	cmd := exec.Command("java", args...)
	// Pdeathsig: a test binary that panics never reaches Stop; the emulator
	// must not outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd, nil
}

// Process is a running emulator.
type Process struct {
	Kind Kind
	Host string // host:port
	cmd  *exec.Cmd
}

// Start launches an emulator on a free loopback port and waits until it
// answers "Ok" on GET /.
func Start(ctx context.Context, k Kind) (*Process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd, err := Command(k, "127.0.0.1", port)
	if err != nil {
		return nil, err
	}
	logf, err := os.CreateTemp("", "cioevents-"+string(k)+"-*.log")
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("emulator: start %s: %w", k, err)
	}
	logf.Close()
	p := &Process{Kind: k, Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd}
	if err := WaitReady(ctx, p.Host, 60*time.Second); err != nil {
		p.Stop()
		return nil, fmt.Errorf("emulator: %s (log %s): %w", k, logf.Name(), err)
	}
	return p, nil
}

// WaitReady polls http://host/ until it answers 200.
func WaitReady(ctx context.Context, host string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready at %s: %w", host, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop ends the emulator's whole process group: SIGTERM, then SIGKILL after
// 3 s, because the Pub/Sub emulator can ignore SIGTERM while pushing.
func (p *Process) Stop() {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var (
	mu      sync.Mutex
	started []*Process
)

// Ensure makes sure each emulator is reachable: if its *_EMULATOR_HOST is set
// it is used as is, otherwise the jar is started and the variable set for the
// rest of the process. Call Stop (or use Main) when done.
func Ensure(ctx context.Context, kinds ...Kind) error {
	mu.Lock()
	defer mu.Unlock()
	var errs []error
	for _, k := range kinds {
		if os.Getenv(k.EnvVar()) != "" {
			continue
		}
		p, err := Start(ctx, k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		started = append(started, p)
		os.Setenv(k.EnvVar(), p.Host)
	}
	return errors.Join(errs...)
}

// StopAll stops what Ensure started.
func StopAll() {
	mu.Lock()
	defer mu.Unlock()
	for _, p := range started {
		os.Unsetenv(p.Kind.EnvVar())
		p.Stop()
	}
	started = nil
}

// Main is a TestMain body: it ensures the emulators, runs the tests and stops
// what it started. A missing emulator fails the package.
func Main(m *testing.M, kinds ...Kind) {
	if err := Ensure(context.Background(), kinds...); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	code := m.Run()
	StopAll()
	os.Exit(code)
}
