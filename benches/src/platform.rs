//! What the runner needs from Linux that std does not offer: CPU pinning,
//! the file-descriptor limit, the clock-tick rate, signals to children and
//! FIFOs.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};

/// CPUs this process may run on (the affinity mask, not the machine's count).
pub(crate) fn available_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Pins the calling thread, and every thread it spawns afterwards, to `cpu`.
pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    set_affinity(0, cpu)
}

/// Makes `command`'s process start pinned to `cpu`, before its `main` runs,
/// so a runtime that sizes itself by the CPUs it may use (tokio) sees one.
pub(crate) fn pin_command(command: &mut Command, cpu: usize) {
    // SAFETY: the closure runs in the forked child before exec and only makes
    // the sched_setaffinity syscall on a stack-allocated mask: no allocation,
    // no locks, async-signal-safe.
    unsafe {
        command.pre_exec(move || set_affinity(0, cpu));
    }
}

fn set_affinity(pid: libc::pid_t, cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; an all-zero value is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit inside `set`; `cpu` is checked against
    // the set's capacity first.
    unsafe {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "CPU number out of range"));
        }
        libc::CPU_SET(cpu, &mut set);
    }
    // SAFETY: `set` is a valid cpu_set_t and its size is passed with it.
    let rc = unsafe { libc::sched_setaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Raises the soft limit on open files to the hard limit; returns the soft
/// limit now in force. Children inherit it, so the servers get it too.
pub(crate) fn raise_fd_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// Sends `signal` (e.g. `libc::SIGTERM`) to a child that has not been reaped.
pub(crate) fn signal(child: &Child, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(child.id()).map_err(|_| io::Error::other("pid out of range"))?;
    // SAFETY: kill has no memory preconditions; the child is not yet reaped,
    // so its pid still names it.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Creates a named pipe at `path`.
pub(crate) fn make_fifo(path: &Path) -> io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::other("NUL in FIFO path"))?;
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
