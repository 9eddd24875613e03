package filestore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/stan.go/pb"

	"github.com/stanft/stanft/internal/testenv"
	"github.com/stanft/stanft/store"
)

// TestRecoveryLogsProgress: a recovery longer than ProgressInterval logs
// the channels and messages recovered so far, the rate and an estimate.
func TestRecoveryLogsProgress(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	cfg.DoSync = false
	cfg.Limits.MaxChannels = 0
	s := openTest(t, dir, cfg)
	if _, err := s.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Init(&store.ServerInfo{ClusterID: "progress"}); err != nil {
		t.Fatal(err)
	}
	const channels, perChannel = 200, 50
	for i := range channels {
		ch, err := s.CreateChannel(fmt.Sprintf("c%03d", i))
		if err != nil {
			t.Fatal(err)
		}
		for seq := uint64(1); seq <= perChannel; seq++ {
			if err := ch.Msgs.Store(&pb.MsgProto{Sequence: seq, Subject: "c", Data: make([]byte, 128), Timestamp: time.Now().UnixNano()}); err != nil {
				t.Fatal(err)
			}
		}
		if err := ch.Msgs.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	var logs testenv.SyncBuffer
	cfg = DefaultConfig()
	cfg.Limits.MaxChannels = 0
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	cfg.ProgressInterval = time.Microsecond
	cfg.ParallelRecovery = 1
	s2 := openTest(t, dir, cfg)
	defer s2.Close()
	rs, err := s2.Recover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Channels) != channels {
		t.Fatalf("recovered %d channels, want %d", len(rs.Channels), channels)
	}
	out := logs.String()
	if !strings.Contains(out, "recovery in progress") {
		t.Fatalf("no progress line in the recovery logs:\n%s", out)
	}
	for _, key := range []string{"channels=", "of=200", "messages=", "msgs_per_sec=", "estimated_left="} {
		if !strings.Contains(out, key) {
			t.Errorf("progress lines lack %q:\n%s", key, out)
		}
	}
}
