package monitor

import "time"

// Source is the read-only view of a streaming server that monitoring reads.
// Implementations return snapshots (copies), never internal state, and must
// not hold data-path locks for long. All methods are safe for concurrent use
// and must work in every state (standby included: empty lists).
type Source interface {
	// Serverz returns the server summary (SPEC §9).
	Serverz() Serverz
	// Storez returns the store summary.
	Storez() Storez
	// ClientIDs returns the registered client IDs, sorted.
	ClientIDs() []string
	// Client returns one client, with its subscriptions when subs is true.
	Client(id string, subs bool) (Clientz, bool)
	// ChannelNames returns the channel names, sorted.
	ChannelNames() []string
	// Channel returns one channel, with its subscriptions when subs is true.
	Channel(name string, subs bool) (Channelz, bool)
}

// Serverz is the /streaming/serverz document.
type Serverz struct {
	ClusterID     string    `json:"cluster_id"`
	ServerID      string    `json:"server_id"`
	Version       string    `json:"version"`
	GoVersion     string    `json:"go"`
	State         string    `json:"state"`
	Role          string    `json:"role,omitempty"`
	NodeID        string    `json:"node_id,omitempty"`
	Now           time.Time `json:"now"`
	Start         time.Time `json:"start_time"`
	Uptime        string    `json:"uptime"`
	Clients       int       `json:"clients"`
	Subscriptions int       `json:"subscriptions"`
	Channels      int       `json:"channels"`
	TotalMsgs     int       `json:"total_msgs"`
	TotalBytes    uint64    `json:"total_bytes"`
	InMsgs        int64     `json:"in_msgs"`
	InBytes       int64     `json:"in_bytes"`
	OutMsgs       int64     `json:"out_msgs"`
	OutBytes      int64     `json:"out_bytes"`
	OpenFDs       int       `json:"open_fds,omitempty"`
	MaxFDs        int       `json:"max_fds,omitempty"`
}

// Storez is the /streaming/storez document.
type Storez struct {
	ClusterID  string      `json:"cluster_id"`
	ServerID   string      `json:"server_id"`
	Now        time.Time   `json:"now"`
	Type       string      `json:"type"`
	Limits     StoreLimits `json:"limits"`
	TotalMsgs  int         `json:"total_msgs"`
	TotalBytes uint64      `json:"total_bytes"`
}

// StoreLimits is the "limits" object of Storez.
type StoreLimits struct {
	MaxChannels int `json:"max_channels"`
	ChannelLimits
	PerChannel map[string]*ChannelLimits `json:"channels,omitempty"`
}

// ChannelLimits are one channel's limits as shown by Storez (durations in ns).
type ChannelLimits struct {
	MaxMsgs          int           `json:"max_msgs"`
	MaxBytes         int64         `json:"max_bytes"`
	MaxAge           time.Duration `json:"max_age"`
	MaxSubscriptions int           `json:"max_subscriptions"`
	MaxInactivity    time.Duration `json:"max_inactivity"`
}

// Clientz is one client of /streaming/clientsz.
type Clientz struct {
	ID            string                     `json:"id"`
	HBInbox       string                     `json:"hb_inbox"`
	SubsCount     int                        `json:"subs_count"`
	Subscriptions map[string][]Subscriptionz `json:"subscriptions,omitempty"`
}

// Channelz is one channel of /streaming/channelsz.
type Channelz struct {
	Name          string          `json:"name"`
	Msgs          int             `json:"msgs"`
	Bytes         uint64          `json:"bytes"`
	FirstSeq      uint64          `json:"first_seq"`
	LastSeq       uint64          `json:"last_seq"`
	SubsCount     int             `json:"subs_count"`
	Subscriptions []Subscriptionz `json:"subscriptions,omitempty"`
}

// Subscriptionz is one subscription as shown by clientsz and channelsz.
type Subscriptionz struct {
	ClientID     string `json:"client_id"`
	Inbox        string `json:"inbox"`
	AckInbox     string `json:"ack_inbox"`
	DurableName  string `json:"durable_name,omitempty"`
	QueueName    string `json:"queue_name,omitempty"`
	IsDurable    bool   `json:"is_durable"`
	IsOffline    bool   `json:"is_offline"`
	MaxInflight  int    `json:"max_inflight"`
	AckWait      int    `json:"ack_wait"`
	LastSent     uint64 `json:"last_sent"`
	PendingCount int    `json:"pending_count"`
	IsStalled    bool   `json:"is_stalled"`
}

// Clientsz is the /streaming/clientsz document. The monitor builds it from
// Source.ClientIDs and Source.Client; Source implementations do not.
type Clientsz struct {
	ClusterID string    `json:"cluster_id"`
	ServerID  string    `json:"server_id"`
	Now       time.Time `json:"now"`
	Offset    int       `json:"offset"`
	Limit     int       `json:"limit"`
	Count     int       `json:"count"`
	Total     int       `json:"total"`
	Clients   []Clientz `json:"clients"`
}

// Channelsz is the /streaming/channelsz document. Names is filled without
// subs=1 and Channels with it; the other one stays nil and is omitted.
type Channelsz struct {
	ClusterID string     `json:"cluster_id"`
	ServerID  string     `json:"server_id"`
	Now       time.Time  `json:"now"`
	Offset    int        `json:"offset"`
	Limit     int        `json:"limit"`
	Count     int        `json:"count"`
	Total     int        `json:"total"`
	Names     []string   `json:"names,omitempty"`
	Channels  []Channelz `json:"channels,omitempty"`
}

// Identifier is optionally implemented by a Source to return its cluster and
// server IDs cheaply. The list documents (clientsz, channelsz) carry them;
// without it the monitor calls Serverz, which also counts totals.
type Identifier interface {
	IDs() (clusterID, serverID string)
}
