//! Column types as families: from a type argument (`Integer`,
//! `sa.String(36)`, `postgresql.UUID(as_uuid=True)`) or a `Mapped[...]`
//! annotation (`Mapped[int]`, `Mapped[Optional[uuid.UUID]]`). A type ixray
//! does not know (a `TypeDecorator`, an alias) gives `None`.

use crate::frameworks::python::last_segment;
use crate::schema::TypeFamily;

/// The family of a type argument, as written: a class or an instance
/// (`String`, `String(36)`, `sa.types.BigInteger()`).
pub fn of_type(written: &str) -> Option<TypeFamily> {
    let callee = written.split('(').next().unwrap_or(written).trim();
    if callee.is_empty()
        || !callee
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return None;
    }
    Some(match last_segment(callee) {
        "Integer" | "BigInteger" | "SmallInteger" | "INTEGER" | "INT" | "BIGINT" | "SMALLINT"
        | "TINYINT" | "MEDIUMINT" => TypeFamily::Integer,
        "String" | "Text" | "Unicode" | "UnicodeText" | "VARCHAR" | "NVARCHAR" | "CHAR"
        | "NCHAR" | "TEXT" | "CITEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" => TypeFamily::Text,
        "Uuid" | "UUID" | "UUIDType" => TypeFamily::Uuid,
        "Boolean" | "BOOLEAN" | "DateTime" | "DATETIME" | "Date" | "DATE" | "Time" | "TIME"
        | "TIMESTAMP" | "Interval" | "INTERVAL" | "Numeric" | "NUMERIC" | "DECIMAL" | "Float"
        | "FLOAT" | "REAL" | "Double" | "DOUBLE" | "DOUBLE_PRECISION" | "JSON" | "JSONB"
        | "LargeBinary" | "BINARY" | "VARBINARY" | "BLOB" | "BYTEA" | "Enum" | "ENUM" | "ARRAY"
        | "PickleType" | "INET" | "CIDR" | "MACADDR" | "TSVECTOR" | "HSTORE" => TypeFamily::Other,
        _ => return None,
    })
}

/// The family of the Python type in a `Mapped[...]` annotation, by
/// SQLAlchemy's default type map (`int` → `Integer`, `str` → `String`,
/// `uuid.UUID` → `Uuid`); `Optional[X]`, `X | None` and `Annotated[X, ...]`
/// are `X`. A project's `type_annotation_map` may pick another size, never
/// another family for these.
pub fn of_annotation(written: &str) -> Option<TypeFamily> {
    let open = written.find('[')?;
    if last_segment(written[..open].trim()) != "Mapped" {
        return None;
    }
    let inner = written[open + 1..].trim().strip_suffix(']')?;
    of_python_type(inner)
}

fn of_python_type(written: &str) -> Option<TypeFamily> {
    let written = written
        .trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .trim();
    // `X | None`
    let arms: Vec<&str> = written
        .split('|')
        .map(str::trim)
        .filter(|a| *a != "None")
        .collect();
    if let [single] = arms.as_slice()
        && *single != written
    {
        return of_python_type(single);
    }
    if arms.len() > 1 {
        return None;
    }
    if let Some(open) = written.find('[') {
        let head = last_segment(written[..open].trim());
        let inner = written[open + 1..].strip_suffix(']')?;
        return match head {
            "Optional" => of_python_type(inner),
            // `Annotated[int, mapped_column(...)]`: the first argument.
            "Annotated" => of_python_type(first_argument(inner)),
            "Union" => {
                let arms: Vec<&str> = split_arguments(inner)
                    .into_iter()
                    .filter(|a| a.trim() != "None")
                    .collect();
                match arms.as_slice() {
                    [single] => of_python_type(single),
                    _ => None,
                }
            }
            _ => Some(TypeFamily::Other),
        };
    }
    Some(match last_segment(written) {
        "int" => TypeFamily::Integer,
        "str" => TypeFamily::Text,
        "UUID" => TypeFamily::Uuid,
        "bool" | "float" | "bytes" | "Decimal" | "datetime" | "date" | "time" | "timedelta"
        | "dict" | "list" | "Any" => TypeFamily::Other,
        _ => return None,
    })
}

fn first_argument(arguments: &str) -> &str {
    split_arguments(arguments).into_iter().next().unwrap_or("")
}

/// Top-level comma-separated arguments of a subscript.
fn split_arguments(arguments: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in arguments.char_indices() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&arguments[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&arguments[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_arguments() {
        assert_eq!(of_type("Integer"), Some(TypeFamily::Integer));
        assert_eq!(of_type("sa.BigInteger()"), Some(TypeFamily::Integer));
        assert_eq!(of_type("String(36)"), Some(TypeFamily::Text));
        assert_eq!(of_type("db.Unicode(255)"), Some(TypeFamily::Text));
        assert_eq!(
            of_type("postgresql.UUID(as_uuid=True)"),
            Some(TypeFamily::Uuid)
        );
        assert_eq!(of_type("DateTime(timezone=True)"), Some(TypeFamily::Other));
        assert_eq!(of_type("GUID()"), None);
        assert_eq!(of_type("Sequence(\"s\")"), None);
        assert_eq!(of_type("ARRAY(Integer)"), Some(TypeFamily::Other));
    }

    #[test]
    fn annotations() {
        assert_eq!(of_annotation("Mapped[int]"), Some(TypeFamily::Integer));
        assert_eq!(
            of_annotation("orm.Mapped[Optional[int]]"),
            Some(TypeFamily::Integer)
        );
        assert_eq!(of_annotation("Mapped[str | None]"), Some(TypeFamily::Text));
        assert_eq!(of_annotation("Mapped[uuid.UUID]"), Some(TypeFamily::Uuid));
        assert_eq!(
            of_annotation("Mapped[Annotated[int, mapped_column(primary_key=True)]]"),
            Some(TypeFamily::Integer)
        );
        assert_eq!(
            of_annotation("Mapped[Union[str, None]]"),
            Some(TypeFamily::Text)
        );
        assert_eq!(of_annotation("Mapped[datetime]"), Some(TypeFamily::Other));
        assert_eq!(of_annotation("Mapped[intpk]"), None);
        assert_eq!(of_annotation("Mapped[int | str]"), None);
        assert_eq!(of_annotation("list[int]"), None);
    }
}
