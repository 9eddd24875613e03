package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stanft/stanft/store"
)

// Note: nats-server's ConfigureOptions writes a package variable
// (FlagSnapshot), so tests that parse options do not run in parallel.

func writeConf(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stanft.conf")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustParse(t *testing.T, args ...string) *options {
	t.Helper()
	o, err := parseOptions(args, io.Discard)
	if err != nil {
		t.Fatalf("parseOptions(%q): %v", args, err)
	}
	return o
}

func TestDefaults(t *testing.T) {
	o := mustParse(t)
	want := defaultOptions()
	checks := []struct {
		name      string
		got, want any
	}{
		{"cluster id", o.ClusterID, "test-cluster"},
		{"discover prefix", o.DiscoverPrefix, "_STAN.discover"},
		{"store", o.StoreType, "MEMORY"},
		{"max channels", o.Limits.MaxChannels, 100},
		{"max subs", o.Limits.MaxSubscriptions, 1000},
		{"max msgs", o.Limits.MaxMsgs, 1000000},
		{"max bytes", o.Limits.MaxBytes, int64(1024000000)},
		{"max age", o.Limits.MaxAge, time.Duration(0)},
		{"hbi", o.HBInterval, 30 * time.Second},
		{"hbt", o.HBTimeout, 10 * time.Second},
		{"hbf", o.HBFailCount, 10},
		{"io batch", o.IOBatchSize, 1024},
		{"log format", o.LogFormat, "text"},
		{"ft hb", o.FTHBInterval, want.FTHBInterval},
		{"ft missed", o.FTHBMissed, want.FTHBMissed},
		{"file sync", o.File.DoSync, true},
		{"file crc", o.File.DoCRC, true},
		{"file crc poly", o.File.CRCPolynomial, int64(0xEDB88320)},
		{"file compact", o.File.CompactEnabled, true},
		{"file compact frag", o.File.CompactFragPct, 50},
		{"file compact interval", o.File.CompactInterval, 300},
		{"file compact min", o.File.CompactMinSize, int64(1024 * 1024)},
		{"file buffer", o.File.BufferSize, int64(2 * 1024 * 1024)},
		{"file slice bytes", o.File.SliceMaxBytes, int64(64 * 1024 * 1024)},
		{"file read buffer", o.File.ReadBufferSize, int64(2 * 1024 * 1024)},
		{"file auto sync", o.File.AutoSync, time.Minute},
		{"file parallel", o.File.ParallelRecovery, 1},
		{"nats port", o.NATS.Port, 0},
		{"logtime", o.NATS.Logtime, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestFlagsShortAndLong(t *testing.T) {
	dir := t.TempDir()
	type tc struct {
		args  []string
		check func(o *options) bool
	}
	cases := map[string]tc{}
	add := func(short, long string, value string, check func(o *options) bool) {
		if short != "" {
			if value == "true" || value == "false" {
				cases["-"+short] = tc{[]string{"-" + short + "=" + value}, check}
			} else {
				cases["-"+short] = tc{[]string{"-" + short, value}, check}
			}
		}
		cases["--"+long] = tc{[]string{"--" + long + "=" + value}, check}
	}
	add("cid", "cluster_id", "abc", func(o *options) bool { return o.ClusterID == "abc" })
	add("st", "store", "file", func(o *options) bool { return o.StoreType == "FILE" && o.Dir == dir })
	add("mc", "max_channels", "7", func(o *options) bool { return o.Limits.MaxChannels == 7 })
	add("msu", "max_subs", "8", func(o *options) bool { return o.Limits.MaxSubscriptions == 8 })
	add("mm", "max_msgs", "9", func(o *options) bool { return o.Limits.MaxMsgs == 9 })
	add("mb", "max_bytes", "10MB", func(o *options) bool { return o.Limits.MaxBytes == 10*1024*1024 })
	add("ma", "max_age", "1h", func(o *options) bool { return o.Limits.MaxAge == time.Hour })
	add("mi", "max_inactivity", "2m", func(o *options) bool { return o.Limits.MaxInactivity == 2*time.Minute })
	add("ns", "nats_server", "nats://127.0.0.1:4333", func(o *options) bool { return o.NATSServer == "nats://127.0.0.1:4333" })
	add("hbi", "hb_interval", "3s", func(o *options) bool { return o.HBInterval == 3*time.Second })
	add("hbt", "hb_timeout", "4s", func(o *options) bool { return o.HBTimeout == 4*time.Second })
	add("hbf", "hb_fail_count", "5", func(o *options) bool { return o.HBFailCount == 5 })
	// 0 is valid: the client is closed at its first failed heartbeat.
	add("hbf", "hb_fail_count", "0", func(o *options) bool { return o.HBFailCount == 0 })
	add("SD", "stan_debug", "true", func(o *options) bool { return o.StanDebug && !o.StanTrace })
	add("SV", "stan_trace", "true", func(o *options) bool { return o.StanTrace && !o.StanDebug })
	add("", "replace_durable", "true", func(o *options) bool { return o.ReplaceDurable })
	add("", "io_batch_size", "12", func(o *options) bool { return o.IOBatchSize == 12 })
	add("", "io_sleep_time", "13", func(o *options) bool { return o.IOSleepTime == 13 })
	add("", "syslog_name", "x", func(o *options) bool { return o.SyslogName == "x" })
	add("", "secure", "true", func(o *options) bool { return o.NATSClient.Secure })
	add("", "tls_client_cert", "c", func(o *options) bool { return o.NATSClient.TLSClientCert == "c" })
	add("", "tls_client_key", "k", func(o *options) bool { return o.NATSClient.TLSClientKey == "k" })
	add("", "tls_client_cacert", "ca", func(o *options) bool { return o.NATSClient.TLSClientCA == "ca" })
	add("", "file_compact_enabled", "false", func(o *options) bool { return !o.File.CompactEnabled })
	add("", "file_compact_frag", "20", func(o *options) bool { return o.File.CompactFragPct == 20 })
	add("", "file_compact_interval", "30", func(o *options) bool { return o.File.CompactInterval == 30 })
	add("", "file_compact_min_size", "2kb", func(o *options) bool { return o.File.CompactMinSize == 2048 })
	add("", "file_buffer_size", "1k", func(o *options) bool { return o.File.BufferSize == 1000 })
	add("", "file_crc", "false", func(o *options) bool { return !o.File.DoCRC })
	add("", "file_crc_poly", "123", func(o *options) bool { return o.File.CRCPolynomial == 123 })
	add("", "file_sync", "false", func(o *options) bool { return !o.File.DoSync })
	add("", "file_slice_max_msgs", "14", func(o *options) bool { return o.File.SliceMaxMsgs == 14 })
	add("", "file_slice_max_bytes", "1mb", func(o *options) bool { return o.File.SliceMaxBytes == 1024*1024 })
	add("", "file_slice_max_age", "1h", func(o *options) bool { return o.File.SliceMaxAge == time.Hour })
	add("", "file_slice_archive_script", "s.sh", func(o *options) bool { return o.File.SliceArchiveScript == "s.sh" })
	add("", "file_fds_limit", "15", func(o *options) bool { return o.File.FDsLimit == 15 })
	add("", "file_parallel_recovery", "3", func(o *options) bool { return o.File.ParallelRecovery == 3 })
	add("", "file_truncate_bad_eof", "true", func(o *options) bool { return o.File.TruncateBadEOF })
	add("", "file_read_buffer_size", "0", func(o *options) bool { return o.File.ReadBufferSize == 0 })
	add("", "file_auto_sync", "5s", func(o *options) bool { return o.File.AutoSync == 5*time.Second })
	add("", "log_format", "json", func(o *options) bool { return o.LogFormat == "json" })
	add("", "metrics_per_subscription", "true", func(o *options) bool { return o.MetricsPerSub })
	add("", "ft_hb_interval", "100ms", func(o *options) bool { return o.FTHBInterval == 100*time.Millisecond })
	add("", "ft_hb_missed_interval", "3s", func(o *options) bool { return o.FTHBMissed == 3*time.Second })
	add("a", "addr", "127.0.0.2", func(o *options) bool { return o.NATS.Host == "127.0.0.2" })
	add("p", "port", "4999", func(o *options) bool { return o.NATS.Port == 4999 })
	add("m", "http_port", "8333", func(o *options) bool { return o.NATS.HTTPPort == 8333 })
	add("D", "debug", "true", func(o *options) bool { return o.NATS.Debug && !o.StanDebug })
	add("V", "trace", "true", func(o *options) bool { return o.NATS.Trace && !o.StanTrace })
	add("T", "logtime", "false", func(o *options) bool { return !o.NATS.Logtime })
	add("", "user", "u", func(o *options) bool { return o.NATS.Username == "u" })
	add("", "pass", "p", func(o *options) bool { return o.NATS.Password == "p" })
	add("", "auth", "tok", func(o *options) bool { return o.NATS.Authorization == "tok" })
	add("", "cluster_name", "cn", func(o *options) bool { return o.NATS.Cluster.Name == "cn" })
	add("", "cluster", "nats://127.0.0.1:6222", func(o *options) bool { return o.NATS.Cluster.Port == 6222 })

	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			args := c.args
			if strings.Contains(name, "st") && strings.HasSuffix(name, "store") || name == "-st" {
				args = append(args, "--dir", dir)
			}
			o := mustParse(t, args...)
			if !c.check(o) {
				t.Errorf("args %q not applied", args)
			}
		})
	}
}

func TestSDVSetsBoth(t *testing.T) {
	o := mustParse(t, "-SDV")
	if !o.StanDebug || !o.StanTrace || o.NATS.Debug || o.NATS.Trace {
		t.Fatalf("-SDV: debug=%v trace=%v nats debug=%v trace=%v", o.StanDebug, o.StanTrace, o.NATS.Debug, o.NATS.Trace)
	}
	o = mustParse(t, "-DV")
	if o.StanDebug || o.StanTrace || !o.NATS.Debug || !o.NATS.Trace {
		t.Fatalf("-DV must only enable NATS debug/trace")
	}
	// As in the reference, -SDV=false given on the command line sets both
	// to false, even after -SD/-SV or the file's sd/sv.
	o = mustParse(t, "-SD", "-SV", "-SDV=false")
	if o.StanDebug || o.StanTrace {
		t.Fatalf("-SD -SV -SDV=false: debug=%v trace=%v, want both false", o.StanDebug, o.StanTrace)
	}
	o = mustParse(t, "-sc", writeConf(t, "streaming { sd: true, sv: true }"), "-SDV=false")
	if o.StanDebug || o.StanTrace {
		t.Fatalf("sd/sv in the file, -SDV=false: debug=%v trace=%v, want both false", o.StanDebug, o.StanTrace)
	}
}

// TestConfigKeyAliases checks every key alias of SPEC §10.3, in the
// streaming block and (for a few) at top level, with case-insensitive keys.
func TestConfigKeyAliases(t *testing.T) {
	type tc struct {
		conf  string
		check func(o *options) bool
	}
	cases := []tc{}
	each := func(keys []string, value string, check func(o *options) bool) {
		for _, k := range keys {
			cases = append(cases, tc{k + ": " + value, check})
		}
	}
	each([]string{"id", "cid", "cluster_id", "CLUSTER_ID"}, "mycluster", func(o *options) bool { return o.ClusterID == "mycluster" })
	each([]string{"discover_prefix"}, "_X.disc", func(o *options) bool { return o.DiscoverPrefix == "_X.disc" })
	each([]string{"st", "store", "store_type", "storetype"}, "memory", func(o *options) bool { return o.StoreType == "MEMORY" })
	each([]string{"dir", "datastore"}, "/tmp/x", func(o *options) bool { return o.Dir == "/tmp/x" })
	each([]string{"sd", "stan_debug"}, "true", func(o *options) bool { return o.StanDebug })
	each([]string{"sv", "stan_trace"}, "true", func(o *options) bool { return o.StanTrace })
	each([]string{"ns", "nats_server", "nats_server_url"}, `"nats://127.0.0.1:1"`, func(o *options) bool { return o.NATSServer == "nats://127.0.0.1:1" })
	each([]string{"credentials"}, "/c.creds", func(o *options) bool { return o.NATSClient.Credentials == "/c.creds" })
	each([]string{"secure"}, "true", func(o *options) bool { return o.NATSClient.Secure })
	each([]string{"hbi", "hb_interval", "server_to_client_hb_interval"}, `"7s"`, func(o *options) bool { return o.HBInterval == 7*time.Second })
	each([]string{"hbt", "hb_timeout", "server_to_client_hb_timeout"}, `"8s"`, func(o *options) bool { return o.HBTimeout == 8*time.Second })
	each([]string{"hbf", "hb_fail_count", "server_to_client_hb_fail_count"}, "9", func(o *options) bool { return o.HBFailCount == 9 })
	each([]string{"ft_group", "ft_group_name"}, "g\nstore: file\ndir: /tmp/x", func(o *options) bool { return o.FTGroup == "g" })
	each([]string{"syslog_name"}, "s", func(o *options) bool { return o.SyslogName == "s" })
	each([]string{"username", "user"}, "u", func(o *options) bool { return o.NATSClient.Username == "u" })
	each([]string{"password", "pass"}, "p", func(o *options) bool { return o.NATSClient.Password == "p" })
	each([]string{"token"}, "t", func(o *options) bool { return o.NATSClient.Token == "t" })
	each([]string{"nkey_seed_file"}, "n", func(o *options) bool { return o.NATSClient.NKeySeedFile == "n" })
	each([]string{"log_format"}, "json", func(o *options) bool { return o.LogFormat == "json" })
	each([]string{"ft_hb_interval"}, `"300ms"`, func(o *options) bool { return o.FTHBInterval == 300*time.Millisecond })
	each([]string{"ft_hb_missed_interval"}, `"5s"`, func(o *options) bool { return o.FTHBMissed == 5*time.Second })
	each([]string{"replace_durable", "replace_durables", "replace_duplicate_durable", "replace_duplicate_durables"}, "true",
		func(o *options) bool { return o.ReplaceDurable })
	for _, k := range []string{"client_cert"} {
		cases = append(cases, tc{"tls { " + k + ": c }", func(o *options) bool { return o.NATSClient.TLSClientCert == "c" }})
	}
	cases = append(cases,
		tc{"tls { client_key: k }", func(o *options) bool { return o.NATSClient.TLSClientKey == "k" }},
		tc{"tls { client_ca: a }", func(o *options) bool { return o.NATSClient.TLSClientCA == "a" }},
		tc{"tls { client_cacert: a }", func(o *options) bool { return o.NATSClient.TLSClientCA == "a" }},
		tc{"tls { server_name: h }", func(o *options) bool { return o.NATSClient.TLSServerName == "h" }},
		tc{"tls { server_hostname: h }", func(o *options) bool { return o.NATSClient.TLSServerName == "h" }},
		tc{"tls { skip_verify: true }", func(o *options) bool { return o.NATSClient.TLSSkipVerify }},
		tc{"tls { insecure: true }", func(o *options) bool { return o.NATSClient.TLSSkipVerify }},
	)
	for _, blk := range []string{"limits", "store_limits", "storelimits"} {
		for _, k := range []string{"mc", "max_channels", "maxchannels"} {
			cases = append(cases, tc{blk + " { " + k + ": 11 }", func(o *options) bool { return o.Limits.MaxChannels == 11 }})
		}
		for _, k := range []string{"msu", "max_subs", "max_subscriptions", "maxsubscriptions"} {
			cases = append(cases, tc{blk + " { " + k + ": 12 }", func(o *options) bool { return o.Limits.MaxSubscriptions == 12 }})
		}
		for _, k := range []string{"mm", "max_msgs", "maxmsgs", "max_count", "maxcount"} {
			cases = append(cases, tc{blk + " { " + k + ": 13 }", func(o *options) bool { return o.Limits.MaxMsgs == 13 }})
		}
		for _, k := range []string{"mb", "max_bytes", "maxbytes"} {
			cases = append(cases, tc{blk + " { " + k + ": 1KB }", func(o *options) bool { return o.Limits.MaxBytes == 1024 }})
		}
		for _, k := range []string{"ma", "max_age", "maxage"} {
			cases = append(cases, tc{blk + ` { ` + k + `: "1h" }`, func(o *options) bool { return o.Limits.MaxAge == time.Hour }})
		}
		for _, k := range []string{"mi", "max_inactivity", "maxinactivity"} {
			cases = append(cases, tc{blk + ` { ` + k + `: "1m" }`, func(o *options) bool { return o.Limits.MaxInactivity == time.Minute }})
		}
		for _, k := range []string{"channels", "channels_limits", "channelslimits", "per_channel", "per_channel_limits"} {
			cases = append(cases, tc{blk + ` { ` + k + `: { "foo.*": { mm: 5 } } }`, func(o *options) bool {
				c := o.Limits.PerChannel["foo.*"]
				return c != nil && c.MaxMsgs == 5
			}})
		}
	}
	fileKeys := []struct {
		keys  []string
		value string
		check func(f fileOptions) bool
	}{
		{[]string{"compact", "compact_enabled"}, "false", func(f fileOptions) bool { return !f.CompactEnabled }},
		{[]string{"compact_frag", "compact_fragmentation"}, "10", func(f fileOptions) bool { return f.CompactFragPct == 10 }},
		{[]string{"compact_interval"}, "11", func(f fileOptions) bool { return f.CompactInterval == 11 }},
		{[]string{"compact_min_size"}, "1KB", func(f fileOptions) bool { return f.CompactMinSize == 1024 }},
		{[]string{"buffer_size"}, "13", func(f fileOptions) bool { return f.BufferSize == 13 }},
		{[]string{"crc", "do_crc"}, "false", func(f fileOptions) bool { return !f.DoCRC }},
		{[]string{"crc_poly"}, "14", func(f fileOptions) bool { return f.CRCPolynomial == 14 }},
		{[]string{"sync", "do_sync", "sync_on_flush"}, "false", func(f fileOptions) bool { return !f.DoSync }},
		{[]string{"slice_max_msgs", "slice_max_count", "slice_msgs", "slice_count"}, "15", func(f fileOptions) bool { return f.SliceMaxMsgs == 15 }},
		{[]string{"slice_max_bytes", "slice_max_size", "slice_bytes", "slice_size"}, "16", func(f fileOptions) bool { return f.SliceMaxBytes == 16 }},
		{[]string{"slice_max_age", "slice_age", "slice_max_time", "slice_time_limit"}, `"17s"`, func(f fileOptions) bool { return f.SliceMaxAge == 17*time.Second }},
		{[]string{"slice_archive_script", "slice_archive", "slice_script"}, "a.sh", func(f fileOptions) bool { return f.SliceArchiveScript == "a.sh" }},
		{[]string{"file_descriptors_limit", "fds_limit"}, "18", func(f fileOptions) bool { return f.FDsLimit == 18 }},
		{[]string{"parallel_recovery"}, "19", func(f fileOptions) bool { return f.ParallelRecovery == 19 }},
		{[]string{"file_read_buffer_size", "read_buffer_size"}, "20", func(f fileOptions) bool { return f.ReadBufferSize == 20 }},
		{[]string{"file_auto_sync", "auto_sync"}, `"21s"`, func(f fileOptions) bool { return f.AutoSync == 21*time.Second }},
	}
	for _, blk := range []string{"file", "file_options"} {
		for _, fk := range fileKeys {
			for _, k := range fk.keys {
				check := fk.check
				cases = append(cases, tc{blk + " { " + k + ": " + fk.value + " }", func(o *options) bool { return check(o.File) }})
			}
		}
	}
	for _, c := range cases {
		for _, wrap := range []bool{true, false} {
			if !wrap && strings.HasPrefix(c.conf, "tls") {
				continue // a top-level tls block is the NATS server's
			}
			content := c.conf
			if wrap {
				content = "streaming {\n" + c.conf + "\n}\n"
			}
			name := strings.ReplaceAll(content, "\n", " ")
			t.Run(name, func(t *testing.T) {
				p := writeConf(t, content)
				o := mustParse(t, "-sc", p)
				if !c.check(o) {
					t.Errorf("config %q not applied", content)
				}
			})
		}
	}
}

func TestConfigStreamingBlockOnly(t *testing.T) {
	// With a streaming block, top-level streaming keys are not read.
	p := writeConf(t, "cluster_id: top\nstreaming { hbf: 3 }\n")
	o := mustParse(t, "-sc", p)
	if o.ClusterID != "test-cluster" || o.HBFailCount != 3 {
		t.Fatalf("cid=%q hbf=%d", o.ClusterID, o.HBFailCount)
	}
}

func TestConfigPerChannelZeroIsUnlimited(t *testing.T) {
	p := writeConf(t, `streaming { store_limits { channels { "foo": { mm: 0, msu: 3 }, "bar.>": { ma: "0s" } } } }`)
	o := mustParse(t, "-sc", p)
	foo := o.Limits.PerChannel["foo"]
	if foo == nil || foo.MaxMsgs != -1 || foo.MaxSubscriptions != 3 || foo.MaxBytes != 0 || foo.MaxAge != 0 {
		t.Fatalf("foo = %+v, want mm=-1 (unlimited), msu=3, others 0 (inherit)", foo)
	}
	if bar := o.Limits.PerChannel["bar.>"]; bar == nil || bar.MaxAge != -1 {
		t.Fatalf("bar.> = %+v", bar)
	}
}

// TestConfigPerChannelNegativeIsUnlimited: as in the reference, a negative
// per-channel value in the file is not an error; it means unlimited.
func TestConfigPerChannelNegativeIsUnlimited(t *testing.T) {
	p := writeConf(t, `streaming { store_limits { mm: 10, ma: "1h", channels { "foo": { mm: -1, ma: "-1s", msu: -5 } } } }`)
	o := mustParse(t, "-sc", p)
	got := o.Limits.ForChannel("foo")
	if got.MaxMsgs != 0 || got.MaxAge != 0 || got.MaxSubscriptions != 0 {
		t.Fatalf("foo resolves to %+v, want mm, ma and msu unlimited (0)", got)
	}
	if got.MaxBytes != o.Limits.MaxBytes {
		t.Fatalf("foo max_bytes %d, want the inherited global %d", got.MaxBytes, o.Limits.MaxBytes)
	}
}

func TestPrecedence(t *testing.T) {
	p := writeConf(t, "streaming { cid: fromfile, hbf: 4, store_limits { mm: 50 } }\nport: 4555\n")
	o := mustParse(t, "-sc", p, "-cid", "fromflag", "--max_msgs=60")
	if o.ClusterID != "fromflag" {
		t.Errorf("flag must win over file: cid=%q", o.ClusterID)
	}
	if o.HBFailCount != 4 {
		t.Errorf("file must win over default: hbf=%d", o.HBFailCount)
	}
	if o.Limits.MaxMsgs != 60 {
		t.Errorf("flag must win over file: mm=%d", o.Limits.MaxMsgs)
	}
	// Only -sc: NATS reads the file too.
	if o.NATS.Port != 4555 {
		t.Errorf("-sc only: NATS port = %d, want 4555 from the file", o.NATS.Port)
	}
	// Flags win over the file for NATS too.
	o = mustParse(t, "-sc", p, "-p", "4666")
	if o.NATS.Port != 4666 {
		t.Errorf("NATS port = %d, want 4666 from the flag", o.NATS.Port)
	}
}

func TestConfigFilesCAndSC(t *testing.T) {
	natsConf := writeConf(t, "port: 4777\n")
	stanConf := writeConf(t, "streaming { cid: s1 }\nport: 4888\n")
	// Only -c: used for both.
	both := writeConf(t, "port: 4999\nstreaming { cid: c1 }\n")
	o := mustParse(t, "-c", both)
	if o.NATS.Port != 4999 || o.ClusterID != "c1" {
		t.Errorf("-c only: port=%d cid=%q", o.NATS.Port, o.ClusterID)
	}
	// Both: each its own.
	o = mustParse(t, "-c", natsConf, "-sc", stanConf)
	if o.NATS.Port != 4777 || o.ClusterID != "s1" {
		t.Errorf("-c and -sc: port=%d cid=%q", o.NATS.Port, o.ClusterID)
	}
}

func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		conf string // written to a file passed with -sc
		want string
	}{
		{"unknown flag", []string{"-nope"}, "", "flag provided but not defined: -nope"},
		{"bad int", []string{"-mc", "x"}, "", "-mc"},
		{"bad duration", []string{"--hb_interval", "soon"}, "", "-hb_interval"},
		{"bad store", []string{"-st", "foo"}, "", "unsupported store type: foo"},
		{"file without dir", []string{"-st", "FILE"}, "", "for FILE stores, root directory must be specified"},
		{"ft memory", []string{"--ft_group", "g"}, "", "ft: only FILE or SQL stores supported in FT mode"},
		{"negative mm", []string{"-mm", "-1"}, "", "max messages limit cannot be negative"},
		{"negative hbf", []string{"-hbf", "-1"}, "", "--hb_fail_count cannot be negative"},
		{"negative mc", []string{"-mc", "-1"}, "", "max channels limit cannot be negative"},
		{"negative ma", []string{"-ma", "-1s"}, "", "max age limit cannot be negative"},
		{"routes without cluster", []string{"--routes", "nats://127.0.0.1:6222"}, "", "solicited routes require cluster capabilities, e.g. --cluster"},
		{"ft timing", []string{"--ft_hb_interval", "1s", "--ft_hb_missed_interval", "1s"}, "", "--ft_hb_missed_interval"},
		{"log format", []string{"--log_format", "xml"}, "", "--log_format"},
		{"clustered", []string{"--clustered"}, "", "--clustered is not supported: use --ft_group with a shared FILE store"},
		{"cluster_node_id", []string{"--cluster_node_id", "a"}, "", "--cluster_node_id is not supported"},
		{"cluster_peers", []string{"--cluster_peers", "a,b"}, "", "--cluster_peers is not supported"},
		{"cluster_log_path", []string{"--cluster_log_path", dir}, "", "--cluster_log_path is not supported"},
		{"sql store", []string{"-st", "SQL"}, "", "the SQL store (-st SQL) is not supported"},
		{"sql store conf", nil, "streaming { store: sql }", "the SQL store (-st SQL) is not supported"},
		{"sql_driver", []string{"--sql_driver", "mysql"}, "", "--sql_driver is not supported"},
		{"sql_source", []string{"--sql_source", "x"}, "", "--sql_source is not supported"},
		{"encrypt", []string{"--encrypt"}, "", "--encrypt is not supported: at-rest encryption"},
		{"encryption_key", []string{"--encryption_key", "k"}, "", "--encryption_key is not supported"},
		{"encryption_cipher", []string{"--encryption_cipher", "AES"}, "", "--encryption_cipher is not supported"},
		{"conf cluster block", nil, "streaming { cluster { node_id: a } }", `"cluster" is not supported`},
		{"conf top cluster raft", nil, "cluster { node_id: a }", `"cluster" is not supported`},
		{"conf sql block", nil, "streaming { sql_options { driver: mysql } }", `"sql_options" is not supported`},
		{"conf partitioning", nil, "streaming { partitioning: true }", `"partitioning" is not supported`},
		{"conf encrypt", nil, "streaming { encrypt: true }", `"encrypt" is not supported`},
		{"conf encryption_key", nil, "streaming { encryption_key: abc }", `"encryption_key" is not supported`},
		{"conf wrong type", nil, "streaming { hbf: abc }", `parameter "hbf" value is expected to be int64, got string`},
		{"conf wrong type bool", nil, "streaming { sd: 1 }", `parameter "sd" value is expected to be bool, got int64`},
		{"conf wrong type map", nil, "streaming { store_limits: 1 }", `parameter "store_limits" value is expected to be map, got int64`},
		{"conf duration not string", nil, "streaming { hbi: 10 }", `parameter "hbi" value is expected to be string, got int64`},
		{"conf bad duration", nil, `streaming { hbi: "ten" }`, `parameter "hbi"`},
		{"conf unknown store", nil, "streaming { store: foo }", "unknown store type: foo"},
		// The reference's texts (stores.StoreLimits.Build), as with the flags.
		{"conf negative limit", nil, "streaming { limits { mm: -2 } }", "max messages limit cannot be negative (-2)"},
		{"conf negative age", nil, `streaming { limits { max_age: "-1s" } }`, "max age limit cannot be negative (-1s)"},
		{"conf negative mc", nil, "streaming { limits { mc: -1 } }", "max channels limit cannot be negative (-1)"},
		{"conf too many channels", nil, `streaming { limits { mc: 1, channels { a: { mm: 1 }, b: { mm: 1 } } } }`, "too many channels defined (2). The max channels limit is set to 1"},
		{"conf syntax", nil, "streaming { ", "configuration file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.conf != "" {
				args = append([]string{"-sc", writeConf(t, c.conf)}, args...)
			}
			var stdout, stderr bytes.Buffer
			code := runServer(context.Background(), serverEnv{Args: args, Stdout: &stdout, Stderr: &stderr})
			if code != exitFailure {
				t.Fatalf("exit code %d, want 1; stderr %q", code, stderr.String())
			}
			lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
			if len(lines) != 1 {
				t.Fatalf("want one line on stderr, got %q", stderr.String())
			}
			if !strings.Contains(lines[0], c.want) {
				t.Fatalf("stderr %q does not contain %q", lines[0], c.want)
			}
			if !strings.HasPrefix(lines[0], "stanft: ") {
				t.Fatalf("stderr %q does not start with \"stanft: \"", lines[0])
			}
		})
	}
}

// TestFileOptionsCheckedOnlyForFileStore: the file store options are
// checked with the reference's bounds and words (stores.AllOptions), and, as
// in the reference, only when a FILE store uses them, not with MEMORY.
func TestFileOptionsCheckedOnlyForFileStore(t *testing.T) {
	file := []string{"-st", "FILE", "--dir", t.TempDir()}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--file_compact_interval", "0"}, "compact interval value must at least be 1 seconds"},
		{[]string{"--file_compact_frag", "0"}, "compact fragmentation value must at least be 1"},
		{[]string{"--file_crc_poly", "0"}, "crc polynomial should be between 1 and 4294967295"},
		{[]string{"--file_crc_poly", "4294967296"}, "crc polynomial should be between 1 and 4294967295"},
		{[]string{"--file_parallel_recovery", "0"}, "--file_parallel_recovery must be at least 1"},
	}
	for _, c := range cases {
		mustParse(t, c.args...) // MEMORY: not checked
		_, err := parseOptions(append(append([]string{}, file...), c.args...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("-st FILE %v: error %v, want %q", c.args, err, c.want)
		}
	}
}

func TestNATSClusterRoutesAreNotStreamingClustering(t *testing.T) {
	// A top-level NATS cluster block (routes) is fine without a streaming block.
	p := writeConf(t, "cluster { listen: 127.0.0.1:6333 }\ncid: x\n")
	o := mustParse(t, "-sc", p)
	if o.NATS.Cluster.Port != 6333 || o.ClusterID != "x" {
		t.Fatalf("cluster port=%d cid=%q", o.NATS.Cluster.Port, o.ClusterID)
	}
	o = mustParse(t, "--cluster", "nats://127.0.0.1:6334", "--routes", "nats://127.0.0.1:6335", "--cluster_name", "c")
	if o.NATS.Cluster.Port != 6334 || len(o.NATS.Routes) != 1 {
		t.Fatalf("cluster port=%d routes=%v", o.NATS.Cluster.Port, o.NATS.Routes)
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-v"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
		out := stdout.String()
		if strings.HasPrefix(args[0], "-v") || args[0] == "--version" {
			// SPEC D2: stanft version X, nats-server vY, go Z
			want := regexp.MustCompile(`^stanft version \S+, nats-server v\d+\.\d+\.\d+, go \d+\.\d+(\.\d+)?\S*\n$`)
			if !want.MatchString(out) {
				t.Fatalf("%v: %q", args, out)
			}
		} else if !strings.Contains(out, "Usage: stanft") || !strings.Contains(out, "--ft_group") {
			t.Fatalf("%v: %q", args, out)
		}
	}
}

func TestLimitsFromFlagsValidateLikeStore(t *testing.T) {
	o := mustParse(t, "-mc", "0", "-mm", "0", "-mb", "0")
	want := store.Limits{MaxChannels: 0, ChannelLimits: store.ChannelLimits{MaxSubscriptions: 1000}}
	if o.Limits.MaxChannels != want.MaxChannels || o.Limits.MaxMsgs != 0 || o.Limits.MaxBytes != 0 || o.Limits.MaxSubscriptions != 1000 {
		t.Fatalf("limits = %+v", o.Limits)
	}
}

func TestTLSClientFlagsAreNotNATSTLSFlags(t *testing.T) {
	o := mustParse(t, "-tls_client_cert", "c.pem", "--tls_client_key", "k.pem", "-tls_client_cacert=ca.pem", "-cid", "x")
	c := o.NATSClient
	if c.TLSClientCert != "c.pem" || c.TLSClientKey != "k.pem" || c.TLSClientCA != "ca.pem" || o.ClusterID != "x" {
		t.Fatalf("tls client = %+v cid=%q", c, o.ClusterID)
	}
	if o.NATS.TLSConfig != nil {
		t.Fatal("streaming TLS client flags enabled NATS server TLS")
	}
	// Flags win over the file for the TLS client flags too.
	p := writeConf(t, "streaming { tls { client_cert: file.pem, client_key: filekey.pem } }")
	o = mustParse(t, "-sc", p, "-tls_client_cert", "flag.pem")
	if o.NATSClient.TLSClientCert != "flag.pem" || o.NATSClient.TLSClientKey != "filekey.pem" {
		t.Fatalf("tls client = %+v", o.NATSClient)
	}
}

func TestConfigEnvironmentVariables(t *testing.T) {
	t.Setenv("STANFT_TEST_CID", "fromenv")
	p := writeConf(t, "streaming { cid: $STANFT_TEST_CID }\n")
	if o := mustParse(t, "-sc", p); o.ClusterID != "fromenv" {
		t.Fatalf("cid = %q", o.ClusterID)
	}
}

func TestUsageShowsFTDefaults(t *testing.T) {
	o := defaultOptions()
	for _, want := range []string{"(default: " + o.FTHBInterval.String() + ")", "(default: " + o.FTHBMissed.String() + ")"} {
		if !strings.Contains(usageText, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}
