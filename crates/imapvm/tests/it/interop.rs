//! interop (being written).
