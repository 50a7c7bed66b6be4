//! Safety: peers, limits, concurrency.
