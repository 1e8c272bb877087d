//! Where the endpoints read metrics from.

use gatewayz_registry::{Category, Handle, Summary};

use crate::Error;

/// The read side of the metrics the endpoints serve: a [`Handle`] of the registry, normally.
///
/// It is a trait so that a host can wrap the handle (to add checks of its own) and so that
/// tests can supply a source that fails. Calls run on actix's blocking pool, or inline on an
/// async worker once that kind of call has proved to take less than 0.5 ms (see the crate's
/// "Behaviour"); a panic is caught either way, served as an error, and reported by `/health`.
pub trait MetricsSource: Send + Sync + 'static {
    /// Prometheus text format 0.0.4 of one category, or of every metric for `None`.
    fn render(&self, category: Option<Category>) -> Result<String, Error>;

    /// The JSON summary of one category, or of all of them for `None`.
    fn summarise(&self, category: Option<Category>) -> Result<Summary, Error>;
}

impl MetricsSource for Handle {
    fn render(&self, category: Option<Category>) -> Result<String, Error> {
        Ok(match category {
            Some(category) => Handle::render(self, category),
            None => self.render_all(),
        })
    }

    fn summarise(&self, category: Option<Category>) -> Result<Summary, Error> {
        Ok(self.summary(category))
    }
}
