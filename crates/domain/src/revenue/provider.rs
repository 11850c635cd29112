//! The billing provider's identifiers as claims carry them: the NPI with its check digit, the
//! employer identification number, the provider taxonomy and the place-of-service code.

use crate::patient::FieldError;

/// Whether `npi` is a well-formed National Provider Identifier: ten digits whose last is the
/// Luhn check digit computed over the prefix 80840 and the first nine (CMS, "Requirements for
/// NPI check digit"). The prefix's doubled digits always add 24, so that constant replaces them.
pub fn npi_is_valid(npi: &str) -> bool {
    let digits: Vec<u32> = npi.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 10 || npi.chars().count() != 10 {
        return false;
    }
    npi_check_digit(&digits[..9]) == Some(digits[9])
}

/// The NPI check digit of nine identifier digits, or `None` if there are not nine digits.
pub fn npi_check_digit(base: &[u32]) -> Option<u32> {
    if base.len() != 9 || base.iter().any(|d| *d > 9) {
        return None;
    }
    // Double every other digit from the rightmost of the nine, as Luhn does.
    let sum: u32 = base
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 0 {
                let doubled = d * 2;
                doubled / 10 + doubled % 10
            } else {
                *d
            }
        })
        .sum::<u32>()
        + 24;
    Some((10 - sum % 10) % 10)
}

/// The employer identification number as nine digits, from "12-3456789" or "123456789";
/// `None` if it is not nine digits or is all zeros.
pub fn normalise_tax_id(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let digits: String = trimmed.chars().filter(|c| c.is_ascii_digit()).collect();
    let only_digits_and_dash = trimmed.chars().all(|c| c.is_ascii_digit() || c == '-');
    (only_digits_and_dash && digits.len() == 9 && digits != "000000000").then_some(digits)
}

/// Whether `code` has the shape of a Health Care Provider Taxonomy code: ten characters,
/// three digits, six letters or digits, then "X" (e.g. 261QR0405X, a substance use disorder
/// rehabilitation clinic). Whether the code exists is NUCC's list, not checked here.
pub fn taxonomy_is_well_formed(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 10
        && b[..3].iter().all(u8::is_ascii_digit)
        && b[3..9]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        && b[9] == b'X'
}

/// The place-of-service codes an intensive outpatient program bills from (CMS place of service
/// code set): code and meaning.
pub const PLACES_OF_SERVICE: &[(&str, &str)] = &[
    ("57", "Non-residential substance abuse treatment facility"),
    ("11", "Office"),
    ("53", "Community mental health center"),
    ("22", "On campus outpatient hospital"),
    ("19", "Off campus outpatient hospital"),
    ("02", "Telehealth provided other than in the patient's home"),
    ("10", "Telehealth provided in the patient's home"),
];

/// The meaning of a place-of-service code this program may use.
pub fn place_of_service(code: &str) -> Option<&'static str> {
    PLACES_OF_SERVICE
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, label)| *label)
}

/// A site's billing-provider settings: who claims from this site are billed as (loop 2010AA).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BillingProvider {
    /// The organisation's legal name, as enrolled with payers.
    pub legal_name: String,
    /// The organisation's (type 2) NPI.
    pub npi: String,
    /// The employer identification number, nine digits.
    pub tax_id: String,
    /// The provider taxonomy code (PRV*BI*PXC).
    pub taxonomy: String,
    /// Street address (a street, not a post-office box, for the billing provider).
    pub address_line: String,
    /// City.
    pub city: String,
    /// Two-letter state code.
    pub state: String,
    /// ZIP code, five or nine digits.
    pub zip: String,
    /// The place-of-service code claims from this site carry.
    pub place_of_service: String,
}

/// The settings with the tax id and ZIP reduced to their digits, or every problem found.
pub fn validate_provider(p: &BillingProvider) -> Result<BillingProvider, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut clean = p.clone();
    for (field, value, max) in [
        ("legal_name", &mut clean.legal_name, 200),
        ("address_line", &mut clean.address_line, 200),
        ("city", &mut clean.city, 100),
    ] {
        *value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        if value.is_empty() {
            errors.push(FieldError::new(field, "is required"));
        } else if value.chars().count() > max {
            errors.push(FieldError::new(
                field,
                format!("must be at most {max} characters"),
            ));
        }
    }
    clean.npi = clean.npi.trim().to_owned();
    if !npi_is_valid(&clean.npi) {
        errors.push(FieldError::new(
            "npi",
            "must be the organisation's ten-digit NPI; this one's check digit does not match",
        ));
    }
    match normalise_tax_id(&clean.tax_id) {
        Some(t) => clean.tax_id = t,
        None => errors.push(FieldError::new(
            "tax_id",
            "must be the nine-digit employer identification number, such as 12-3456789",
        )),
    }
    clean.taxonomy = clean.taxonomy.trim().to_owned();
    if !taxonomy_is_well_formed(&clean.taxonomy) {
        errors.push(FieldError::new(
            "taxonomy",
            "must be a ten-character taxonomy code ending in X, such as 261QR0405X",
        ));
    }
    clean.state = clean.state.trim().to_owned();
    if !(clean.state.len() == 2 && clean.state.bytes().all(|b| b.is_ascii_uppercase())) {
        errors.push(FieldError::new(
            "state",
            "must be the two capital letters of a state, such as NY",
        ));
    }
    let zip: String = clean.zip.chars().filter(|c| c.is_ascii_digit()).collect();
    let zip_shape = clean
        .zip
        .trim()
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-');
    if zip_shape && (zip.len() == 5 || zip.len() == 9) {
        clean.zip = zip;
    } else {
        errors.push(FieldError::new(
            "zip",
            "must be a five- or nine-digit ZIP code",
        ));
    }
    clean.place_of_service = clean.place_of_service.trim().to_owned();
    if place_of_service(&clean.place_of_service).is_none() {
        errors.push(FieldError::new(
            "place_of_service",
            "choose a place of service from the list",
        ));
    }
    if errors.is_empty() {
        Ok(clean)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cms_example_npi_passes_and_any_other_last_digit_fails() {
        // CMS's worked example: identifier 123456789, check digit 3.
        assert_eq!(npi_check_digit(&[1, 2, 3, 4, 5, 6, 7, 8, 9]), Some(3));
        assert!(npi_is_valid("1234567893"));
        for last in ['0', '1', '2', '4', '5', '6', '7', '8', '9'] {
            assert!(!npi_is_valid(&format!("123456789{last}")), "{last}");
        }
    }

    #[test]
    fn an_npi_is_ten_digits_and_nothing_else() {
        for bad in [
            "",
            "123456789",
            "12345678930",
            "123456789a",
            " 1234567893",
            "12345-7893",
        ] {
            assert!(!npi_is_valid(bad), "{bad:?}");
        }
        // Transposing two digits changes the check digit.
        assert!(!npi_is_valid("2134567893"));
        assert!(npi_is_valid("1245319599"));
    }

    #[test]
    fn a_tax_id_is_nine_digits_with_or_without_its_dash() {
        assert_eq!(normalise_tax_id("12-3456789").as_deref(), Some("123456789"));
        assert_eq!(
            normalise_tax_id(" 123456789 ").as_deref(),
            Some("123456789")
        );
        for bad in [
            "12345678",
            "1234567890",
            "12-345678x",
            "000000000",
            "12 3456789",
        ] {
            assert_eq!(normalise_tax_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn taxonomy_codes_have_their_shape() {
        assert!(taxonomy_is_well_formed("261QR0405X"));
        assert!(taxonomy_is_well_formed("324500000X"));
        for bad in ["261qr0405x", "261QR0405", "261QR0405Y", "X61QR0405X"] {
            assert!(!taxonomy_is_well_formed(bad), "{bad}");
        }
    }

    fn clinic() -> BillingProvider {
        BillingProvider {
            legal_name: "Trellis Recovery Center, LLC".into(),
            npi: "1234567893".into(),
            tax_id: "12-3456789".into(),
            taxonomy: "261QR0405X".into(),
            address_line: "100  Main Street".into(),
            city: "Albany".into(),
            state: "NY".into(),
            zip: "12207-1234".into(),
            place_of_service: "57".into(),
        }
    }

    #[test]
    fn provider_settings_are_cleaned_or_every_problem_named() {
        let clean = validate_provider(&clinic()).expect("valid");
        assert_eq!(clean.tax_id, "123456789");
        assert_eq!(clean.zip, "122071234");
        assert_eq!(clean.address_line, "100 Main Street");
        let bad = BillingProvider {
            legal_name: " ".into(),
            npi: "1234567890".into(),
            tax_id: "12-34".into(),
            taxonomy: "261QR0405".into(),
            address_line: String::new(),
            city: String::new(),
            state: "New York".into(),
            zip: "1220".into(),
            place_of_service: "99".into(),
        };
        let fields: Vec<_> = validate_provider(&bad)
            .expect_err("invalid")
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "legal_name",
                "address_line",
                "city",
                "npi",
                "tax_id",
                "taxonomy",
                "state",
                "zip",
                "place_of_service"
            ]
        );
    }

    #[test]
    fn places_of_service_are_known_codes() {
        assert_eq!(
            place_of_service("57"),
            Some("Non-residential substance abuse treatment facility")
        );
        assert_eq!(place_of_service("99"), None);
    }
}
