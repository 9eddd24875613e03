package main

import (
	"fmt"
	"os"
	"testing"
)

// TestMain lets the test binary stand in for the bench binary when
// startNullProc re-executes itself as the null responder.
func TestMain(m *testing.M) {
	if len(os.Args) == 5 && os.Args[1] == "-null-server" && os.Args[3] == "-null-cid" {
		os.Exit(runNullChild(os.Args[2], os.Args[4]))
	}
	os.Exit(m.Run())
}

// TestSmoke runs the throughput part with a few messages in both layouts,
// so that the benchmark keeps working between the runs that matter.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts server processes")
	}
	for _, layout := range []string{"inprocess", "process"} {
		t.Run(layout, func(t *testing.T) {
			o := options{only: map[string]bool{"memory": true}, n: 2000, size: 128, runs: 1, latN: 20,
				dir: t.TempDir(), layout: layout}
			if err := benchAll(o); err != nil {
				t.Fatal(err)
			}
			children.mu.Lock()
			defer children.mu.Unlock()
			if layout == "process" && len(children.pids) != 2 {
				t.Errorf("%d server processes, want 2 (stanft, null responder)", len(children.pids))
			}
			for _, pid := range children.pids {
				// Every child was waited for: its /proc entry is gone.
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
					t.Errorf("server process %d still exists after the benchmark", pid)
				}
			}
			children.pids = nil
		})
	}
}
