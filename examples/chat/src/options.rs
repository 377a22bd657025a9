//! The server's command-line options, shared by the `chat` binary and the
//! measurement binaries, so a measurement runs the very limits the server
//! runs with.

use std::time::Duration;

use clap::Args;
use evloop::Config;

use crate::{FloodLimit, Settings};

/// Output queued for one chat client before it is dropped as too slow:
/// far below the framework's 4 MiB, since every line goes to everyone and
/// a room of 10,000 slow readers would otherwise pin 40 GiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 256 * 1024;

/// The chat server's limits, as `line --help` lists them.
#[derive(Debug, Clone, Args)]
pub struct ServerOptions {
    /// Connections open at once; a client past it is told `* server full, try again later` and closed.
    #[arg(long, default_value_t = Config::default().max_connections)]
    pub max_connections: usize,
    /// Connections open at once from one IP address; one past it is told `* too many connections from your address` and closed [default: no limit].
    #[arg(long)]
    pub max_connections_per_ip: Option<usize>,
    /// Tell a client that sends nothing for this many seconds `* idle for N s, disconnecting` and close it (0: never).
    #[arg(long, default_value_t = 300)]
    pub idle_timeout_secs: u64,
    /// Close a connection whose unfinished line has been arriving for this many seconds (0: never).
    #[arg(long, default_value_t = 30)]
    pub line_timeout_secs: u64,
    /// Close a connection whose output makes no progress for this many seconds (0: never).
    #[arg(long, default_value_t = 30)]
    pub write_timeout_secs: u64,
    /// The longest line a client may send, in bytes; longer ones get `ERR`.
    #[arg(long, default_value_t = Settings::default().max_line_bytes)]
    pub max_line_bytes: usize,
    /// Output queued for one client past which it is disconnected (a client that does not read).
    #[arg(long, default_value_t = DEFAULT_MAX_OUTPUT_BYTES)]
    pub max_output_bytes: usize,
    /// Lines handled from one client's input per turn before the others get theirs; the rest wait a turn.
    #[arg(long, default_value_t = Settings::default().max_lines_per_turn)]
    pub max_lines_per_turn: usize,
    /// Members sent what the room said per turn; a bigger room gets it over several turns.
    #[arg(long, default_value_t = Settings::default().members_per_turn)]
    pub members_per_turn: usize,
    /// Flood control: lines per second one client may keep up (a line over 512 bytes counts once per 512 begun); past it the server stops reading it for a while (0: no flood control).
    #[arg(long, default_value_t = FloodLimit::default().lines_per_sec)]
    pub flood_lines_per_sec: f64,
    /// Flood control: lines one client may send at once before the rate applies.
    #[arg(long, default_value_t = FloodLimit::default().burst)]
    pub flood_burst: u32,
    /// Flood control: disconnect a client held back this many seconds without a break (0: never).
    #[arg(long, default_value_t = FLOOD_DISCONNECT_SECS)]
    pub flood_disconnect_secs: u64,
}

/// [`FloodLimit::default`]'s `disconnect_after`, in whole seconds.
const FLOOD_DISCONNECT_SECS: u64 = 10;

impl Default for ServerOptions {
    /// What `chat` runs with when given no options.
    fn default() -> ServerOptions {
        ServerOptions {
            max_connections: Config::default().max_connections,
            max_connections_per_ip: None,
            idle_timeout_secs: 300,
            line_timeout_secs: 30,
            write_timeout_secs: 30,
            max_line_bytes: Settings::default().max_line_bytes,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            max_lines_per_turn: Settings::default().max_lines_per_turn,
            members_per_turn: Settings::default().members_per_turn,
            flood_lines_per_sec: FloodLimit::default().lines_per_sec,
            flood_burst: FloodLimit::default().burst,
            flood_disconnect_secs: FLOOD_DISCONNECT_SECS,
        }
    }
}

impl ServerOptions {
    /// The chat's own limits.
    pub fn settings(&self) -> Settings {
        Settings {
            max_line_bytes: self.max_line_bytes,
            line_timeout: seconds(self.line_timeout_secs),
            idle_timeout: seconds(self.idle_timeout_secs),
            max_lines_per_turn: self.max_lines_per_turn,
            members_per_turn: self.members_per_turn,
            flood: (self.flood_lines_per_sec > 0.0).then(|| FloodLimit {
                lines_per_sec: self.flood_lines_per_sec,
                burst: self.flood_burst.max(1),
                disconnect_after: seconds(self.flood_disconnect_secs),
            }),
        }
    }

    /// The loop's limits, with room for the chat's longest line.
    pub fn config(&self) -> Config {
        let defaults = Config::default();
        // The watermarks must stay below the output limit, however small it is set.
        let high_watermark = defaults.high_watermark.min(self.max_output_bytes);
        self.settings().loop_config(Config {
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            write_timeout: seconds(self.write_timeout_secs),
            max_output_bytes: self.max_output_bytes,
            high_watermark,
            low_watermark: defaults.low_watermark.min(high_watermark),
            ..defaults
        })
    }
}

/// `0` switches a timeout off.
fn seconds(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerOptions,
    }

    #[test]
    fn the_defaults_are_what_the_command_line_gives_without_options() {
        let parsed = Cli::parse_from(["chat"]).server;
        let defaults = ServerOptions::default();
        assert_eq!(format!("{parsed:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn the_default_flood_limit_is_the_libraries() {
        assert_eq!(ServerOptions::default().settings().flood, Some(FloodLimit::default()));
        let off = ServerOptions { flood_lines_per_sec: 0.0, ..ServerOptions::default() };
        assert_eq!(off.settings().flood, None, "0 lines a second: no flood control");
    }

    #[test]
    fn the_chat_keeps_the_idle_timeout_not_the_loop() {
        let options = ServerOptions::default();
        assert_eq!(options.settings().idle_timeout, Some(Duration::from_secs(300)));
        assert_eq!(options.config().idle_timeout, None, "the loop would close without a word");
    }

    #[test]
    fn zero_switches_a_timeout_off() {
        let options = ServerOptions { idle_timeout_secs: 0, line_timeout_secs: 0, ..ServerOptions::default() };
        assert_eq!(options.settings().idle_timeout, None);
        assert_eq!(options.settings().line_timeout, None);
    }
}
