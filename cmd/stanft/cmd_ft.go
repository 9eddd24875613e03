package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stanft/stanft/ft/natsbeacon"
)

// runFTCmd is `stanft ft step-down --nats URL -cid C --ft_group G
// [--timeout 30s]`: it asks the active member of an FT group to hand over
// to a standby and reports who took over. Exit 0 once a new active is heard,
// 1 otherwise.
func runFTCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usage = "usage: stanft ft step-down --nats URL -cid CLUSTER_ID --ft_group GROUP [--timeout 30s]"
	if len(args) == 0 || args[0] != "step-down" {
		fmt.Fprintln(stderr, usage)
		return exitFailure
	}
	fs := flag.NewFlagSet("stanft ft step-down", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var natsURL, clusterID, group string
	d := flagDefiner{fs: fs}
	d.str(&natsURL, "NATS URL(s) of the group", "nats", "ns", "nats_server")
	clusterID = defaultClusterID
	d.str(&clusterID, "cluster ID", "cid", "cluster_id")
	d.str(&group, "FT group", "ft_group")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the hand-over")
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(stderr, "stanft ft step-down: %v\n%s\n", err, usage)
		return exitFailure
	}
	if natsURL == "" || group == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, usage)
		return exitFailure
	}
	nc, err := nats.Connect(natsURL, nats.Name("stanft-ft-step-down"), nats.Timeout(5*time.Second))
	if err != nil {
		fmt.Fprintf(stderr, "stanft ft step-down: connect to %s: %v\n", natsURL, err)
		return exitFailure
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := natsbeacon.RequestStepDown(ctx, nc, clusterID, group)
	if res.Previous != "" {
		fmt.Fprintf(stdout, "%s (epoch %d) stepped down after %v\n", res.Previous, res.PreviousEpoch, res.Confirmed.Round(time.Millisecond))
	}
	if res.Next != "" {
		fmt.Fprintf(stdout, "%s (epoch %d) is active after %v\n", res.Next, res.NextEpoch, res.TookOver.Round(time.Millisecond))
	}
	if err != nil {
		if errors.Is(err, natsbeacon.ErrNoNewActive) {
			fmt.Fprintf(stderr, "stanft ft step-down: no standby took over within %v\n", *timeout)
		} else {
			fmt.Fprintf(stderr, "stanft ft step-down: %v\n", err)
		}
		return exitFailure
	}
	return exitOK
}
