package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stanft/stanft/internal/testenv"
)

func TestLoggingLevels(t *testing.T) {
	cases := []struct {
		args                   []string
		streamDebug, natsDebug bool
		streamTrace, natsTrace bool
	}{
		{nil, false, false, false, false},
		{[]string{"-SD"}, true, false, false, false},
		{[]string{"-SV"}, true, false, true, false},
		{[]string{"-SDV"}, true, false, true, false},
		{[]string{"-D"}, false, true, false, false},
		{[]string{"-V"}, false, true, false, true},
		{[]string{"-DV"}, false, true, false, true},
	}
	for _, c := range cases {
		o := mustParse(t, c.args...)
		var out testenv.SyncBuffer
		l, err := newLogging(o, &out)
		if err != nil {
			t.Fatal(err)
		}
		srv := l.root.Named("server")
		if srv.IsDebug() != c.streamDebug || srv.IsTrace() != c.streamTrace {
			t.Errorf("%v: streaming debug=%v trace=%v", c.args, srv.IsDebug(), srv.IsTrace())
		}
		if l.nats.IsDebug() != c.natsDebug || l.nats.IsTrace() != c.natsTrace {
			t.Errorf("%v: nats debug=%v trace=%v", c.args, l.nats.IsDebug(), l.nats.IsTrace())
		}
		// The NATS adapter maps the levels.
		nl := &natsLogger{log: l.nats}
		nl.Noticef("notice %d", 1)
		nl.Warnf("warn")
		nl.Errorf("error")
		nl.Debugf("debug line")
		nl.Tracef("trace line")
		s := out.String()
		for _, want := range []string{"[INFO]  stanft.nats: notice 1", "[WARN]  stanft.nats: warn", "[ERROR] stanft.nats: error"} {
			if !strings.Contains(s, want) {
				t.Errorf("%v: log lacks %q:\n%s", c.args, want, s)
			}
		}
		if strings.Contains(s, "debug line") != c.natsDebug || strings.Contains(s, "trace line") != c.natsTrace {
			t.Errorf("%v: nats debug/trace lines:\n%s", c.args, s)
		}
	}
}

func TestLoggingNoTimestamps(t *testing.T) {
	o := mustParse(t, "-T=false")
	var out testenv.SyncBuffer
	l, err := newLogging(o, &out)
	if err != nil {
		t.Fatal(err)
	}
	l.root.Info("hello")
	if got := out.String(); !strings.HasPrefix(got, "[INFO]") {
		t.Fatalf("-T=false: %q", got)
	}
}

func TestNATSLoggerFatalDoesNotExit(t *testing.T) {
	o := mustParse(t)
	var out testenv.SyncBuffer
	l, _ := newLogging(o, &out)
	var got string
	nl := &natsLogger{log: l.nats, onFatal: func(msg string) { got = msg }}
	nl.Fatalf("boom %s", "x")
	if got != "boom x" || !strings.Contains(out.String(), "[ERROR] stanft.nats: boom x") {
		t.Fatalf("fatal: %q, log %q", got, out.String())
	}
}

func TestLogFileSizeLimitRotates(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.log")
	lf, err := openLogFile(p, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	line := []byte(strings.Repeat("x", 59) + "\n")
	for i := 0; i < 3; i++ {
		if _, err := lf.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	matches, _ := filepath.Glob(p + ".*")
	if len(matches) < 1 {
		t.Fatal("no rotated file")
	}
	b, _ := os.ReadFile(p)
	if len(b) > 100 {
		t.Fatalf("current file has %d bytes, limit 100", len(b))
	}
}
