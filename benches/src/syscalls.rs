//! Syscalls made by a server process, counted by the kernel: `perf stat` on
//! the `raw_syscalls:sys_enter` tracepoint, attached to the process and
//! switched on and off over perf's control FIFO at the measuring window's
//! edges, so the count covers exactly the window.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::platform;

/// How long perf may take to answer a command (attaching to ten thousand
/// threads takes a while the first time).
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// The tracepoint perf counts: every syscall entry.
const EVENT: &str = "raw_syscalls:sys_enter";

/// A running `perf stat` on one process, counting only while enabled.
#[derive(Debug)]
pub(crate) struct SyscallCounter {
    perf: Child,
    control: File,
    acks: mpsc::Receiver<io::Result<()>>,
    /// Our own write end of the ack FIFO, to wake the ack reader on drop.
    ack_writer: File,
    output: PathBuf,
    fifos: [PathBuf; 2],
}

impl SyscallCounter {
    /// Attaches perf to `pid` (its threads now and those they spawn later),
    /// counting nothing until [`enable`](Self::enable). Returns once perf
    /// answers on its control FIFO, so the first `enable` is prompt.
    pub(crate) fn attach(pid: u32, scratch_dir: &Path) -> io::Result<SyscallCounter> {
        let stem = scratch_dir.join(format!("perf-{pid}"));
        let output = stem.with_extension("out");
        let fifos = [stem.with_extension("ctl"), stem.with_extension("ack")];
        for fifo in &fifos {
            let _ = fs::remove_file(fifo);
            platform::make_fifo(fifo)?;
        }
        // Read-write opens of a FIFO never block waiting for the other end,
        // so a perf that fails to start cannot hang the runner here.
        let control = OpenOptions::new().read(true).write(true).open(&fifos[0])?;
        let ack = OpenOptions::new().read(true).write(true).open(&fifos[1])?;
        let perf = Command::new("perf")
            .args(["stat", "-e", EVENT, "-x", ",", "-D", "-1"])
            .arg("-o")
            .arg(&output)
            .arg("--control")
            .arg(format!("fifo:{},{}", fifos[0].display(), fifos[1].display()))
            .args(["-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(stem.with_extension("log"))?)
            .spawn()?;
        let ack_writer = ack.try_clone()?;
        let acks = read_acks(ack);
        let mut counter = SyscallCounter { perf, control, acks, ack_writer, output, fifos };
        // Events start disabled: disabling again is a no-op whose ack says
        // perf is attached and listening.
        counter.command("disable")?;
        Ok(counter)
    }

    /// Starts counting.
    pub(crate) fn enable(&mut self) -> io::Result<()> {
        self.command("enable")
    }

    /// Stops counting.
    pub(crate) fn disable(&mut self) -> io::Result<()> {
        self.command("disable")
    }

    /// Ends perf and returns the syscalls counted while enabled.
    pub(crate) fn finish(mut self) -> io::Result<u64> {
        platform::signal(&self.perf, libc::SIGINT)?;
        // perf exits with 128 + SIGINT after writing its counts: the
        // output file, not the status, says whether it counted.
        wait_with_timeout(&mut self.perf, ACK_TIMEOUT)?;
        let report = fs::read_to_string(&self.output)?;
        parse_count(&report)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("no {EVENT} count in perf output")))
    }

    fn command(&mut self, command: &str) -> io::Result<()> {
        self.control.write_all(format!("{command}\n").as_bytes())?;
        match self.acks.recv_timeout(ACK_TIMEOUT) {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, format!("perf did not acknowledge {command:?}"))),
        }
    }
}

impl Drop for SyscallCounter {
    fn drop(&mut self) {
        if matches!(self.perf.try_wait(), Ok(None)) {
            let _ = self.perf.kill();
            let _ = self.perf.wait();
        }
        // Anything but "ack" ends the reader thread.
        let _ = self.ack_writer.write_all(b"done\n");
        for fifo in &self.fifos {
            let _ = fs::remove_file(fifo);
        }
    }
}

/// Reads perf's acknowledgements on a thread of their own, so waiting for
/// one can time out. The thread ends at the first answer that is not an
/// ack, which is what [`SyscallCounter`]'s drop writes.
fn read_acks(mut ack: File) -> mpsc::Receiver<io::Result<()>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = [0u8; 64];
        loop {
            let result = match ack.read(&mut buf) {
                Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "perf closed its ack FIFO")),
                Ok(n) if buf[..n].starts_with(b"ack") => Ok(()),
                Ok(n) => Err(io::Error::other(format!("perf answered {:?}", String::from_utf8_lossy(&buf[..n])))),
                Err(err) => Err(err),
            };
            let failed = result.is_err();
            if tx.send(result).is_err() || failed {
                return;
            }
        }
    });
    rx
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> io::Result<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            return Err(io::Error::new(io::ErrorKind::TimedOut, "perf did not exit"));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The count from perf's CSV line: `1784123,,raw_syscalls:sys_enter,...`.
fn parse_count(report: &str) -> Option<u64> {
    report
        .lines()
        .find(|line| line.contains(&format!(",{EVENT},")))
        .and_then(|line| line.split(',').next())
        .and_then(|count| count.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_count_from_perf_csv() {
        let report = "# started on Wed Nov 25 12:38:00 2026\n\n1784123,,raw_syscalls:sys_enter,628454817,100.00,,\n";
        assert_eq!(parse_count(report), Some(1_784_123));
    }

    #[test]
    fn a_counter_that_never_ran_has_no_count() {
        let report = "<not counted>,,raw_syscalls:sys_enter,0,0.00,,\n";
        assert_eq!(parse_count(report), None);
    }
}
