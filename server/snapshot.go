package server

import (
	"os"
	"runtime"
	"sort"
	"syscall"
	"time"

	"github.com/stanft/stanft/monitor"
	"github.com/stanft/stanft/store"
)

var _ monitor.Source = (*Server)(nil)

// channelsSnapshot copies the channel list under s.mu.
func (s *Server) channelsSnapshot() []*channel {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*channel, 0, len(s.channels))
	for _, c := range s.channels {
		out = append(out, c)
	}
	return out
}

func (s *Server) clusterID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.info.ClusterID != "" {
		return s.info.ClusterID
	}
	return s.cfg.ClusterID
}

// recoveredClusterID is the cluster ID of the store this server recovered
// or initialised: "" until it activates. The list documents (storez,
// clientsz, channelsz) show it, as the reference does; only serverz shows
// the configured one on a standby (SPEC D8).
func (s *Server) recoveredClusterID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.info.ClusterID
}

// IDs implements monitor.Identifier.
func (s *Server) IDs() (clusterID, serverID string) {
	return s.recoveredClusterID(), s.cfg.ServerID
}

// Serverz implements monitor.Source.
func (s *Server) Serverz() monitor.Serverz {
	now := time.Now()
	s.mu.RLock()
	nClients := len(s.clients)
	s.mu.RUnlock()
	chans := s.channelsSnapshot()
	z := monitor.Serverz{
		ClusterID: s.clusterID(),
		ServerID:  s.cfg.ServerID,
		Version:   s.cfg.Version,
		GoVersion: runtime.Version(),
		State:     s.State(),
		Now:       now,
		Start:     s.start,
		Uptime:    monitor.FormatUptime(now.Sub(s.start)),
		Clients:   nClients,
		Channels:  len(chans),
		InMsgs:    s.stats.inMsgs.Load(),
		InBytes:   s.stats.inBytes.Load(),
		OutMsgs:   s.stats.outMsgs.Load(),
		OutBytes:  s.stats.outBytes.Load(),
	}
	for _, c := range chans {
		c.mu.Lock()
		z.Subscriptions += len(c.all)
		c.mu.Unlock()
		if n, b, err := c.msgs.State(); err == nil {
			z.TotalMsgs += n
			z.TotalBytes += b
		}
	}
	z.OpenFDs, z.MaxFDs = fds()
	return z
}

// Storez implements monitor.Source.
func (s *Server) Storez() monitor.Storez {
	z := monitor.Storez{
		ClusterID: s.recoveredClusterID(),
		ServerID:  s.cfg.ServerID,
		Now:       time.Now(),
	}
	s.mu.RLock()
	st := s.st
	s.mu.RUnlock()
	if st != nil {
		z.Type = st.Type()
		l := st.Limits()
		z.Limits = monitor.StoreLimits{MaxChannels: l.MaxChannels, ChannelLimits: toMonitorLimits(l.ChannelLimits)}
		if len(l.PerChannel) > 0 {
			z.Limits.PerChannel = make(map[string]*monitor.ChannelLimits, len(l.PerChannel))
			for name := range l.PerChannel {
				cl := toMonitorLimits(l.ForChannel(name))
				z.Limits.PerChannel[name] = &cl
			}
		}
	}
	for _, c := range s.channelsSnapshot() {
		if n, b, err := c.msgs.State(); err == nil {
			z.TotalMsgs += n
			z.TotalBytes += b
		}
	}
	return z
}

func toMonitorLimits(l store.ChannelLimits) monitor.ChannelLimits {
	return monitor.ChannelLimits{
		MaxMsgs:          l.MaxMsgs,
		MaxBytes:         l.MaxBytes,
		MaxAge:           l.MaxAge,
		MaxSubscriptions: l.MaxSubscriptions,
		MaxInactivity:    l.MaxInactivity,
	}
}

// ClientIDs implements monitor.Source.
func (s *Server) ClientIDs() []string {
	s.mu.RLock()
	ids := make([]string, 0, len(s.clients))
	for id := range s.clients {
		ids = append(ids, id)
	}
	s.mu.RUnlock()
	sort.Strings(ids)
	return ids
}

// Client implements monitor.Source.
func (s *Server) Client(id string, subs bool) (monitor.Clientz, bool) {
	s.mu.RLock()
	cl := s.clients[id]
	s.mu.RUnlock()
	if cl == nil {
		return monitor.Clientz{}, false
	}
	cl.mu.Lock()
	list := append([]*sub(nil), cl.subs...)
	cl.mu.Unlock()
	z := monitor.Clientz{ID: id, HBInbox: cl.rec.HbInbox, SubsCount: len(list)}
	if subs && len(list) > 0 {
		z.Subscriptions = make(map[string][]monitor.Subscriptionz)
		for _, sb := range list {
			c := sb.ch
			c.mu.Lock()
			if !sb.removed {
				z.Subscriptions[c.name] = append(z.Subscriptions[c.name], subz(sb))
			}
			c.mu.Unlock()
		}
	}
	return z, true
}

// ChannelNames implements monitor.Source.
func (s *Server) ChannelNames() []string {
	s.mu.RLock()
	names := make([]string, 0, len(s.channels))
	for name := range s.channels {
		names = append(names, name)
	}
	s.mu.RUnlock()
	sort.Strings(names)
	return names
}

// Channel implements monitor.Source.
func (s *Server) Channel(name string, subs bool) (monitor.Channelz, bool) {
	c := s.lookupChannel(name)
	if c == nil {
		return monitor.Channelz{}, false
	}
	z := monitor.Channelz{Name: name}
	if n, b, err := c.msgs.State(); err == nil {
		z.Msgs, z.Bytes = n, b
	}
	if first, last, err := c.msgs.FirstAndLastSequence(); err == nil {
		z.FirstSeq, z.LastSeq = first, last
	}
	c.mu.Lock()
	z.SubsCount = len(c.all)
	if subs {
		ids := make([]uint64, 0, len(c.all))
		for id := range c.all {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			z.Subscriptions = append(z.Subscriptions, subz(c.all[id]))
		}
	}
	c.mu.Unlock()
	return z, true
}

// subz copies one subscription. c.mu held.
func subz(sb *sub) monitor.Subscriptionz {
	// A queue member shows its own last sent sequence, as the reference
	// does (a shadow holds the group's).
	lastSent := sb.st.LastSent
	return monitor.Subscriptionz{
		ClientID:     sb.st.ClientID,
		Inbox:        sb.st.Inbox,
		AckInbox:     sb.st.AckInbox,
		DurableName:  sb.st.DurableName,
		QueueName:    sb.st.QGroup,
		IsDurable:    sb.st.IsDurable,
		IsOffline:    sb.offline,
		MaxInflight:  int(sb.st.MaxInFlight),
		AckWait:      int(sb.st.AckWaitInSecs),
		LastSent:     lastSent,
		PendingCount: len(sb.pending),
		IsStalled:    sb.stalled,
	}
}

// fds returns the number of open file descriptors and the limit (0, 0 when
// unknown).
func fds() (open, max int) {
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		open = len(ents)
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		max = int(rl.Cur)
	}
	return open, max
}
