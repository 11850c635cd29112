//! The front door: programs' public profiles, read by anyone without a grant because they hold
//! nothing about a patient (`profiles`).

pub mod profiles;
