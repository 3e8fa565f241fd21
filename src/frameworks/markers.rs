//! The byte markers every framework's prefilter looks for, found in one
//! pass over a file: a large project has thousands of files, and searching
//! each once per marker cost more than parsing the few that matter. This
//! module only says which markers a file holds; what they mean is decided
//! by each framework's prefilter.

use std::sync::LazyLock;

use aho_corasick::packed;

/// A marker some prefilter asks for. Its bytes are [`Marker::bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    // Django: models, migrations, settings, apps, queries.
    ClassMigration,
    AppConfig,
    Databases,
    AuthUserModel,
    InstalledApps,
    Class,
    ModelsAttribute,
    GenericForeignKey,
    Objects,
    RelatedSet,
    DefaultManager,
    GetObjectOr404,
    // Alembic revisions.
    DownRevision,
    Revision,
    DefUpgrade,
    // SQLAlchemy: tables and queries.
    MappedColumn,
    ColumnCall,
    Tablename,
    TableCall,
    NamingConvention,
    Sqlalchemy,
    DbModel,
    Metadata,
    Query,
    SessionGet,
    DbGet,
    DbSelect,
    SelectCall,
    UpdateCall,
    DeleteCall,
    // Drizzle: tables and queries.
    Drizzle,
    RelationsCall,
    WhereCall,
    FromCall,
    Select,
    FindMany,
    FindFirst,
    Count,
}

impl Marker {
    const ALL: [Marker; 38] = [
        Marker::ClassMigration,
        Marker::AppConfig,
        Marker::Databases,
        Marker::AuthUserModel,
        Marker::InstalledApps,
        Marker::Class,
        Marker::ModelsAttribute,
        Marker::GenericForeignKey,
        Marker::Objects,
        Marker::RelatedSet,
        Marker::DefaultManager,
        Marker::GetObjectOr404,
        Marker::DownRevision,
        Marker::Revision,
        Marker::DefUpgrade,
        Marker::MappedColumn,
        Marker::ColumnCall,
        Marker::Tablename,
        Marker::TableCall,
        Marker::NamingConvention,
        Marker::Sqlalchemy,
        Marker::DbModel,
        Marker::Metadata,
        Marker::Query,
        Marker::SessionGet,
        Marker::DbGet,
        Marker::DbSelect,
        Marker::SelectCall,
        Marker::UpdateCall,
        Marker::DeleteCall,
        Marker::Drizzle,
        Marker::RelationsCall,
        Marker::WhereCall,
        Marker::FromCall,
        Marker::Select,
        Marker::FindMany,
        Marker::FindFirst,
        Marker::Count,
    ];

    pub fn bytes(self) -> &'static [u8] {
        match self {
            Marker::ClassMigration => b"class Migration",
            Marker::AppConfig => b"AppConfig",
            Marker::Databases => b"DATABASES",
            Marker::AuthUserModel => b"\nAUTH_USER_MODEL",
            Marker::InstalledApps => b"\nINSTALLED_APPS",
            Marker::Class => b"class ",
            Marker::ModelsAttribute => b"= models.",
            Marker::GenericForeignKey => b"GenericForeignKey",
            Marker::Objects => b".objects",
            Marker::RelatedSet => b"_set.",
            Marker::DefaultManager => b"_default_manager",
            Marker::GetObjectOr404 => b"get_object_or_404",
            Marker::DownRevision => b"down_revision",
            Marker::Revision => b"revision",
            Marker::DefUpgrade => b"def upgrade",
            Marker::MappedColumn => b"mapped_column(",
            Marker::ColumnCall => b"Column(",
            Marker::Tablename => b"__tablename__",
            Marker::TableCall => b"Table(",
            Marker::NamingConvention => b".naming_convention =",
            Marker::Sqlalchemy => b"sqlalchemy",
            Marker::DbModel => b"db.Model",
            Marker::Metadata => b".metadata",
            Marker::Query => b".query",
            Marker::SessionGet => b"session.get(",
            Marker::DbGet => b"db.get(",
            Marker::DbSelect => b"db.select(",
            Marker::SelectCall => b"select(",
            Marker::UpdateCall => b"update(",
            Marker::DeleteCall => b"delete(",
            Marker::Drizzle => b"drizzle-",
            Marker::RelationsCall => b"relations(",
            Marker::WhereCall => b".where(",
            Marker::FromCall => b".from(",
            Marker::Select => b"select",
            Marker::FindMany => b"findMany(",
            Marker::FindFirst => b"findFirst(",
            Marker::Count => b"$count(",
        }
    }

    fn bit(self) -> u64 {
        1 << self as u32
    }
}

/// All markers in one searcher, longest first: at a position where several
/// start, the longest is reported, and the shorter ones are its prefixes.
/// The packed searcher itself, not `AhoCorasick` around it: a search
/// restarts after every hit, and the wrapper paid its set-up on each
/// (109 M instructions on saleor, 103 M without). With more than 32
/// markers it is fat Teddy, which spreads them over 16 buckets; slim
/// Teddy's 8 cost more in false candidates than they save.
struct Searcher {
    automaton: packed::Searcher,
    /// Per pattern, by searcher pattern id: the markers found when it is
    /// (itself and every marker inside it).
    implied: Vec<u64>,
}

static SEARCHER: LazyLock<Searcher> = LazyLock::new(|| {
    let mut markers = Marker::ALL;
    markers.sort_by_key(|m| std::cmp::Reverse(m.bytes().len()));
    let implied = markers
        .iter()
        .map(|outer| {
            Marker::ALL
                .iter()
                .filter(|inner| memchr::memmem::find(outer.bytes(), inner.bytes()).is_some())
                .fold(0, |bits, inner| bits | inner.bit())
        })
        .collect();
    let automaton = packed::Config::new()
        .match_kind(packed::MatchKind::LeftmostFirst)
        .builder()
        .extend(markers.map(Marker::bytes))
        .build()
        .expect("a few dozen short literal patterns always build (Rabin-Karp without SIMD)");
    Searcher { automaton, implied }
});

/// A file's bytes and which markers they hold.
pub struct MarkedBytes<'b> {
    pub bytes: &'b [u8],
    found: u64,
}

impl<'b> MarkedBytes<'b> {
    /// Search `bytes` once for every marker.
    pub fn new(bytes: &'b [u8]) -> Self {
        let searcher = &*SEARCHER;
        let mut found = 0;
        for hit in overlapping(&searcher.automaton, bytes) {
            found |= searcher.implied[hit.pattern().as_usize()];
        }
        MarkedBytes { bytes, found }
    }

    pub fn has(&self, marker: Marker) -> bool {
        self.found & marker.bit() != 0
    }
}

/// Every match of `searcher` in `bytes`, overlapping ones too: the search
/// goes on from the byte after each match's start.
pub fn overlapping<'a>(
    searcher: &'a packed::Searcher,
    bytes: &'a [u8],
) -> impl Iterator<Item = aho_corasick::Match> + 'a {
    let mut at = 0;
    std::iter::from_fn(move || {
        let hit = searcher.find_in(bytes, aho_corasick::Span::from(at..bytes.len()))?;
        at = hit.start() + 1;
        Some(hit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_marker_is_found_where_it_occurs_and_only_there() {
        for (i, marker) in Marker::ALL.iter().enumerate() {
            assert_eq!(*marker as usize, i, "Marker::ALL is in declaration order");
            let mut text = b"x = 1\n".to_vec();
            text.extend_from_slice(marker.bytes());
            // A marker that overlaps the end of this one is found too.
            text.extend_from_slice(b"objects");
            let marked = MarkedBytes::new(&text);
            for other in Marker::ALL {
                let expected = memchr::memmem::find(&text, other.bytes()).is_some();
                assert_eq!(marked.has(other), expected, "{other:?} in {marker:?}");
            }
        }
    }
}
