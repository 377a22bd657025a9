//! The C floor, `benches/c/epoll_echo.c`: built with the system's C
//! compiler into the directory of the other server binaries, when its
//! source is newer than the binary. Cargo does not build C, and a build
//! script would make every `cargo build` of the workspace need a compiler
//! for a server only the benchmark runs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::servers::Server;

/// The C server's source, in this crate.
pub(crate) fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("c/epoll_echo.c")
}

/// Makes sure `dir` holds an up-to-date C server: `Ok(None)` when it does
/// (built now or already), `Ok(Some(why))` when it cannot be measured here
/// (no `cc`), with one line saying why and what to install.
///
/// # Errors
///
/// If the compiler runs and fails (the source is ours: that is a bug to
/// see, not a server to skip quietly), or a file cannot be read or renamed.
pub(crate) fn build(dir: &Path) -> io::Result<Option<String>> {
    let source = source();
    let binary = dir.join(Server::CEpoll.binary());
    if !source.is_file() {
        // Run standalone, away from its workspace: use what was built.
        return Ok((!binary.is_file()).then(|| {
            format!("c-epoll skipped: neither {} nor a built {} is here", source.display(), binary.display())
        }));
    }
    if is_newer(&binary, &source)? {
        return Ok(None);
    }
    // Into a temporary name, then renamed: an interrupted build leaves no
    // half-written binary that looks newer than its source.
    let partial = binary.with_extension("partial");
    let status = Command::new("cc")
        .args(["-O2", "-Wall", "-Wextra", "-o"])
        .arg(&partial)
        .arg(&source)
        .stdin(Stdio::null())
        .status();
    match status {
        Ok(status) if status.success() => {
            fs::rename(&partial, &binary)?;
            Ok(None)
        }
        Ok(status) => Err(io::Error::other(format!("cc could not build {} ({status})", source.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some(
            "c-epoll skipped: no C compiler (`cc`) to build the C floor; install one with `apt-get install gcc`".into(),
        )),
        Err(e) => Err(io::Error::new(e.kind(), format!("running cc: {e}"))),
    }
}

/// Whether `path` exists and was modified no earlier than `than`.
fn is_newer(path: &Path, than: &Path) -> io::Result<bool> {
    let modified = match fs::metadata(path) {
        Ok(meta) => meta.modified()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(modified >= fs::metadata(than)?.modified()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_is_never_up_to_date() {
        let source = source();
        assert!(!is_newer(&source.with_file_name("no-such-binary"), &source).unwrap());
        assert!(is_newer(&source, &source).unwrap(), "a file is as new as itself");
    }
}
