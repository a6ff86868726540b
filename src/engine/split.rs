//! Splitting typed or piped SQL into statements at `;`, aware of quotes
//! (`'...'`, `"..."`, dollar quotes `$tag$...$tag$`) and comments (`--`,
//! `/* ... */`, nested), so a `;` inside any of them does not end a statement.

/// Statements found in `text`, and what is left after the last `;` (an
/// unfinished statement, or blank).
pub fn split(text: &str) -> (Vec<String>, String) {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => i = skip_quoted(b, i, b[i]),
            b'-' if b.get(i + 1) == Some(&b'-') => i = skip_line_comment(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_block_comment(b, i),
            b'$' => i = skip_dollar_quoted(text, i),
            b';' => {
                let stmt = text[start..i].trim();
                if !is_blank(stmt) {
                    out.push(stmt.to_string());
                }
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    (out, text[start..].to_string())
}

/// Whether `text` holds nothing but whitespace and comments.
pub fn is_blank(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            c if c.is_ascii_whitespace() => i += 1,
            b'-' if b.get(i + 1) == Some(&b'-') => i = skip_line_comment(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_block_comment(b, i),
            _ => return false,
        }
    }
    true
}

/// Whether the statement text is finished (ends with a `;` outside quotes
/// and comments): the REPL keeps reading lines until it is.
pub fn is_complete(text: &str) -> bool {
    let (statements, rest) = split(text);
    !statements.is_empty() && is_blank(&rest)
}

fn skip_line_comment(b: &[u8], open: usize) -> usize {
    b[open..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| open + p + 1)
}

fn skip_quoted(b: &[u8], open: usize, quote: u8) -> usize {
    let mut i = open + 1;
    while i < b.len() {
        if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2; // doubled quote inside
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

fn skip_block_comment(b: &[u8], open: usize) -> usize {
    let mut depth = 0;
    let mut i = open;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

fn skip_dollar_quoted(text: &str, open: usize) -> usize {
    let rest = &text[open + 1..];
    let Some(end) = rest.find('$') else {
        return open + 1;
    };
    let tag = &rest[..end];
    if !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return open + 1; // `$1` parameters and the like
    }
    let delimiter = format!("${tag}$");
    let body = open + delimiter.len();
    match text[body..].find(&delimiter) {
        Some(p) => body + p + delimiter.len(),
        None => text.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmts(s: &str) -> Vec<String> {
        split(s).0
    }

    #[test]
    fn splits_at_semicolons() {
        assert_eq!(stmts("SELECT 1; SELECT 2;"), ["SELECT 1", "SELECT 2"]);
        assert_eq!(split("SELECT 1; SELECT").1, " SELECT");
    }

    #[test]
    fn semicolons_in_quotes_and_comments_do_not_split() {
        assert_eq!(stmts("SELECT ';' AS a;"), ["SELECT ';' AS a"]);
        assert_eq!(stmts("SELECT 'it''s; fine';"), ["SELECT 'it''s; fine'"]);
        assert_eq!(stmts("SELECT 1 AS \"a;b\";"), ["SELECT 1 AS \"a;b\""]);
        assert_eq!(stmts("SELECT 1 -- no; split\n;"), ["SELECT 1 -- no; split"]);
        assert_eq!(
            stmts("SELECT /* a; /* nested; */ b; */ 1;"),
            ["SELECT /* a; /* nested; */ b; */ 1"]
        );
        assert_eq!(stmts("SELECT $x$a;b$x$;"), ["SELECT $x$a;b$x$"]);
    }

    #[test]
    fn completeness_for_the_prompt() {
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT ';'"));
        assert!(!is_complete("SELECT 'a;"));
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("SELECT 1; -- done\n"));
        assert!(!is_complete("-- only a comment;\n"));
    }

    #[test]
    fn blank_statements_are_dropped() {
        assert_eq!(stmts(";; -- c\n; SELECT 1;"), ["SELECT 1"]);
    }
}
