package main

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/stan.go/pb"
)

// nullServer answers the STAN protocol with no work behind it and as little
// CPU as a Go responder on nats.go can spend (see onPublish): it accepts
// every connection, acknowledges every publish at once without storing it,
// forwards every publish to the channel's subscribers (sequence numbers, no
// flow control, no redelivery) and drops their acks. No real server can be
// faster with the same client on the same NATS, so its rate is the ceiling
// that stanft's rates are read against: the part of the gap to core NATS
// that no server-side work can close is the stan.go client's own cost and
// the protocol's extra NATS hops.
type nullServer struct {
	nc  *nats.Conn
	seq atomic.Uint64

	mu   sync.Mutex
	subs map[string][]string // channel -> subscriber inboxes

	ackBuf, msgBuf []byte // onPublish's, reused
}

const nullPrefix = "_NULL."

func startNullServer(url, cid string) (*nullServer, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, fmt.Errorf("bench: null server connect: %w", err)
	}
	ns := &nullServer{nc: nc, subs: map[string][]string{}}
	handlers := map[string]nats.MsgHandler{
		"_STAN.discover." + cid: ns.onConnect,
		nullPrefix + "pub.>":    ns.onPublish,
		nullPrefix + "sub":      ns.onSubscribe,
		nullPrefix + "unsub":    ns.onUnsubscribe,
		nullPrefix + "subclose": ns.onUnsubscribe,
		nullPrefix + "close":    ns.onClose,
		nullPrefix + "ack.>":    func(*nats.Msg) {},
	}
	for subj, h := range handlers {
		sub, err := nc.Subscribe(subj, h)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("bench: null server subscribe %s: %w", subj, err)
		}
		_ = sub.SetPendingLimits(-1, -1)
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("bench: null server flush: %w", err)
	}
	return ns, nil
}

func (ns *nullServer) close() { ns.nc.Close() }

func (ns *nullServer) reply(m *nats.Msg, v interface{ Marshal() ([]byte, error) }) {
	if b, err := v.Marshal(); err == nil && m.Reply != "" {
		_ = ns.nc.Publish(m.Reply, b)
	}
}

func (ns *nullServer) onConnect(m *nats.Msg) {
	ns.reply(m, &pb.ConnectResponse{
		PubPrefix:        nullPrefix + "pub",
		SubRequests:      nullPrefix + "sub",
		UnsubRequests:    nullPrefix + "unsub",
		SubCloseRequests: nullPrefix + "subclose",
		CloseRequests:    nullPrefix + "close",
		Protocol:         1,
	})
}

// onPublish does as little as a STAN server can: it reads the guid,
// subject and data fields without decoding the rest and answers from
// reused buffers, like core NATS's responder replying to each message.
// It runs on the one goroutine of its subscription.
func (ns *nullServer) onPublish(m *nats.Msg) {
	guid, subject, data, ok := pubFields(m.Data)
	if !ok {
		return
	}
	ns.mu.Lock()
	inboxes := ns.subs[string(subject)]
	ns.mu.Unlock()
	if len(inboxes) > 0 {
		msg := pb.MsgProto{Sequence: ns.seq.Add(1), Subject: string(subject), Data: data, Timestamp: time.Now().UnixNano()}
		n := msg.Size()
		if cap(ns.msgBuf) < n {
			ns.msgBuf = make([]byte, n)
		}
		b := ns.msgBuf[:n]
		if _, err := msg.MarshalToSizedBuffer(b); err == nil {
			for _, in := range inboxes {
				_ = ns.nc.Publish(in, b)
			}
		}
	}
	// A PubAck with only its guid (field 1, bytes).
	ns.ackBuf = append(binary.AppendUvarint(append(ns.ackBuf[:0], 0x0a), uint64(len(guid))), guid...)
	_ = ns.nc.Publish(m.Reply, ns.ackBuf)
}

// pubFields returns the guid (2), subject (3) and data (5) fields of a
// marshalled PubMsg, skipping the others.
func pubFields(b []byte) (guid, subject, data []byte, ok bool) {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, nil, nil, false
		}
		b = b[n:]
		switch tag & 7 {
		case 0: // varint
			if _, n = binary.Uvarint(b); n <= 0 {
				return nil, nil, nil, false
			}
			b = b[n:]
		case 2: // bytes
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, nil, nil, false
			}
			v := b[n : n+int(l)]
			b = b[n+int(l):]
			switch tag >> 3 {
			case 2:
				guid = v
			case 3:
				subject = v
			case 5:
				data = v
			}
		default:
			return nil, nil, nil, false
		}
	}
	return guid, subject, data, true
}

func (ns *nullServer) onSubscribe(m *nats.Msg) {
	var r pb.SubscriptionRequest
	if err := r.Unmarshal(m.Data); err != nil {
		return
	}
	ns.mu.Lock()
	ns.subs[r.Subject] = append(ns.subs[r.Subject], r.Inbox)
	ns.mu.Unlock()
	ns.reply(m, &pb.SubscriptionResponse{AckInbox: nullPrefix + "ack." + r.Subject})
}

func (ns *nullServer) onUnsubscribe(m *nats.Msg) {
	var r pb.UnsubscribeRequest
	if err := r.Unmarshal(m.Data); err != nil {
		return
	}
	ns.mu.Lock()
	delete(ns.subs, r.Subject)
	ns.mu.Unlock()
	ns.reply(m, &pb.SubscriptionResponse{})
}

func (ns *nullServer) onClose(m *nats.Msg) { ns.reply(m, &pb.CloseResponse{}) }
