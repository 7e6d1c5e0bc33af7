//! Child processes and their memory: the one place outside `xtask` that builds a `std::process::Command`
//! (a tidy test holds everyone else to it), and a child that is killed when dropped.

use std::ffi::OsStr;
use std::process::{Child, Command, ExitStatus, Output};

/// A command for `program`. Use this rather than `Command::new`, so that every process
/// the repository starts is found in one place.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    Command::new(program)
}

/// A command that runs this same executable again (a worker or receiver process).
pub fn this_executable() -> std::io::Result<Command> {
    Ok(command(std::env::current_exe()?))
}

/// Peak resident memory of this process (`VmHWM` of `/proc/self/status`), in bytes.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A child process killed (and reaped) on drop.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// Starts `cmd`.
    pub fn spawn(cmd: &mut Command) -> std::io::Result<KillOnDrop> {
        cmd.spawn().map(KillOnDrop)
    }

    /// Reads the child's stdout (when piped and not taken) to the end and waits for it to
    /// exit. Its stderr is not read: inherit it, or take it before.
    pub fn wait_with_output(&mut self) -> std::io::Result<Output> {
        use std::io::Read as _;
        let mut stdout = Vec::new();
        if let Some(mut pipe) = self.0.stdout.take() {
            pipe.read_to_end(&mut stdout)?;
        }
        Ok(Output { status: self.0.wait()?, stdout, stderr: Vec::new() })
    }

    /// [`KillOnDrop::wait_with_output`] for tests: the exit status and stdout as text.
    #[track_caller]
    pub fn finish(&mut self) -> (ExitStatus, String) {
        let out = self.wait_with_output().expect("the child's stdout and exit");
        (out.status, String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
