//! CSV safe to open in any spreadsheet whatever its locale:
//!
//! - French Excel splits on `;`, others on `,` or tab: a cell holding any
//!   of them is quoted, so no reader splits it;
//! - a spreadsheet runs a cell starting with `=`, `+`, `-`, `@`, tab or CR
//!   as a formula (CSV injection): such a start is neutralised with `'`, at
//!   the beginning and after every separator or line break inside the cell,
//!   in case a reader ignores the quotes;
//! - the file starts with a UTF-8 byte order mark so Excel reads accents.

/// Byte order mark: Excel reads the file as UTF-8 only with it.
const BOM: &str = "\u{feff}";

const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
const BREAKS: [char; 5] = [',', ';', '\t', '\n', '\r'];

/// The file's first line: the byte order mark and the column names.
pub fn header(columns: &[&str]) -> String {
    let mut s = String::from(BOM);
    s.push_str(&columns.join(","));
    s.push_str("\r\n");
    s
}

/// One line of already escaped cells.
pub fn line(cells: &[String]) -> String {
    let mut s = cells.join(",");
    s.push_str("\r\n");
    s
}

pub fn cell(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    let mut at_start = true;
    for c in value.chars() {
        if at_start && FORMULA_START.contains(&c) {
            out.push('\'');
        }
        out.push(c);
        at_start = BREAKS.contains(&c);
    }
    if out.contains(BREAKS) || out.contains('"') {
        format!("\"{}\"", out.replace('"', "\"\""))
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn escapes() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(cell("-1+2,3"), "\"'-1+2,3\"");
        assert_eq!(cell("Dupont;=1+1"), "\"Dupont;'=1+1\"");
        assert_eq!(cell("a\tb"), "\"a\tb\"");
        assert_eq!(cell("x,@cmd"), "\"x,'@cmd\"");
        assert_eq!(cell("Éloïse"), "Éloïse");
    }
}
