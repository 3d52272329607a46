//! Multi-row statements: one `INSERT … VALUES (…), (…)` (or `IN (…)` list) for many rows
//! instead of one statement each, so a batch of a thousand appointments costs a handful of
//! round trips to the database rather than thousands. Both engines read the same `$n`
//! placeholders, so one text serves both.

/// Bound parameters in one statement: SQLite's old default limit, well under today's (32,766)
/// and PostgreSQL's (65,535). Not more: SQLite looks each `$n` name up among those already
/// seen, so a statement's parsing grows with the square of its parameters (2,000 reminders in
/// one 20,000-parameter statement took seconds).
const MAX_PARAMS: usize = 999;

/// How many rows of `row` (a tuple with a `?` for each bound parameter) fit in one statement.
pub(super) fn rows_per_statement(row: &str) -> usize {
    MAX_PARAMS / row.matches('?').count().max(1)
}

/// `rows` copies of `row`, comma-separated, each `?` numbered in turn from `$1`.
pub(super) fn rows(rows: usize, row: &str) -> String {
    let mut sql = String::with_capacity(rows * (row.len() + 16));
    let mut n = 0;
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        for c in row.chars() {
            if c == '?' {
                n += 1;
                sql.push('$');
                sql.push_str(&n.to_string());
            } else {
                sql.push(c);
            }
        }
    }
    sql
}

/// A statement's text is kept prepared only when its shape repeats; a batch's varies with its
/// size and would fill the connection's statement cache.
pub(super) fn persistent(rows: usize) -> bool {
    rows == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_across_rows() {
        assert_eq!(rows(2, "(?, 'x', ?)"), "($1, 'x', $2), ($3, 'x', $4)");
        assert_eq!(rows(1, "?"), "$1");
        assert_eq!(rows(0, "(?)"), "");
    }

    #[test]
    fn a_statement_stays_under_both_engines_limits() {
        let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let per = rows_per_statement(row);
        assert_eq!(per, 99);
        assert!(per * 10 <= 999);
    }
}
