//! The front door: what a program publishes about itself and how a visitor finds it. Nothing
//! here reads or knows about patients.

pub mod finder;
pub mod places;
pub mod profile;
pub mod self_screen;
