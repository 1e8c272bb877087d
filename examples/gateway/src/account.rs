//! One API key's balance and state, shared by every request that uses it and by the database
//! worker.
//!
//! The balance is two numbers under one mutex (held for a few instructions): `settled`, the
//! credits the database holds after every charge committed so far, and `reserved`, the
//! worst-case cost of the requests in progress. A request may start only if its worst case fits
//! in `settled - reserved` ([`Account::reserve`]); when it ends, its real cost is committed and
//! its reservation released in one step, on the database worker ([`Account::committed`]), which
//! is also the only place the row is re-read ([`Account::refreshed`]). The worker does both in
//! the order it commits and reads, so a charge is counted exactly once: a read after a commit
//! includes it, a read before it does not, and `settled` follows the database either way.
//!
//! Hence the overspend bound: a key's balance goes below zero only by what requests in progress
//! cost beyond their reservations (providers that report more tokens than the reservation
//! allowed for), and never because two requests spent the same credits.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

/// A key's state as the gateway acts on it.
#[derive(Debug)]
pub struct Account {
    /// Row id.
    pub id: i64,
    /// Recognisable prefix, for logs.
    pub prefix: String,
    /// SHA-256 of the key, to read its row again.
    pub hash: String,
    state: Mutex<State>,
    in_flight: AtomicUsize,
    /// A refusal for lack of credits was reported since the balance last went up.
    exhaustion_reported: AtomicBool,
}

#[derive(Debug)]
struct State {
    settled: i64,
    reserved: i64,
    revoked: bool,
    expires_at: Option<i64>,
    read: Instant,
}

/// What a key may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Neither revoked nor expired.
    Active,
    /// Revoked, expired, or gone from the database.
    Inactive,
}

/// A key's balance, in nano-credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// In the database, after every charge committed so far.
    pub settled: i64,
    /// Held for requests in progress.
    pub reserved: i64,
}

impl Balance {
    /// What a new request may reserve.
    pub fn available(&self) -> i64 {
        self.settled.saturating_sub(self.reserved)
    }
}

impl Account {
    /// An account as read from its row (`credits_nano`, revocation and expiry) just now.
    pub fn new(
        id: i64,
        prefix: String,
        hash: String,
        credits_nano: i64,
        revoked: bool,
        expires_at: Option<i64>,
    ) -> Account {
        Account {
            id,
            prefix,
            hash,
            state: Mutex::new(State {
                settled: credits_nano,
                reserved: 0,
                revoked,
                expires_at,
                read: Instant::now(),
            }),
            in_flight: AtomicUsize::new(0),
            exhaustion_reported: AtomicBool::new(false),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The row was read again (by the database worker, after every charge it committed before):
    /// `None` when it is gone.
    pub fn refreshed(&self, row: Option<(i64, bool, Option<i64>)>) {
        let mut state = self.state();
        match row {
            Some((credits_nano, revoked, expires_at)) => {
                if credits_nano > state.settled {
                    // Only a top-up raises a balance: the next refusal is a new exhaustion.
                    self.exhaustion_reported.store(false, Relaxed);
                }
                state.settled = credits_nano;
                state.revoked = revoked;
                state.expires_at = expires_at;
            }
            None => state.revoked = true,
        }
        state.read = Instant::now();
    }

    /// A charge of `credits_nano` was committed (by the database worker), for a request that
    /// had reserved `reserved`.
    pub fn committed(&self, credits_nano: i64, reserved: i64) {
        let mut state = self.state();
        state.settled = state.settled.saturating_sub(credits_nano);
        state.reserved = state.reserved.saturating_sub(reserved);
    }

    /// Releases `amount` reserved nano-credits without charging anything.
    pub fn release(&self, amount: i64) {
        let mut state = self.state();
        state.reserved = state.reserved.saturating_sub(amount);
    }

    /// How long ago the row was last read.
    pub fn age(&self) -> Duration {
        self.state().read.elapsed()
    }

    /// Whether the key may be used at `now` (Unix seconds).
    pub fn status(&self, now: i64) -> Status {
        let state = self.state();
        if state.revoked || state.expires_at.is_some_and(|expiry| expiry <= now) {
            Status::Inactive
        } else {
            Status::Active
        }
    }

    /// The balance now.
    pub fn balance(&self) -> Balance {
        let state = self.state();
        Balance {
            settled: state.settled,
            reserved: state.reserved,
        }
    }

    /// Holds `amount` nano-credits for a request, if that much is available; the balance
    /// otherwise.
    pub fn reserve(self: &Arc<Self>, amount: i64) -> Result<Reservation, Balance> {
        let amount = amount.max(0);
        let mut state = self.state();
        let balance = Balance {
            settled: state.settled,
            reserved: state.reserved,
        };
        if balance.available() < amount {
            return Err(balance);
        }
        state.reserved += amount;
        Ok(Reservation {
            account: Some(Arc::clone(self)),
            amount,
        })
    }

    /// Counts a request in flight for this key, if fewer than `cap` are.
    pub fn enter(self: &Arc<Self>, cap: usize) -> Option<KeyInFlight> {
        self.in_flight
            .fetch_update(Relaxed, Relaxed, |n| (n < cap).then_some(n + 1))
            .ok()?;
        Some(KeyInFlight(Arc::clone(self)))
    }

    /// Requests in flight for this key.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Relaxed)
    }

    /// Whether a refusal for lack of credits is the first since the balance last went up
    /// (a top-up): only that one is worth telling the database (which decides whether it is a
    /// new exhaustion), not every request a client retries.
    pub fn first_exhaustion(&self) -> bool {
        !self.exhaustion_reported.swap(true, Relaxed)
    }
}

/// Credits held for one request; released when dropped, unless [`Reservation::settle`] hands
/// them to the charge that replaces them.
#[derive(Debug)]
#[must_use = "a reservation is released as soon as it is dropped"]
pub struct Reservation {
    account: Option<Arc<Account>>,
    amount: i64,
}

impl Reservation {
    /// Nano-credits held.
    pub fn amount(&self) -> i64 {
        self.amount
    }

    /// Ends the reservation without releasing it: the caller passes the account and the amount
    /// to the database worker, which releases it when the charge is committed.
    pub fn settle(mut self) -> (Arc<Account>, i64) {
        let account = self.account.take().expect("a reservation is settled once");
        (account, self.amount)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(account) = self.account.take() {
            account.release(self.amount);
        }
    }
}

/// One request in flight for a key; see [`Account::enter`].
#[derive(Debug)]
pub struct KeyInFlight(Arc<Account>);

impl Drop for KeyInFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(credits_nano: i64) -> Arc<Account> {
        Arc::new(Account::new(
            1,
            "gwz_test".into(),
            "hash".into(),
            credits_nano,
            false,
            None,
        ))
    }

    #[test]
    fn reservations_never_hold_more_than_the_balance() {
        let account = account(100);
        let a = account.reserve(60).unwrap();
        assert_eq!(
            account.reserve(50).unwrap_err(),
            Balance {
                settled: 100,
                reserved: 60
            }
        );
        let b = account.reserve(40).unwrap();
        drop(a);
        assert_eq!(account.balance().available(), 60);
        // A settled reservation is released by the commit, with the real cost charged.
        let (settling, held) = b.settle();
        assert_eq!(account.balance().reserved, 40);
        settling.committed(25, held);
        assert_eq!(
            account.balance(),
            Balance {
                settled: 75,
                reserved: 0
            }
        );
    }

    #[test]
    fn concurrent_reservations_share_the_balance_exactly() {
        let account = account(1_000);
        let held: Vec<Reservation> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let account = Arc::clone(&account);
                    scope.spawn(move || {
                        (0..100)
                            .filter_map(|_| account.reserve(7).ok())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect()
        });
        assert_eq!(held.len(), 1_000 / 7);
        assert_eq!(account.balance().reserved, 7 * (1_000 / 7));
        drop(held);
        assert_eq!(account.balance().reserved, 0);
    }

    #[test]
    fn a_refresh_replaces_the_settled_balance_and_the_state() {
        let account = account(10);
        let _held = account.reserve(5).unwrap();
        account.refreshed(Some((1_000, false, Some(50))));
        assert_eq!(account.balance().available(), 995);
        assert_eq!(account.status(49), Status::Active);
        assert_eq!(account.status(50), Status::Inactive);
        account.refreshed(None);
        assert_eq!(account.status(0), Status::Inactive);
    }

    #[test]
    fn requests_in_flight_stop_at_the_cap() {
        let account = account(10);
        let first = account.enter(2).unwrap();
        let _second = account.enter(2).unwrap();
        assert!(account.enter(2).is_none());
        drop(first);
        assert!(account.enter(2).is_some());
    }
}
