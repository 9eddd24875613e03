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
	for _, c := range []struct {
		layout    string
		reference bool // the stanft binary stands in for the reference
		procs     int
	}{{"inprocess", false, 0}, {"process", false, 2}, {"process", true, 3}} {
		t.Run(fmt.Sprintf("%s/reference=%v", c.layout, c.reference), func(t *testing.T) {
			o := options{only: map[string]bool{"memory": true}, n: 2000, size: 128, runs: 1, latN: 20,
				dir: t.TempDir(), layout: c.layout}
			if c.reference {
				bin, err := buildStanft(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				o.reference = bin
			}
			if err := benchAll(o); err != nil {
				t.Fatal(err)
			}
			children.mu.Lock()
			defer children.mu.Unlock()
			if len(children.pids) != c.procs {
				t.Errorf("%d server processes, want %d (stanft, null responder, reference)", len(children.pids), c.procs)
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
