package main

// usageText is printed by -h.
const usageText = `Usage: stanft [options]
       stanft store verify DIR
       stanft healthcheck [--ready] [URL]
       stanft ft step-down --nats URL -cid CLUSTER_ID --ft_group GROUP
       stanft drill ...

Streaming Server Options:
    -cid, --cluster_id  <string>         Cluster ID (default: test-cluster)
    -st,  --store <string>               Store type: MEMORY|FILE (default: MEMORY)
          --dir <string>                 For FILE store type, this is the root directory
    -mc,  --max_channels <int>           Max number of channels (0 for unlimited)
    -msu, --max_subs <int>               Max number of subscriptions per channel (0 for unlimited)
    -mm,  --max_msgs <int>               Max number of messages per channel (0 for unlimited)
    -mb,  --max_bytes <size>             Max messages total size per channel (0 for unlimited)
    -ma,  --max_age <duration>           Max duration a message can be stored ("0s" for unlimited)
    -mi,  --max_inactivity <duration>    Max inactivity (no new message, no subscription) after which a channel can be garbage collected (0 for unlimited)
    -ns,  --nats_server <string>         Connect to this external NATS Server URL (embedded otherwise)
    -sc,  --stan_config <string>         Streaming server configuration file
    -hbi, --hb_interval <duration>       Interval at which server sends heartbeat to a client
    -hbt, --hb_timeout <duration>        How long server waits for a heartbeat response
    -hbf, --hb_fail_count <int>          Number of failed heartbeats before server closes the client connection
          --ft_group <string>            Name of the FT Group. A group can be 2 or more servers with a single active server and all sharing the same datastore
          --ft_hb_interval <duration>    FT heartbeat interval (default: 1s)
          --ft_hb_missed_interval <duration>  FT missed heartbeat interval, at least 1.1 x the interval (default: 1.25s)
          --replace_durable <bool>       Replace the existing durable subscription instead of reporting a duplicate durable error
          --metrics_per_subscription <bool>  Export the per-subscription nss_chan_subs_* series on /metrics (default: false)

Streaming Server Logging Options:
    -SD, --stan_debug=<bool>             Enable STAN debugging output
    -SV, --stan_trace=<bool>             Trace the raw STAN protocol
    -SDV                                 Debug and trace STAN
         --log_format <string>           Log format: text|json (default: text)
         --syslog_name <string>          On Windows, the event source name (accepted, unused elsewhere)
    (See additional NATS logging options below)

Streaming Server File Store Options:
    --file_compact_enabled <bool>        Enable file compaction
    --file_compact_frag <int>            File fragmentation threshold for compaction
    --file_compact_interval <int>        Minimum interval (in seconds) between file compactions
    --file_compact_min_size <size>       Minimum file size for compaction
    --file_buffer_size <size>            File buffer size (in bytes)
    --file_crc <bool>                    Enable file CRC-32 checksum
    --file_crc_poly <int>                Polynomial used to make the table used for CRC-32 checksum
    --file_sync <bool>                   Enable File.Sync on Flush
    --file_slice_max_msgs <int>          Maximum number of messages per file slice (subject to channel limits)
    --file_slice_max_bytes <size>        Maximum file slice size - including index file (subject to channel limits)
    --file_slice_max_age <duration>      Maximum file slice duration starting when the first message is stored (subject to channel limits)
    --file_slice_archive_script <string> Path to script to use if you want to archive a file slice being removed
    --file_fds_limit <int>               Store will try to use no more file descriptors than this given limit
    --file_parallel_recovery <int>       On startup, number of channels that can be recovered in parallel
    --file_truncate_bad_eof <bool>       Truncate files for which there is an unexpected EOF on recovery, dataloss may occur
    --file_read_buffer_size <size>       Size of buffers used to read ahead from message stores
    --file_auto_sync <duration>          Interval at which the store should be automatically flushed and sync'ed on disk (<= 0 to disable)

Streaming Server TLS Options:
    -secure <bool>                       Use a TLS connection to the NATS server without verification; weaker than specifying certificates.
    -tls_client_key <string>             Client key for the streaming server
    -tls_client_cert <string>            Client certificate for the streaming server
    -tls_client_cacert <string>          Client certificate CA for the streaming server

Not supported by stanft (recognised, then rejected at startup with one line, exit 1):
    Clustering:  --clustered, --cluster_node_id, --cluster_bootstrap, --cluster_peers, --cluster_log_path,
                 --cluster_log_cache_size, --cluster_log_snapshots, --cluster_trailing_logs, --cluster_sync,
                 --cluster_raft_logging, --cluster_proceed_on_restore_failure, --cluster_allow_add_remove_node
                 (use --ft_group with a shared FILE store)
    SQL store:   -st SQL, --sql_driver, --sql_source, --sql_no_caching, --sql_max_open_conns,
                 --sql_bulk_insert_limit
    Encryption:  --encrypt, --encryption_cipher, --encryption_key

Streaming Server Options added by stanft are listed above; sizes accept NATS suffixes (k, kb, m, mb, g, gb).

NATS Server Options:
    -a, --addr, --net <host>             Bind to host address (default: 0.0.0.0)
    -p, --port <port>                    Use port for clients (default: 4222)
    -n, --name, --server_name <name>     Server name (default: auto)
    -P, --pid <file>                     File to store PID
    -m, --http_port <port>               Use port for http monitoring
    -ms,--https_port <port>              Use port for https monitoring
    -c, --config <file>                  Configuration file
    -t                                   Test configuration and exit
    -sl,--signal <cmd>[=<pid>]           Send signal to stanft process (stop, quit, reopen, reload, term, ldm)
        --client_advertise <string>      Client URL to advertise to other servers
        --ports_file_dir <dir>           Creates a ports file in the specified directory (<executable_name>_<pid>.ports).

NATS Server Logging Options:
    -l, --log <file>                     File to redirect log output (SIGUSR1 reopens it)
    -T, --logtime                        Timestamp log entries (default: true)
    -s, --syslog                         Log to syslog or windows event log
    -r, --remote_syslog <addr>           Syslog server addr (udp://127.0.0.1:514)
    -D, --debug                          Enable debugging output
    -V, --trace                          Trace the raw protocol
    -DV                                  Debug and trace
    -VV, -DVV                            Verbose trace (with debug)
        --logtime_utc                    Timestamps in UTC instead of local time
        --log_size_limit <bytes>         Rotate the -l log file when it reaches this size
        --max_traced_msg_len <len>       Maximum printable length of traced messages (0 for unlimited)

NATS Server Authorization Options:
        --user <user>                    User required for connections
        --pass <password>                Password required for connections
        --auth <token>                   Authorization token required for connections

NATS Server TLS Options:
        --tls                            Enable TLS, do not verify clients (default: false)
        --tlscert <file>                 Server certificate file
        --tlskey <file>                  Private key for server certificate
        --tlsverify                      Enable TLS, verify client certificates
        --tlscacert <file>               Client certificate CA for verification

NATS Server Cluster Options:
        --routes <rurl-1, rurl-2>        Routes to solicit and connect
        --cluster, --cluster_listen <url>  Cluster URL for solicited routes
        --cluster_name <string>          Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>            Advertise known cluster IPs to clients
        --cluster_advertise <string>     Cluster URL to advertise to other servers
        --connect_retries <number>       For implicit routes, number of connect retries

NATS Server JetStream Options (passed to the embedded NATS server):
    -js, --jetstream                     Enable JetStream
    -sd, --store_dir <dir>               JetStream storage directory (not -SD)

Profiling:
        --profile <port>                 Profiling HTTP port

Common Options:
    -h, --help                           Show this message
    -v, --version                        Show version
        --help_tls                       TLS help
`

// tlsUsageText is printed by --help_tls.
const tlsUsageText = `TLS Options for the embedded NATS server:
    --tls                Enable TLS, do not verify clients
    --tlscert <file>     Server certificate file
    --tlskey <file>      Private key for server certificate
    --tlsverify          Enable TLS, verify client certificates
    --tlscacert <file>   Client certificate CA for verification
TLS Options for the connections of the streaming server to NATS:
    -secure              TLS without verification
    -tls_client_cert, -tls_client_key, -tls_client_cacert <file>
`
