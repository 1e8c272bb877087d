//! The report as Markdown: headings, paragraphs and tables (charts are the HTML's; the tables
//! beside them hold the same numbers).

use std::fmt::Write;

use crate::{
    Report,
    document::{Block, blocks, numeric},
};

/// The report as a Markdown document.
pub fn markdown(report: &Report) -> String {
    let mut md = String::new();
    for block in blocks(report) {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(md, "{} {}\n", "#".repeat(level.into()), text);
            }
            Block::Paragraph(text) => {
                let _ = writeln!(md, "{text}\n");
            }
            Block::Figures(figures) => {
                md.push_str("| Figure | Value | |\n| --- | ---: | --- |\n");
                for f in figures {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} |",
                        cell(&f.label),
                        cell(&f.value),
                        cell(&f.note)
                    );
                }
                md.push('\n');
            }
            Block::Table { columns, rows } => {
                let header: Vec<String> = columns.iter().map(|c| cell(c)).collect();
                let _ = writeln!(md, "| {} |", header.join(" | "));
                let align: Vec<&str> = (0..columns.len())
                    .map(|i| if numeric(&rows, i) { "---:" } else { "---" })
                    .collect();
                let _ = writeln!(md, "| {} |", align.join(" | "));
                for row in rows {
                    let row: Vec<String> = row.iter().map(|c| cell(c)).collect();
                    let _ = writeln!(md, "| {} |", row.join(" | "));
                }
                md.push('\n');
            }
            Block::Chart(_) => {}
        }
    }
    md.truncate(md.trim_end().len());
    md.push('\n');
    md
}

/// A table cell: pipes escaped, line breaks flattened, so a model or customer name cannot
/// break the table.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn names_cannot_break_a_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
