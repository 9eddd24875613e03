package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/filestore"
	"github.com/stanft/stanft/store"
)

const recoveryCID = "bench-recovery"

// dataset is a recovery benchmark input.
type dataset struct {
	name     string
	channels int
	perChan  int
}

// populate writes a dataset straight through the filestore API (fsync off,
// one flush per 10,000 messages, then Close).
func populate(dir string, ds dataset, size int) error {
	cfg := filestore.DefaultConfig()
	cfg.DoSync = false
	cfg.Limits = benchLimits()
	st, err := filestore.Open(dir, cfg)
	if err != nil {
		return fmt.Errorf("bench: populate open: %w", err)
	}
	if _, err := st.Recover(context.Background()); err != nil {
		return fmt.Errorf("bench: populate recover: %w", err)
	}
	info := &store.ServerInfo{
		ClusterID:   recoveryCID,
		Discovery:   "_STAN.discover." + recoveryCID,
		Publish:     "_STAN.pub." + recoveryCID,
		Subscribe:   "_STAN.sub." + recoveryCID,
		Unsubscribe: "_STAN.unsub." + recoveryCID,
		Close:       "_STAN.close." + recoveryCID,
		SubClose:    "_STAN.subclose." + recoveryCID,
		AcksSubs:    "_STAN.ack." + recoveryCID,
	}
	if err := st.Init(info); err != nil {
		return fmt.Errorf("bench: populate init: %w", err)
	}
	data := make([]byte, size)
	now := time.Now().UnixNano()
	for c := 0; c < ds.channels; c++ {
		name := fmt.Sprintf("ch.%04d", c)
		ch, err := st.CreateChannel(name)
		if err != nil {
			return fmt.Errorf("bench: populate channel %s: %w", name, err)
		}
		for i := 1; i <= ds.perChan; i++ {
			m := &pb.MsgProto{Sequence: uint64(i), Subject: name, Data: data, Timestamp: now}
			if err := ch.Msgs.Store(m); err != nil {
				return fmt.Errorf("bench: populate store: %w", err)
			}
			if i%10000 == 0 {
				if err := ch.Msgs.Flush(); err != nil {
					return fmt.Errorf("bench: populate flush: %w", err)
				}
			}
		}
		if err := ch.Msgs.Flush(); err != nil {
			return fmt.Errorf("bench: populate flush: %w", err)
		}
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("bench: populate close: %w", err)
	}
	return nil
}

// recoveryResult is what the child process reports on stdout (one JSON line).
type recoveryResult struct {
	Mode     string        `json:"mode"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Channels int           `json:"channels"`
	Msgs     int           `json:"msgs"`
	RSSKB    int           `json:"rss_kb"`
	HWMKB    int           `json:"hwm_kb"`
	Err      string        `json:"error,omitempty"`
}

// runRecoveryChild is the re-executed child: it recovers dir in a fresh
// process, so RSS is recovery's own. mode "store" times filestore Open +
// Recover; mode "server" times a stanft server's Activate (which recovers),
// with an embedded NATS server in the same process.
func runRecoveryChild(dir, mode string) int {
	res := recoveryResult{Mode: mode}
	err := func() error {
		switch mode {
		case "store":
			cfg := filestore.DefaultConfig()
			cfg.Limits = benchLimits()
			t0 := time.Now()
			st, err := filestore.Open(dir, cfg)
			if err != nil {
				return err
			}
			rs, err := st.Recover(context.Background())
			res.Elapsed = time.Since(t0)
			if err != nil {
				return err
			}
			res.RSSKB, res.HWMKB = rss()
			if rs != nil {
				res.Channels = len(rs.Channels)
				for _, c := range rs.Channels {
					n, _, err := c.Channel.Msgs.State()
					if err != nil {
						return err
					}
					res.Msgs += n
				}
			}
			return st.Close()
		case "server":
			ns, err := startNATS()
			if err != nil {
				return err
			}
			defer ns.Shutdown()
			t0 := time.Now()
			s, err := startServer(kindFileSync, ns.ClientURL(), recoveryCID, dir, nil)
			res.Elapsed = time.Since(t0)
			if err != nil {
				return err
			}
			res.RSSKB, res.HWMKB = rss()
			s.close()
			return nil
		default:
			return fmt.Errorf("unknown mode %q", mode)
		}
	}()
	if err != nil {
		res.Err = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	if err != nil {
		return 1
	}
	return 0
}

// recoverInChild re-executes this binary in child mode and parses its
// result.
func recoverInChild(dir, mode string) (recoveryResult, error) {
	var res recoveryResult
	self, err := os.Executable()
	if err != nil {
		return res, fmt.Errorf("bench: executable: %w", err)
	}
	cmd := exec.Command(self, "-recovery-child", dir, "-recovery-mode", mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		return res, fmt.Errorf("bench: recovery child (%v): output %q: %w", err, out, jerr)
	}
	if res.Err != "" {
		return res, fmt.Errorf("bench: recovery child: %s", res.Err)
	}
	return res, nil
}

// rss returns VmRSS and VmHWM of this process in kB.
func rss() (cur, peak int) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.Atoi(fields[1])
		switch fields[0] {
		case "VmRSS:":
			cur = v
		case "VmHWM:":
			peak = v
		}
	}
	return cur, peak
}
