//! sharing (being written).
