//! The password policy for every password that is set: a minimum length, not a commonly used
//! password, and hard enough to guess by zxcvbn's estimate (OWASP ASVS 4.0.3 V2.1).

use zxcvbn::feedback::Warning;
use zxcvbn::Score;

use crate::{Result, StoreError};

/// Minimum password length (NIST SP 800-63B favours length over composition rules).
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest password accepted, in characters (hashing cost stays bounded: at most 4 KiB).
pub const MAX_PASSWORD_LEN: usize = 1024;
/// The lowest zxcvbn score accepted: 3 is "safely unguessable" against an online attack
/// that is throttled, and a modest offline one (about 10^8 guesses and more).
pub const MIN_STRENGTH: Score = Score::Three;

/// Words a guesser would try first against this deployment, whoever the user is.
const DEPLOYMENT_WORDS: &[&str] = &["trellis", "iop", "clinic", "counselor", "recovery"];

/// Checks a new password. `about_user` holds what is known about its owner (username, name,
/// email) so that a password built from them scores low. The error says what is wrong and never
/// repeats the password.
pub fn validate_password(password: &str, about_user: &[&str]) -> Result<()> {
    let reason = weakness(password, about_user);
    match reason {
        Some(message) => Err(StoreError::invalid("password", message)),
        None => Ok(()),
    }
}

/// How strong a password is estimated to be, for the meter beside password fields (the rule
/// itself is [`validate_password`], applied when the password is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strength {
    /// zxcvbn's score, 0 (guessed at once) to 4 (very hard); 0 when too short or too long.
    pub score: u8,
    /// Whether the password would be accepted.
    pub acceptable: bool,
    /// What is wrong, when it would not be (never repeats the password).
    pub problem: Option<String>,
}

/// Estimates a password's strength the same way [`validate_password`] decides, without
/// keeping or logging it.
pub fn password_strength(password: &str, about_user: &[&str]) -> Strength {
    let problem = weakness(password, about_user);
    let length = password.chars().count();
    let score = if (MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&length) {
        u8::from(estimate(password, about_user).score())
    } else {
        0
    };
    Strength {
        score,
        acceptable: problem.is_none(),
        problem,
    }
}

fn estimate(password: &str, about_user: &[&str]) -> zxcvbn::Entropy {
    let mut inputs: Vec<&str> = DEPLOYMENT_WORDS.to_vec();
    for item in about_user {
        // Names and emails count word by word ("Casey Counselor", "casey@clinic.org").
        inputs.extend(
            item.split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.chars().count() >= 3),
        );
    }
    zxcvbn::zxcvbn(password, &inputs)
}

fn weakness(password: &str, about_user: &[&str]) -> Option<String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Some(format!("must be at least {MIN_PASSWORD_LEN} characters"));
    }
    if password.chars().count() > MAX_PASSWORD_LEN {
        return Some(format!("must be at most {MAX_PASSWORD_LEN} characters"));
    }
    let estimate = estimate(password, about_user);
    if estimate.score() >= MIN_STRENGTH {
        return None;
    }
    let warning = estimate.feedback().and_then(|f| f.warning());
    // zxcvbn bundles a list of common and breached passwords (ranked by how often they appear
    // in published breaches); its warning says when the password is on it or close to it.
    if matches!(
        warning,
        Some(
            Warning::ThisIsATop10Password
                | Warning::ThisIsATop100Password
                | Warning::ThisIsACommonPassword
                | Warning::ThisIsSimilarToACommonlyUsedPassword
        )
    ) {
        return Some("is on or close to the list of commonly used and breached passwords".into());
    }
    let why = warning
        .map(|w| format!(" ({})", w.to_string().trim_end_matches('.').to_lowercase()))
        .unwrap_or_default();
    Some(format!(
        "is too easy to guess{why}; a few unrelated words make a strong password"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meter_agrees_with_the_rule() {
        let about = ["casey", "Casey Counselor"];
        for (password, acceptable) in [
            ("short", false),
            ("password1234", false),
            ("caseycounselor", false),
            ("trellis-demo-2026", true),
            ("plum orchard lantern seventeen", true),
        ] {
            let strength = password_strength(password, &about);
            assert_eq!(strength.acceptable, acceptable, "{password}");
            assert_eq!(
                strength.acceptable,
                validate_password(password, &about).is_ok()
            );
            assert_eq!(strength.problem.is_none(), acceptable, "{password}");
            if acceptable {
                assert!(strength.score >= u8::from(MIN_STRENGTH), "{password}");
            }
        }
        assert_eq!(password_strength(&"x".repeat(2000), &about).score, 0);
    }

    fn refused(password: &str) -> String {
        weakness(password, &["casey", "Casey Counselor", "casey@example.org"])
            .unwrap_or_else(|| panic!("{password} should be refused"))
    }

    #[test]
    fn the_attack_review_passwords_are_refused() {
        assert!(refused("password1234").contains("commonly used"));
        assert!(refused("aaaaaaaaaaaa").contains("too easy to guess"));
        assert!(
            refused("qwertyuiop123").contains("commonly used")
                || refused("qwertyuiop123").contains("too easy")
        );
    }

    #[test]
    fn length_rule_is_kept_and_the_error_does_not_repeat_the_password() {
        assert_eq!(refused("Xk9#qL2!"), "must be at least 12 characters");
        let long = "x".repeat(MAX_PASSWORD_LEN + 1);
        assert_eq!(refused(&long), "must be at most 1024 characters");
        // Counted in characters, as the OpenAPI document's maxLength is.
        let wide = "é".repeat(MAX_PASSWORD_LEN);
        assert!(weakness(&wide, &[]).is_none_or(|m| !m.contains("at most")));
        let message = refused("password1234");
        assert!(!message.contains("password1234"));
    }

    #[test]
    fn passwords_built_from_the_user_or_the_deployment_are_refused() {
        assert!(refused("caseycounselor").contains("too easy"));
        assert!(refused("trellistrellis").contains("too easy"));
    }

    #[test]
    fn the_demo_password_and_passphrases_pass() {
        for good in [
            "trellis-demo-2026",
            "correct horse battery staple",
            "correct horse battery",
            "violet tugboat marmalade",
        ] {
            assert_eq!(
                weakness(good, &["casey", "Casey Counselor"]),
                None,
                "{good}"
            );
        }
        let demo = zxcvbn::zxcvbn("trellis-demo-2026", DEPLOYMENT_WORDS);
        assert!(demo.score() >= Score::Three);
    }
}
