//! What the server does with one line from a client: says it to the room,
//! runs the command it holds, or answers `ERR`.

use evloop::codec::LineError;
use evloop::{ConnId, Ctx};
use log::info;

use crate::command::{has_control_chars, invisible_char, is_valid_nick, Command, MAX_NICK_CHARS};
use crate::nicks::Taken;
use crate::{Chat, HELP};

/// Whether a client stays after a line.
#[derive(Debug, PartialEq, Eq)]
enum After {
    Stay,
    Quit,
}

impl Chat {
    /// Acts on one line from the decoder: a command, chat, or an `ERR`.
    pub(crate) fn on_decoded(
        &mut self,
        cx: &mut Ctx,
        id: ConnId,
        leaving: &mut Option<&'static str>,
        line: Result<&str, LineError<'_>>,
    ) {
        let after = match line {
            Ok(text) => self.on_line(cx, id, text),
            Err(LineError::TooLong { max_line_bytes }) => {
                self.reply(cx, id, &format!("ERR line too long (max {max_line_bytes} bytes)"));
                After::Stay
            }
            Err(LineError::InvalidUtf8 { .. }) => {
                self.reply(cx, id, "ERR line is not valid UTF-8");
                After::Stay
            }
        };
        if after == After::Quit {
            self.dismiss(cx, id, leaving, "quit", "* bye");
        }
    }

    fn on_line(&mut self, cx: &mut Ctx, id: ConnId, text: &str) -> After {
        if has_control_chars(text) {
            self.reply(cx, id, "ERR control characters are not allowed");
            return After::Stay;
        }
        // Commands included: a nick, a /msg or a /me must not hide text either.
        if let Some(c) = invisible_char(text) {
            let refusal = format!("ERR invisible or text-direction character U+{:04X} is not allowed", c as u32);
            self.reply(cx, id, &refusal);
            return After::Stay;
        }
        let Some(member) = self.room.member(id) else { return After::Stay };
        let nick = &member.nick;
        match Command::parse(text) {
            Command::Say(said) => {
                let line = format!("{nick}: {said}\n");
                self.room.say(cx, id, &line);
            }
            Command::Me(action) => {
                let line = format!("* {nick} {action}\n");
                self.room.say(cx, id, &line);
            }
            Command::Nick(new) => self.rename(cx, id, new),
            Command::Msg { to, text } => self.private_message(cx, id, to, text),
            Command::Who => {
                let nicks = self.room.nicks();
                let line = format!("* online ({}): {}", nicks.len(), nicks.join(", "));
                self.reply(cx, id, &line);
            }
            Command::Quit => return After::Quit,
            Command::Help => self.reply(cx, id, HELP),
            Command::Nothing => {}
            Command::Usage(usage) => self.reply(cx, id, &format!("ERR usage: {usage}")),
            Command::Unknown(name) => self.reply(cx, id, &format!("ERR unknown command /{name}; /help lists commands")),
        }
        After::Stay
    }

    /// `/msg TO TEXT` from `id`: to one client only, confirmed to the sender.
    fn private_message(&mut self, cx: &mut Ctx, id: ConnId, to: &str, text: &str) {
        let Some((target, target_nick)) = self.room.owner_of(to) else {
            return self.reply(cx, id, &format!("ERR no one here is called {to}"));
        };
        let Some(from) = self.room.member(id) else { return };
        let private = format!("{} (private): {text}\n", from.nick);
        let confirmation = format!("-> {target_nick}: {text}");
        // On another loop, it goes the way `id`'s lines to the room go, so
        // it keeps its place among them.
        self.room.tell_seat(cx, target, &private);
        self.reply(cx, id, &confirmation);
    }

    /// `/nick NEW` from `id`.
    fn rename(&mut self, cx: &mut Ctx, id: ConnId, new: &str) {
        if !is_valid_nick(new) {
            let rule = format!("1-{MAX_NICK_CHARS} letters, digits, _ or -, starting with a letter");
            return self.reply(cx, id, &format!("ERR bad nick {new}: {rule}"));
        }
        match self.room.rename(id, new) {
            Ok(old) => {
                info!("{old} is now {new}");
                self.room.announce(cx, &format!("* {old} is now {new}\n"));
            }
            Err(Taken::ByAnother) => self.reply(cx, id, &format!("ERR nick {new} is taken")),
            Err(Taken::ByYou) => self.reply(cx, id, &format!("* you are already {new}")),
        }
    }
}
