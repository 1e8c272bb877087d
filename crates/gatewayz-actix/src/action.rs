//! The admin actions on a provider's circuit breaker.

use std::fmt;

/// What an operator can do to a provider's circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CircuitAction {
    /// Force the circuit open: no calls go to the provider until it is closed or reset.
    Open,
    /// Force the circuit closed: calls flow whatever the provider's recent failures.
    Close,
    /// Drop any forced state and the failure history; the breaker decides again.
    Reset,
}

impl CircuitAction {
    /// Every action, in the order the docs list them.
    pub const ALL: [CircuitAction; 3] = [
        CircuitAction::Open,
        CircuitAction::Close,
        CircuitAction::Reset,
    ];

    /// The path segment naming the action.
    pub const fn as_str(self) -> &'static str {
        match self {
            CircuitAction::Open => "open",
            CircuitAction::Close => "close",
            CircuitAction::Reset => "reset",
        }
    }
}

impl fmt::Display for CircuitAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
