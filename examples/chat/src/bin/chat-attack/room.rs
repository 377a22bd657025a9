//! The room an attack lands in: many members on an evloop loop of the
//! tool's own, each reading everything the server sends, so none is
//! dropped for reading too slowly unless the server makes it so.

use std::net::SocketAddr;
use std::sync::mpsc::Sender;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use evloop::codec::LineDecoder;
use evloop::{CloseReason, Config, ConnId, Ctx, EventLoop, Handler, LoopHandle, Origin};

/// Whether a line the server sent is the attack's last effect.
pub(crate) type IsEnd = Box<dyn Fn(&str) -> bool + Send>;

/// What the room tells the tool.
#[derive(Debug)]
pub(crate) enum Progress {
    /// Every member has its welcome.
    AllWelcomed,
    /// Every member has seen the attack's last effect or was dropped.
    Done(Instant),
    /// A member was dropped (or could not connect), and why.
    Dropped(String),
}

/// Members and what they have heard.
struct Members {
    count: usize,
    welcomed: usize,
    /// Members that saw the end or were dropped.
    finished: usize,
    /// Lines received from the nick `spammer`, by all members together.
    spam_lines: u64,
    is_end: IsEnd,
    progress: Sender<Progress>,
}

/// One member.
#[derive(Debug)]
struct Member {
    decoder: LineDecoder,
    welcomed: bool,
    saw_end: bool,
}

impl Members {
    fn finish_one(&mut self) {
        self.finished += 1;
        if self.finished == self.count {
            let _ = self.progress.send(Progress::Done(Instant::now()));
        }
    }
}

impl Handler for Members {
    type Conn = Member;
    type Message = ();

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) -> Member {
        Member { decoder: LineDecoder::with_max_line_bytes(1 << 20), welcomed: false, saw_end: false }
    }

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, member: &mut Member, data: &[u8]) -> usize {
        let mut lines = member.decoder.decode(data);
        for line in lines.by_ref().flatten() {
            if line.starts_with("spammer: ") {
                self.spam_lines += 1;
            }
            if !member.welcomed && line.starts_with("* welcome") {
                member.welcomed = true;
                self.welcomed += 1;
                if self.welcomed == self.count {
                    let _ = self.progress.send(Progress::AllWelcomed);
                }
            } else if !member.saw_end && (self.is_end)(line) {
                member.saw_end = true;
                self.finish_one();
            }
        }
        lines.consumed()
    }

    fn on_connect_failed(&mut self, _cx: &mut Ctx, id: ConnId, error: std::io::Error) {
        let _ = self.progress.send(Progress::Dropped(format!("member {id} could not connect: {error}")));
    }

    fn on_close(&mut self, cx: &mut Ctx, id: ConnId, member: Member, reason: CloseReason) {
        if cx.is_stopping() {
            return;
        }
        let _ = self.progress.send(Progress::Dropped(format!("member {id} closed: {reason}")));
        if !member.saw_end {
            self.finish_one();
        }
    }
}

/// A room of `count` members connected to `server`, served on its own
/// thread until stopped; `run` returns the lines all members together got
/// from the nick `spammer`.
pub(crate) struct Room {
    handle: LoopHandle<()>,
    thread: JoinHandle<std::io::Result<u64>>,
}

impl Room {
    /// Connects `count` members; the first welcome arrives on `progress`
    /// with the rest.
    pub(crate) fn connect(
        server: SocketAddr,
        count: usize,
        is_end: IsEnd,
        progress: Sender<Progress>,
    ) -> std::io::Result<Room> {
        let members = Members { count, welcomed: 0, finished: 0, spam_lines: 0, is_end, progress };
        let config = Config { idle_timeout: None, write_timeout: None, ..Config::default() };
        let mut el = EventLoop::new(config, members)?;
        for _ in 0..count {
            el.connect(server)?;
        }
        let handle = el.handle();
        let thread = thread::spawn(move || {
            el.run()?;
            Ok(el.handler().spam_lines)
        });
        Ok(Room { handle, thread })
    }

    /// Stops the members' loop; returns the lines heard from `spammer`.
    pub(crate) fn stop(self) -> std::io::Result<u64> {
        let _ = self.handle.stop();
        self.thread.join().expect("the room's loop panicked")
    }
}
