package storetest

import (
	"testing"

	"github.com/stanft/stanft/store"
)

var subCases = []testCase{
	{"CreateAssignsIncreasingIDs", func(t *testing.T, h *harness) {
		c := mustCreate(t, h.open(t, unlimited()), "foo")
		var last uint64
		seen := map[uint64]bool{}
		for i := range 10 {
			sub := newSub("c", i)
			sub.ID = 12345 // ignored: the store assigns IDs
			noErr(t, "CreateSub", c.Subs.CreateSub(sub))
			if sub.ID == 0 || sub.ID <= last || seen[sub.ID] {
				t.Fatalf("sub %d got ID %d after %d", i, sub.ID, last)
			}
			seen[sub.ID] = true
			last = sub.ID
			if i%3 == 0 { // deleting never frees an ID
				noErr(t, "DeleteSub", c.Subs.DeleteSub(sub.ID))
			}
		}
		noErr(t, "Flush", c.Subs.Flush())
		if err := c.Subs.CreateSub(nil); err == nil {
			t.Fatal("CreateSub(nil) succeeded")
		}
	}},
	{"IDsNeverReusedAfterDeletingTheLast", func(t *testing.T, h *harness) {
		c := mustCreate(t, h.open(t, unlimited()), "foo")
		a, b := newSub("c", 1), newSub("c", 2)
		noErr(t, "CreateSub", c.Subs.CreateSub(a))
		noErr(t, "CreateSub", c.Subs.CreateSub(b))
		noErr(t, "DeleteSub", c.Subs.DeleteSub(b.ID))
		noErr(t, "DeleteSub", c.Subs.DeleteSub(a.ID))
		d := newSub("c", 3)
		noErr(t, "CreateSub", c.Subs.CreateSub(d))
		if d.ID <= b.ID {
			t.Fatalf("new sub ID %d reuses or precedes deleted ID %d", d.ID, b.ID)
		}
	}},
	{"UpdateAndDelete", func(t *testing.T, h *harness) {
		c := mustCreate(t, h.open(t, unlimited()), "foo")
		sub := newSub("c", 1)
		sub.IsDurable, sub.DurableName = true, "dur"
		noErr(t, "CreateSub", c.Subs.CreateSub(sub))
		sub.LastSent = 42
		sub.IsClosed = true
		noErr(t, "UpdateSub", c.Subs.UpdateSub(sub))
		missing := newSub("c", 2)
		missing.ID = sub.ID + 100
		isErr(t, "UpdateSub unknown", c.Subs.UpdateSub(missing), store.ErrNotFound)
		if err := c.Subs.UpdateSub(nil); err == nil {
			t.Fatal("UpdateSub(nil) succeeded")
		}
		noErr(t, "DeleteSub", c.Subs.DeleteSub(sub.ID))
		noErr(t, "DeleteSub again", c.Subs.DeleteSub(sub.ID))
		noErr(t, "DeleteSub unknown", c.Subs.DeleteSub(sub.ID+1000))
		isErr(t, "UpdateSub deleted", c.Subs.UpdateSub(sub), store.ErrNotFound)
		noErr(t, "Flush", c.Subs.Flush())
	}},
	{"PendingAndAcks", func(t *testing.T, h *harness) {
		c := mustCreate(t, h.open(t, unlimited()), "foo")
		sub := newSub("c", 1)
		noErr(t, "CreateSub", c.Subs.CreateSub(sub))
		for seq := uint64(1); seq <= 10; seq++ {
			noErr(t, "AddSeqPending", c.Subs.AddSeqPending(sub.ID, seq))
		}
		for seq := uint64(1); seq <= 10; seq += 2 {
			noErr(t, "AckSeqPending", c.Subs.AckSeqPending(sub.ID, seq))
		}
		noErr(t, "AckSeqPending twice", c.Subs.AckSeqPending(sub.ID, 1))
		noErr(t, "AckSeqPending never sent", c.Subs.AckSeqPending(sub.ID, 99))
		noErr(t, "Flush", c.Subs.Flush())
		noErr(t, "DeleteSub", c.Subs.DeleteSub(sub.ID))
		noErr(t, "Flush", c.Subs.Flush())
	}},
	{"TooManySubs", func(t *testing.T, h *harness) {
		l := unlimited()
		l.MaxSubscriptions = 3
		l.PerChannel = map[string]*store.ChannelLimits{
			"one":   {MaxSubscriptions: 1},
			"unlim": {MaxSubscriptions: -1},
		}
		s := h.open(t, l)
		c := mustCreate(t, s, "foo")
		online := newSub("c", 1)
		offline := newSub("c", 2)
		offline.IsDurable, offline.DurableName = true, "dur"
		shadow := newSub("", 3)
		shadow.QGroup, shadow.IsDurable = "dur:grp", true
		for _, sub := range []*store.SubState{online, offline, shadow} {
			noErr(t, "CreateSub", c.Subs.CreateSub(sub))
		}
		// Offline durables and shadows count.
		offline.IsClosed, offline.ClientID = true, ""
		noErr(t, "UpdateSub", c.Subs.UpdateSub(offline))
		shadow.IsClosed = true
		noErr(t, "UpdateSub", c.Subs.UpdateSub(shadow))
		isErr(t, "CreateSub beyond MaxSubscriptions", c.Subs.CreateSub(newSub("c", 4)), store.ErrTooManySubs)
		noErr(t, "DeleteSub", c.Subs.DeleteSub(online.ID))
		again := newSub("c", 5)
		noErr(t, "CreateSub after a delete", c.Subs.CreateSub(again))
		if again.ID <= shadow.ID {
			t.Fatalf("ID %d after %d", again.ID, shadow.ID)
		}
		isErr(t, "CreateSub beyond MaxSubscriptions", c.Subs.CreateSub(newSub("c", 6)), store.ErrTooManySubs)

		one := mustCreate(t, s, "one")
		noErr(t, "CreateSub", one.Subs.CreateSub(newSub("c", 1)))
		isErr(t, "CreateSub beyond per-channel limit", one.Subs.CreateSub(newSub("c", 2)), store.ErrTooManySubs)

		un := mustCreate(t, s, "unlim")
		for i := range 10 {
			noErr(t, "CreateSub unlimited", un.Subs.CreateSub(newSub("c", i)))
		}
	}},
}

func newSub(clientID string, i int) *store.SubState {
	return &store.SubState{
		ClientID:      clientID,
		Inbox:         "_INBOX.sub." + clientID,
		AckInbox:      "_INBOX.ack." + clientID,
		MaxInFlight:   int32(10 + i),
		AckWaitInSecs: 30,
	}
}
