package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	natsd "github.com/nats-io/nats-server/v2/server"
)

// version is the stanft version; set with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// gitCommit returns the VCS revision the binary was built from ("" when
// unknown, e.g. under go test).
func gitCommit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}

// versionLine is what -v prints (SPEC D2).
func versionLine() string {
	return fmt.Sprintf("stanft version %s, nats-server v%s, go %s", version, natsd.VERSION, strings.TrimPrefix(runtime.Version(), "go"))
}

// errExit0 is returned by parseOptions when it printed the help or the
// version: the process exits 0.
var errExit0 = errors.New("exit 0")

// natsGlobals sets, once, the nats-server package-level behaviour stanft
// needs: unknown top-level configuration keys (the streaming ones) are not
// errors, and -sl looks for "stanft" processes.
var natsGlobals sync.Once

// flagParse is one parse of the command line: the FlagSet, the streaming
// options and the NATS options it filled.
type flagParse struct {
	fs   *flag.FlagSet
	args []string
	o    *options
	sink *unsupportedSink
	// tlsArgs are the -tls_client_* flags, parsed apart (see splitTLSClientArgs).
	tlsArgs []string
}

// parseFlags defines every flag on a new FlagSet and parses args with
// nats-server's ConfigureOptions, which also reads the NATS configuration
// file (-c) and re-parses the flags after it. It returns errExit0 after
// printing the help or the version.
func parseFlags(args []string, stdout io.Writer) (*flagParse, error) {
	natsGlobals.Do(func() {
		natsd.NoErrOnUnknownFields(true)
		natsd.SetProcessName("stanft")
	})
	fs := flag.NewFlagSet("stanft", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	p := &flagParse{fs: fs, args: args, o: defaultOptions(), sink: &unsupportedSink{}}
	defineStreamingFlags(fs, p.o, p.sink)
	// nats-server treats every flag whose name starts with "tls" as a NATS
	// TLS flag; the streaming -tls_client_* flags are parsed apart.
	natsArgs, tlsArgs := splitTLSClientArgs(args)
	p.args = natsArgs
	printed := false
	nopts, err := natsd.ConfigureOptions(fs, natsArgs,
		func() { printed = true; fmt.Fprintln(stdout, versionLine()) },
		func() { printed = true; fmt.Fprint(stdout, usageText) },
		func() { printed = true; fmt.Fprint(stdout, tlsUsageText) })
	if err != nil {
		return nil, err
	}
	if printed || nopts == nil {
		return nil, errExit0
	}
	p.o.NATS = nopts
	if err := p.parseTLSClientArgs(tlsArgs); err != nil {
		return nil, err
	}
	p.tlsArgs = tlsArgs
	return p, nil
}

// tlsClientFlags are the streaming flags that nats-server would mistake for
// its own TLS flags.
var tlsClientFlags = map[string]bool{"tls_client_cert": true, "tls_client_key": true, "tls_client_cacert": true}

// splitTLSClientArgs moves the -tls_client_* flags (and their values) out of
// args. Scanning stops at "--" as flag parsing does.
func splitTLSClientArgs(args []string) (rest, tls []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name := strings.TrimLeft(a, "-")
		if len(name) == len(a) || len(a)-len(name) > 2 {
			rest = append(rest, a)
			continue
		}
		name, _, hasValue := strings.Cut(name, "=")
		if !tlsClientFlags[name] {
			rest = append(rest, a)
			continue
		}
		tls = append(tls, a)
		if !hasValue && i+1 < len(args) {
			i++
			tls = append(tls, args[i])
		}
	}
	return rest, tls
}

// parseTLSClientArgs applies the -tls_client_* flags.
func (p *flagParse) parseTLSClientArgs(args []string) error {
	if len(args) == 0 {
		return nil
	}
	fs := flag.NewFlagSet("stanft", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	d := flagDefiner{fs: fs}
	c := &p.o.NATSClient
	d.str(&c.TLSClientCert, "", "tls_client_cert")
	d.str(&c.TLSClientKey, "", "tls_client_key")
	d.str(&c.TLSClientCA, "", "tls_client_cacert")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unrecognized command: %q", fs.Arg(0))
	}
	return nil
}

// parseOptions builds the options from the command line and the
// configuration files (SPEC §10.3): only -sc → used for both NATS and
// streaming; only -c → used for both; both → each its own. Precedence:
// defaults < configuration file < flags given on the command line.
func parseOptions(args []string, stdout io.Writer) (*options, error) {
	p, err := parseFlags(args, stdout)
	if err != nil {
		return nil, explainConfigError(args, err)
	}
	if p.o.StanConfig != "" && p.o.NATS.ConfigFile == "" {
		// The streaming file also configures NATS: parse again with it as -c
		// (there was no -c, so the prepended one is the only one).
		if p, err = parseFlags(append([]string{"-c", p.o.StanConfig}, args...), stdout); err != nil {
			return nil, explainConfigError(args, err)
		}
	}
	o := p.o
	if file := firstNonEmpty(o.StanConfig, o.NATS.ConfigFile); file != "" {
		if err := applyConfigFile(file, o); err != nil {
			return nil, err
		}
		// Flags given on the command line win over the file.
		if err := p.fs.Parse(p.args); err != nil {
			return nil, err
		}
		if err := p.parseTLSClientArgs(p.tlsArgs); err != nil {
			return nil, err
		}
	}
	p.fs.Visit(func(f *flag.Flag) {
		if f.Name == "SDV" {
			// -SDV sets both, and -SDV=false clears both (the reference's
			// reading), whatever -SD, -SV or the file said.
			b, _ := strconv.ParseBool(f.Value.String())
			o.StanDebug, o.StanTrace = b, b
		}
		if reason, ok := unsupportedFlags[f.Name]; ok {
			o.unsupported = append(o.unsupported, fmt.Sprintf("--%s is not supported: %s", f.Name, reason))
		}
	})
	if err := o.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// validate checks the options; every error names the flag or key at fault.
func (o *options) validate() error {
	if len(o.unsupported) > 0 {
		return errors.New(o.unsupported[0])
	}
	switch st := strings.ToUpper(o.StoreType); st {
	case storeMemory, storeFile:
		o.StoreType = st
	case storeSQL:
		return fmt.Errorf("the SQL store (-st SQL) is not supported: %s", reasonSQL)
	default:
		return fmt.Errorf("unsupported store type: %v", o.StoreType)
	}
	if o.StoreType == storeFile && o.Dir == "" {
		return errors.New("for FILE stores, root directory must be specified")
	}
	if o.FTGroup != "" && o.StoreType != storeFile {
		// The reference's text, exactly (SPEC §8.1).
		return errors.New("ft: only FILE or SQL stores supported in FT mode")
	}
	if o.ClusterID == "" {
		return errors.New("cluster ID (-cid) must not be empty")
	}
	if err := o.Limits.Validate(); err != nil {
		return err
	}
	switch {
	case o.HBInterval <= 0:
		return fmt.Errorf("--hb_interval must be positive, got %v", o.HBInterval)
	case o.HBTimeout <= 0:
		return fmt.Errorf("--hb_timeout must be positive, got %v", o.HBTimeout)
	case o.HBFailCount < 0:
		// 0 is valid, as in the reference: close at the first failure.
		return fmt.Errorf("--hb_fail_count cannot be negative, got %d", o.HBFailCount)
	case o.IOBatchSize < 0:
		return fmt.Errorf("--io_batch_size cannot be negative, got %d", o.IOBatchSize)
	case o.IOSleepTime < 0:
		return fmt.Errorf("--io_sleep_time cannot be negative, got %d", o.IOSleepTime)
	}
	switch o.LogFormat {
	case logFormatText, logFormatJSON:
	default:
		return fmt.Errorf("--log_format must be %q or %q, got %q", logFormatText, logFormatJSON, o.LogFormat)
	}
	if err := validateFTTiming(o.FTHBInterval, o.FTHBMissed); err != nil {
		return err
	}
	if o.StoreType != storeFile {
		// As in the reference, the file options are checked only when a
		// FILE store uses them.
		return nil
	}
	return o.File.validate()
}

// validate checks the file options with the reference's bounds and words
// (stores.AllOptions), prefixed by the flag; the compaction threshold is a
// percentage, so stanft also refuses more than 100.
func (f *fileOptions) validate() error {
	switch {
	case f.CompactFragPct < 1 || f.CompactFragPct > 100:
		return fmt.Errorf("--file_compact_frag: compact fragmentation value must at least be 1 (and at most 100), got %d", f.CompactFragPct)
	case f.CompactInterval < 1:
		return fmt.Errorf("--file_compact_interval: compact interval value must at least be 1 seconds, got %d", f.CompactInterval)
	case f.CRCPolynomial < 1 || f.CRCPolynomial > 0xFFFFFFFF:
		return fmt.Errorf("--file_crc_poly: crc polynomial should be between 1 and %d, got %d", int64(0xFFFFFFFF), f.CRCPolynomial)
	case f.CompactMinSize < 0:
		return fmt.Errorf("--file_compact_min_size cannot be negative, got %d", f.CompactMinSize)
	case f.BufferSize < 0:
		return fmt.Errorf("--file_buffer_size cannot be negative, got %d", f.BufferSize)
	case f.SliceMaxMsgs < 0:
		return fmt.Errorf("--file_slice_max_msgs cannot be negative, got %d", f.SliceMaxMsgs)
	case f.SliceMaxBytes < 0:
		return fmt.Errorf("--file_slice_max_bytes cannot be negative, got %d", f.SliceMaxBytes)
	case f.SliceMaxAge < 0:
		return fmt.Errorf("--file_slice_max_age cannot be negative, got %v", f.SliceMaxAge)
	case f.FDsLimit < 0:
		return fmt.Errorf("--file_fds_limit cannot be negative, got %d", f.FDsLimit)
	case f.ParallelRecovery < 1:
		return fmt.Errorf("--file_parallel_recovery must be at least 1, got %d", f.ParallelRecovery)
	case f.ReadBufferSize < 0:
		return fmt.Errorf("--file_read_buffer_size cannot be negative, got %d", f.ReadBufferSize)
	}
	return nil
}

// explainConfigError replaces a NATS error about a configuration file by the
// streaming one when the streaming reading of the same file fails (an
// unsupported streaming feature, a syntax error): that line names the file
// and the feature, where nats-server would only name an unknown field.
func explainConfigError(args []string, natsErr error) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name := strings.TrimLeft(a, "-")
		if len(name) == len(a) || len(a)-len(name) > 2 {
			continue
		}
		name, value, hasValue := strings.Cut(name, "=")
		switch name {
		case "sc", "stan_config", "c", "config":
		default:
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				continue
			}
			i++
			value = args[i]
		}
		scratch := defaultOptions()
		if err := applyConfigFile(value, scratch); err != nil {
			return err
		}
		if len(scratch.unsupported) > 0 {
			return errors.New(scratch.unsupported[0])
		}
	}
	return natsErr
}
