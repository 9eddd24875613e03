package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrNotRunning is returned when a signal is sent to a process that is not
// running.
var ErrNotRunning = errors.New("e2e: process not running")

// Process is one child process started by a test. It is restartable: Start
// after the process exited runs the same command again and appends to the same
// log. All methods are safe for concurrent use.
type Process struct {
	t       testing.TB
	name    string
	bin     string
	args    []string
	env     []string
	logPath string

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when the current run has exited
	exitCode int           // of the last run; valid once done is closed
	paused   bool
	sink     *logSink
	runStart int // index of the first log line of the current run
}

// NewProcess prepares (does not start) a process. Its combined stdout and
// stderr go to <t.TempDir()>/<name>.log and are dumped to the test log if the
// test fails (or always, with STANFT_E2E_LOGS=1 in the environment). A t.Cleanup kills the process if it is still running.
func NewProcess(t testing.TB, name, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{
		t:       t,
		name:    name,
		bin:     bin,
		args:    append([]string(nil), args...),
		logPath: filepath.Join(t.TempDir(), name+".log"),
	}
	p.sink = newLogSink(p.logPath)
	t.Cleanup(func() {
		p.forceStop()
		if t.Failed() || os.Getenv("STANFT_E2E_LOGS") != "" {
			p.dump(200)
		}
		p.sink.close()
	})
	return p
}

// StartProcess is NewProcess followed by Start; it fails the test on error.
func StartProcess(t testing.TB, name, bin string, args ...string) *Process {
	t.Helper()
	p := NewProcess(t, name, bin, args...)
	if err := p.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return p
}

// Name returns the name given at creation.
func (p *Process) Name() string { return p.name }

// SetArgs replaces the arguments used by the next Start.
func (p *Process) SetArgs(args ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.args = append([]string(nil), args...)
}

// SetEnv sets extra environment variables ("K=V") for the next Start.
func (p *Process) SetEnv(env ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.env = append([]string(nil), env...)
}

// Start runs the process. It fails if the process is already running.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return fmt.Errorf("e2e: %s: already running (pid %d)", p.name, p.cmd.Process.Pid)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout = p.sink
	cmd.Stderr = p.sink
	p.runStart = p.sink.mark()
	p.sink.note(fmt.Sprintf("=== e2e: start %s %s", p.bin, strings.Join(p.args, " ")))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("e2e: start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.paused = cmd, done, false
	go func() {
		err := cmd.Wait()
		code := 0
		if cmd.ProcessState != nil {
			code = exitCodeOf(cmd.ProcessState)
		} else if err != nil {
			code = -1
		}
		p.mu.Lock()
		p.exitCode = code
		p.mu.Unlock()
		p.sink.note(fmt.Sprintf("=== e2e: %s exited: %d (%v)", p.name, code, err))
		close(done)
	}()
	return nil
}

// exitCodeOf returns the exit status, or 128+signal for a process killed by a
// signal (as a shell reports it).
func exitCodeOf(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// PID returns the PID of the current run, 0 if never started.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the current run has not exited yet.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !isClosed(p.done)
}

// Done returns a channel closed when the current run exits (nil if never
// started).
func (p *Process) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Signal sends sig to the current run.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || isClosed(p.done) {
		return fmt.Errorf("e2e: signal %v to %s: %w", sig, p.name, ErrNotRunning)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("e2e: signal %v to %s: %w", sig, p.name, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		p.paused = true
	case syscall.SIGCONT:
		p.paused = false
	}
	return nil
}

// Wait waits up to timeout for the current run to exit and returns its exit
// code (128+signal when killed by a signal).
func (p *Process) Wait(timeout time.Duration) (int, error) {
	done := p.Done()
	if done == nil {
		return 0, fmt.Errorf("e2e: wait %s: %w", p.name, ErrNotRunning)
	}
	select {
	case <-done:
		code, _ := p.ExitCode()
		return code, nil
	case <-time.After(timeout):
		return 0, fmt.Errorf("e2e: %s still running after %v", p.name, timeout)
	}
}

// ExitCode returns the exit code of the last run and whether it has exited.
func (p *Process) ExitCode() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil || !isClosed(p.done) {
		return 0, false
	}
	return p.exitCode, true
}

// Stop sends SIGTERM and waits up to timeout for the exit, then SIGKILLs. It
// returns the exit code.
func (p *Process) Stop(timeout time.Duration) (int, error) {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	code, err := p.Wait(timeout)
	if err != nil {
		_ = p.Kill()
		return 0, fmt.Errorf("e2e: stop %s: %w (killed)", p.name, err)
	}
	return code, nil
}

// Kill sends SIGKILL and waits for the exit.
func (p *Process) Kill() error {
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	_, err := p.Wait(10 * time.Second)
	return err
}

// Pause stops the process with SIGSTOP (it keeps its fds, locks and sockets).
func (p *Process) Pause() error { return p.Signal(syscall.SIGSTOP) }

// Resume continues a paused process with SIGCONT.
func (p *Process) Resume() error { return p.Signal(syscall.SIGCONT) }

// Restart stops the process (SIGTERM, 10 s grace) if it runs, then starts it.
func (p *Process) Restart() error {
	if p.Running() {
		if _, err := p.Stop(10 * time.Second); err != nil {
			return err
		}
	}
	return p.Start()
}

// forceStop kills a running process (resuming it first if paused); used by
// the cleanup.
func (p *Process) forceStop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || isClosed(done) {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.t.Logf("e2e: %s (pid %d) did not exit after SIGKILL", p.name, cmd.Process.Pid)
	}
}

// Mark returns a position in the log; WaitLogAfter matches only lines after it.
func (p *Process) Mark() int { return p.sink.mark() }

// WaitLog waits until a line of the current run matches pattern (a regular
// expression) and returns the line.
func (p *Process) WaitLog(pattern string, timeout time.Duration) (string, error) {
	p.mu.Lock()
	from := p.runStart
	p.mu.Unlock()
	return p.WaitLogAfter(from, pattern, timeout)
}

// WaitLogAfter waits until a line after mark matches pattern.
func (p *Process) WaitLogAfter(mark int, pattern string, timeout time.Duration) (string, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return "", fmt.Errorf("e2e: WaitLog %q: %w", pattern, err)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	next := mark
	for {
		lines, notify := p.sink.linesFrom(next)
		for _, l := range lines {
			if re.MatchString(l) {
				return l, nil
			}
		}
		next += len(lines)
		select {
		case <-notify:
		case <-deadline.C:
			return "", fmt.Errorf("e2e: %s: no log line matching %q after %v", p.name, pattern, timeout)
		}
	}
}

// Logs returns the whole captured output (all runs).
func (p *Process) Logs() string {
	lines, _ := p.sink.linesFrom(0)
	return strings.Join(lines, "\n")
}

// CountLog returns how many lines of all runs match pattern.
func (p *Process) CountLog(pattern string) int {
	re := regexp.MustCompile(pattern)
	lines, _ := p.sink.linesFrom(0)
	n := 0
	for _, l := range lines {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

func (p *Process) dump(maxLines int) {
	lines, _ := p.sink.linesFrom(0)
	if len(lines) > maxLines {
		p.t.Logf("----- %s: last %d of %d log lines (%s) -----", p.name, maxLines, len(lines), p.logPath)
		lines = lines[len(lines)-maxLines:]
	} else {
		p.t.Logf("----- %s: log (%s) -----", p.name, p.logPath)
	}
	p.t.Log(strings.Join(lines, "\n"))
}

// logSink collects a process's output: appended to a file and kept as lines
// for WaitLog. Waiters are woken by closing and replacing notify.
type logSink struct {
	mu      sync.Mutex
	f       *os.File
	partial []byte
	lines   []string
	notify  chan struct{}
}

func newLogSink(path string) *logSink {
	f, _ := os.Create(path) // a nil file only loses the copy on disk
	return &logSink{f: f, notify: make(chan struct{})}
}

// Write implements io.Writer for the child's stdout and stderr.
func (s *logSink) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		_, _ = s.f.Write(b)
	}
	s.partial = append(s.partial, b...)
	added := false
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.lines = append(s.lines, string(s.partial[:i]))
		s.partial = s.partial[i+1:]
		added = true
	}
	if added {
		close(s.notify)
		s.notify = make(chan struct{})
	}
	return len(b), nil
}

// note adds a framework line (start/exit markers).
func (s *logSink) note(line string) { _, _ = s.Write([]byte(line + "\n")) }

func (s *logSink) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

func (s *logSink) linesFrom(i int) ([]string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i > len(s.lines) {
		i = len(s.lines)
	}
	return append([]string(nil), s.lines[i:]...), s.notify
}

func (s *logSink) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
}
