//! Revenue pages (issue 14, first slice): payers and each site's billing-provider settings
//! (`payers`), and the chart's Coverage tab (`coverage`). Billing changes them; the clinical
//! director and administrators read them. No clinical text is read here.

pub(crate) mod coverage;
pub(crate) mod payers;

use trellis_domain::patient::FieldError;
use trellis_domain::revenue::payer::{format_rate, parse_rate, PayerTerms};
use trellis_domain::revenue::provider::BillingProvider;

use crate::error::AppError;
use crate::forms;

/// The payer form as posted (every field text, so a refused form comes back as typed).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PayerForm {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) payer_code: String,
    #[serde(default)]
    pub(crate) claim_type: String,
    #[serde(default)]
    pub(crate) sud_procedure: String,
    #[serde(default)]
    pub(crate) mh_procedure: String,
    #[serde(default)]
    pub(crate) sud_revenue_code: String,
    #[serde(default)]
    pub(crate) mh_revenue_code: String,
    #[serde(default)]
    pub(crate) unit: String,
    #[serde(default)]
    pub(crate) rate: String,
    #[serde(default)]
    pub(crate) minimum_minutes: String,
    #[serde(default)]
    pub(crate) needs_prior_authorisation: Option<String>,
    #[serde(default)]
    pub(crate) timely_filing_days: String,
    #[serde(default)]
    pub(crate) retire: Option<String>,
}

impl PayerForm {
    /// The empty form with the usual IOP terms filled in.
    pub(crate) fn blank() -> PayerForm {
        PayerForm {
            claim_type: "professional".into(),
            sud_procedure: "H0015".into(),
            mh_procedure: "S9480".into(),
            unit: "per_day".into(),
            minimum_minutes: trellis_domain::revenue::payer::IOP_MINIMUM_MINUTES.to_string(),
            needs_prior_authorisation: Some("1".into()),
            timely_filing_days: "90".into(),
            ..PayerForm::default()
        }
    }

    /// The form filled from a payer's terms.
    pub(crate) fn of(t: &PayerTerms) -> PayerForm {
        PayerForm {
            name: t.name.clone(),
            payer_code: t.payer_code.clone(),
            claim_type: t.claim_type.code().into(),
            sud_procedure: t.sud_procedure.clone(),
            mh_procedure: t.mh_procedure.clone(),
            sud_revenue_code: t.sud_revenue_code.clone().unwrap_or_default(),
            mh_revenue_code: t.mh_revenue_code.clone().unwrap_or_default(),
            unit: t.unit.code().into(),
            rate: format_rate(t.rate_cents).trim_start_matches('$').to_owned(),
            minimum_minutes: t.minimum_minutes.to_string(),
            needs_prior_authorisation: t.needs_prior_authorisation.then(|| "1".into()),
            timely_filing_days: t.timely_filing_days.to_string(),
            retire: None,
        }
    }

    /// Whether the prior-authorisation box is ticked.
    pub(crate) fn needs_auth(&self) -> bool {
        self.needs_prior_authorisation.is_some()
    }
}

fn whole(field: &'static str, value: &str, errors: &mut Vec<FieldError>) -> i64 {
    match value.trim().parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            errors.push(FieldError::new(field, "must be a whole number"));
            // In range for the domain's checks, so they do not name the field twice.
            1
        }
    }
}

/// The payer's terms, or every problem with the form (the domain's checks included).
pub(crate) fn parse_payer(f: &PayerForm) -> Result<PayerTerms, AppError> {
    let mut errors = Vec::new();
    let claim_type = forms::code(
        "claim_type",
        &f.claim_type,
        "choose professional (837P) or institutional (837I)",
        &mut errors,
    );
    let unit = forms::code("unit", &f.unit, "choose what one unit is", &mut errors);
    let rate_cents = parse_rate(&f.rate);
    if rate_cents.is_none() {
        errors.push(FieldError::new(
            "rate",
            "must be an amount in dollars above $0.00, such as 250.00",
        ));
    }
    let minimum_minutes = whole("minimum_minutes", &f.minimum_minutes, &mut errors);
    let timely_filing_days = whole("timely_filing_days", &f.timely_filing_days, &mut errors);
    let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let terms = PayerTerms {
        name: f.name.clone(),
        payer_code: f.payer_code.trim().to_uppercase(),
        claim_type: claim_type.unwrap_or(trellis_domain::revenue::payer::ClaimType::Professional),
        sud_procedure: f.sud_procedure.trim().to_uppercase(),
        mh_procedure: f.mh_procedure.trim().to_uppercase(),
        sud_revenue_code: optional(&f.sud_revenue_code),
        mh_revenue_code: optional(&f.mh_revenue_code),
        unit: unit.unwrap_or(trellis_domain::revenue::payer::UnitDefinition::PerDay),
        rate_cents: rate_cents.unwrap_or(1),
        minimum_minutes,
        needs_prior_authorisation: f.needs_auth(),
        timely_filing_days,
    };
    let mut all = errors;
    for e in trellis_domain::revenue::payer::validate_payer(&terms) {
        if !all.iter().any(|a| a.field == e.field) {
            all.push(e);
        }
    }
    if all.is_empty() {
        Ok(terms)
    } else {
        Err(AppError::Invalid(all))
    }
}

/// The billing-provider form as posted.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ProviderForm {
    #[serde(default)]
    pub(crate) legal_name: String,
    #[serde(default)]
    pub(crate) npi: String,
    #[serde(default)]
    pub(crate) tax_id: String,
    #[serde(default)]
    pub(crate) taxonomy: String,
    #[serde(default)]
    pub(crate) address_line: String,
    #[serde(default)]
    pub(crate) city: String,
    #[serde(default)]
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) zip: String,
    #[serde(default)]
    pub(crate) place_of_service: String,
}

impl ProviderForm {
    /// The settings as the store takes them (it checks them).
    pub(crate) fn provider(&self) -> BillingProvider {
        BillingProvider {
            legal_name: self.legal_name.clone(),
            npi: self.npi.clone(),
            tax_id: self.tax_id.clone(),
            taxonomy: self.taxonomy.trim().to_uppercase(),
            address_line: self.address_line.clone(),
            city: self.city.clone(),
            state: self.state.trim().to_uppercase(),
            zip: self.zip.clone(),
            place_of_service: self.place_of_service.clone(),
        }
    }

    /// The form filled from saved settings.
    pub(crate) fn of(p: &BillingProvider) -> ProviderForm {
        ProviderForm {
            legal_name: p.legal_name.clone(),
            npi: p.npi.clone(),
            tax_id: p.tax_id.clone(),
            taxonomy: p.taxonomy.clone(),
            address_line: p.address_line.clone(),
            city: p.city.clone(),
            state: p.state.clone(),
            zip: p.zip.clone(),
            place_of_service: p.place_of_service.clone(),
        }
    }
}
