package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/syslog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// syslogOutput is the log output of -s/--syslog and -r/--remote_syslog
// (SPEC §10.2, D3: the reference's logging flags keep their meaning). Each
// log line goes to syslog at its level: info and trace as notice (as the
// reference's syslog logger does), warn as warning, error as err, debug as
// debug. Syslog stamps the time, so the lines carry none.
type syslogOutput struct {
	w *syslog.Writer
}

// syslogTag is the program name, as the reference tags its syslog lines.
func syslogTag() string { return filepath.Base(os.Args[0]) }

// openSyslog connects to the remote syslog at rawURL (udp://host:port,
// tcp://host:port or unix:///path) when it is set, else to the local syslog.
func openSyslog(rawURL string) (*syslogOutput, error) {
	var (
		w   *syslog.Writer
		err error
	)
	if rawURL != "" {
		u, perr := url.Parse(rawURL)
		if perr != nil {
			return nil, fmt.Errorf("remote syslog: %w", perr)
		}
		var addr string
		switch u.Scheme {
		case "udp", "tcp":
			addr = u.Host
		case "unix":
			addr = u.Path
		default:
			return nil, fmt.Errorf("error invalid network type: %q", u.Scheme)
		}
		w, err = syslog.Dial(u.Scheme, addr, syslog.LOG_DEBUG, syslogTag())
	} else {
		w, err = syslog.New(syslog.LOG_DAEMON|syslog.LOG_NOTICE, syslogTag())
	}
	if err != nil {
		return nil, fmt.Errorf("error connecting to syslog: %q", err.Error())
	}
	return &syslogOutput{w: w}, nil
}

// Write sends each line of p (one hclog entry) at its level.
func (s *syslogOutput) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		level, msg := syslogLevel(line)
		var err error
		switch level {
		case "warn":
			err = s.w.Warning(msg)
		case "error":
			err = s.w.Err(msg)
		case "debug":
			err = s.w.Debug(msg)
		default:
			err = s.w.Notice(msg)
		}
		if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// syslogLevel returns the level of an hclog line (text "[INFO]  name: msg"
// or JSON with "@level") and the text to send.
func syslogLevel(line []byte) (level, msg string) {
	if line[0] == '{' {
		var m struct {
			Level string `json:"@level"`
		}
		if json.Unmarshal(line, &m) == nil {
			return m.Level, string(line)
		}
		return "", string(line)
	}
	s := string(line)
	if strings.HasPrefix(s, "[") {
		if end := strings.IndexByte(s, ']'); end > 0 {
			return strings.ToLower(s[1:end]), strings.TrimLeft(s[end+1:], " ")
		}
	}
	return "", s
}

// Close closes the connection to syslog.
func (s *syslogOutput) Close() error { return s.w.Close() }
