package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	natsd "github.com/nats-io/nats-server/v2/server"
)

// logFile is the -l log file. Reopen closes and reopens it by name, so that a
// log rotator can rename the file and then send SIGUSR1. If sizeLimit is
// positive (--log_size_limit), the file is rotated (renamed with a timestamp
// suffix) once it grows past that size.
type logFile struct {
	mu        sync.Mutex
	path      string
	f         *os.File
	size      int64
	sizeLimit int64
}

func openLogFile(path string, sizeLimit int64) (*logFile, error) {
	lf := &logFile{path: path, sizeLimit: sizeLimit}
	if err := lf.open(); err != nil {
		return nil, err
	}
	return lf, nil
}

func (lf *logFile) open() error {
	f, err := os.OpenFile(lf.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("log file: %w", err)
	}
	lf.f, lf.size = f, st.Size()
	return nil
}

// Write writes one log entry.
func (lf *logFile) Write(p []byte) (int, error) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		return 0, os.ErrClosed
	}
	if lf.sizeLimit > 0 && lf.size+int64(len(p)) > lf.sizeLimit && lf.size > 0 {
		lf.rotateLocked()
	}
	n, err := lf.f.Write(p)
	lf.size += int64(n)
	return n, err
}

// rotateLocked renames the current file and opens a new one; on failure it
// keeps writing to the current file.
func (lf *logFile) rotateLocked() {
	old := lf.f
	name := fmt.Sprintf("%s.%s", lf.path, time.Now().UTC().Format("2006.01.02.15.04.05.000000000"))
	if err := os.Rename(lf.path, name); err != nil {
		return
	}
	if err := lf.open(); err != nil {
		lf.f = old
		return
	}
	old.Close()
}

// Reopen closes the file and opens it again by name (SIGUSR1).
func (lf *logFile) Reopen() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	old := lf.f
	if err := lf.open(); err != nil {
		return err
	}
	if old != nil {
		old.Close()
	}
	return nil
}

// Close closes the file.
func (lf *logFile) Close() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		return nil
	}
	err := lf.f.Close()
	lf.f = nil
	return err
}

// logging is the process logger and where it writes.
type logging struct {
	root   hclog.Logger  // streaming components derive their loggers from it
	nats   hclog.Logger  // the embedded NATS server's logger
	file   *logFile      // nil unless -l
	syslog *syslogOutput // nil unless -s or -r (and no -l)
}

// newLogging builds the logger from the options: -SD/-SV set the streaming
// level, -D/-V the NATS level (SPEC §10.2), -l a file, -T timestamps,
// --log_format text or json.
func newLogging(o *options, stderr io.Writer) (*logging, error) {
	l := &logging{}
	out := stderr
	// As the reference: the -l file first, else the remote syslog, else the
	// local syslog, else the standard error.
	switch {
	case o.NATS.LogFile != "":
		lf, err := openLogFile(o.NATS.LogFile, o.NATS.LogSizeLimit)
		if err != nil {
			return nil, err
		}
		l.file, out = lf, lf
	case o.NATS.RemoteSyslog != "" || o.NATS.Syslog:
		so, err := openSyslog(o.NATS.RemoteSyslog)
		if err != nil {
			return nil, err
		}
		l.syslog, out = so, so
	}
	level := hclog.Info
	switch {
	case o.StanTrace:
		level = hclog.Trace
	case o.StanDebug:
		level = hclog.Debug
	}
	opts := &hclog.LoggerOptions{
		Name:              "stanft",
		Level:             level,
		Output:            out,
		JSONFormat:        o.LogFormat == logFormatJSON,
		DisableTime:       !o.NATS.Logtime || l.syslog != nil,
		IndependentLevels: true,
	}
	if o.NATS.LogtimeUTC {
		opts.TimeFn = func() time.Time { return time.Now().UTC() }
	}
	l.root = hclog.New(opts)
	l.nats = l.root.Named("nats")
	l.nats.SetLevel(natsLevel(o.NATS))
	return l, nil
}

// natsLevel is the level of the NATS server's logger: -D debug, -V trace.
func natsLevel(o *natsd.Options) hclog.Level {
	switch {
	case o.Trace:
		return hclog.Trace
	case o.Debug:
		return hclog.Debug
	}
	return hclog.Info
}

// Reopen reopens the log file, if any (SIGUSR1).
func (l *logging) Reopen() error {
	if l.file == nil {
		return nil
	}
	return l.file.Reopen()
}

// Close closes the log file or the syslog connection, if any.
func (l *logging) Close() error {
	if l.syslog != nil {
		return l.syslog.Close()
	}
	if l.file == nil {
		return nil
	}
	return l.file.Close()
}

// natsLogger adapts an hclog.Logger to the nats-server Logger interface.
// Fatalf does not exit: it logs an error and calls onFatal, and the caller
// decides (the embedded server is then shut down and stanft exits 1).
type natsLogger struct {
	log      hclog.Logger
	onFatal  func(msg string)
	fatalMsg atomic.Pointer[string] // the first fatal message
}

var _ natsd.Logger = (*natsLogger)(nil)

func (n *natsLogger) Noticef(format string, v ...any) { n.log.Info(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Warnf(format string, v ...any)   { n.log.Warn(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Errorf(format string, v ...any)  { n.log.Error(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Debugf(format string, v ...any) {
	if n.log.IsDebug() {
		n.log.Debug(fmt.Sprintf(format, v...))
	}
}
func (n *natsLogger) Tracef(format string, v ...any) {
	if n.log.IsTrace() {
		n.log.Trace(fmt.Sprintf(format, v...))
	}
}
func (n *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	n.log.Error(msg)
	n.fatalMsg.CompareAndSwap(nil, &msg)
	if n.onFatal != nil {
		n.onFatal(msg)
	}
}
