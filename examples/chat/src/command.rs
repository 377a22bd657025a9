//! What a line from a client asks for: chat text or a `/command`, the rules
//! a nick must follow, and the characters no line may hold.

/// The longest nick, in characters.
pub const MAX_NICK_CHARS: usize = 16;

/// One line from a client, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// Text for everyone else (a line not starting with `/`, or `//...`
    /// for text that does).
    Say(&'a str),
    /// `/nick NAME`.
    Nick(&'a str),
    /// `/who`.
    Who,
    /// `/me ACTION`.
    Me(&'a str),
    /// `/msg NICK TEXT`.
    Msg {
        /// Whom to.
        to: &'a str,
        /// What to say.
        text: &'a str,
    },
    /// `/quit`.
    Quit,
    /// `/help`.
    Help,
    /// A blank line: nothing to do.
    Nothing,
    /// A known command without the argument it needs; holds its usage.
    Usage(&'static str),
    /// A command that does not exist, as typed.
    Unknown(&'a str),
}

impl<'a> Command<'a> {
    /// Parses one line (already without its line ending).
    pub fn parse(line: &'a str) -> Command<'a> {
        let Some(command_line) = line.strip_prefix('/') else {
            return if line.trim().is_empty() { Command::Nothing } else { Command::Say(line) };
        };
        if command_line.starts_with('/') {
            return Command::Say(command_line);
        }
        let (name, argument) = command_line.split_once(' ').unwrap_or((command_line, ""));
        let argument = argument.trim();
        match name {
            "nick" if !argument.is_empty() => Command::Nick(argument),
            "nick" => Command::Usage("/nick NAME"),
            "who" => Command::Who,
            "me" if !argument.is_empty() => Command::Me(argument),
            "me" => Command::Usage("/me ACTION"),
            "msg" => match argument.split_once(' ') {
                Some((to, text)) if !text.trim().is_empty() => Command::Msg { to, text: text.trim_start() },
                _ => Command::Usage("/msg NICK TEXT"),
            },
            "quit" => Command::Quit,
            "help" => Command::Help,
            _ => Command::Unknown(name),
        }
    }
}

/// Checks that `nick` is 1 to [`MAX_NICK_CHARS`] ASCII letters, digits,
/// `_` or `-`, starting with a letter: short, unambiguous, and safe to
/// print on anyone's terminal.
pub fn is_valid_nick(nick: &str) -> bool {
    let mut chars = nick.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    starts_with_letter
        && nick.len() <= MAX_NICK_CHARS
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Whether `text` holds a control character (other than tab) that could
/// rewrite another user's terminal: escape sequences, carriage returns,
/// backspaces.
pub fn has_control_chars(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\t')
}

/// The first character in `text` that is invisible or changes the
/// direction of the text around it, if any: bidirectional controls
/// (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C) and zero-width
/// characters (U+200B-U+200D, U+2060, U+FEFF). They make a line read
/// differently from what it holds ("Trojan Source", CVE-2021-42574), or
/// two nicks look the same.
pub fn invisible_char(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
            || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_said() {
        assert_eq!(Command::parse("hello /all"), Command::Say("hello /all"));
        assert_eq!(Command::parse("//slashed"), Command::Say("/slashed"));
        assert_eq!(Command::parse("   "), Command::Nothing);
        assert_eq!(Command::parse(""), Command::Nothing);
    }

    #[test]
    fn commands_take_their_arguments() {
        assert_eq!(Command::parse("/nick  alice "), Command::Nick("alice"));
        assert_eq!(Command::parse("/me waves at everyone"), Command::Me("waves at everyone"));
        assert_eq!(Command::parse("/msg bob  hi there"), Command::Msg { to: "bob", text: "hi there" });
        assert_eq!(Command::parse("/who"), Command::Who);
        assert_eq!(Command::parse("/quit"), Command::Quit);
        assert_eq!(Command::parse("/help"), Command::Help);
    }

    #[test]
    fn missing_arguments_get_the_usage() {
        assert_eq!(Command::parse("/nick"), Command::Usage("/nick NAME"));
        assert_eq!(Command::parse("/me "), Command::Usage("/me ACTION"));
        assert_eq!(Command::parse("/msg bob"), Command::Usage("/msg NICK TEXT"));
        assert_eq!(Command::parse("/msg bob   "), Command::Usage("/msg NICK TEXT"));
    }

    #[test]
    fn unknown_commands_are_named() {
        assert_eq!(Command::parse("/frobnicate now"), Command::Unknown("frobnicate"));
        assert_eq!(Command::parse("/"), Command::Unknown(""));
    }

    #[test]
    fn nick_rules() {
        assert!(is_valid_nick("alice"));
        assert!(is_valid_nick("Bob_2-x"));
        assert!(is_valid_nick("a234567890123456"));
        assert!(!is_valid_nick("a2345678901234567"), "17 characters is one too many");
        assert!(!is_valid_nick(""));
        assert!(!is_valid_nick("2fast"));
        assert!(!is_valid_nick("_lead"));
        assert!(!is_valid_nick("has space"));
        assert!(!is_valid_nick("émile"));
    }

    #[test]
    fn control_characters_are_caught_but_tabs_pass() {
        assert!(has_control_chars("red\x1b[31m"));
        assert!(has_control_chars("over\rwrite"));
        assert!(!has_control_chars("tab\tseparated, ünïcödé"));
    }

    #[test]
    fn bidirectional_controls_and_zero_width_characters_are_caught() {
        let caught = [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
            '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}',
        ];
        for c in caught {
            assert_eq!(invisible_char(&format!("abc{c}def")), Some(c), "U+{:04X} passed", c as u32);
        }
        assert_eq!(invisible_char("ordinary text, עברית, العربية, 日本語, emoji 🙂"), None);
        assert_eq!(invisible_char("\u{2029}\u{2061}"), None, "only the listed characters");
    }
}
