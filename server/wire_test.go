package server

import (
	"bytes"
	"testing"

	"github.com/nats-io/stan.go/pb"
)

func TestWireRoundTrip(t *testing.T) {
	in := pb.PubMsg{ClientID: "c", Guid: "guid", Subject: "foo.bar", Reply: "r", Data: []byte("data"),
		ConnID: []byte("conn"), Sha256: []byte("sha")}
	b, _ := in.Marshal()
	var p pubFields
	if err := parsePubMsg(b, &p); err != nil {
		t.Fatal(err)
	}
	if string(p.clientID) != "c" || string(p.guid) != "guid" || string(p.subject) != "foo.bar" ||
		string(p.reply) != "r" || string(p.data) != "data" || string(p.connID) != "conn" {
		t.Fatalf("parsed %+v", p)
	}
	ab, _ := (&pb.Ack{Subject: "foo", Sequence: 1 << 40}).Marshal()
	subj, seq, err := parseAck(ab)
	if err != nil || string(subj) != "foo" || seq != 1<<40 {
		t.Fatalf("ack: %q %d %v", subj, seq, err)
	}
	for _, tc := range []struct{ guid, err string }{{"g", ""}, {"", "e"}, {"gg", "some error"}, {"", ""}} {
		var got pb.PubAck
		if err := got.Unmarshal(appendPubAck(nil, []byte(tc.guid), tc.err)); err != nil {
			t.Fatal(err)
		}
		if got.Guid != tc.guid || got.Error != tc.err {
			t.Fatalf("pub ack %+v want %+v", got, tc)
		}
	}
	for _, bad := range [][]byte{{0x0a}, {0x0a, 0x05, 'a'}, {0x08}, {0x00}, {0x0b}, {0x10, 0x01}} {
		if err := parsePubMsg(bad, &pubFields{}); err == nil {
			t.Fatalf("accepted %x", bad)
		}
	}
}

// FuzzParsePubMsg: whatever the fast decoder accepts, the generated one
// accepts with the same fields.
func FuzzParsePubMsg(f *testing.F) {
	seed, _ := (&pb.PubMsg{ClientID: "c", Guid: "g", Subject: "s", Data: []byte("d"), ConnID: []byte("x")}).Marshal()
	f.Add(seed)
	f.Add([]byte{})
	f.Add([]byte{0x52, 0x01, 0x00})
	f.Add([]byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x10})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p pubFields
		if parsePubMsg(b, &p) != nil {
			return
		}
		var m pb.PubMsg
		if err := m.Unmarshal(b); err != nil {
			t.Fatalf("fast decoder accepted what pb rejects: %v", err)
		}
		if m.ClientID != string(p.clientID) || m.Guid != string(p.guid) || m.Subject != string(p.subject) ||
			m.Reply != string(p.reply) || !bytes.Equal(m.Data, p.data) || !bytes.Equal(m.ConnID, p.connID) {
			t.Fatalf("mismatch: pb %+v fast %+v", m, p)
		}
	})
}
