package main

import (
	"testing"
	"time"

	"github.com/stanft/stanft/ft"
	"github.com/stanft/stanft/monitor"
)

func TestHealthLiveFollowsElectorProgress(t *testing.T) {
	h := &health{}
	if err := h.Live(); err != nil {
		t.Fatalf("no elector (standalone): Live() = %v, want nil", err)
	}
	var st ft.Status
	h.setStatus(func() ft.Status { return st })
	cases := []struct {
		name string
		st   ft.Status
		live bool
	}{
		{"standby, fresh", ft.Status{State: ft.Standby, LastProgress: time.Now()}, true},
		{"active, fresh", ft.Status{State: ft.Active, LastProgress: time.Now().Add(-liveTolerance / 2)}, true},
		{"standby, stale", ft.Status{State: ft.Standby, LastProgress: time.Now().Add(-liveTolerance - time.Second)}, false},
		{"active, stale", ft.Status{State: ft.Active, LastProgress: time.Now().Add(-liveTolerance - time.Second)}, false},
		{"recovering, stale", ft.Status{State: ft.Recovering, LastProgress: time.Now().Add(-2 * liveTolerance)}, false},
		// Demoting is bounded by the shutdown timeout and makes no lock
		// checks meanwhile; a member that never made progress yet is starting.
		{"demoting, stale", ft.Status{State: ft.Demoting, LastProgress: time.Now().Add(-2 * liveTolerance)}, true},
		{"no progress yet", ft.Status{State: ft.Standby}, true},
	}
	for _, c := range cases {
		st = c.st
		err := h.Live()
		if got := err == nil; got != c.live {
			t.Errorf("%s: Live() = %v, want live=%v", c.name, err, c.live)
		}
	}
}

func TestHealthReadyRoles(t *testing.T) {
	h := &health{}
	connected := false
	h.setStatus(func() ft.Status { return ft.Status{State: ft.Standby, Connected: connected, LastProgress: time.Now()} })
	if err := h.Ready(""); err == nil {
		t.Errorf("disconnected standby is ready")
	}
	connected = true
	if err := h.Ready(""); err != nil {
		t.Errorf("connected standby: Ready(\"\") = %v", err)
	}
	if err := h.Ready(monitor.RoleActive); err == nil {
		t.Errorf("standby is ready for role=active")
	}
	h.setServing(true)
	if err := h.Ready(monitor.RoleActive); err != nil {
		t.Errorf("serving active: Ready(active) = %v", err)
	}
}
