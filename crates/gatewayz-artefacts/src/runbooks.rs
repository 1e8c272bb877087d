//! The runbooks: one Markdown file per alert under `runbooks/`, compiled in.
//!
//! Each file has three sections, `## Meaning`, `## Likely causes` (a list) and `## What to do`
//! (a numbered list). Words in braces (`{for}`, `{ratio}`) are the alert's configured values,
//! filled in when the rules are generated; the generated `docs/alerts.md` shows every runbook under its alert,
//! and each alert's `runbook_url` points there (or wherever `alerts.runbook_url` says).

/// Every runbook: `(alert name, Markdown)`.
pub const RUNBOOKS: &[(&str, &str)] = &[
    (
        "GatewayzAvailabilityErrorBudgetBurn",
        include_str!("../runbooks/GatewayzAvailabilityErrorBudgetBurn.md"),
    ),
    (
        "GatewayzLatencyErrorBudgetBurn",
        include_str!("../runbooks/GatewayzLatencyErrorBudgetBurn.md"),
    ),
    (
        "GatewayzModelErrorBudgetBurn",
        include_str!("../runbooks/GatewayzModelErrorBudgetBurn.md"),
    ),
    (
        "GatewayzProviderUnavailable",
        include_str!("../runbooks/GatewayzProviderUnavailable.md"),
    ),
    (
        "GatewayzProviderHealthDegraded",
        include_str!("../runbooks/GatewayzProviderHealthDegraded.md"),
    ),
    (
        "GatewayzProviderErrorSurge",
        include_str!("../runbooks/GatewayzProviderErrorSurge.md"),
    ),
    (
        "GatewayzProviderLatencySpike",
        include_str!("../runbooks/GatewayzProviderLatencySpike.md"),
    ),
    (
        "GatewayzCircuitOpenTooLong",
        include_str!("../runbooks/GatewayzCircuitOpenTooLong.md"),
    ),
    (
        "GatewayzCircuitFlapping",
        include_str!("../runbooks/GatewayzCircuitFlapping.md"),
    ),
    (
        "GatewayzFailoverStorm",
        include_str!("../runbooks/GatewayzFailoverStorm.md"),
    ),
    (
        "GatewayzTrafficStopped",
        include_str!("../runbooks/GatewayzTrafficStopped.md"),
    ),
    (
        "GatewayzRequestsRefusedSurge",
        include_str!("../runbooks/GatewayzRequestsRefusedSurge.md"),
    ),
    (
        "GatewayzCostPerHourHigh",
        include_str!("../runbooks/GatewayzCostPerHourHigh.md"),
    ),
    (
        "GatewayzSpendAboveLastWeek",
        include_str!("../runbooks/GatewayzSpendAboveLastWeek.md"),
    ),
    (
        "GatewayzSpendAboveBudgetPace",
        include_str!("../runbooks/GatewayzSpendAboveBudgetPace.md"),
    ),
    (
        "GatewayzTargetDown",
        include_str!("../runbooks/GatewayzTargetDown.md"),
    ),
    (
        "GatewayzMetricsAbsent",
        include_str!("../runbooks/GatewayzMetricsAbsent.md"),
    ),
    (
        "GatewayzLabelValuesOverflow",
        include_str!("../runbooks/GatewayzLabelValuesOverflow.md"),
    ),
    (
        "GatewayzMetricConflicts",
        include_str!("../runbooks/GatewayzMetricConflicts.md"),
    ),
    (
        "GatewayzWatchdog",
        include_str!("../runbooks/GatewayzWatchdog.md"),
    ),
];

/// The sections every runbook has, in order.
pub const SECTIONS: [&str; 3] = ["Meaning", "Likely causes", "What to do"];

/// The runbook of `alert` with its placeholders filled from `values` (`(name, text)`).
///
/// # Panics
/// If `alert` has no runbook, or the runbook names a placeholder `values` lacks: both are
/// mistakes in this crate, which its tests catch for every alert.
pub(crate) fn render(alert: &str, values: &[(&str, String)]) -> String {
    let (_, template) = RUNBOOKS
        .iter()
        .find(|(name, _)| *name == alert)
        .unwrap_or_else(|| panic!("{alert} has no runbook in runbooks/"));
    let mut text = (*template).to_owned();
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    if let Some(left) = placeholders(&text).first() {
        panic!("runbooks/{alert}.md uses {{{left}}}, which the alert does not fill in");
    }
    text
}

/// The `{word}` placeholders left in `text`.
pub(crate) fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end)
                if end > 0
                    && after[..end]
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') =>
            {
                found.push(&after[..end]);
                rest = &after[end + 1..];
            }
            _ => rest = after,
        }
    }
    found
}

/// The text of section `title` of a runbook (without its heading), trimmed.
pub fn section<'a>(runbook: &'a str, title: &str) -> Option<&'a str> {
    let heading = format!("## {title}\n");
    let start = if runbook.starts_with(&heading) {
        heading.len()
    } else {
        runbook.find(&format!("\n{heading}"))? + heading.len() + 1
    };
    let body = &runbook[start..];
    let end = body.find("\n## ").unwrap_or(body.len());
    Some(body[..end].trim())
}

/// The first sentence of the runbook's meaning, on one line: what the alert says.
pub fn summary(runbook: &str) -> String {
    let meaning = section(runbook, "Meaning")
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match meaning.find(". ") {
        Some(end) => meaning[..=end].to_owned(),
        None => meaning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_lowercase_words_in_braces() {
        assert_eq!(
            placeholders("at {for}, {ratio} of {job=\"x\"} and {{ $value }} {}"),
            ["for", "ratio"]
        );
    }

    #[test]
    fn sections_are_found_by_title() {
        let runbook = "## Meaning\n\nIt fires. Then more.\n\n## Likely causes\n\n- a\n";
        assert_eq!(section(runbook, "Meaning"), Some("It fires. Then more."));
        assert_eq!(section(runbook, "Likely causes"), Some("- a"));
        assert_eq!(section(runbook, "What to do"), None);
        assert_eq!(summary(runbook), "It fires.");
    }
}
