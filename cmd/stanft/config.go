package main

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/stanft/stanft/store"
)

// applyConfigFile reads the streaming options of a configuration file
// (SPEC §10.3) into o. If the file has a top-level "streaming" block only that
// block is read, otherwise all top-level keys. Keys are case-insensitive and
// unknown keys are ignored.
func applyConfigFile(path string, o *options) error {
	m, err := conf.ParseFile(path)
	if err != nil {
		return fmt.Errorf("configuration file %s: %w", path, err)
	}
	top := true
	for k, v := range m {
		if strings.EqualFold(k, "streaming") {
			sm, ok := v.(map[string]any)
			if !ok {
				return typeError(k, reflect.Map, v)
			}
			m, top = sm, false
			break
		}
	}
	if err := applyStreamingMap(m, o, top); err != nil {
		return fmt.Errorf("configuration file %s: %w", path, err)
	}
	return nil
}

// typeError is the reference's wrong-type message.
func typeError(key string, want reflect.Kind, got any) error {
	gotKind := "nil"
	if got != nil {
		gotKind = reflect.TypeOf(got).Kind().String()
	}
	return fmt.Errorf("parameter %q value is expected to be %v, got %v", key, want, gotKind)
}

func getString(k string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", typeError(k, reflect.String, v)
	}
	return s, nil
}

func getBool(k string, v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, typeError(k, reflect.Bool, v)
	}
	return b, nil
}

func getInt64(k string, v any) (int64, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, typeError(k, reflect.Int64, v)
	}
	return n, nil
}

func getInt(k string, v any) (int, error) {
	n, err := getInt64(k, v)
	return int(n), err
}

func getMap(k string, v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, typeError(k, reflect.Map, v)
	}
	return m, nil
}

// getDuration reads a duration, which the configuration file holds as a
// string ("10s").
func getDuration(k string, v any) (time.Duration, error) {
	s, err := getString(k, v)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("parameter %q value %q is not a valid duration: %w", k, s, err)
	}
	return d, nil
}

// streamingClusterKeys are keys that only the streaming (Raft) cluster block
// has; a NATS route block (listen, routes, name, ...) has none of them.
var streamingClusterKeys = []string{"node_id", "bootstrap", "peers", "log_path", "log_cache_size",
	"log_snapshots", "trailing_logs", "sync", "raft_logging", "raft_heartbeat_timeout",
	"raft_election_timeout", "raft_lease_timeout", "raft_commit_timeout", "proceed_on_restore_failure",
	"allow_add_remove_node", "bolt_free_list_sync", "bolt_free_list_map", "nodes_connections"}

// natsClusterKeys are the keys of a NATS route block (nats-server's
// parseCluster).
var natsClusterKeys = []string{"name", "listen", "port", "host", "net", "authorization", "routes", "tls",
	"cluster_advertise", "advertise", "no_advertise", "connect_retries", "connect_backoff", "permissions",
	"pool_size", "accounts", "compression", "ping_interval", "ping_max", "write_deadline", "write_timeout"}

func hasKey(m map[string]any, keys []string) bool {
	for k := range m {
		for _, sk := range keys {
			if strings.EqualFold(k, sk) {
				return true
			}
		}
	}
	return false
}

// isStreamingClusterBlock reports whether a top-level cluster block asks for
// streaming (Raft) clustering: it holds a streaming clustering key, or no NATS
// route key at all (an empty "cluster {}" turns clustering on, SPEC §10.3, D1).
func isStreamingClusterBlock(m map[string]any) bool {
	return hasKey(m, streamingClusterKeys) || !hasKey(m, natsClusterKeys)
}

// applyStreamingMap applies the streaming keys of m. top is true when m is
// the whole file (no "streaming" block): a "cluster" block there is the NATS
// route configuration unless it holds streaming clustering keys.
func applyStreamingMap(m map[string]any, o *options, top bool) error {
	for k, v := range m {
		var err error
		switch strings.ToLower(k) {
		case "id", "cid", "cluster_id":
			o.ClusterID, err = getString(k, v)
		case "discover_prefix":
			o.DiscoverPrefix, err = getString(k, v)
		case "st", "store", "store_type", "storetype":
			var s string
			if s, err = getString(k, v); err == nil {
				switch strings.ToUpper(s) {
				case storeMemory, storeFile:
					o.StoreType = strings.ToUpper(s)
				case storeSQL:
					o.StoreType = storeSQL
				default:
					err = fmt.Errorf("unknown store type: %v", s)
				}
			}
		case "dir", "datastore":
			o.Dir, err = getString(k, v)
		case "sd", "stan_debug":
			o.StanDebug, err = getBool(k, v)
		case "sv", "stan_trace":
			o.StanTrace, err = getBool(k, v)
		case "ns", "nats_server", "nats_server_url":
			o.NATSServer, err = getString(k, v)
		case "credentials":
			o.NATSClient.Credentials, err = getString(k, v)
		case "secure":
			o.NATSClient.Secure, err = getBool(k, v)
		case "tls":
			err = applyTLSMap(k, v, o)
		case "limits", "store_limits", "storelimits":
			err = applyLimitsMap(k, v, o)
		case "file", "file_options":
			err = applyFileMap(k, v, o)
		case "sql", "sql_options":
			o.unsupported = append(o.unsupported, fmt.Sprintf("configuration %q is not supported: %s", k, reasonSQL))
		case "hbi", "hb_interval", "server_to_client_hb_interval":
			o.HBInterval, err = getDuration(k, v)
		case "hbt", "hb_timeout", "server_to_client_hb_timeout":
			o.HBTimeout, err = getDuration(k, v)
		case "hbf", "hb_fail_count", "server_to_client_hb_fail_count":
			o.HBFailCount, err = getInt(k, v)
		case "ft_group", "ft_group_name":
			o.FTGroup, err = getString(k, v)
		case "partitioning":
			var b bool
			if b, err = getBool(k, v); err == nil && b {
				o.unsupported = append(o.unsupported, fmt.Sprintf("configuration %q is not supported: %s", k, reasonPartition))
			}
		case "cluster":
			var cm map[string]any
			if cm, err = getMap(k, v); err == nil && (!top || isStreamingClusterBlock(cm)) {
				o.unsupported = append(o.unsupported, fmt.Sprintf("configuration %q is not supported: %s", k, reasonClustering))
			}
		case "syslog_name":
			o.SyslogName, err = getString(k, v)
		case "encrypt":
			var b bool
			if b, err = getBool(k, v); err == nil && b {
				o.unsupported = append(o.unsupported, fmt.Sprintf("configuration %q is not supported: %s", k, reasonEncryption))
			}
		case "encryption_cipher", "encryption_key":
			var s string
			if s, err = getString(k, v); err == nil && s != "" {
				o.unsupported = append(o.unsupported, fmt.Sprintf("configuration %q is not supported: %s", k, reasonEncryption))
			}
		case "username", "user":
			o.NATSClient.Username, err = getString(k, v)
		case "password", "pass":
			o.NATSClient.Password, err = getString(k, v)
		case "token":
			o.NATSClient.Token, err = getString(k, v)
		case "nkey_seed_file":
			o.NATSClient.NKeySeedFile, err = getString(k, v)
		case "replace_durable", "replace_durables", "replace_duplicate_durable", "replace_duplicate_durables":
			o.ReplaceDurable, err = getBool(k, v)
		case "log_format":
			o.LogFormat, err = getString(k, v)
		case "ft_hb_interval":
			o.FTHBInterval, err = getDuration(k, v)
		case "ft_hb_missed_interval":
			o.FTHBMissed, err = getDuration(k, v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func applyTLSMap(key string, v any, o *options) error {
	m, err := getMap(key, v)
	if err != nil {
		return err
	}
	c := &o.NATSClient
	for k, v := range m {
		switch strings.ToLower(k) {
		case "client_cert":
			c.TLSClientCert, err = getString(k, v)
		case "client_key":
			c.TLSClientKey, err = getString(k, v)
		case "client_ca", "client_cacert":
			c.TLSClientCA, err = getString(k, v)
		case "server_name", "server_hostname":
			c.TLSServerName, err = getString(k, v)
		case "skip_verify", "insecure":
			c.TLSSkipVerify, err = getBool(k, v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func applyLimitsMap(key string, v any, o *options) error {
	m, err := getMap(key, v)
	if err != nil {
		return err
	}
	for k, v := range m {
		switch strings.ToLower(k) {
		case "mc", "max_channels", "maxchannels":
			o.Limits.MaxChannels, err = getInt(k, v)
		case "channels", "channels_limits", "channelslimits", "per_channel", "per_channel_limits":
			err = applyPerChannel(k, v, o)
		default:
			err = applyChannelLimit(k, v, &o.Limits.ChannelLimits, false)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func applyPerChannel(key string, v any, o *options) error {
	m, err := getMap(key, v)
	if err != nil {
		return err
	}
	if o.Limits.PerChannel == nil {
		o.Limits.PerChannel = make(map[string]*store.ChannelLimits, len(m))
	}
	for name, cv := range m {
		cm, err := getMap(name, cv)
		if err != nil {
			return err
		}
		cl := &store.ChannelLimits{}
		for k, v := range cm {
			if err := applyChannelLimit(k, v, cl, true); err != nil {
				return fmt.Errorf("channel %q: %w", name, err)
			}
		}
		o.Limits.PerChannel[name] = cl
	}
	return nil
}

// applyChannelLimit applies one channel limit key. In a per-channel entry a
// value of 0 means unlimited and is stored as -1 (an omitted key inherits);
// a negative per-channel value means unlimited too. A negative global value
// is refused later by store.Limits.Validate, with the reference's text ("max
// messages limit cannot be negative (-2)"), as for the flags. Other keys are
// ignored.
func applyChannelLimit(k string, v any, cl *store.ChannelLimits, perChannel bool) error {
	var err error
	switch strings.ToLower(k) {
	case "msu", "max_subs", "max_subscriptions", "maxsubscriptions":
		cl.MaxSubscriptions, err = getInt(k, v)
		if perChannel && err == nil && cl.MaxSubscriptions == 0 {
			cl.MaxSubscriptions = -1
		}
	case "mm", "max_msgs", "maxmsgs", "max_count", "maxcount":
		cl.MaxMsgs, err = getInt(k, v)
		if perChannel && err == nil && cl.MaxMsgs == 0 {
			cl.MaxMsgs = -1
		}
	case "mb", "max_bytes", "maxbytes":
		cl.MaxBytes, err = getInt64(k, v)
		if perChannel && err == nil && cl.MaxBytes == 0 {
			cl.MaxBytes = -1
		}
	case "ma", "max_age", "maxage":
		cl.MaxAge, err = getDuration(k, v)
		if perChannel && err == nil && cl.MaxAge == 0 {
			cl.MaxAge = -1
		}
	case "mi", "max_inactivity", "maxinactivity":
		cl.MaxInactivity, err = getDuration(k, v)
		if perChannel && err == nil && cl.MaxInactivity == 0 {
			cl.MaxInactivity = -1
		}
	}
	return err
}

func applyFileMap(key string, v any, o *options) error {
	m, err := getMap(key, v)
	if err != nil {
		return err
	}
	f := &o.File
	for k, v := range m {
		switch strings.ToLower(k) {
		case "compact", "compact_enabled":
			f.CompactEnabled, err = getBool(k, v)
		case "compact_frag", "compact_fragmentation":
			f.CompactFragPct, err = getInt(k, v)
		case "compact_interval":
			f.CompactInterval, err = getInt(k, v)
		case "compact_min_size":
			f.CompactMinSize, err = getInt64(k, v)
		case "buffer_size":
			f.BufferSize, err = getInt64(k, v)
		case "crc", "do_crc":
			f.DoCRC, err = getBool(k, v)
		case "crc_poly":
			f.CRCPolynomial, err = getInt64(k, v)
		case "sync", "do_sync", "sync_on_flush":
			f.DoSync, err = getBool(k, v)
		case "slice_max_msgs", "slice_max_count", "slice_msgs", "slice_count":
			f.SliceMaxMsgs, err = getInt(k, v)
		case "slice_max_bytes", "slice_max_size", "slice_bytes", "slice_size":
			f.SliceMaxBytes, err = getInt64(k, v)
		case "slice_max_age", "slice_age", "slice_max_time", "slice_time_limit":
			f.SliceMaxAge, err = getDuration(k, v)
		case "slice_archive_script", "slice_archive", "slice_script":
			f.SliceArchiveScript, err = getString(k, v)
		case "file_descriptors_limit", "fds_limit":
			f.FDsLimit, err = getInt64(k, v)
		case "parallel_recovery":
			f.ParallelRecovery, err = getInt(k, v)
		case "file_read_buffer_size", "read_buffer_size":
			f.ReadBufferSize, err = getInt64(k, v)
		case "file_auto_sync", "auto_sync":
			f.AutoSync, err = getDuration(k, v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
