package main

import (
	"bytes"
	"net"
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

// runBinary runs the built binary to completion and returns its exit code,
// stdout and stderr.
func runBinary(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v: still running after 20s; stderr %q", args, stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// TestProcessErrorLinesExact: option errors end the process with exit 1 and
// exactly one stderr line, "stanft: " and the text (SPEC §10.4, D1, D13).
func TestProcessErrorLinesExact(t *testing.T) {
	dir := t.TempDir()
	conf := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	port := strconv.Itoa(testenv.FreePort(t))
	clusterWhy := `"cluster" is not supported: use --ft_group with a shared FILE store`
	cases := []struct {
		name string
		args []string
		line string
	}{
		// SPEC §8.1: the reference's startup error, nothing appended.
		{"ft memory", []string{"--ft_group", "g"}, "stanft: ft: only FILE or SQL stores supported in FT mode"},
		{"ft memory conf", []string{"-sc", conf("ft.conf", "streaming { ft_group: g }\n")}, "stanft: ft: only FILE or SQL stores supported in FT mode"},
		// A bad number is Go's flag error, as for every numeric flag.
		{"bad int", []string{"-mc", "abc"}, `stanft: invalid value "abc" for flag -mc: parse error`},
		{"bad int long", []string{"--max_msgs=1.5"}, `stanft: invalid value "1.5" for flag -max_msgs: parse error`},
		{"bad size", []string{"-mb", "lots"}, `stanft: invalid value "lots" for flag -mb: parse error`},
		{"bad file size", []string{"--file_buffer_size", "1XB"}, `stanft: invalid value "1XB" for flag -file_buffer_size: parse error`},
		{"bad duration", []string{"-hbi", "30"}, `stanft: invalid value "30" for flag -hbi: parse error`},
		{"bad bool", []string{"-SD=maybe"}, `stanft: invalid boolean value "maybe" for -SD: parse error`},
		{"unknown flag", []string{"--nope"}, "stanft: flag provided but not defined: -nope"},
		{"clustered", []string{"-clustered"}, "stanft: --clustered is not supported: use --ft_group with a shared FILE store"},
		// D1: a cluster {} block turns Raft clustering on, even an empty one
		// at the top level of a file without a streaming block.
		{"empty top cluster", []string{"-a", "127.0.0.1", "-p", port, "-sc", conf("c1.conf", "cluster {}\n")}, ""},
		{"empty top cluster -c", []string{"-a", "127.0.0.1", "-p", port, "-c", conf("c2.conf", "cid: x\ncluster { }\n")}, ""},
	}
	// Every spelling of the file flags reads the streaming part of the file:
	// a Raft cluster block is the D1 line, not NATS's "unknown field".
	raft := conf("raft.conf", "cluster { node_id: \"a\", peers: [\"b\"] }\n")
	for _, a := range [][]string{{"-sc", raft}, {"-sc=" + raft}, {"--stan_config=" + raft}, {"--stan_config", raft},
		{"-c", raft}, {"--config=" + raft}, {"-config", raft}} {
		cases = append(cases, struct {
			name string
			args []string
			line string
		}{"raft " + strings.Join(a, " "), a, "stanft: configuration " + clusterWhy})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runBinary(t, c.args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout %q stderr %q", code, stdout, stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Fatalf("stderr %q: want exactly one line", stderr)
			}
			got := strings.TrimSuffix(stderr, "\n")
			if strings.HasPrefix(c.name, "empty top cluster") {
				if !strings.HasPrefix(got, "stanft: ") || !strings.HasSuffix(got, clusterWhy) {
					t.Fatalf("stderr %q, want the D1 line ending %q", got, clusterWhy)
				}
				return
			}
			if got != c.line {
				t.Fatalf("stderr %q\nwant   %q", got, c.line)
			}
		})
	}
}

// TestProcessSIGHUPWithExternalNATS: with -ns there is no embedded server;
// with -m the monitoring NATS server object exists and SIGHUP reloads its
// configuration (errors logged 'Reload: <err>'); without -m the warning
// 'Reload supported only for embedded NATS Server's configuration' (SPEC
// §10.4).
func TestProcessSIGHUPWithExternalNATS(t *testing.T) {
	url := testenv.StartNATS(t)
	const warn = "Reload supported only for embedded NATS Server's configuration"
	t.Run("no -m", func(t *testing.T) {
		cmd, out := startProcess(t, "-ns", url, "-cid", "hup1")
		cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, "the warning", func() bool { return strings.Contains(out.String(), warn) })
		cmd.Process.Signal(syscall.SIGINT)
		if code := exitCode(t, cmd); code != 0 {
			t.Fatalf("exit %d", code)
		}
	})
	t.Run("-m without -c", func(t *testing.T) {
		cmd, out := startProcess(t, "-ns", url, "-cid", "hup2", "-m", strconv.Itoa(testenv.FreePort(t)))
		cmd.Process.Signal(syscall.SIGHUP)
		want := "Reload: can only reload config when a file is provided using -c or --config"
		waitFor(t, "the reload error", func() bool { return strings.Contains(out.String(), want) })
		if strings.Contains(out.String(), warn) {
			t.Fatalf("warned %q although -m made a NATS server object", warn)
		}
		cmd.Process.Signal(syscall.SIGINT)
		if code := exitCode(t, cmd); code != 0 {
			t.Fatalf("exit %d", code)
		}
	})
	t.Run("-m with -c", func(t *testing.T) {
		conf := filepath.Join(t.TempDir(), "n.conf")
		if err := os.WriteFile(conf, []byte("max_payload: 100000\nstreaming { cid: hup3 }\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd, out := startProcess(t, "-ns", url, "-c", conf, "-m", strconv.Itoa(testenv.FreePort(t)))
		cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, "the reload", func() bool { return strings.Contains(out.String(), "Reloaded server configuration") })
		if s := out.String(); strings.Contains(s, warn) || strings.Contains(s, "Reload: ") {
			t.Fatalf("reload failed:\n%s", s)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if code := exitCode(t, cmd); code != 143 {
			t.Fatalf("exit %d", code)
		}
	})
}

// TestProcessSIGUSR1WithoutLogFile: without -l there is no file to reopen;
// the process says so with the reference's line and keeps serving (SPEC
// §10.4).
func TestProcessSIGUSR1WithoutLogFile(t *testing.T) {
	cmd, out := startProcess(t, "-a", "127.0.0.1", "-p", strconv.Itoa(testenv.FreePort(t)))
	cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(t, "the ignored line", func() bool {
		return strings.Contains(out.String(), "File log re-open ignored, not a file logger")
	})
	if strings.Contains(out.String(), "File log re-opened") {
		t.Fatal("claimed to reopen a log file it does not have")
	}
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestProcessSignalCommand: -sl <cmd>=<pid> signals a running stanft (SPEC
// §10.4): quit is SIGINT (exit 0), term is SIGTERM (exit 143), stop is
// SIGKILL; the -sl process itself exits 0, or 1 with one line on a bad
// command.
func TestProcessSignalCommand(t *testing.T) {
	for _, c := range []struct {
		cmd    string
		want   int
		killed bool
	}{{"quit", 0, false}, {"term", 143, false}, {"stop", -1, true}} {
		t.Run(c.cmd, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "stanft.pid")
			cmd, _ := startProcess(t, "-a", "127.0.0.1", "-p", strconv.Itoa(testenv.FreePort(t)), "-P", pidFile)
			code, stdout, stderr := runBinary(t, "-sl", c.cmd+"="+strconv.Itoa(cmd.Process.Pid))
			if code != 0 {
				t.Fatalf("-sl %s: exit %d, stdout %q stderr %q", c.cmd, code, stdout, stderr)
			}
			err := cmd.Wait()
			if c.killed {
				ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
				if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("-sl stop: %v, want killed by SIGKILL", err)
				}
				return
			}
			if got := cmd.ProcessState.ExitCode(); got != c.want {
				t.Fatalf("-sl %s: exit %d, want %d", c.cmd, got, c.want)
			}
		})
	}
	code, _, stderr := runBinary(t, "-sl", "bogus=1")
	if code != 1 || stderr != "stanft: unknown signal \"bogus\"\n" {
		t.Fatalf("-sl bogus: exit %d, stderr %q", code, stderr)
	}
}

// TestProcessRemoteSyslog: -r/--remote_syslog sends the log to a syslog
// server (SPEC §10.2, D3: the reference's logging flags keep their meaning);
// informational lines at notice severity, as the reference's syslog logger.
func TestProcessRemoteSyslog(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	lines := make(chan string, 1000)
	go func() {
		buf := make([]byte, 64*1024)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				close(lines)
				return
			}
			lines <- string(buf[:n])
		}
	}()
	for _, flag := range []string{"-r", "--remote_syslog"} {
		t.Run(flag, func(t *testing.T) {
			cmd, out := startProcessNoWait(t, "-a", "127.0.0.1", "-p", strconv.Itoa(testenv.FreePort(t)),
				flag, "udp://"+pc.LocalAddr().String())
			deadline := time.After(10 * time.Second)
			for ready := false; !ready; {
				select {
				case l := <-lines:
					if strings.Contains(l, "Streaming Server is ready") {
						if !strings.HasPrefix(l, "<5>") {
							t.Fatalf("ready line %q: want notice severity <5>", l)
						}
						ready = true
					}
				case <-deadline:
					t.Fatalf("no ready line on the syslog server; output %q", out.String())
				}
			}
			if s := out.String(); strings.Contains(s, "Streaming Server is ready") {
				t.Fatalf("the log also went to the standard error:\n%s", s)
			}
			cmd.Process.Signal(syscall.SIGINT)
			if code := exitCode(t, cmd); code != 0 {
				t.Fatalf("exit %d", code)
			}
		})
	}
	code, _, stderr := runBinary(t, "-r", "bogus://127.0.0.1:1")
	if code != 1 || stderr != "stanft: error invalid network type: \"bogus\"\n" {
		t.Fatalf("bad -r: exit %d, stderr %q", code, stderr)
	}
}
