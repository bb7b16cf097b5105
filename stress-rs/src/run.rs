//! Dispatching the workers round-robin, and reaping them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::hogs;
use crate::log::Log;
use crate::oom::{self, MemCg};
use crate::parse::Config;
use crate::{dbug, fail, info, warn};

/// The kinds of hog, in dispatch order.
pub const KINDS: [&str; 4] = ["cpu", "io", "vm", "hdd"];
/// What each kind's work counter counts.
pub const UNITS: [&str; 4] = ["iterations", "syncs", "touches", "bytes"];

/// The signal that asked us to stop (0: none).
static STOP: AtomicI32 = AtomicI32::new(0);
const STOP_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn on_stop(sig: i32) {
    let _ = STOP.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
}

/// The stop signals we handle (those not inherited as ignored, so that
/// `nohup stress-rs` still ignores SIGHUP), as a bit mask by number.
static HANDLED: AtomicI32 = AtomicI32::new(0);

fn handled(sig: i32) -> bool {
    HANDLED.load(Ordering::SeqCst) & (1 << sig) != 0
}

fn sigset(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigset manipulation on a local.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut set);
        for &s in signals {
            libc::sigaddset(&raw mut set, s);
        }
        set
    }
}

fn mask(how: i32, signals: &[i32]) {
    let set = sigset(signals);
    // SAFETY: a valid set; one thread.
    unsafe { libc::sigprocmask(how, &raw const set, std::ptr::null_mut()) };
}

fn install_stop_handlers() {
    // SAFETY: SIGCHLD must not be inherited as ignored (the kernel would
    // reap the workers itself and wait4 would see none).
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    for s in STOP_SIGNALS {
        // SAFETY: reading the inherited disposition, then installing an
        // async-signal-safe handler (one atomic store).
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(s, std::ptr::null(), &raw mut old);
            if old.sa_sigaction == libc::SIG_IGN {
                continue;
            }
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop as *const () as usize;
            libc::sigemptyset(&raw mut sa.sa_mask);
            libc::sigaction(s, &raw const sa, std::ptr::null_mut());
        }
        HANDLED.fetch_or(1 << s, Ordering::SeqCst);
    }
}

/// Wait up to `timeout` for one of `signals` (blocked); record a stop
/// signal.  `None` when none came.
fn take_signal(signals: &[i32], timeout: Duration) -> Option<i32> {
    let set = sigset(signals);
    let ts = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos()),
    };
    // SAFETY: valid set and timeout; the siginfo is not wanted.
    let sig = unsafe { libc::sigtimedwait(&raw const set, std::ptr::null_mut(), &raw const ts) };
    if sig <= 0 {
        return None;
    }
    if STOP_SIGNALS.contains(&sig) {
        let _ = STOP.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    }
    Some(sig)
}

/// Collect every pending stop signal (a signal sent to the whole process
/// group is pending here by the time a worker it killed can be reaped).
fn poll_stop(stops: &[i32]) {
    while take_signal(stops, Duration::ZERO).is_some() {}
}

/// The stop signals we handle.  A signal inherited as ignored must stay
/// out of every blocked set: blocked, it would be queued, not dropped.
fn handled_stops() -> Vec<i32> {
    STOP_SIGNALS.into_iter().filter(|&s| handled(s)).collect()
}

/// One forked worker.
#[derive(Debug, Clone)]
pub struct Worker {
    /// Its pid.
    pub pid: i32,
    /// Index into [`KINDS`].
    pub kind: usize,
    /// Index of its counter.
    pub slot: usize,
    /// When it was forked.
    pub started: Instant,
    /// Wall time from fork to reaping.
    pub wall: Duration,
    /// User and system CPU seconds (from wait4's rusage).
    pub user: f64,
    /// System CPU seconds.
    pub sys: f64,
    /// The work it did.
    pub work: u64,
    /// Still running.
    pub alive: bool,
}

/// Counters in a shared anonymous mapping, one per worker (slots are
/// reused modulo the size beyond a million workers).
struct Counters {
    ptr: *const AtomicU64,
    len: usize,
    fallback: AtomicU64,
}

impl Counters {
    fn new(n: usize) -> Counters {
        let len = n.clamp(1, 1 << 20);
        // SAFETY: an anonymous shared mapping; checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len * 8,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Counters {
                ptr: std::ptr::null(),
                len: 0,
                fallback: AtomicU64::new(0),
            };
        }
        Counters {
            ptr: p.cast(),
            len,
            fallback: AtomicU64::new(0),
        }
    }

    fn get(&self, slot: usize) -> &AtomicU64 {
        if self.len == 0 {
            return &self.fallback;
        }
        // SAFETY: slot % len is inside the zero-filled mapping, which lives
        // as long as the process; AtomicU64 has u64's layout.
        unsafe { &*self.ptr.add(slot % self.len) }
    }
}

fn secs(tv: libc::timeval) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    {
        tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6
    }
}

fn now_secs() -> i64 {
    // SAFETY: time(NULL).
    unsafe { libc::time(std::ptr::null_mut()) }
}

fn strerror() -> String {
    ctcore::error_text(&std::io::Error::last_os_error())
}

/// The outcome of a run.
#[derive(Debug)]
pub struct Outcome {
    /// The exit status.
    pub status: i32,
    /// Workers that failed.
    pub failed: u64,
    /// Whole seconds, as stress counts them.
    pub runtime: i64,
    /// The stop signal, if any.
    pub signal: i32,
    /// Every worker.
    pub workers: Vec<Worker>,
}

struct Reaper<'a> {
    log: &'a Log,
    workers: Vec<Worker>,
    by_pid: HashMap<i32, usize>,
    alive: usize,
}

impl Reaper<'_> {
    /// Signal every live worker with SIGUSR1 (by pid: works whether or not
    /// we lead our process group, and as PID 1).
    fn reap_all(&self) {
        let mut reported = false;
        for w in self.workers.iter().filter(|w| w.alive) {
            // SAFETY: signalling a child we forked and have not reaped, so
            // its pid cannot have been reused.
            if unsafe { libc::kill(w.pid, libc::SIGUSR1) } == -1 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::ESRCH) && !reported {
                    fail!(self.log, "kill error: {}", ctcore::error_text(&e));
                    reported = true;
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn child(
    cfg: &Config,
    log: &Log,
    stops: &[i32],
    kind: usize,
    backoff: i64,
    timeout: i64,
    parent: i32,
    counter: &AtomicU64,
) -> ! {
    // SAFETY: in the new single-threaded child: default dispositions, the
    // parent-death signal (then re-check that the parent still lives),
    // alarm and sleep.
    unsafe {
        for s in STOP_SIGNALS {
            if handled(s) {
                libc::signal(s, libc::SIG_DFL);
            }
        }
        // The alarm and reaping signals end workers even when stress-rs was
        // started with them ignored.
        libc::signal(libc::SIGALRM, libc::SIG_DFL);
        libc::signal(libc::SIGUSR1, libc::SIG_DFL);
        mask(libc::SIG_UNBLOCK, stops);
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 || libc::getppid() != parent {
            libc::_exit(0);
        }
        #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
        libc::alarm(timeout as u32);
        #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
        libc::usleep(backoff as u32);
        if cfg.dry_run {
            libc::_exit(0);
        }
    }
    let code = match kind {
        0 => hogs::cpu(counter),
        1 => hogs::io(counter),
        2 => hogs::vm(
            log,
            hogs::Vm {
                bytes: cfg.vm_bytes,
                stride: cfg.vm_stride,
                hang: cfg.vm_hang,
                keep: cfg.vm_keep,
            },
            counter,
        ),
        _ => hogs::hdd(log, cfg.hdd_bytes, cfg.hdd_noclean, counter),
    };
    // SAFETY: ending the worker without running the parent's exit hooks.
    unsafe { libc::_exit(code) }
}

/// Dispatch and reap, printing as stress does.  `start` is `time(NULL)` at
/// start-up.
#[allow(clippy::too_many_lines)]
pub fn stress(cfg: &Config, log: &Log, start: i64) -> Outcome {
    info!(
        log,
        "dispatching hogs: {} cpu, {} io, {} vm, {} hdd", cfg.cpu, cfg.io, cfg.vm, cfg.hdd
    );
    let total = usize::try_from(cfg.total()).unwrap_or(usize::MAX);
    let counters = Counters::new(total);
    let memcg = oom::find();
    let mut oom_seen = memcg.as_ref().and_then(MemCg::oom_count);
    install_stop_handlers();
    let stops = handled_stops();
    // SAFETY: getpid.
    let me = unsafe { libc::getpid() };

    let mut r = Reaper {
        log,
        workers: Vec::new(),
        by_pid: HashMap::new(),
        alive: 0,
    };
    let mut remaining = [cfg.cpu, cfg.io, cfg.vm, cfg.hdd];
    'dispatch: loop {
        let forks = remaining.iter().fold(0i64, |a, &b| a.wrapping_add(b));
        if forks == 0 {
            break;
        }
        let backoff = cfg.backoff.wrapping_mul(forks);
        dbug!(log, "using backoff sleep of {backoff}us");
        let mut timeout = 0;
        if cfg.timeout != 0 {
            timeout = cfg.timeout - (now_secs() - start);
            if timeout > 0 {
                dbug!(log, "setting timeout to {timeout}s");
            } else {
                warn!(log, "used up time before all workers dispatched");
                break;
            }
        }
        for kind in 0..4 {
            if remaining[kind] == 0 {
                continue;
            }
            if STOP.load(Ordering::SeqCst) != 0 {
                break 'dispatch;
            }
            let slot = r.workers.len();
            mask(libc::SIG_BLOCK, &stops);
            // SAFETY: no other thread exists; the child only calls
            // async-signal-safe functions before becoming a worker.
            let pid = unsafe { libc::fork() };
            match pid {
                0 => child(
                    cfg,
                    log,
                    &stops,
                    kind,
                    backoff,
                    timeout,
                    me,
                    counters.get(slot),
                ),
                -1 => {
                    let e = strerror();
                    mask(libc::SIG_UNBLOCK, &stops);
                    fail!(log, "fork failed: {e}");
                }
                pid => {
                    mask(libc::SIG_UNBLOCK, &stops);
                    dbug!(
                        log,
                        "--> hog{} worker {} [{pid}] forked",
                        KINDS[kind],
                        remaining[kind]
                    );
                    r.by_pid.insert(pid, slot);
                    r.workers.push(Worker {
                        pid,
                        kind,
                        slot,
                        started: Instant::now(),
                        wall: Duration::ZERO,
                        user: 0.0,
                        sys: 0.0,
                        work: 0,
                        alive: true,
                    });
                    r.alive += 1;
                }
            }
            remaining[kind] -= 1;
        }
    }

    let mut failed: u64 = 0;
    let mut stopping = false;
    // From here the stop signals and SIGCHLD stay blocked and are taken
    // with sigtimedwait: no signal can slip in between a check and a wait.
    let mut waited = stops.clone();
    waited.push(libc::SIGCHLD);
    mask(libc::SIG_BLOCK, &waited);
    while r.alive > 0 {
        poll_stop(&stops);
        let sig = STOP.load(Ordering::SeqCst);
        if sig != 0 && !stopping {
            stopping = true;
            warn!(
                log,
                "caught signal {sig}, now reaping child worker processes"
            );
            r.reap_all();
        }
        let mut status = 0;
        // SAFETY: zeroed rusage is a valid out-parameter.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: collecting any ended child, without blocking.
        let pid = unsafe { libc::wait4(-1, &raw mut status, libc::WNOHANG, &raw mut ru) };
        if pid == 0 {
            take_signal(&waited, Duration::from_secs(1));
            continue;
        }
        if pid == -1 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            fail!(log, "error waiting for worker: {}", ctcore::error_text(&e));
            failed += 1;
            break;
        }
        poll_stop(&stops);
        // As PID 1 we also reap orphans that are not our workers.
        let Some(&idx) = r.by_pid.get(&pid) else {
            continue;
        };
        {
            let w = &mut r.workers[idx];
            w.alive = false;
            w.wall = w.started.elapsed();
            w.user = secs(ru.ru_utime);
            w.sys = secs(ru.ru_stime);
            w.work = counters.get(w.slot).load(Ordering::Relaxed);
        }
        r.alive -= 1;
        if libc::WIFEXITED(status) {
            let code = libc::WEXITSTATUS(status);
            if code == 0 {
                dbug!(log, "<-- worker {pid} returned normally");
            } else {
                fail!(log, "<-- worker {pid} returned error {code}");
                failed += 1;
                warn!(log, "now reaping child worker processes");
                r.reap_all();
            }
        } else if libc::WIFSIGNALED(status) {
            let s = libc::WTERMSIG(status);
            if s == libc::SIGALRM {
                dbug!(log, "<-- worker {pid} signalled normally");
            } else if s == libc::SIGUSR1
                || (STOP.load(Ordering::SeqCst) != 0 && STOP_SIGNALS.contains(&s))
            {
                dbug!(log, "<-- worker {pid} reaped");
            } else {
                fail!(log, "<-- worker {pid} got signal {s}");
                if s == libc::SIGKILL
                    && let Some(cg) = &memcg
                {
                    let n = cg.oom_count();
                    if let (Some(now), Some(before)) = (n, oom_seen)
                        && now > before
                    {
                        log.fail(line!(), oom::message(pid, cg).as_bytes());
                    }
                    oom_seen = n.or(oom_seen);
                }
                failed += 1;
                warn!(log, "now reaping child worker processes");
                r.reap_all();
            }
        } else {
            fail!(log, "<-- worker {pid} exited abnormally");
            failed += 1;
        }
    }

    let runtime = now_secs() - start;
    let signal = STOP.load(Ordering::SeqCst);
    let status = exit_status(failed, signal);
    Outcome {
        status,
        failed,
        runtime,
        signal,
        workers: r.workers,
    }
}

/// The exit status: 128 + the stop signal, else the number of failed
/// workers capped at 255 (stress's wraps modulo 256, so 256 failures exit
/// 0).
#[must_use]
pub fn exit_status(failed: u64, signal: i32) -> i32 {
    if signal != 0 {
        128 + signal
    } else {
        i32::try_from(failed.min(255)).unwrap_or(255)
    }
}

/// Print the closing line of a run.
pub fn finish(log: &Log, out: &Outcome) {
    if out.signal != 0 {
        fail!(log, "interrupted run completed in {}s", out.runtime);
    } else if out.failed != 0 {
        fail!(log, "failed run completed in {}s", out.runtime);
    } else {
        info!(log, "successful run completed in {}s", out.runtime);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exit_status_never_wraps() {
        assert_eq!(super::exit_status(0, 0), 0);
        assert_eq!(super::exit_status(2, 0), 2);
        assert_eq!(super::exit_status(256, 0), 255);
        assert_eq!(super::exit_status(257, 0), 255);
        assert_eq!(super::exit_status(1, libc::SIGTERM), 143);
    }
}
