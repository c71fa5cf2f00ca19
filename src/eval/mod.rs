//! Evaluation networks and metrics.

pub mod inception;
