//! The command line of cgset.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

/// Write cgroup limits (v1 and v2), put processes into the group, report usage.
#[derive(Parser, Debug, Default)]
#[command(
    name = "cgset",
    version,
    about = "Write cgroup limits (v1 and v2), put processes in the group, report usage",
    override_usage = "cgset [LIMITS] GROUP [-- PROGRAM [ARGS]...]\n       \
        cgset -r NAME=VALUE... GROUP...\n       \
        cgset --copy-from SRC GROUP...\n       \
        cgset --pid PID GROUP\n       \
        cgset --show [--json] [--watch] GROUP...\n       \
        cgset --delete [--kill] GROUP...\n       \
        cgset --freeze|--thaw GROUP..."
)]
#[allow(clippy::struct_excessive_bools)]
pub struct Cli {
    /// CPU shares (relative weight); v2: cpu.weight, ratio-preserving
    #[arg(
        short = 'c',
        long,
        value_name = "SHARES",
        allow_negative_numbers = true,
        help_heading = "Limits"
    )]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs (quota over a 100ms period)
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub cpus: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) period, in microseconds
    #[arg(
        long,
        value_name = "US",
        allow_negative_numbers = true,
        help_heading = "Limits"
    )]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota, in microseconds (-1: none)
    #[arg(
        long,
        value_name = "US",
        allow_negative_numbers = true,
        help_heading = "Limits"
    )]
    pub cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "LIST", help_heading = "Limits")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "LIST", help_heading = "Limits")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (go-units size: 64m, 1g)
    #[arg(short = 'm', long, value_name = "BYTES", help_heading = "Limits")]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(
        long,
        value_name = "BYTES",
        allow_negative_numbers = true,
        help_heading = "Limits"
    )]
    pub memory_swap: Option<String>,
    /// Tune memory swappiness (0 to 100); v1 only
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        help_heading = "Limits"
    )]
    pub memory_swappiness: Option<i64>,
    /// Memory soft limit
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub memory_reservation: Option<String>,
    /// Kernel memory limit (deprecated, ignored by current kernels)
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub kernel_memory: Option<String>,
    /// Disable OOM Killer; v1 only
    #[arg(long, help_heading = "Limits")]
    pub oom_kill_disable: bool,
    /// Limit read rate (bytes per second) from a device (/dev/sda:1mb)
    #[arg(long, value_name = "DEV:RATE", help_heading = "Limits")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long, value_name = "DEV:RATE", help_heading = "Limits")]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device
    #[arg(long, value_name = "DEV:RATE", help_heading = "Limits")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long, value_name = "DEV:RATE", help_heading = "Limits")]
    pub device_write_iops: Vec<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long, value_name = "W", help_heading = "Limits")]
    pub blkio_weight: Option<u16>,
    /// Tune pids limit (set -1 for unlimited)
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        help_heading = "Limits"
    )]
    pub pids_limit: Option<i64>,
    /// libcgroup form: set cgroup file NAME to VALUE (v1 names translated on v2 and back)
    #[arg(
        short = 'r',
        long = "rule",
        visible_alias = "variable",
        value_name = "NAME=VALUE",
        help_heading = "Limits"
    )]
    pub rule: Vec<String>,
    /// Copy the limits of cgroup SRC to every GROUP
    #[arg(
        long,
        value_name = "SRC",
        conflicts_with = "rule",
        help_heading = "Limits"
    )]
    pub copy_from: Option<String>,
    /// Also write the limits into every existing cgroup below GROUP, parents first (children
    /// first when -r disables controllers in cgroup.subtree_control), as libcgroup's cgset -R
    #[arg(short = 'R', long, help_heading = "Limits")]
    pub recursive: bool,
    /// Settings v2 cannot express (swappiness, oom-kill-disable, kernel memory) fail instead of warning
    #[arg(long, help_heading = "Limits")]
    pub strict: bool,

    /// Deny every device, then allow docker's default list: mknod of any node; read, write
    /// and mknod of null, zero, full, random, urandom, tty, console, ptmx, pts/* and net/tun
    #[arg(long, help_heading = "Devices")]
    pub device_default: bool,
    /// Allow devices by a rule in docker's syntax 'TYPE MAJOR:MINOR ACCESS' (TYPE a, b or c;
    /// MAJOR and MINOR a number or *; ACCESS of r, w, m); repeatable; without --device-default
    /// the rules start from deny-all
    #[arg(long, value_name = "RULE", help_heading = "Devices")]
    pub device_cgroup_rule: Vec<String>,
    /// Allow the host device node PATH (or every node below a directory PATH), ACCESS rwm unless
    /// given, as docker's --device implies (its HOST:CONTAINER[:ACCESS] form is taken too);
    /// repeatable; starts from deny-all like --device-cgroup-rule
    #[arg(long, value_name = "PATH[:ACCESS]", help_heading = "Devices")]
    pub device_allow: Vec<String>,

    /// Move these processes into the group (repeat, comma-separated, or '-' for stdin)
    #[arg(long, value_name = "PID", help_heading = "Actions")]
    pub pid: Vec<String>,
    /// Print the group's limits and usage
    #[arg(long, help_heading = "Actions", conflicts_with_all = ["delete", "freeze", "thaw"])]
    pub show: bool,
    /// With --show: as JSON
    #[arg(long, help_heading = "Actions")]
    pub json: bool,
    /// Refresh a docker-stats-like table until SIGINT
    #[arg(long, help_heading = "Actions", conflicts_with_all = ["delete", "freeze", "thaw"])]
    pub watch: bool,
    /// With --watch: seconds between refreshes (default 1; Go durations like 500ms too)
    #[arg(
        long,
        value_name = "TIME",
        default_value = "1",
        help_heading = "Actions"
    )]
    pub interval: String,
    /// With --watch: stop after N refreshes (default: until SIGINT)
    #[arg(long, value_name = "N", help_heading = "Actions")]
    pub count: Option<u64>,
    /// Remove the group, and the cgroups below it, from every hierarchy (refuses a populated group without --kill)
    #[arg(long, help_heading = "Actions", conflicts_with_all = ["freeze", "thaw"])]
    pub delete: bool,
    /// With --delete: kill the group's processes first
    #[arg(long, requires = "delete", help_heading = "Actions")]
    pub kill: bool,
    /// Freeze every process of the group and wait until it is frozen
    #[arg(long, help_heading = "Actions", conflicts_with = "thaw")]
    pub freeze: bool,
    /// Thaw a frozen group and wait until it runs again
    #[arg(long, help_heading = "Actions")]
    pub thaw: bool,
    /// Print the file writes instead of doing them
    #[arg(long, help_heading = "Actions")]
    pub dry_run: bool,

    /// Use the cgroup tree at DIR instead of the mounted one (env CGSET_ROOT)
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub root: Option<PathBuf>,

    /// The cgroup: /a/b from each hierarchy's root, ./a/b below the caller's own cgroup
    #[arg(value_name = "GROUP", required = true)]
    pub groups: Vec<String>,

    /// Program to execute inside GROUP once the limits are written (after --)
    #[arg(value_name = "PROGRAM", last = true, value_hint = clap::ValueHint::CommandName)]
    pub program: Vec<OsString>,
}

/// The clap definition, for man pages and completions.
#[must_use]
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// The hand-written parts of the man page.
pub const MAN: ctcore::ManExtra = ctcore::ManExtra {
    section: "1",
    description: DESCRIPTION,
    sections: &[
        ("CGROUP VERSIONS", VERSIONS),
        ("CPU WEIGHT ON CGROUP V2", WEIGHT),
        ("DEVICE POLICY", DEVICES),
        ("EXIT STATUS", EXIT),
        ("EXAMPLES", EXAMPLES),
        ("NOTES", NOTES),
        ("SEE ALSO", SEE_ALSO),
    ],
};

const DESCRIPTION: &str = "\
.B cgset
writes the limit files of a control group, on cgroup v1, v2 or a hybrid of the two.
It creates
.I GROUP
where it does not exist yet, in every hierarchy it needs, writes the limits given
by docker's resource flags or by libcgroup's
.B \\-r
rules, reads each file back and says when the kernel rounded or clamped a value.
With
.I PROGRAM
after
.BR \\-\\- ,
it moves itself into the group and executes
.IR PROGRAM ,
so it chains with the other tools.
.PP
A
.I GROUP
of the form
.I /a/b
(or plain
.IR a/b )
is taken from the root of each hierarchy;
.I ./a/b
is below the cgroup the caller already is in, which may differ per v1 hierarchy
(see /proc/self/cgroup).
Components
.B ..
and empty names are refused.
All input is checked before anything is created, and a group created by this
run is removed again when a later write fails.
.PP
The docker flags are checked with docker's rules and messages: a memory limit
of at least 6MB, the memory\\-swap rules, swappiness 0 to 100, a reservation below
the limit, a CFS period of 1ms to 1s and a quota of at least 1ms, at most as many
CPUs as the host has, blkio weight 10 to 1000, device rates as go\\-units sizes.
Devices are resolved to MAJ:MIN by
.BR stat (2)
of the device node.
";

const VERSIONS: &str = "\
The hierarchies come from /proc/self/mountinfo, or, with
.B \\-\\-root
or CGSET_ROOT, from a directory laid out like /sys/fs/cgroup: a v2 tree has
cgroup.controllers at its top; a v1 tree has one directory per controller
(cpu, cpuacct, memory, ...); a hybrid one has both, v2 under unified.
In a hybrid setup a controller is used where it is bound, v1 first.
.PP
The docker flags become these files:
.TP
.B \\-c
v1: cpu.shares; v2: cpu.weight.
.TP
.B \\-\\-cpus, \\-\\-cpu\\-period, \\-\\-cpu\\-quota
v1: cpu.cfs_period_us, cpu.cfs_quota_us; v2: cpu.max.
.TP
.B \\-\\-cpuset\\-cpus, \\-\\-cpuset\\-mems
v1: cpuset.cpus, cpuset.mems; v2: the same.
.TP
.B \\-m
v1: memory.limit_in_bytes; v2: memory.max.
.TP
.B \\-\\-memory\\-swap
v1: memory.memsw.limit_in_bytes; v2: memory.swap.max (swap minus memory).
.TP
.B \\-\\-memory\\-reservation
v1: memory.soft_limit_in_bytes; v2: memory.low.
.TP
.B \\-\\-memory\\-swappiness
v1: memory.swappiness; v2: none.
.TP
.B \\-\\-oom\\-kill\\-disable
v1: memory.oom_control; v2: none.
.TP
.B \\-\\-kernel\\-memory
v1: memory.kmem.limit_in_bytes; v2: none.
.TP
.B \\-\\-blkio\\-weight
v1: blkio.weight or blkio.bfq.weight; v2: io.bfq.weight or io.weight.
.TP
.B \\-\\-device\\-*\\-bps, \\-\\-device\\-*\\-iops
v1: blkio.throttle.*_device; v2: io.max.
.TP
.B \\-\\-pids\\-limit
v1: pids.max; v2: pids.max.
.PP
Without
.BR \\-\\-memory\\-swap ,
a memory limit allows as much swap again, as docker does.
Memory and memory+swap are written in the order the kernel accepts: memory+swap
first when raising, memory first when lowering.
On v2 a setting that has no v2 file is skipped with a warning, or refused with
.BR \\-\\-strict .
.PP
.B \\-r
names are translated between the versions: cpu.shares, cpu.cfs_quota_us,
cpu.cfs_period_us, memory.limit_in_bytes, memory.soft_limit_in_bytes,
memory.memsw.limit_in_bytes, blkio.weight, blkio.throttle.* and their v2
counterparts cpu.weight, cpu.max, memory.max, memory.low, memory.swap.max,
io.weight, io.max.
";

const WEIGHT: &str = "\
cgroup v2 has cpu.weight (1 to 10000, default 100) instead of cpu.shares
(2 to 262144, default 1024).
.B cgset
converts linearly, so that the ratio between groups stays what it is on v1:
.PP
.EX
weight = clamp(round(shares * 100 / 1024), 1, 10000)
.EE
.PP
1024 becomes 100 and 512 becomes 50: two groups get CPU time 2:1 on v2 as on v1.
runc 1.3.2 and later, crun 1.23 and youki use a quadratic fit in log2(shares)
instead, which maps 2, 1024 and 262144 onto 1, 100 and 10000 but turns 512 into
59, a 1.69:1 split; older runc used 1 + (shares \\- 2) * 9999 / 262142, which maps
1024 to 39.
libcgroup's cgxset uses shares * 100 / 1024 without clamping, which gives the
invalid weight 0 for 2 shares.
";

const DEVICES: &str = "\
.BR \\-\\-device\\-default ,
.B \\-\\-device\\-cgroup\\-rule
and
.B \\-\\-device\\-allow
set the group's device policy as docker does for a container: every device is
denied, then the rules given are allowed, in docker's syntax
.RI ' TYPE
.IR MAJOR : MINOR
.IR ACCESS '
(TYPE
.B a
(both),
.B b
or
.BR c ;
MAJOR and MINOR a number or
.BR * ;
ACCESS made of
.B r
(read),
.B w
(write) and
.B m
(mknod)).
A request passes when one rule allows all of its access.
.B \\-\\-device\\-default
allows docker's default list (runc's): mknod of any node
.RB ( \"c *:* m\" ,
.BR \"b *:* m\" ),
and rwm for /dev/null (1:3), zero (1:5), full (1:7), random (1:8), urandom (1:9),
tty (5:0), console (5:1), ptmx (5:2), the ptys (136:*) and /dev/net/tun (10:200).
.B \\-\\-device\\-allow
.IR PATH [: ACCESS ]
allows the device node PATH (symbolic links followed), or every node below a
directory PATH, with ACCESS rwm unless given: the rule that docker's
.B \\-\\-device
implies (its HOST:CONTAINER[:ACCESS] form is taken, the container path unused).
Each option may be repeated; the options combine.
.PP
On cgroup v1 the group is made in the devices hierarchy too;
.B a
is written to devices.deny, then each rule to devices.allow.
A group that has a device list already gets only the difference: the lines
that go are written to devices.deny first, then the missing ones to
devices.allow, so its processes never lose a device both policies allow, and
the same policy again writes nothing (a rule of type
.B a
as one
.B b
and one
.B c
rule, since v1 reads a written
.B a
as every device).
The kernel takes
.B a
in devices.deny only in a cgroup without children, and a v1 child can only
narrow its parent's list.
Once a group exists in the devices hierarchy, every later join (the chain
form,
.BR \\-\\-pid )
puts the process there too, with or without device options.
.PP
cgroup v2 has no device files: cgset generates a
BPF_PROG_TYPE_CGROUP_DEVICE program for the rules, loads it with
.BR bpf (2)
and attaches it to the group with BPF_F_ALLOW_MULTI, then detaches the program
it attached there before (named cgset_devices; others are left alone);
when cgset's program there has the same rules already, it does nothing.
The programs of the group's ancestors run too, and a request passes only when
every one allows it, so a child cannot widen its parent's policy.
The kernel needs CONFIG_CGROUP_BPF.
.PP
.B \\-\\-show
reports the policy: v1's devices.list, or the device programs attached to the
v2 group (id and name) and, for cgset's, the rules read back from the
instructions the kernel holds.
.B \\-\\-dry\\-run
prints the v1 writes, or the program it would attach and its rules.
Bad rules get docker's messages (invalid device cgroup format, error gathering
device information) and exit 125 before anything is made.
";

const EXIT: &str = "\
.TP
.B 0
The limits were written (warnings may have been printed).
.TP
.B 125
cgset failed: a usage error, a value docker refuses, a write the kernel
refused; nothing created by this run is left behind.
.TP
.B 126
PROGRAM was found but could not be executed.
.TP
.B 127
PROGRAM was not found.
.PP
Otherwise, once PROGRAM has been executed, the status is PROGRAM's own.
";

const EXAMPLES: &str = "\
Two groups below one of ours, sharing the CPU 2:1:
.PP
.EX
cgset \\-c 1024 ./demo/hi \\-\\- stress \\-\\-cpu 2 &
cgset \\-c 512 ./demo/lo \\-\\- stress \\-\\-cpu 2 &
cgset \\-\\-watch ./demo/hi ./demo/lo
.EE
.PP
Half a CPU, 64MB of memory and 1MB/s reads from a disk:
.PP
.EX
cgset \\-\\-cpus 0.5 \\-m 64m \\-\\-device\\-read\\-bps /dev/sda:1mb /box \\-\\- sh
.EE
.PP
A shell that can open only docker's default devices and the loop devices:
.PP
.EX
cgset \\-\\-device\\-default \\-\\-device\\-cgroup\\-rule 'b 7:* rw' ./box \\-\\- sh
.EE
.PP
libcgroup's form, then the limits and usage as JSON, then removal:
.PP
.EX
cgset \\-r memory.limit_in_bytes=64M \\-r cpu.shares=512 /box
cgset \\-\\-show \\-\\-json /box
cgset \\-\\-delete \\-\\-kill /box
.EE
";

const NOTES: &str = "\
On v1, a new cpuset group gets cpuset.cpus and cpuset.mems from its parent,
so processes can join it (libcgroup's cgcreate leaves them empty).
On v2 the controllers are enabled in cgroup.subtree_control of every ancestor.
The kernel refuses that (EBUSY) for a cgroup that has processes of its own:
a non\\-root cgroup either holds processes or distributes controllers to its
children, never both.
Move those processes into a leaf group first.
cgset then enables none of them there and leaves that cgroup as it was
(enabling only the threaded controllers cpu, cpuset and pids would turn it
into a thread root); it fails when the limits need one of them.
.PP
The kernel refuses to read cgroup.procs of a threaded v2 cgroup (EOPNOTSUPP)
and to take cgroup.kill there: cgset reads its threads from cgroup.threads and
counts each thread's process (the Tgid of /proc/TID/status), for
.B \\-\\-show
and for
.BR \\-\\-delete ;
.B \\-\\-kill
kills those processes whole, threads in other cgroups included.
On v2 a group that cgroup.events says is populated counts as such even
when no pid can be listed (the kernel lists tasks of another pid namespace
as 0); cgroup.kill empties it.
.PP
Differences from libcgroup: errors name the file, the value and the reason and
exit non\\-zero (125, where libcgroup 3.1 exits 129 and 2.0 often 0); the group
is created when missing, and
.B cgset GROUP
with no limits just creates it; v1 names work on v2 and v2 names on v1;
.B \\-\\-delete
removes the group from every hierarchy, where cgdelete skips co\\-listed
controllers of separate v1 hierarchies.
Differences from docker: the limits apply to an existing or new cgroup rather
than to a container, and the cpu.weight formula keeps the shares ratio.
";

const SEE_ALSO: &str = "\
.BR cgcreate (1),
.BR cgexec (1),
.BR cgdelete (1),
.BR docker\\-run (1),
.BR stress\\-rs (1),
.BR unshare\\-rs (1),
.BR cgroups (7)
";
