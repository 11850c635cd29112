//! Trellis domain rules: the clinic's vocabulary and decisions as plain types and functions, no I/O.

pub mod access;
pub mod care;
pub mod consent;
pub mod documentation;
pub mod measures;
pub mod patient;
pub mod placement;
pub mod schedule;
pub mod screens;
