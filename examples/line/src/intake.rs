//! How many of one client's lines the server takes now: so that one
//! client's input cannot make the server do unbounded work before the
//! others get their turn.

/// Why the server does not take a client's next line now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// This turn's share is taken: leave the rest unconsumed, and the loop
    /// offers it again on a later turn, after the other clients.
    TurnOver,
}

/// One client's allowance of lines.
#[derive(Debug)]
pub(crate) struct Intake {
    per_turn: usize,
    /// Lines taken in this `on_data` call.
    taken: usize,
}

impl Intake {
    /// An allowance of `per_turn` lines per `on_data` call (at least one).
    pub(crate) fn new(per_turn: usize) -> Intake {
        Intake { per_turn: per_turn.max(1), taken: 0 }
    }

    /// A new `on_data` call begins: a new turn's share.
    pub(crate) fn start_turn(&mut self) {
        self.taken = 0;
    }

    /// Why not to take the next line now, if there is a reason.
    pub(crate) fn holds_back(&self) -> Option<Hold> {
        (self.taken >= self.per_turn).then_some(Hold::TurnOver)
    }

    /// A line was taken.
    pub(crate) fn took(&mut self) {
        self.taken += 1;
    }
}

/// Whether `input` holds a complete line: worth stopping for, since a
/// partial one is left unconsumed anyway.
pub(crate) fn has_line(input: &[u8]) -> bool {
    input.contains(&b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_per_turn_lines_are_taken_per_turn() {
        let mut intake = Intake::new(3);
        for _ in 0..2 {
            intake.start_turn();
            for _ in 0..3 {
                assert_eq!(intake.holds_back(), None);
                intake.took();
            }
            assert_eq!(intake.holds_back(), Some(Hold::TurnOver));
        }
    }

    #[test]
    fn a_zero_limit_still_takes_one_line_per_turn() {
        let mut intake = Intake::new(0);
        intake.start_turn();
        assert_eq!(intake.holds_back(), None);
        intake.took();
        assert_eq!(intake.holds_back(), Some(Hold::TurnOver));
    }

    #[test]
    fn only_a_newline_makes_a_line() {
        assert!(has_line(b"partial\nmore"));
        assert!(!has_line(b"partial"));
    }
}
