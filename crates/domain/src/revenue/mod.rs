//! Revenue: what a payer pays for and how (`payer`), who bills (`provider`: the NPI check digit,
//! tax id, taxonomy, place of service), a patient's coverage (`coverage`) and which days of
//! service become charges, with every reason a day does not (`charges`). Pure rules only;
//! storage keeps the records and the web layer shows them.

pub mod charges;
pub mod coverage;
pub mod payer;
pub mod provider;
