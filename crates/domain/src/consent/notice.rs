//! The notice that must accompany every consented disclosure (42 CFR 2.32, as amended by the
//! 2024 final rule, 89 FR 12472) and the default wording of the consent form's statements.
//!
//! §2.32(a) requires one of two statements, word for word: the program chooses which, never the
//! words. So the two statements are shipped here verbatim and the privacy officer only picks one;
//! [`NOTICE_VERSION`] names the text's source and is stamped into every packet.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::care::UnknownCode;

/// The rule text the statements below reproduce, stamped into each disclosure packet.
pub const NOTICE_VERSION: &str = "42 CFR 2.32(a) as amended 16 February 2024 (89 FR 12472)";

/// §2.32(a)(1) Statement 1, verbatim.
pub const NOTICE_STATEMENT_1: &str = "This record which has been disclosed to you is protected by \
Federal confidentiality rules (42 CFR part 2). These rules prohibit you from using or disclosing \
this record, or testimony that describes the information contained in this record, in any civil, \
criminal, administrative, or legislative proceedings by any Federal, State, or local authority, \
against the patient, unless authorized by the consent of the patient, except as provided at \
42 CFR 2.12(c)(5) or as authorized by a court in accordance with 42 CFR 2.64 or 2.65. In addition, \
the Federal rules prohibit you from making any other use or disclosure of this record unless at \
least one of the following applies:
(i) Further use or disclosure is expressly permitted by the written consent of the individual \
whose information is being disclosed in this record or as otherwise permitted by 42 CFR part 2.
(ii) You are a covered entity or business associate and have received the record for treatment, \
payment, or health care operations, or
(iii) You have received the record from a covered entity or business associate as permitted by \
45 CFR part 164, subparts A and E.
A general authorization for the release of medical or other information is NOT sufficient to \
meet the required elements of written consent to further use or redisclose the record (see \
42 CFR 2.31).";

/// §2.32(a)(2) Statement 2, verbatim.
pub const NOTICE_STATEMENT_2: &str =
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records.";

/// The §2.31(a)(4) statement a TPO consent must carry (default wording).
pub const DEFAULT_TPO_REDISCLOSURE_STATEMENT: &str = "If my records are disclosed for treatment, \
payment or health care operations to a HIPAA covered entity or business associate, they may be \
further disclosed as the HIPAA regulations permit, except for uses and disclosures in civil, \
criminal, administrative or legislative proceedings against me.";

/// The §2.31(a)(6) right-to-revoke statement (default wording): the right, how, and the
/// reliance exception.
pub const DEFAULT_REVOCATION_STATEMENT: &str = "I may revoke this consent at any time by telling \
the program in writing, except to the extent that the program or others have already acted in \
reliance on it.";

/// Which of the two §2.32 statements accompanies a disclosure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NoticeForm {
    /// Statement 1 (the long form).
    #[default]
    Long,
    /// Statement 2 (the short form).
    Short,
}

impl NoticeForm {
    /// Both statements, in the rule's order.
    pub const ALL: &[NoticeForm] = &[NoticeForm::Long, NoticeForm::Short];

    /// The statement, word for word.
    pub fn text(self) -> &'static str {
        match self {
            NoticeForm::Long => NOTICE_STATEMENT_1,
            NoticeForm::Short => NOTICE_STATEMENT_2,
        }
    }

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            NoticeForm::Long => "statement_1",
            NoticeForm::Short => "statement_2",
        }
    }

    /// The label on the Privacy page.
    pub fn label(self) -> &'static str {
        match self {
            NoticeForm::Long => "Statement 1 (§2.32(a)(1), long form)",
            NoticeForm::Short => "Statement 2 (§2.32(a)(2), short form)",
        }
    }
}

impl fmt::Display for NoticeForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for NoticeForm {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        NoticeForm::ALL
            .iter()
            .copied()
            .find(|f| f.code() == s)
            .ok_or_else(|| UnknownCode {
                kind: "notice statement",
                code: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_1_is_the_rule_text() {
        let text = NoticeForm::Long.text();
        assert!(text.starts_with(
            "This record which has been disclosed to you is protected by Federal \
             confidentiality rules (42 CFR part 2). These rules prohibit you from using or \
             disclosing this record, or testimony that describes the information contained in \
             this record, in any civil, criminal, administrative, or legislative proceedings by \
             any Federal, State, or local authority, against the patient, unless authorized by \
             the consent of the patient, except as provided at 42 CFR 2.12(c)(5) or as \
             authorized by a court in accordance with 42 CFR 2.64 or 2.65."
        ));
        for part in [
            "(i) Further use or disclosure is expressly permitted",
            "(ii) You are a covered entity or business associate",
            "(iii) You have received the record from a covered entity",
            "is NOT sufficient to meet the required elements of written consent",
        ] {
            assert!(text.contains(part), "missing {part:?}");
        }
    }

    #[test]
    fn statement_2_is_the_rule_text() {
        assert_eq!(
            NoticeForm::Short.text(),
            "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
        );
    }

    #[test]
    fn only_the_two_statements_can_be_chosen() {
        for form in NoticeForm::ALL {
            assert_eq!(form.code().parse(), Ok(*form));
        }
        assert!("my own words".parse::<NoticeForm>().is_err());
        assert_eq!(NoticeForm::default(), NoticeForm::Long);
    }

    #[test]
    fn default_statements_carry_the_required_elements() {
        assert!(DEFAULT_TPO_REDISCLOSURE_STATEMENT.contains("proceedings against me"));
        assert!(DEFAULT_REVOCATION_STATEMENT.contains("in writing"));
        assert!(DEFAULT_REVOCATION_STATEMENT.contains("reliance"));
    }
}
