//! Revenue over JSON (issue 14, first slice): payers, each site's billing-provider settings
//! (`payers`), and a patient's coverages with their eligibility checks (`coverages`). Billing
//! changes them; the clinical director and administrators read them.

pub(crate) mod coverages;
pub(crate) mod payers;
