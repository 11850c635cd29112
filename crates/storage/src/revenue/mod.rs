//! Revenue (issue 14), first slice: payers and their terms, each site's billing-provider
//! settings (`payers`), and a patient's coverages with the eligibility checks made on them
//! (`coverages`). Reading needs `ReadBilling`, changing `ManageBilling`; neither reads any
//! clinical text.

pub mod coverages;
pub mod payers;
