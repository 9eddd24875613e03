package filestore

import (
	"fmt"
	"path/filepath"

	"github.com/stanft/stanft/store"
)

// clientLog is the client registry (clients.log). Callers hold Store.mu.
type clientLog struct {
	s       *Store
	log     appendLog
	clients map[string]*store.Client
}

func newClientLog(s *Store) *clientLog {
	return &clientLog{
		s:       s,
		log:     appendLog{s: s, path: filepath.Join(s.dir, clientsFile)},
		clients: make(map[string]*store.Client),
	}
}

// add appends the registration and fsyncs it (always: a registration must
// survive a failover, SPEC §7.3), then records it in memory.
func (cl *clientLog) add(c *store.Client) error {
	p := encodeClient(c)
	cl.log.add(recClientAdd, p)
	if err := cl.log.flush(true); err != nil {
		cl.log.dropTail(frameHeaderSize+len(p), 1)
		return fmt.Errorf("filestore: add client %q: %w", c.ID, err)
	}
	cp := *c
	cp.ConnID = append([]byte(nil), c.ConnID...)
	cl.clients[c.ID] = &cp
	cl.maybeCompact()
	return nil
}

// remove appends a removal record and writes it (no fsync).
func (cl *clientLog) remove(id string) error {
	if _, ok := cl.clients[id]; !ok {
		return nil
	}
	var e enc
	e.str(id)
	cl.log.add(recClientDel, e.b)
	// Forget it now even if the write fails: the record stays queued and
	// the next write or sync retries it.
	delete(cl.clients, id)
	if err := cl.log.write(); err != nil {
		return fmt.Errorf("filestore: delete client %q: %w", id, err)
	}
	cl.maybeCompact()
	return nil
}

func (cl *clientLog) sync() error { return cl.log.flush(true) }

func (cl *clientLog) maybeCompact() {
	if !cl.log.shouldCompact(len(cl.clients)) {
		return
	}
	if err := cl.rewrite(); err != nil {
		cl.s.log.Error("compacting clients failed", "file", cl.log.path, "error", err)
		return
	}
	cl.s.log.Debug("compacted clients", "file", cl.log.path, "clients", len(cl.clients))
}

// rewrite replaces clients.log with the live registrations.
func (cl *clientLog) rewrite() error {
	var data []byte
	for _, c := range cl.clients {
		data = appendFrame(data, cl.s.tab, recClientAdd, encodeClient(c))
	}
	return cl.log.replace(data, len(cl.clients))
}

func (cl *clientLog) close() error { return cl.log.close(true) }

func encodeClient(c *store.Client) []byte {
	var e enc
	e.str(c.ID)
	e.str(c.HbInbox)
	e.bytes(c.ConnID)
	e.varint(int64(c.Protocol))
	e.varint(int64(c.PingInterval))
	e.varint(int64(c.PingMaxOut))
	return e.b
}

func decodeClient(b []byte) (*store.Client, error) {
	d := dec{b: b}
	c := &store.Client{
		ID:           d.str(),
		HbInbox:      d.str(),
		ConnID:       d.bytes(),
		Protocol:     d.int32(),
		PingInterval: d.int32(),
		PingMaxOut:   d.int32(),
	}
	return c, d.done()
}

func encodeInfo(i *store.ServerInfo) []byte {
	var e enc
	for _, s := range []string{i.ClusterID, i.Discovery, i.Publish, i.Subscribe,
		i.Unsubscribe, i.Close, i.SubClose, i.AcksSubs} {
		e.str(s)
	}
	return e.b
}

func decodeInfo(b []byte) (*store.ServerInfo, error) {
	d := dec{b: b}
	i := &store.ServerInfo{
		ClusterID:   d.str(),
		Discovery:   d.str(),
		Publish:     d.str(),
		Subscribe:   d.str(),
		Unsubscribe: d.str(),
		Close:       d.str(),
		SubClose:    d.str(),
		AcksSubs:    d.str(),
	}
	return i, d.done()
}
