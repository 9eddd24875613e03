package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stanft/stanft/internal/testenv"
)

// binPath is the stanft binary built once by TestMain for the process tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stanft-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath, err = testenv.BuildStanft(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startProcess starts the binary with args and waits for the ready line.
func startProcess(t *testing.T, args ...string) (*exec.Cmd, *testenv.SyncBuffer) {
	t.Helper()
	cmd, out := startProcessNoWait(t, args...)
	waitFor(t, "the ready line", func() bool { return strings.Contains(out.String(), "Streaming Server is ready") })
	return cmd, out
}

func startProcessNoWait(t *testing.T, args ...string) (*exec.Cmd, *testenv.SyncBuffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, binPath, args...)
	out := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("process output:\n%s", out.String())
		}
	})
	return cmd, out
}

func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", err)
	return -1
}

func TestProcessSignals(t *testing.T) {
	for _, c := range []struct {
		sig  syscall.Signal
		ft   bool
		want int
	}{{syscall.SIGTERM, false, 143}, {syscall.SIGINT, false, 0}, {syscall.SIGTERM, true, 143}, {syscall.SIGINT, true, 0}} {
		name := c.sig.String()
		if c.ft {
			name += " FT"
		}
		t.Run(name, func(t *testing.T) {
			args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(testenv.FreePort(t))}
			if c.ft {
				args = append(args, "-st", "FILE", "--dir", t.TempDir(), "--ft_group", "g")
			}
			cmd, out := startProcess(t, args...)
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			if code := exitCode(t, cmd); code != c.want {
				t.Fatalf("exit code %d, want %d", code, c.want)
			}
			if !strings.Contains(out.String(), "Shutting down.") {
				t.Fatal("no graceful shutdown line")
			}
		})
	}
}

func TestProcessSIGUSR1AndSIGHUP(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "s.log")
	cmd, _ := startProcessNoWait(t, "-a", "127.0.0.1", "-p", strconv.Itoa(testenv.FreePort(t)), "-l", logPath)
	waitFor(t, "log file", func() bool { return strings.Contains(readFile(t, logPath), "Streaming Server is ready") })
	os.Rename(logPath, logPath+".old")
	cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(t, "reopen", func() bool { return strings.Contains(readFile(t, logPath), "File log re-opened") })
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "reload error", func() bool { return strings.Contains(readFile(t, logPath), "Reload: ") })
	// -sl reopen=<pid> sends SIGUSR1 to that stanft process.
	os.Rename(logPath, logPath+".old2")
	sl := exec.Command(binPath, "-sl", "reopen="+strconv.Itoa(cmd.Process.Pid))
	if out, err := sl.CombinedOutput(); err != nil {
		t.Fatalf("-sl reopen: %v: %s", err, out)
	}
	waitFor(t, "reopen by -sl", func() bool { return strings.Contains(readFile(t, logPath), "File log re-opened") })
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCode(t, cmd); code != 143 {
		t.Fatalf("exit code %d", code)
	}
}

func TestProcessExitCodes(t *testing.T) {
	cases := []struct {
		args    []string
		code    int
		stdout  string
		oneLine string // the single stderr line must contain this
	}{
		{[]string{"-h"}, 0, "Usage: stanft", ""},
		{[]string{"-v"}, 0, "stanft version ", ""},
		{[]string{"--bad_flag"}, 1, "", "flag provided but not defined: -bad_flag"},
		{[]string{"-mc", "abc"}, 1, "", "-mc"},
		{[]string{"--clustered"}, 1, "", "--clustered is not supported"},
		{[]string{"-st", "SQL"}, 1, "", "SQL"},
		{[]string{"extra"}, 1, "", "unrecognized command"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			cmd := exec.Command(binPath, c.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Run()
			if got := cmd.ProcessState.ExitCode(); got != c.code {
				t.Fatalf("exit code %d, want %d; stderr %q", got, c.code, stderr.String())
			}
			if c.stdout != "" && !strings.Contains(stdout.String(), c.stdout) {
				t.Fatalf("stdout %q lacks %q", stdout.String(), c.stdout)
			}
			if c.oneLine != "" {
				lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], c.oneLine) {
					t.Fatalf("stderr %q: want one line containing %q", stderr.String(), c.oneLine)
				}
			}
		})
	}
}
