//! Default texts for the notice that must accompany every consented disclosure (42 CFR 2.32)
//! and for the consent form's statements.
//!
//! These are defaults only: the application keeps the active wording in configuration, where
//! the privacy officer edits it. TO BE VERIFIED against the current eCFR text of §2.32 before
//! release. Statement 1 below paraphrases the 2024 text; its first part follows REFERENCE §5.3,
//! but the list of exceptions at its end was cut off in the stored sources and is written from
//! the 2024 rule's structure (§2.33(b)).

use serde::{Deserialize, Serialize};

/// §2.32(a)(1) Statement 1, the long form (paraphrase; verify against eCFR).
pub const DEFAULT_NOTICE_LONG: &str = "This record has been disclosed to you under the protection of \
federal confidentiality rules (42 CFR part 2). These rules prohibit you from using or disclosing \
this record, or testimony that describes the information it contains, in any civil, criminal, \
administrative or legislative proceeding by any federal, state or local authority against the \
patient, unless the patient consents or a court authorizes it under 42 CFR 2.64 or 2.65 (except as \
42 CFR 2.12(c)(5) provides). The rules also prohibit you from making any other use or disclosure \
of this record unless the patient's written consent expressly permits it or 42 CFR part 2 otherwise \
permits it; you are a covered entity or business associate that received it for treatment, payment \
or health care operations; or you received it from a covered entity or business associate as \
45 CFR part 164 permits. A general authorization to release medical or other information is not \
sufficient for further use or disclosure (see 42 CFR 2.31).";

/// §2.32(a)(2) Statement 2, the short form (2024 wording believed; verify against eCFR).
pub const DEFAULT_NOTICE_SHORT: &str =
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records.";

/// The §2.31(a)(4) statement a TPO consent must carry (default wording).
pub const DEFAULT_TPO_REDISCLOSURE_STATEMENT: &str = "If my records are disclosed for treatment, \
payment or health care operations to a HIPAA covered entity or business associate, they may be \
further disclosed as the HIPAA regulations permit, except for uses and disclosures in civil, \
criminal, administrative or legislative proceedings against me.";

/// The §2.31(a)(6) right-to-revoke statement (default wording).
pub const DEFAULT_REVOCATION_STATEMENT: &str = "I may revoke this consent at any time by telling \
the program in writing, except to the extent that the program or others have already acted in \
reliance on it.";

/// Which of the two §2.32 statements accompanies a disclosure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeForm {
    /// Statement 1.
    Long,
    /// Statement 2.
    Short,
}

impl NoticeForm {
    /// The shipped default wording, before the privacy officer configures it.
    pub fn default_text(self) -> &'static str {
        match self {
            NoticeForm::Long => DEFAULT_NOTICE_LONG,
            NoticeForm::Short => DEFAULT_NOTICE_SHORT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_notice_keeps_the_regulatory_points() {
        let text = NoticeForm::Long.default_text();
        for point in [
            "42 CFR part 2",
            "civil, criminal, administrative or legislative proceeding",
            "against the patient",
            "42 CFR 2.64 or 2.65",
            "written consent",
            "covered entity or business associate",
            "general authorization",
        ] {
            assert!(text.contains(point), "missing {point:?}");
        }
        assert_eq!(NoticeForm::Short.default_text(), DEFAULT_NOTICE_SHORT);
        assert!(DEFAULT_NOTICE_SHORT.contains("use or disclosure"));
        assert!(DEFAULT_TPO_REDISCLOSURE_STATEMENT.contains("proceedings against me"));
        assert!(DEFAULT_REVOCATION_STATEMENT.contains("in writing"));
    }
}
