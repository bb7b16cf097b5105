//! The command line of stress-rs, described with clap for the man page and
//! the shell completions.  The tool itself parses with stress's own
//! hand-written grammar ([`crate::parse`]); a unit test keeps the two lists
//! of options the same.

use clap::{ArgAction, Parser};

/// Impose cpu, io, memory and disk load, as stress 1.0.7 does
#[derive(Parser, Debug)]
#[command(
    name = "stress-rs",
    version,
    about = "Impose cpu, io, memory and disk load (a drop-in for stress 1.0.7)",
    disable_help_flag = true,
    disable_version_flag = true
)]
#[allow(clippy::struct_excessive_bools)]
pub struct Cli {
    /// Show the usage text
    #[arg(short = '?', long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Show the version (stress's: 1.0.7)
    #[arg(long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,
    /// Be verbose: print dbug lines (order matters: the last of -v and -q wins)
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Be quiet: print only FAIL lines
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Fork the workers, but have them exit at once
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Stop each worker after N seconds (suffixes s, m, h, d, y)
    #[arg(short = 't', long, value_name = "N")]
    pub timeout: Option<String>,
    /// Wait N microseconds per remaining worker before work starts (default 3000, no suffix)
    #[arg(long, value_name = "N")]
    pub backoff: Option<String>,
    /// Spawn N workers spinning on sqrt(rand())
    #[arg(short = 'c', long, value_name = "N")]
    pub cpu: Option<String>,
    /// Spawn N workers spinning on sync()
    #[arg(short = 'i', long, value_name = "N")]
    pub io: Option<String>,
    /// Spawn N workers spinning on malloc()/touch/free()
    #[arg(short = 'm', long, value_name = "N")]
    pub vm: Option<String>,
    /// Allocate B bytes per vm worker (default 256M; suffixes B, K, M, G)
    #[arg(long, value_name = "B")]
    pub vm_bytes: Option<String>,
    /// Touch one byte every B bytes (default 4096)
    #[arg(long, value_name = "B")]
    pub vm_stride: Option<String>,
    /// Sleep N seconds before freeing (default: don't; 0: forever)
    #[arg(long, value_name = "N")]
    pub vm_hang: Option<String>,
    /// Re-dirty the memory instead of freeing and reallocating it
    #[arg(long)]
    pub vm_keep: bool,
    /// Spawn N workers spinning on write()/unlink()
    #[arg(short = 'd', long, value_name = "N")]
    pub hdd: Option<String>,
    /// Write B bytes per hdd file (default 1G)
    #[arg(long, value_name = "B")]
    pub hdd_bytes: Option<String>,
    /// Keep the ./stress.XXXXXX files instead of unlinking them (not in stress 1.0.7)
    #[arg(long)]
    pub hdd_noclean: bool,
    /// At the end, print per hog the work done per wall-second and per CPU-second (not in stress)
    #[arg(long)]
    pub metrics: bool,
    /// Print those figures as one JSON object on stdout; info and dbug lines go to stderr (not in stress)
    #[arg(long)]
    pub json: bool,
}

/// The clap definition, for man pages and completions.
#[must_use]
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

const DESCRIPTION: &str = "\
.B stress\\-rs
starts worker processes that load the machine: cpu workers spin on
.BR sqrt ( rand ()),
io workers on
.BR sync (),
vm workers allocate memory with
.BR malloc (),
write one byte in every stride, read it back and free it, and hdd workers
write files
.I ./stress.XXXXXX
in the current directory, 1 MiB \\- 1 byte at a time, and unlink them.
Each worker is its own process, so the OOM killer, cgroup accounting and
.BR ps (1)
see them as they see stress's.
.PP
It is a drop\\-in for
.BR stress (1)
1.0.7: the same options, parsed by the same rules (each argument must be an
option string exactly, no bundling, no
.BR \\-\\-opt=value ,
the last occurrence wins,
.B \\-\\-help
and
.B \\-\\-version
act when they are reached), the same defaults, the same messages on the
same streams, the same round\\-robin dispatch and backoff sleeps, the same
timeout semantics and exit codes.
Messages are
.IP
.EX
prog: info: [PID] text        (stdout, default level)
prog: dbug: [PID] text        (stdout, with \\-v)
prog: WARN: [PID] (LINE) text (stderr, unless \\-q)
prog: FAIL: [PID] (LINE) text (stderr, always)
.EE
.PP
where prog is the base name the program was run by (a link named
.B stress
prints
.BR stress: ),
PID is the process that prints (workers print their own) and LINE is the
source line of the message in stress\\-rs, as stress prints its own.
.PP
Worker counts and byte values take the size suffixes B, K, M, G (1024\\-based,
so
.B \\-c 1k
is 1024 workers);
.B \\-t
takes the time suffixes s, m, h, d, y;
.B \\-\\-vm\\-hang
takes size suffixes, as in stress;
.B \\-\\-backoff
takes none.
Numbers are read as C's
.B %lli
reads them: leading 0 for octal, 0x for hexadecimal, stopping at the first
other character.
.PP
Workers are forked in rounds, one of each kind still due per round (cpu, io,
vm, hdd).  Each worker of a round first sleeps backoff \\(mu remaining
workers microseconds.  With
.BR \\-t ,
each worker gets an alarm for the seconds left of the timeout when it is
forked; a worker ended by its alarm \"signalled normally\".  When a worker
fails, the others are reaped with SIGUSR1 and the run fails.
";

const DIFFERENCES: &str = "\
.TP
.B Reaping
stress reaps the other workers after a failure with
.BR kill (\\-getpid(),\\ SIGUSR1),
which only works when stress leads its process group; run from a script it
prints
.B kill error: No such process
and waits for every worker's own timeout.
stress\\-rs signals each of its workers by pid, so the run ends at once
either way.
.TP
.B Stopping
SIGINT, SIGTERM and SIGHUP make stress\\-rs print
.BR \"WARN: caught signal N, now reaping child worker processes\" ,
stop every worker with SIGUSR1, print
.B \"FAIL: interrupted run completed in Ns\"
and exit with 128 + N.
stress has no handlers (the workers only die through their parent\\-death
signal).  Workers still get SIGTERM when stress\\-rs dies, and a worker
whose parent died before it set that up exits at once.  A stop signal
inherited as ignored stays ignored (so
.B nohup stress\\-rs
still ignores SIGHUP), while an inherited ignored SIGALRM or SIGUSR1 (which
keeps stress's workers running past
.BR \\-t )
or SIGCHLD is reset for the workers and the parent.
.TP
.B PID 1
As the init process of a PID namespace (a container), stress ignores
SIGTERM, since the kernel drops default\\-action signals sent to init;
stress\\-rs has a handler, so it obeys SIGTERM there too.  As PID 1 it also
reaps orphans that are not its workers without counting them.
.TP
.B Exit status
stress exits with the number of failed workers modulo 256, so 256 failures
exit 0; stress\\-rs exits with that number capped at 255.
.TP
.B \\-\\-hdd\\-noclean
stress 1.0.3 removed it (1.0.7 rejects it as an unrecognized option);
stress\\-rs keeps the files
.I ./stress.XXXXXX
the hdd workers write instead of unlinking them.  They accumulate until
the disk is full, when the worker fails with
.BR \"write failed\" .
.TP
.B hdd files
A stress hdd worker whose alarm comes between creating its file and
unlinking it leaves an empty
.I ./stress.XXXXXX
behind (one run in four of
.B \\-d 1 \\-\\-hdd\\-bytes 1M \\-t 1
here); stress\\-rs holds the alarm and the reaping and stop signals off for
that moment, so no file stays.
.TP
.B OOM kills
When a worker dies by SIGKILL and the OOM\\-kill counter of our memory
cgroup rose (cgroup v1
.B memory.oom_control
.BR oom_kill ,
or
.B memory.failcnt
on kernels without it; cgroup v2
.B memory.events
.BR oom_kill ),
a second FAIL line follows
.BR \"got signal 9\" :
.B \"<\\-\\- worker PID was killed by the OOM killer: memory cgroup PATH is limited to 64M (67108864 bytes)\"
(naming the ancestor whose limit applies when ours has none).
.TP
.B \\-\\-metrics, \\-\\-json
Per kind of hog: the work done (cpu: iterations of the loop; io:
.BR sync ()
calls; vm: touches, one byte written per stride, so pages at the default
stride; hdd: bytes written), the mean
wall time of a worker, the user and system CPU time of the workers, and
work per wall\\-second and per CPU\\-second.  The workers count into a
shared anonymous mapping that the parent reads once each has been reaped;
CPU time comes from
.BR wait4 (2).
.B \\-\\-metrics
prints
.B metrc
lines on stdout before the closing line, whatever the verbosity;
.B \\-\\-json
prints one JSON object on stdout after it and sends the info and dbug
lines to stderr instead.
.TP
.B Line numbers
The (LINE) field of WARN and FAIL lines is the line of the message in
stress\\-rs's source, as stress prints the line in its own
.IR stress.c ;
the numbers differ from stress 1.0.7's (for instance 425 for
.BR \"got signal\" ),
the texts do not.
.TP
.B Usage and version
The usage text is stress's and does not list the three options above;
.B \\-\\-version
prints stress's version, 1.0.7, which scripts compare against.
";

const EXIT_STATUS: &str = "\
.TP
.B 0
Every worker ended normally (by its timeout, or at once with
.BR \\-n ),
or help, version or the usage text (no workers asked for) was printed.
.TP
.B 1
An option was wrong (a FAIL line says which).
.TP
.B N
N workers failed (exited with an error or died by an unexpected signal),
at most 255.
.TP
.B 128+N
stress\\-rs was stopped by signal N (SIGINT, SIGTERM or SIGHUP).
";

const EXAMPLES: &str = "\
.EX
stress\\-rs \\-\\-cpu 8 \\-\\-io 4 \\-\\-vm 2 \\-\\-vm\\-bytes 128M \\-\\-timeout 10s
.EE
.PP
The memory experiment of a container: in a 64 MiB memory cgroup, a worker
asking for 100 MiB is killed by the OOM killer and the run fails:
.IP
.EX
cgset \\-m 64m ./demo \\-\\- stress\\-rs \\-\\-vm 1 \\-\\-vm\\-bytes 100M \\-\\-vm\\-hang 0
.EE
.PP
Work rates of two cpu workers for 3 seconds, as JSON:
.IP
.EX
stress\\-rs \\-q \\-c 2 \\-t 3 \\-\\-json
.EE
";

const SEE_ALSO: &str = "\
.BR stress (1),
.BR stress\\-ng (1),
.BR cgset (1),
.BR unshare\\-rs (1)
";

/// The hand-written parts of the man page.
pub const MAN: ctcore::ManExtra = ctcore::ManExtra {
    section: "1",
    description: DESCRIPTION,
    sections: &[
        ("EXIT STATUS", EXIT_STATUS),
        ("DIFFERENCES FROM STRESS", DIFFERENCES),
        ("EXAMPLES", EXAMPLES),
        ("SEE ALSO", SEE_ALSO),
    ],
};

#[cfg(test)]
mod tests {
    use crate::parse::OPTIONS;

    #[test]
    fn clap_and_hand_parser_list_the_same_options() {
        let cmd = super::command();
        let mut from_clap: Vec<(String, Option<String>, bool)> = cmd
            .get_arguments()
            .map(|a| {
                let takes = a.get_action().takes_values();
                (
                    format!("--{}", a.get_long().expect("every option has a long form")),
                    a.get_short().map(|c| format!("-{c}")),
                    takes,
                )
            })
            .collect();
        let mut from_hand: Vec<(String, Option<String>, bool)> = OPTIONS
            .iter()
            .map(|o| (o.long.to_string(), o.short.map(str::to_string), o.value))
            .collect();
        from_clap.sort();
        from_hand.sort();
        assert_eq!(from_clap, from_hand);
    }

    #[test]
    fn clap_definition_is_valid() {
        super::command().debug_assert();
    }
}
