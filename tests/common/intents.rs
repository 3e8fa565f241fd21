//! The fix intents of the SQLAlchemy and Drizzle fix matrices: what one
//! table asks of `ixray fix`, and the rule that reports it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// A foreign key without an index: `unindexed-foreign-key`. (On MySQL
    /// InnoDB indexes every `.references()` itself, so the Drizzle matrix
    /// declares that FK in `relations()` only, which makes no index.)
    Fk,
    /// An index on (ra) next to one on (ra, rb): `redundant-index`.
    Redundant,
    /// Two indexes on (dc), or an index and a unique constraint on (dc):
    /// `duplicate-index`.
    Duplicate,
    /// An index the history creates and the models no longer declare:
    /// `index-drift`.
    Drift,
}

pub const INTENTS: [Intent; 4] = [
    Intent::Fk,
    Intent::Redundant,
    Intent::Duplicate,
    Intent::Drift,
];

impl Intent {
    pub fn tag(self) -> &'static str {
        match self {
            Intent::Fk => "fk",
            Intent::Redundant => "red",
            Intent::Duplicate => "dup",
            Intent::Drift => "drift",
        }
    }

    pub fn rule(self) -> &'static str {
        match self {
            Intent::Fk => "unindexed-foreign-key",
            Intent::Redundant => "redundant-index",
            Intent::Duplicate => "duplicate-index",
            Intent::Drift => "index-drift",
        }
    }
}

/// The intents of `mask` (bit i: `INTENTS[i]`), in a stable order; masks
/// 1 to 15 are every non-empty subset.
pub fn subset(mask: usize) -> Vec<Intent> {
    INTENTS
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, intent)| *intent)
        .collect()
}
