package drill

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses of Command.
const (
	ExitOK   = 0 // the drill ran and no acknowledged message was lost
	ExitLost = 1 // acknowledged messages were lost
	ExitFail = 2 // the drill could not run (bad flags, no active member, no failover)
)

// Usage is the help text of `stanft drill`.
const Usage = `Usage: stanft drill --members URL[,URL...] [options]

Runs a failover drill against a live FT group: publishes and consumes through
a durable subscription, triggers a failover, and reports the time without
service, the new active and its epoch, and the messages acknowledged, lost,
duplicated and redelivered. Exit status 1 if an acknowledged message was lost,
2 if the drill could not run.

Options:
    --nats <urls>             NATS URL(s) of the group, comma-separated (default: nats://127.0.0.1:4222)
    -cid, --cluster_id <id>   Cluster ID (default: test-cluster)
    --ft_group <name>         FT group name (required for --mode step-down)
    --members <urls>          Members' monitoring URLs, comma-separated (required)
    --mode <mode>             step-down: ask the active to step down (default)
                              wait: wait while you kill, stop or pause the active
    --channel <name>          Channel (default: drill.<random>)
    --rate <n>                Publishes per second (default: 200)
    --size <bytes>            Payload size (default: 128)
    --warmup <duration>       Publishing before the failover (default: 2s)
    --settle <duration>       Publishing after the new active is seen (default: 3s)
    --pub_ack_wait <duration> Publish ack timeout (default: 5s)
    --timeout <duration>      Bound on the whole drill (default: 2m)
    --json                    Print the report as JSON
`

// Command is `stanft drill ARGS`: it parses args, runs the drill with the
// progress line on stderr, prints the report on stdout (text, or JSON with
// --json), and returns the exit status.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, asJSON, err := ParseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, Usage)
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "stanft drill: %v\n", err)
		return ExitFail
	}
	rep, runErr := Run(ctx, cfg, stderr)
	if rep != nil {
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(rep); err != nil {
				fmt.Fprintf(stderr, "stanft drill: %v\n", err)
				return ExitFail
			}
		} else if err := rep.WriteText(stdout); err != nil {
			fmt.Fprintf(stderr, "stanft drill: %v\n", err)
			return ExitFail
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "stanft drill: %v\n", runErr)
	}
	return exitCode(rep, runErr)
}

// exitCode maps a drill's outcome to Command's exit status: ExitLost when
// the report shows a lost acknowledged message (even if the drill then
// failed), else ExitFail on a run error, else ExitOK.
func exitCode(rep *Report, runErr error) int {
	switch {
	case rep != nil && !rep.OK():
		return ExitLost
	case runErr != nil:
		return ExitFail
	}
	return ExitOK
}

// ParseArgs turns `stanft drill` arguments into a Config (validated) and
// whether the report is wanted as JSON. It returns flag.ErrHelp for -h.
func ParseArgs(args []string) (Config, bool, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("stanft drill", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var members, mode string
	var asJSON bool
	fs.StringVar(&cfg.NATSURL, "nats", cfg.NATSURL, "")
	fs.StringVar(&cfg.ClusterID, "cid", cfg.ClusterID, "")
	fs.StringVar(&cfg.ClusterID, "cluster_id", cfg.ClusterID, "")
	fs.StringVar(&cfg.FTGroup, "ft_group", "", "")
	fs.StringVar(&members, "members", "", "")
	fs.StringVar(&mode, "mode", string(ModeStepDown), "")
	fs.StringVar(&cfg.Channel, "channel", "", "")
	fs.IntVar(&cfg.Rate, "rate", cfg.Rate, "")
	fs.IntVar(&cfg.Size, "size", cfg.Size, "")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "")
	fs.DurationVar(&cfg.PubAckWait, "pub_ack_wait", cfg.PubAckWait, "")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "")
	fs.BoolVar(&asJSON, "json", false, "")
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, m := range strings.Split(members, ",") {
		if m = strings.TrimSpace(m); m != "" {
			cfg.Members = append(cfg.Members, m)
		}
	}
	cfg.Mode = Mode(mode)
	if err := cfg.Validate(); err != nil {
		return cfg, false, err
	}
	return cfg, asJSON, nil
}
