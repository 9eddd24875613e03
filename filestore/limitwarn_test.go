package filestore

import (
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/stanft/stanft/internal/testenv"
)

// Messages dropped by limits while recovering (limits lowered between
// runs) are not reported: as in the reference, the limits warning is
// logged once, at the first drop made to store a new message (SPEC §7.2).
func TestLimitWarningNotOnRecovery(t *testing.T) {
	dir := t.TempDir()
	populate(t, dir, testConfig(t), 5)
	var logs testenv.SyncBuffer
	_, ch := recoveredStore(t, dir, func(c *Config) {
		c.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
		c.Limits.MaxMsgs = 2
	})
	checkMsgs(t, ch.Msgs, 4, 5)
	const w = `Reached limits for store "foo"`
	if strings.Contains(logs.String(), w) {
		t.Fatalf("warning logged on recovery:\n%s", logs.String())
	}
	for seq := uint64(6); seq <= 8; seq++ {
		must(t, ch.Msgs.Store(testMsg("foo", seq)))
	}
	checkMsgs(t, ch.Msgs, 7, 8)
	if n := strings.Count(logs.String(), w); n != 1 {
		t.Fatalf("warning logged %d times:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `(msgs=2/2 bytes=`) {
		t.Fatalf("warning text:\n%s", logs.String())
	}
}
