package e2e

import (
	"regexp"
	"testing"
	"time"
)

// TestFirstMemberStartup: the first member of a group, started alone on an
// empty datastore, starts in standby mode and activates by itself, with the
// startup lines of SPEC §8.9 in order; isFTActive answers 200 and serverz
// FT_ACTIVE with its cluster ID; a second member then stands by (204,
// FT_STANDBY, its configured cluster ID: SPEC §8.2, D8).
func TestFirstMemberStartup(t *testing.T) {
	requireStanft(t)
	cid := clusterIDFor(t)
	g := NewGroup(t, GroupConfig{Bin: stanftBin, NATSURL: sharedURL, Members: 2, ClusterID: cid})
	first, second := g.Members[0], g.Members[1]
	if err := g.StartMember(first); err != nil {
		t.Fatal(err)
	}
	if err := first.WaitState(StateActive, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if ok, err := first.IsActive(); err != nil || !ok {
		t.Fatalf("isFTActive of the active: %v, %v; want 200", ok, err)
	}
	checkLogOrder(t, first.Logs(), []string{
		`Starting nats-streaming-server\[` + regexp.QuoteMeta(cid) + `\] version `,
		`ServerID: `,
		`Go version: `,
		`Git commit: `,
		`Starting in standby mode`,
		`Server is active`,
		`Recovering the state\.\.\.`,
		`No recovered state`,
		`Message store is FILE`,
		`Store location: ` + regexp.QuoteMeta(g.Dir()),
		`Streaming Server is ready`,
	})
	if err := g.StartMember(second); err != nil {
		t.Fatal(err)
	}
	if err := second.WaitState(StateStandby, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // several heartbeats and lock polls
	z, err := second.Serverz()
	if err != nil {
		t.Fatal(err)
	}
	if z.State != StateStandby || z.ClusterID != cid {
		t.Errorf("standby serverz: state %q cluster_id %q; want %s, %q", z.State, z.ClusterID, StateStandby, cid)
	}
	if ok, err := second.IsActive(); err != nil || ok {
		t.Errorf("isFTActive of the standby: %v, %v; want 204", ok, err)
	}
	if n := second.CountLog(`Server is active|Recovering the state`); n != 0 {
		t.Errorf("the standby activated or recovered (%d lines)", n)
	}
	if ok, err := first.IsActive(); err != nil || !ok {
		t.Errorf("the first member is no longer active: %v, %v", ok, err)
	}
}

// TestFTGroupMismatch: a member of another --ft_group on the same datastore
// (and cluster ID) hears no heartbeat of its group: it stands by, cannot
// get the lock while the active holds it and logs the reference's lock
// line (SPEC §8.4); the active is unaffected. When the active dies, it
// takes over the datastore (the lock is what counts).
func TestFTGroupMismatch(t *testing.T) {
	s := newScenario(t, scenarioOpts{members: 1})
	other := NewGroup(t, GroupConfig{Bin: stanftBin, NATSURL: s.nats, Members: 1, ClusterID: s.cid, FTGroup: "another", Dir: s.g.Dir()})
	m := other.Members[0]
	if err := other.StartMember(m); err != nil {
		t.Fatal(err)
	}
	if _, err := m.WaitLog(`ft: unable to get store lock at this time, going back to standby`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if st, err := m.State(); err != nil || st != StateStandby {
		t.Fatalf("state %q, %v; want %s", st, err, StateStandby)
	}
	active := s.g.Members[0]
	if ok, err := active.IsActive(); err != nil || !ok {
		t.Fatalf("the active is not active any more: %v, %v", ok, err)
	}
	if err := active.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitState(StateActive, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestTwoGroupsOneNATS: two groups (cluster IDs) on one NATS server, each
// with its own datastore, do not interfere: both have an active; a SIGKILL
// in one fails over inside it only (its heartbeats are on
// _STAN.ft.<cid>.<grp>, SPEC §8.6).
func TestTwoGroupsOneNATS(t *testing.T) {
	requireStanft(t)
	cid := clusterIDFor(t)
	a := StartGroup(t, GroupConfig{Bin: stanftBin, NATSURL: sharedURL, Members: 2, ClusterID: cid + "-a"})
	b := StartGroup(t, GroupConfig{Bin: stanftBin, NATSURL: sharedURL, Members: 2, ClusterID: cid + "-b"})
	w := WatchStates(b, 20*time.Millisecond)
	if err := a.Members[0].Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WaitActive(10*time.Second, a.Members[0]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	w.Stop()
	if n := w.ActiveCount(1); n != 0 {
		t.Errorf("the other group's standby was active in %d polls", n)
	}
	if ok, err := b.Members[0].IsActive(); err != nil || !ok {
		t.Errorf("the other group's active: %v, %v", ok, err)
	}
	if st, err := b.Members[1].State(); err != nil || st != StateStandby {
		t.Errorf("the other group's standby: %q, %v", st, err)
	}
	if err := w.CheckSingleActive(); err != nil {
		t.Error(err)
	}
}
