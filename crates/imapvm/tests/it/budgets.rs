//! budgets (being written).
