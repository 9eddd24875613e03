// Package ft is stanft's fault-tolerance elector: it decides which member
// of an FT group serves, knowing nothing of STAN. It is a small state
// machine over two interfaces, a Lock (ft/filelock: flock on a file in the
// shared datastore, with a durable epoch) and a Beacon (ft/natsbeacon: a
// NATS subject), and it drives the workload through symmetric Callbacks.
// cmd/stanft wires OnPromote/OnDemote to the server's Activate/Deactivate
// and Elector.Fence to the file store's pre-flush hook.
//
// # Roles
//
// The lock is the only truth. The member holding it is the active: it
// recovers the store, serves clients, publishes heartbeats, and proves
// before every durable store batch (Fence) and at least once a second
// (LockCheckInterval) that it still holds the lock with its own epoch.
// Every other member is a standby: it never touches the datastore, answers
// nothing, tries the lock at start, every LockPollInterval while its NATS
// connection is up, and at once on a step-down notice.
//
// # States
//
//	Standby ──poll / notice──► Acquiring ──acquired──► Recovering ──OnPromote ok──► Active
//	   ▲                          │ held, error                │                           │
//	   └──────────────────────────┘                            ▼                           │
//	   ▲                                                    Demoting ◄─────────────────────┘
//	   └──────────── step-down, lost NATS ─────────────────────┤   stop, fenced, step-down,
//	                                                           │   lost NATS, promote error
//	Standby, Acquiring ──stop, fatal lock error──► Stopped ◄───┘   stop, fenced, promote error
//
// The table in state.go is the single definition; Elector.transition is
// the single place that changes state, and each change is logged, reported
// to Metrics.FTState and visible in Status. Standby ↔ Acquiring happens on
// every poll and is logged at trace level only.
//
// Demotion always runs in this order: cancel OnPromote's context and wait
// for OnPromote to return; OnDemote (stop serving, flush, close the store);
// release the lock; publish a step-down notice (unless fenced). So the next
// holder sees everything this member acknowledged, and a standby woken by
// the notice finds the lock free.
//
// # Messages
//
// Members exchange messages of stanft's own format on
// `_STAN.ft.<cluster ID>.<group>`: the magic "STANFT", a version byte (1),
// and a strict JSON object {kind, id, epoch, state, since, target, req}.
// Kinds: heartbeat (every HeartbeatInterval from a Recovering or Active
// member), step-down (notice, after the lock is released), step-down-request
// (from `stanft ft step-down`). Anything else on the subject — garbage, an
// unknown version or field — is ignored and logged (rate limited); a
// nats-streaming-server heartbeat is logged as an error, since mixed groups
// are not supported. No message, valid or not, delays a standby's lock
// polling: heartbeats only inform (Status.ActiveID, OnNewActive) and let
// two actives see each other.
//
// # Epochs and dual actives
//
// Every acquisition stores a strictly larger epoch durably before
// TryAcquire returns. An active that sees a heartbeat of another member
// with a higher epoch (that member acquired after it) or an equal one (a
// broken lock) stands down and Run returns an error wrapping ErrFenced
// (*ActiveElsewhereError). One that sees a lower epoch logs it and checks
// its lock at once; the other member is the one to stand down. Wall-clock
// time is never used to decide.
//
// # Step-down
//
// Elector.StepDown, a step-down request naming this member (and its
// epoch), or a graceful stop (Run's context cancelled) demote as above and
// publish a notice; standbys try the lock as soon as it arrives. After a
// step-down (not a stop) the member stays standby for
// MissedHeartbeatTimeout before polling again, so another member gets the
// lock. natsbeacon.RequestStepDown implements the command: it waits for the
// active's heartbeat, sends a request targeted at that ID and epoch
// (repeated every 500 ms until confirmed; a later active ignores it because
// its epoch differs), waits for the notice carrying the request ID, then
// for the heartbeat of the new active (higher epoch).
//
// # Timing (defaults; see config.go for why)
//
//	HeartbeatInterval       1 s     active's heartbeats (SPEC §8.3)
//	MissedHeartbeatTimeout  1.25 s  ≥ 1.1 × interval; NATS-loss stand-down,
//	                                 standby forgets a silent active,
//	                                 back-off after a step-down
//	LockPollInterval        50 ms   standby lock attempts while connected
//	LockCheckInterval       1 s     active's periodic lock check (≤ 1 s)
//	Jitter                  ±10 %   on every interval
//
// Expected take-over times: after the active is killed, the kernel frees its
// flock at once and a standby acquires within one poll (≤ 55 ms) plus the
// epoch write and recovery; after a graceful stop or step-down, the notice
// makes it immediate (flush + release + one NATS hop + epoch write +
// recovery). An active disconnected from NATS stands down after
// MissedHeartbeatTimeout (+ up to half of it: connectivity is sampled every
// quarter MissedHeartbeatTimeout); a reachable
// standby then takes over within one poll.
//
// # Guarantees
//
//   - At most one member holds the lock at a time, as far as the filesystem's
//     lock is correct. Each holding has a distinct, increasing epoch.
//   - A member writes the datastore only while it can prove, before each
//     durable batch, that it holds the lock on the same file and the stored
//     epoch is its own (Fence). Once another member has acquired (and so
//     stored a newer epoch), the old one's next Fence fails and it stops
//     writing and exits (Run returns ErrFenced).
//   - Every OnPromote is followed by exactly one OnDemote; the lock is
//     released only after OnDemote returns.
//   - Lock errors, fatal ones included (missing directory, permission,
//     corrupt epoch file), never end Run: as the reference does (SPEC §8.4),
//     a standby logs them (rate limited) and retries, fatal ones every
//     missed interval, so a datastore that becomes usable is taken over.
//
// # Non-guarantees
//
//   - Fencing is by check, not by the storage: a write that has passed its
//     Fence can still land after another member acquired the lock if the
//     process was paused exactly between the check and the write (the
//     window is one store batch). The next batch is refused.
//   - A paused (SIGSTOP, VM freeze) active holding a local flock keeps the
//     lock; nobody takes over until it resumes or dies.
//   - Heartbeats and notices are best effort; they only speed things up.
//   - Anyone who may publish on `_STAN.ft.>` can request a step-down or
//     inject heartbeats (a forged higher-epoch heartbeat makes the active
//     stand down and exit): protect the subject with NATS permissions.
//
// # Filesystems for the lock
//
// Supported: a local disk (members on one host, e.g. tests), NFSv4 (Linux
// emulates flock with a whole-file POSIX lock, which the server arbitrates;
// the lock descriptor is opened read-write because NFS requires it for an
// exclusive lock) and Amazon EFS (NFSv4.1). On NFS a lock is a lease: if
// the active cannot renew it (network partition from the NFS server), the
// server may give the lock to another client; the epoch check makes the
// old active stop at its next Fence or periodic check.
//
// Not supported: SMB/CIFS mounted with `nobrl` (byte-range locks are not
// sent to the server, so every client "holds" the lock), NFS mounted with
// `nolock` or `local_lock=flock|all` (locks stay on the client: members on
// different hosts do not exclude each other), and any filesystem whose
// locks are local-only (some FUSE filesystems, GlusterFS without
// posix-locks). On those, two members could both become active; the epoch
// check narrows but cannot close that hole. Validate a new filesystem with
// the e2e suite before use.
//
// stanft's flock does not see nats-streaming-server's fcntl lock on a local
// disk: never mix reference and stanft servers on one datastore.
package ft
