//! Which label values become series: normalisation, closed sets and caps on distinct values.
//!
//! The cap is per label *name* and shared by every metric: a model admitted for the request
//! counter is admitted for the token counter too, so the families agree on which models are
//! `other`. Once a label has reached its cap, later new values are folded into `other` for the
//! rest of the process's life; values already admitted keep their series.

use std::{
    collections::{HashMap, HashSet},
    sync::{Mutex, PoisonError, RwLock},
};

use metrics::SharedString;

use crate::catalogue::{Domain, LABELS, OTHER, UNKNOWN, match_closed, normalise_open};

/// The outcome of admitting one label value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Admitted {
    pub(crate) value: SharedString,
    /// The value was not admitted and `other` stands in for it.
    pub(crate) folded: bool,
}

impl Admitted {
    fn kept(value: SharedString) -> Self {
        Admitted {
            value,
            folded: false,
        }
    }

    fn folded() -> Self {
        Admitted {
            value: SharedString::const_str(OTHER),
            folded: true,
        }
    }
}

#[derive(Debug)]
struct ValueSet {
    cap: usize,
    values: Mutex<HashSet<Box<str>>>,
}

/// Per-label-name sets of admitted values.
#[derive(Debug)]
pub(crate) struct Admission {
    caps: HashMap<String, usize>,
    default_cap: usize,
    sets: RwLock<HashMap<Box<str>, ValueSet>>,
}

/// How values of a label are normalised and bounded.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rule {
    Closed(&'static [&'static str]),
    Open { lowercase: bool },
}

impl Rule {
    pub(crate) fn of(domain: &Domain) -> Rule {
        match *domain {
            Domain::Closed(values) => Rule::Closed(values),
            Domain::Open { lowercase, .. } => Rule::Open { lowercase },
        }
    }

    /// The rule for a label of a metric outside the catalogue: that of the catalogued open label
    /// of the same name if there is one (so `model` is bounded everywhere), else verbatim.
    pub(crate) fn for_uncatalogued(name: &str) -> Rule {
        LABELS
            .iter()
            .filter(|l| l.name == name)
            .find_map(|l| match l.domain {
                Domain::Open { lowercase, .. } => Some(Rule::Open { lowercase }),
                Domain::Closed(_) => None,
            })
            .unwrap_or(Rule::Open { lowercase: false })
    }
}

impl Admission {
    /// `caps` overrides the catalogue's caps by label name; `default_cap` applies to label names
    /// the catalogue does not declare.
    pub(crate) fn new(caps: HashMap<String, usize>, default_cap: usize) -> Self {
        Admission {
            caps,
            default_cap,
            sets: RwLock::new(HashMap::new()),
        }
    }

    fn cap_for(&self, name: &str) -> usize {
        if let Some(cap) = self.caps.get(name) {
            return *cap;
        }
        LABELS
            .iter()
            .filter(|l| l.name == name)
            .find_map(|l| match l.domain {
                Domain::Open { max_distinct, .. } => Some(max_distinct),
                Domain::Closed(_) => None,
            })
            .unwrap_or(self.default_cap)
    }

    /// Normalises `raw` and decides whether it may become a label value of `name`.
    pub(crate) fn admit(&self, name: &str, rule: Rule, raw: &str) -> Admitted {
        match rule {
            Rule::Closed(values) => match match_closed(values, raw) {
                Some(v) => Admitted::kept(SharedString::const_str(v)),
                None => Admitted::folded(),
            },
            Rule::Open { lowercase } => {
                let value = normalise_open(raw, lowercase);
                for reserved in [OTHER, UNKNOWN] {
                    if value == reserved {
                        return Admitted::kept(SharedString::const_str(reserved));
                    }
                }
                if self.remember(name, &value) {
                    Admitted::kept(SharedString::from(value.into_owned()))
                } else {
                    Admitted::folded()
                }
            }
        }
    }

    /// Whether `value` is (now) among the admitted values of label `name`.
    fn remember(&self, name: &str, value: &str) -> bool {
        {
            let sets = self.sets.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(set) = sets.get(name) {
                return set.insert(value);
            }
        }
        let mut sets = self.sets.write().unwrap_or_else(PoisonError::into_inner);
        let set = sets.entry(name.into()).or_insert_with(|| ValueSet {
            cap: self.cap_for(name),
            values: Mutex::new(HashSet::new()),
        });
        set.insert(value)
    }
}

impl ValueSet {
    fn insert(&self, value: &str) -> bool {
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        if values.contains(value) {
            return true;
        }
        if values.len() >= self.cap {
            return false;
        }
        values.insert(value.into());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::MAX_VALUE_LEN;

    fn open() -> Rule {
        Rule::Open { lowercase: true }
    }

    #[test]
    fn open_values_are_trimmed_lowercased_and_cut() {
        let admission = Admission::new(HashMap::new(), 10);
        assert_eq!(
            &*admission.admit("model", open(), "  GPT-4o ").value,
            "gpt-4o"
        );
        assert_eq!(&*admission.admit("model", open(), "   ").value, UNKNOWN);
        let long = "é".repeat(100);
        let cut = admission.admit("x", open(), &long).value;
        assert_eq!(cut.len(), MAX_VALUE_LEN);
        assert!(long.starts_with(&*cut));
    }

    #[test]
    fn closed_values_match_ignoring_case_and_fold_the_rest() {
        let admission = Admission::new(HashMap::new(), 10);
        let rule = Rule::Closed(&["GET", "POST"]);
        assert_eq!(
            admission.admit("method", rule, "post"),
            Admitted::kept("POST".into())
        );
        assert_eq!(admission.admit("method", rule, "BREW"), Admitted::folded());
    }

    #[test]
    fn values_past_the_cap_fold_into_other_but_admitted_ones_stay() {
        let admission = Admission::new(HashMap::from([("model".to_owned(), 2)]), 10);
        assert!(!admission.admit("model", open(), "a").folded);
        assert!(!admission.admit("model", open(), "b").folded);
        assert_eq!(admission.admit("model", open(), "c"), Admitted::folded());
        assert!(!admission.admit("model", open(), "A").folded);
        assert!(!admission.admit("model", open(), OTHER).folded);
    }

    #[test]
    fn caps_are_per_label_name() {
        let admission = Admission::new(HashMap::new(), 1);
        assert!(!admission.admit("a", open(), "x").folded);
        assert!(!admission.admit("b", open(), "y").folded);
        assert!(admission.admit("a", open(), "y").folded);
    }

    #[test]
    fn catalogued_labels_keep_their_declared_cap() {
        let admission = Admission::new(HashMap::new(), 1);
        for i in 0..100 {
            assert!(!admission.admit("provider", open(), &format!("p{i}")).folded);
        }
        assert!(admission.admit("provider", open(), "one-too-many").folded);
    }
}
