//! The read side: rendering what a recorder holds, per category or all, and summarising it.

use std::sync::{Arc, atomic::Ordering::Relaxed};

#[cfg(feature = "summary")]
use crate::summary::{self, Summary};
use crate::{Category, shared::Shared};

/// Reads what a [`GatewayzRecorder`](crate::GatewayzRecorder) holds: Prometheus text per category, the JSON summary.
///
/// Cheap to clone; every clone reads the same recorder.
#[derive(Debug, Clone)]
pub struct Handle {
    inner: Arc<Shared>,
}

impl Handle {
    pub(crate) fn new(inner: Arc<Shared>) -> Handle {
        Handle { inner }
    }

    /// Every metric, catalogued or not, in text format 0.0.4.
    pub fn render_all(&self) -> String {
        self.render_scope(None)
    }

    /// The metrics of one category, in text format 0.0.4. Costs in proportion to the
    /// category's series, not the whole registry's.
    pub fn render(&self, category: Category) -> String {
        self.render_scope(Some(category))
    }

    fn render_scope(&self, category: Option<Category>) -> String {
        let hint = &self.inner.size_hints[category.map_or(5, |c| c as usize)];
        let mut out = String::with_capacity(hint.load(Relaxed) + 1024);
        self.write(category, &mut out);
        hint.store(out.len(), Relaxed);
        out
    }

    /// Appends the metrics of `category` (all of them for `None`) to `out`.
    ///
    /// Families come sorted by name and series by label values, so two renders of the same
    /// state are identical. Families with no series are left out.
    pub fn write(&self, category: Option<Category>, out: &mut String) {
        let store = self.inner.store();
        match category {
            Some(category) => {
                for family in store.catalogued() {
                    if family.def().is_some_and(|def| def.category == category) {
                        family.render(out);
                    }
                }
            }
            None => {
                let uncatalogued = store.uncatalogued();
                let mut uncatalogued = uncatalogued.iter().peekable();
                for family in store.catalogued() {
                    while let Some(extra) = uncatalogued.next_if(|f| f.name() < family.name()) {
                        extra.render(out);
                    }
                    family.render(out);
                }
                uncatalogued.for_each(|family| family.render(out));
            }
        }
    }

    /// The JSON summary of live values, for all categories or one.
    #[cfg(feature = "summary")]
    pub fn summary(&self, category: Option<Category>) -> Summary {
        summary::compute(self.inner.store(), self.inner.start_time, category)
    }

    /// Number of series held, across all families.
    pub fn series_count(&self) -> usize {
        self.inner.store().series_count()
    }
}
