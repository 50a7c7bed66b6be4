//! races (being written).
