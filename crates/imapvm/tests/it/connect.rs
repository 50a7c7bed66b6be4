//! connect (being written).
