//! Disclosures that need no patient consent: a court order (§§2.61–2.67), an audit or
//! evaluation (§2.53), research (§2.52) and a qualified service organisation agreement (§2.11,
//! §2.12(c)(4)). Each is recorded with what the rule requires before anything may leave under
//! it, and each disclosure must stay within what was recorded: the recipient, the information and
//! the period.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::directory::RecipientKind;
use super::model::{code_list, InformationCategory};
use crate::care::UnknownCode;

/// What lets information leave without the patient's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorityKind {
    /// An order of a court of competent jurisdiction (§§2.61–2.67).
    CourtOrder,
    /// A qualified service organisation agreement (§2.11, §2.12(c)(4)).
    QualifiedService,
    /// An audit or evaluation under a written agreement (§2.53).
    AuditEvaluation,
    /// Research approved or waived by an IRB or privacy board (§2.52).
    Research,
}

code_list!(AuthorityKind, "kind of authority", [
    CourtOrder => "court_order", "Court order (42 CFR 2.61–2.67)";
    QualifiedService => "qualified_service", "Qualified service organisation agreement (42 CFR 2.11)";
    AuditEvaluation => "audit_evaluation", "Audit or evaluation agreement (42 CFR 2.53)";
    Research => "research", "Research with IRB or privacy board approval (42 CFR 2.52)";
]);

/// The paper a court or party sent. Only an order authorises anything (§2.61).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CourtDocument {
    /// An order made under §§2.64–2.67, with the findings the rule requires.
    Order,
    /// A subpoena (or other compulsory process) without such an order.
    Subpoena,
}

code_list!(CourtDocument, "court document", [
    Order => "order", "Court order with the Part 2 findings";
    Subpoena => "subpoena", "Subpoena only";
]);

/// Why the court ordered the disclosure: decides which findings the order must contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderPurpose {
    /// Noncriminal purposes (§2.64).
    Noncriminal,
    /// Investigating or prosecuting the patient for a crime (§2.65).
    CriminalCaseAgainstPatient,
    /// Investigating or prosecuting the program or the person holding the records (§2.66).
    InvestigationOfProgram,
}

code_list!(OrderPurpose, "order purpose", [
    Noncriminal => "noncriminal", "Noncriminal purposes (42 CFR 2.64)";
    CriminalCaseAgainstPatient => "criminal_case_against_patient", "Criminal investigation or prosecution of the patient (42 CFR 2.65)";
    InvestigationOfProgram => "investigation_of_program", "Investigation or prosecution of the program (42 CFR 2.66)";
]);

/// The narrow grounds on which an order may reach confidential communications (§2.63(a)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommunicationsGround {
    /// To protect against an existing threat to life or of serious bodily injury (§2.63(a)(1)).
    ThreatToLife,
    /// In connection with investigating or prosecuting an extremely serious crime (§2.63(a)(2)).
    ExtremelySeriousCrime,
    /// The patient offers testimony or evidence about the communications (§2.63(a)(3)).
    PatientOfferedTestimony,
}

code_list!(CommunicationsGround, "confidential communications ground", [
    ThreatToLife => "threat_to_life", "Threat to life or of serious bodily injury (42 CFR 2.63(a)(1))";
    ExtremelySeriousCrime => "extremely_serious_crime", "Extremely serious crime (42 CFR 2.63(a)(2))";
    PatientOfferedTestimony => "patient_offered_testimony", "The patient offers testimony about them (42 CFR 2.63(a)(3))";
]);

/// Who an auditor or evaluator acts for (§2.53(a), (c)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditBody {
    /// A federal, state or local agency that funds or regulates the program.
    GovernmentAgency,
    /// A third-party payer or health plan covering the patients.
    Payer,
    /// A quality improvement organisation.
    QualityImprovement,
    /// An accreditor or other person the program judges qualified.
    Qualified,
}

code_list!(AuditBody, "audit body", [
    GovernmentAgency => "government_agency", "Government agency that funds or regulates the program";
    Payer => "payer", "Third-party payer or health plan";
    QualityImprovement => "quality_improvement", "Quality improvement organisation";
    Qualified => "qualified", "Other qualified auditor or evaluator (e.g. accreditor)";
]);

/// Whether the board approved the research or waived the patients' authorisation (§2.52(a)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoardDetermination {
    /// Approved, with the patients' informed consent to the research.
    Approval,
    /// Authorisation or informed consent waived.
    Waiver,
}

code_list!(BoardDetermination, "board determination", [
    Approval => "approval", "Approval";
    Waiver => "waiver", "Waiver of authorisation";
]);

/// What the rule requires recorded for each kind, beyond recipient, information and period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Terms {
    /// A court order about one patient.
    CourtOrder(CourtOrder),
    /// A qualified service organisation agreement.
    QualifiedService {
        /// The services the contractor provides (data processing, billing, laboratory, …).
        services: String,
    },
    /// An audit or evaluation agreement.
    AuditEvaluation {
        /// Who the auditor acts for.
        body: AuditBody,
        /// The body's name.
        body_name: String,
        /// What the audit or evaluation covers.
        scope: String,
    },
    /// Research.
    Research {
        /// The IRB or privacy board.
        board: String,
        /// The day the board decided.
        decided_on: Option<NaiveDate>,
        /// The protocol's number or title.
        protocol: String,
        /// Approval or waiver.
        determination: BoardDetermination,
    },
}

/// A court order as the privacy officer read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourtOrder {
    /// An order, or a subpoena alone.
    pub document: CourtDocument,
    /// The court.
    pub court: String,
    /// The case or docket number.
    pub case_number: String,
    /// Why it was ordered.
    pub purpose: OrderPurpose,
    /// §2.64(d)(1): other ways of obtaining the information are unavailable or ineffective.
    pub other_means_unavailable: bool,
    /// §2.64(d)(2): the public interest outweighs the injury to the patient, the relationship
    /// and the treatment services.
    pub public_interest_outweighs: bool,
    /// §2.65(d)(1): the crime is extremely serious (threatens life or serious bodily injury).
    pub extremely_serious_crime: bool,
    /// §2.65(d)(2): the records are reasonably likely to hold information of substantial value.
    pub substantial_value: bool,
    /// §2.65(d)(5): the program had the chance to be represented by independent counsel.
    pub program_heard: bool,
    /// §2.63: the ground on which the order reaches confidential communications, if it does.
    pub communications_ground: Option<CommunicationsGround>,
    /// §2.64(e)(3): the measures the order imposes to protect the patient (sealing, …).
    pub protective_measures: String,
}

/// An authority as recorded: its terms and the limits every disclosure under it must keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authority {
    /// The kind's terms.
    pub terms: Terms,
    /// The one directory entry information may go to.
    pub recipient_id: i64,
    /// That entry's class, from the directory.
    pub recipient_kind: RecipientKind,
    /// Only these categories (§2.64(e)(1): the parts essential to the purpose).
    pub categories: BTreeSet<InformationCategory>,
    /// The day the order was made or the agreement signed.
    pub dated_on: Option<NaiveDate>,
    /// The first day disclosures may be made.
    pub starts_on: Option<NaiveDate>,
    /// The last day.
    pub ends_on: Option<NaiveDate>,
    /// The written undertaking the rule requires of the recipient: for a QSO, to be bound by
    /// Part 2 and resist judicial efforts to obtain the records (§2.11); for an auditor or
    /// researcher, not to redisclose except as the rule allows (§2.53, §2.52).
    pub recipient_bound: bool,
    /// When it was ended before its last day (an order vacated, an agreement terminated):
    /// from then on it authorises nothing.
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
}

impl Authority {
    /// The kind of authority.
    pub fn kind(&self) -> AuthorityKind {
        match self.terms {
            Terms::CourtOrder(_) => AuthorityKind::CourtOrder,
            Terms::QualifiedService { .. } => AuthorityKind::QualifiedService,
            Terms::AuditEvaluation { .. } => AuthorityKind::AuditEvaluation,
            Terms::Research { .. } => AuthorityKind::Research,
        }
    }

    /// The "clear explanation" that goes with the packet in place of a consent's scope.
    pub fn scope_summary(&self, recipient_name: &str) -> String {
        let info = self
            .categories
            .iter()
            .map(|c| c.label())
            .collect::<Vec<_>>()
            .join(", ");
        let period = format!(
            "from {} to {}",
            self.starts_on.map_or_else(String::new, crate::readable_day),
            self.ends_on.map_or_else(String::new, crate::readable_day)
        );
        let basis = match &self.terms {
            Terms::CourtOrder(o) => format!(
                "Disclosed without the patient's consent under an order of {} (case {}, dated {}), {}. Protective measures ordered: {}",
                o.court,
                o.case_number,
                self.dated_on.map_or_else(String::new, crate::readable_day),
                o.purpose.label(),
                o.protective_measures
            ),
            Terms::QualifiedService { services } => format!(
                "Disclosed without the patient's consent to a qualified service organisation under its agreement with the program (42 CFR 2.11, 2.12(c)(4)), for: {services}"
            ),
            Terms::AuditEvaluation { body_name, scope, .. } => format!(
                "Disclosed without the patient's consent for an audit or evaluation on behalf of {body_name} (42 CFR 2.53), covering: {scope}. The auditor agreed in writing not to redisclose except as 42 CFR 2.53 allows"
            ),
            Terms::Research { board, protocol, determination, .. } => format!(
                "Disclosed without the patient's consent for research (42 CFR 2.52), protocol {protocol}, {} by {board}. The researcher agreed in writing not to redisclose except as 42 CFR 2.52 allows",
                determination.label().to_lowercase()
            ),
        };
        format!("{basis}. Recipient: {recipient_name}. Information: {info}. Period: {period}.")
    }
}

/// Why an authority cannot be recorded as it stands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityProblem {
    /// A required field is empty (the field's name).
    #[error("is required")]
    Missing(&'static str),
    /// §2.61: a subpoena compels no disclosure and authorises none.
    #[error("a subpoena alone never authorises disclosure of Part 2 records: the court must also issue an order with the findings of 42 CFR 2.64–2.67 (42 CFR 2.61); answer the subpoena without disclosing, or seek the patient's consent")]
    SubpoenaAlone,
    /// §2.64(d): both good-cause findings are required of every order.
    #[error("the order must find that other ways of obtaining the information are unavailable or ineffective, and that the public interest outweighs the injury to the patient, the relationship and the treatment services (42 CFR 2.64(d))")]
    GoodCauseNotFound,
    /// §2.65(d): an order against the patient needs the stricter criteria.
    #[error("an order for a criminal investigation or prosecution of the patient must also find an extremely serious crime, a reasonable likelihood of information of substantial value, and that the program could be represented by independent counsel (42 CFR 2.65(d))")]
    CriminalCriteriaNotFound,
    /// §2.63: confidential communications need one of the narrow grounds.
    #[error("assessments and SUD counseling notes hold the patient's confidential communications: the order must state one of the grounds of 42 CFR 2.63(a)")]
    CommunicationsWithoutGround,
    /// §2.63(a)(2): the extremely-serious-crime ground is for an order of §2.65.
    #[error("the extremely-serious-crime ground (42 CFR 2.63(a)(2)) belongs to an order for the investigation or prosecution of the patient (42 CFR 2.65)")]
    CrimeGroundWithoutCriminalOrder,
    /// §2.31(b): counseling notes leave only under their own consent.
    #[error(
        "SUD counseling notes are disclosed only under a consent of their own (42 CFR 2.31(b))"
    )]
    CounselingNotes,
    /// §2.11: a QSO is a contractor of the program-operations class.
    #[error("a qualified service organisation must be a directory entry of the class \"{}\"", RecipientKind::ProgramOperations.label())]
    NotAContractor,
    /// The recipient did not give the written undertaking.
    #[error("{}", bound_message(.0))]
    RecipientNotBound(AuthorityKind),
    /// The period ends before it starts.
    #[error("the period ends before it starts")]
    PeriodReversed,
    /// A date is after today.
    #[error("cannot be in the future")]
    InFuture,
}

fn bound_message(kind: &AuthorityKind) -> &'static str {
    match kind {
        AuthorityKind::QualifiedService => "the agreement must say the contractor is fully bound by 42 CFR part 2 and will resist in judicial proceedings any effort to obtain the records except as the rule permits (42 CFR 2.11)",
        AuthorityKind::AuditEvaluation => "the auditor or evaluator must agree in writing not to redisclose patient identifying information except as 42 CFR 2.53 allows",
        AuthorityKind::Research => "the researcher must agree in writing to protect the information and not redisclose it except as 42 CFR 2.52 allows",
        AuthorityKind::CourtOrder => "the order must limit disclosure to the persons who need the information",
    }
}

/// Categories holding what the patient told the program in diagnosis and treatment, which an
/// order reaches only on the §2.63 grounds.
pub fn confidential_communications(category: InformationCategory) -> bool {
    matches!(
        category,
        InformationCategory::Assessment | InformationCategory::CounselingNotes
    )
}

fn required(field: &'static str, text: &str, problems: &mut Vec<(&'static str, AuthorityProblem)>) {
    if text.trim().is_empty() {
        problems.push((field, AuthorityProblem::Missing(field)));
    }
}

fn court_order_problems(
    order: &CourtOrder,
    authority: &Authority,
) -> Vec<(&'static str, AuthorityProblem)> {
    let mut problems = Vec::new();
    if order.document == CourtDocument::Subpoena {
        // Nothing else matters: no finding turns a subpoena into an authority.
        return vec![("document", AuthorityProblem::SubpoenaAlone)];
    }
    required("court", &order.court, &mut problems);
    required("case_number", &order.case_number, &mut problems);
    required(
        "protective_measures",
        &order.protective_measures,
        &mut problems,
    );
    if !(order.other_means_unavailable && order.public_interest_outweighs) {
        problems.push(("findings", AuthorityProblem::GoodCauseNotFound));
    }
    if order.purpose == OrderPurpose::CriminalCaseAgainstPatient
        && !(order.extremely_serious_crime && order.substantial_value && order.program_heard)
    {
        problems.push(("findings", AuthorityProblem::CriminalCriteriaNotFound));
    }
    match order.communications_ground {
        None if authority
            .categories
            .iter()
            .any(|c| confidential_communications(*c)) =>
        {
            problems.push((
                "communications_ground",
                AuthorityProblem::CommunicationsWithoutGround,
            ));
        }
        Some(CommunicationsGround::ExtremelySeriousCrime)
            if order.purpose != OrderPurpose::CriminalCaseAgainstPatient =>
        {
            problems.push((
                "communications_ground",
                AuthorityProblem::CrimeGroundWithoutCriminalOrder,
            ));
        }
        _ => {}
    }
    problems
}

/// Checks an authority before it is recorded, as of `today`: the findings or agreement the rule
/// requires for its kind, and limits every disclosure can be held to. Each problem comes with
/// the field it belongs to.
pub fn validate_authority(
    authority: &Authority,
    today: NaiveDate,
) -> Result<(), Vec<(&'static str, AuthorityProblem)>> {
    let kind = authority.kind();
    let mut problems = match &authority.terms {
        Terms::CourtOrder(order) => court_order_problems(order, authority),
        Terms::QualifiedService { services } => {
            let mut p = Vec::new();
            required("services", services, &mut p);
            if authority.recipient_kind != RecipientKind::ProgramOperations {
                p.push(("recipient_id", AuthorityProblem::NotAContractor));
            }
            p
        }
        Terms::AuditEvaluation {
            body_name, scope, ..
        } => {
            let mut p = Vec::new();
            required("body_name", body_name, &mut p);
            required("scope", scope, &mut p);
            p
        }
        Terms::Research {
            board,
            decided_on,
            protocol,
            ..
        } => {
            let mut p = Vec::new();
            required("board", board, &mut p);
            required("protocol", protocol, &mut p);
            match decided_on {
                None => p.push(("decided_on", AuthorityProblem::Missing("decided_on"))),
                Some(day) if *day > today => p.push(("decided_on", AuthorityProblem::InFuture)),
                Some(_) => {}
            }
            p
        }
    };
    if problems
        .first()
        .is_some_and(|(_, p)| *p == AuthorityProblem::SubpoenaAlone)
    {
        return Err(problems);
    }
    if kind != AuthorityKind::CourtOrder && !authority.recipient_bound {
        problems.push(("recipient_bound", AuthorityProblem::RecipientNotBound(kind)));
    }
    if authority.categories.is_empty() {
        problems.push(("categories", AuthorityProblem::Missing("categories")));
    }
    if authority
        .categories
        .contains(&InformationCategory::CounselingNotes)
    {
        problems.push(("categories", AuthorityProblem::CounselingNotes));
    }
    match authority.dated_on {
        None => problems.push(("dated_on", AuthorityProblem::Missing("dated_on"))),
        Some(day) if day > today => problems.push(("dated_on", AuthorityProblem::InFuture)),
        Some(_) => {}
    }
    match (authority.starts_on, authority.ends_on) {
        (None, _) => problems.push(("starts_on", AuthorityProblem::Missing("starts_on"))),
        (_, None) => problems.push(("ends_on", AuthorityProblem::Missing("ends_on"))),
        (Some(start), Some(end)) if end < start => {
            problems.push(("ends_on", AuthorityProblem::PeriodReversed))
        }
        _ => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Why a disclosure under an authority may not go ahead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityRefusal {
    /// §2.61: only an order with findings authorises; a subpoena never does.
    #[error("a subpoena alone never authorises disclosure of Part 2 records (42 CFR 2.61)")]
    SubpoenaAlone,
    /// The recipient is not the one the order or agreement names.
    #[error("the {} names another recipient", .0.label())]
    OtherRecipient(AuthorityKind),
    /// Some information is outside what the order or agreement allows.
    #[error("the {} does not cover: {}", .kind.label(), .not_covered.iter().map(|c| c.label()).collect::<Vec<_>>().join(", "))]
    InformationNotCovered {
        /// The kind of authority.
        kind: AuthorityKind,
        /// What it does not cover.
        not_covered: Vec<InformationCategory>,
    },
    /// The day is outside the order's or agreement's period.
    #[error("the {} covers {starts_on} to {ends_on} only", .kind.label())]
    OutsidePeriod {
        /// The kind of authority.
        kind: AuthorityKind,
        /// First day.
        starts_on: NaiveDate,
        /// Last day.
        ends_on: NaiveDate,
    },
    /// A court order is about another patient.
    #[error("the court order is about another patient")]
    OtherPatient,
    /// §2.31(b).
    #[error(
        "SUD counseling notes are disclosed only under a consent of their own (42 CFR 2.31(b))"
    )]
    CounselingNotes,
    /// Nothing chosen.
    #[error("the request does not say what information would be disclosed")]
    NothingRequested,
    /// Ended early (vacated, terminated): it authorises nothing after its end.
    #[error("the {} was ended on {ended_on} and authorises nothing since", .kind.label())]
    Ended {
        /// The kind of authority.
        kind: AuthorityKind,
        /// The day it was ended (UTC).
        ended_on: NaiveDate,
    },
}

impl AuthorityRefusal {
    /// A stable code for the reason, for the API and the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            AuthorityRefusal::SubpoenaAlone => "subpoena_alone",
            AuthorityRefusal::OtherRecipient(_) => "different_recipient",
            AuthorityRefusal::InformationNotCovered { .. } => "information_not_covered",
            AuthorityRefusal::OutsidePeriod { .. } => "outside_period",
            AuthorityRefusal::OtherPatient => "different_patient",
            AuthorityRefusal::CounselingNotes => "counseling_notes_need_consent",
            AuthorityRefusal::NothingRequested => "nothing_requested",
            AuthorityRefusal::Ended { .. } => "authority_ended",
        }
    }
}

/// A proposed disclosure under an authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorisedRequest {
    /// The directory entry it would go to.
    pub recipient_id: i64,
    /// What would be sent.
    pub categories: BTreeSet<InformationCategory>,
    /// The day, on the patient's site calendar.
    pub on: NaiveDate,
    /// The instant (against an early end).
    pub at: DateTime<Utc>,
    /// Whether the patient is the one a court order is about (always true for agreements,
    /// which cover the program's patients).
    pub patient_named: bool,
}

/// Decides whether `authority` allows `request`: only an order (never a subpoena), only to the
/// recipient it names, only the information it lists and only within its period (§2.64(e),
/// §2.53, §2.52, §2.12(c)(4)).
pub fn check_authorised(
    authority: &Authority,
    request: &AuthorisedRequest,
) -> Result<(), AuthorityRefusal> {
    let kind = authority.kind();
    if let Terms::CourtOrder(order) = &authority.terms {
        if order.document == CourtDocument::Subpoena {
            return Err(AuthorityRefusal::SubpoenaAlone);
        }
        if !request.patient_named {
            return Err(AuthorityRefusal::OtherPatient);
        }
    }
    if let Some(ended_at) = authority.ended_at.filter(|end| *end <= request.at) {
        return Err(AuthorityRefusal::Ended {
            kind,
            ended_on: ended_at.date_naive(),
        });
    }
    if request.categories.is_empty() {
        return Err(AuthorityRefusal::NothingRequested);
    }
    if request
        .categories
        .contains(&InformationCategory::CounselingNotes)
    {
        return Err(AuthorityRefusal::CounselingNotes);
    }
    if request.recipient_id != authority.recipient_id {
        return Err(AuthorityRefusal::OtherRecipient(kind));
    }
    let not_covered: Vec<InformationCategory> = request
        .categories
        .difference(&authority.categories)
        .copied()
        .collect();
    if !not_covered.is_empty() {
        return Err(AuthorityRefusal::InformationNotCovered { kind, not_covered });
    }
    match (authority.starts_on, authority.ends_on) {
        (Some(starts_on), Some(ends_on)) if (starts_on..=ends_on).contains(&request.on) => Ok(()),
        (starts_on, ends_on) => Err(AuthorityRefusal::OutsidePeriod {
            kind,
            starts_on: starts_on.unwrap_or(NaiveDate::MIN),
            ends_on: ends_on.unwrap_or(NaiveDate::MIN),
        }),
    }
}

/// Why an order or agreement cannot be corrected or ended as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityChangeProblem {
    /// Every correction and early end keeps why (the court vacated it, a typing error…).
    #[error("say why: the reason is kept with the record")]
    NoReason,
    /// Already ended: it stays ended, and a correction cannot bring it back.
    #[error("was already ended")]
    AlreadyEnded,
    /// Its period is over: there is nothing left to end.
    #[error("its period ended on {0}: there is nothing left to end")]
    AlreadyOver(NaiveDate),
    /// A correction may not turn one kind of authority into another.
    #[error("a correction keeps the kind ({}); record a new one instead", .0.label())]
    KindChanged(AuthorityKind),
}

/// Checks ending `authority` early on `today` (the site's day) with `reason`.
pub fn validate_early_end(
    authority: &Authority,
    today: NaiveDate,
    reason: &str,
) -> Result<(), AuthorityChangeProblem> {
    if authority.ended_at.is_some() {
        return Err(AuthorityChangeProblem::AlreadyEnded);
    }
    if let Some(last) = authority.ends_on.filter(|last| *last < today) {
        return Err(AuthorityChangeProblem::AlreadyOver(last));
    }
    if reason.trim().is_empty() {
        return Err(AuthorityChangeProblem::NoReason);
    }
    Ok(())
}

/// Checks correcting `current` into `corrected` with `reason`: same kind, not ended, a reason.
/// The corrected authority is then validated like a new one ([`validate_authority`]).
pub fn validate_correction(
    current: &Authority,
    corrected: &Authority,
    reason: &str,
) -> Result<(), AuthorityChangeProblem> {
    if current.ended_at.is_some() {
        return Err(AuthorityChangeProblem::AlreadyEnded);
    }
    if current.kind() != corrected.kind() {
        return Err(AuthorityChangeProblem::KindChanged(current.kind()));
    }
    if reason.trim().is_empty() {
        return Err(AuthorityChangeProblem::NoReason);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn order() -> CourtOrder {
        CourtOrder {
            document: CourtDocument::Order,
            court: "County Superior Court".into(),
            case_number: "FC-2026-118".into(),
            purpose: OrderPurpose::Noncriminal,
            other_means_unavailable: true,
            public_interest_outweighs: true,
            extremely_serious_crime: false,
            substantial_value: false,
            program_heard: false,
            communications_ground: None,
            protective_measures: "Filed under seal".into(),
        }
    }

    fn authority(terms: Terms) -> Authority {
        Authority {
            terms,
            recipient_id: 7,
            recipient_kind: RecipientKind::Court,
            categories: [
                InformationCategory::Attendance,
                InformationCategory::Diagnoses,
            ]
            .into_iter()
            .collect(),
            dated_on: Some(day(2026, 11, 2)),
            starts_on: Some(day(2026, 11, 2)),
            ends_on: Some(day(2026, 12, 31)),
            recipient_bound: false,
            ended_at: None,
        }
    }

    fn request(categories: &[InformationCategory], on: NaiveDate) -> AuthorisedRequest {
        AuthorisedRequest {
            recipient_id: 7,
            categories: categories.iter().copied().collect(),
            on,
            at: on.and_hms_opt(12, 0, 0).unwrap().and_utc(),
            patient_named: true,
        }
    }

    fn fields(result: Result<(), Vec<(&'static str, AuthorityProblem)>>) -> Vec<&'static str> {
        result
            .err()
            .unwrap_or_default()
            .iter()
            .map(|(f, _)| *f)
            .collect()
    }

    const TODAY: (i32, u32, u32) = (2026, 12, 7);

    fn today() -> NaiveDate {
        day(TODAY.0, TODAY.1, TODAY.2)
    }

    #[test]
    fn a_subpoena_alone_is_never_enough_2_61() {
        let mut o = order();
        o.document = CourtDocument::Subpoena;
        let a = authority(Terms::CourtOrder(o));
        assert_eq!(
            validate_authority(&a, today()),
            Err(vec![("document", AuthorityProblem::SubpoenaAlone)])
        );
        assert_eq!(
            check_authorised(&a, &request(&[InformationCategory::Attendance], today())),
            Err(AuthorityRefusal::SubpoenaAlone)
        );
        assert!(AuthorityProblem::SubpoenaAlone
            .to_string()
            .contains("subpoena alone never authorises"));
    }

    #[test]
    fn an_order_needs_both_good_cause_findings_2_64_d() {
        assert_eq!(
            validate_authority(&authority(Terms::CourtOrder(order())), today()),
            Ok(())
        );
        for unfound in [0, 1] {
            let mut o = order();
            if unfound == 0 {
                o.other_means_unavailable = false;
            } else {
                o.public_interest_outweighs = false;
            }
            assert_eq!(
                validate_authority(&authority(Terms::CourtOrder(o)), today()),
                Err(vec![("findings", AuthorityProblem::GoodCauseNotFound)])
            );
        }
    }

    #[test]
    fn an_order_against_the_patient_needs_the_stricter_criteria_2_65_d() {
        let mut o = order();
        o.purpose = OrderPurpose::CriminalCaseAgainstPatient;
        o.extremely_serious_crime = true;
        o.substantial_value = true;
        assert_eq!(
            validate_authority(&authority(Terms::CourtOrder(o.clone())), today()),
            Err(vec![(
                "findings",
                AuthorityProblem::CriminalCriteriaNotFound
            )])
        );
        o.program_heard = true;
        assert_eq!(
            validate_authority(&authority(Terms::CourtOrder(o)), today()),
            Ok(())
        );
        // An order investigating the program (§2.66) needs the §2.64(d) findings only.
        let mut p = order();
        p.purpose = OrderPurpose::InvestigationOfProgram;
        assert_eq!(
            validate_authority(&authority(Terms::CourtOrder(p)), today()),
            Ok(())
        );
    }

    #[test]
    fn confidential_communications_only_on_the_narrow_grounds_2_63() {
        let mut a = authority(Terms::CourtOrder(order()));
        a.categories.insert(InformationCategory::Assessment);
        assert_eq!(
            fields(validate_authority(&a, today())),
            ["communications_ground"]
        );
        let mut o = order();
        o.communications_ground = Some(CommunicationsGround::ExtremelySeriousCrime);
        a.terms = Terms::CourtOrder(o.clone());
        assert_eq!(
            validate_authority(&a, today()),
            Err(vec![(
                "communications_ground",
                AuthorityProblem::CrimeGroundWithoutCriminalOrder
            )])
        );
        o.communications_ground = Some(CommunicationsGround::ThreatToLife);
        a.terms = Terms::CourtOrder(o);
        assert_eq!(validate_authority(&a, today()), Ok(()));
    }

    #[test]
    fn an_order_records_court_case_protective_measures_and_a_period_2_64_e() {
        let mut o = order();
        o.court = " ".into();
        o.case_number = String::new();
        o.protective_measures = String::new();
        let mut a = authority(Terms::CourtOrder(o));
        a.categories.clear();
        a.ends_on = Some(day(2026, 10, 1));
        a.dated_on = Some(day(2027, 1, 1));
        assert_eq!(
            fields(validate_authority(&a, today())),
            [
                "court",
                "case_number",
                "protective_measures",
                "categories",
                "dated_on",
                "ends_on"
            ]
        );
    }

    #[test]
    fn disclosures_stay_within_the_orders_limits_2_64_e() {
        let a = authority(Terms::CourtOrder(order()));
        let inside = day(2026, 12, 7);
        assert_eq!(
            check_authorised(&a, &request(&[InformationCategory::Attendance], inside)),
            Ok(())
        );
        assert_eq!(
            check_authorised(
                &a,
                &request(
                    &[
                        InformationCategory::Attendance,
                        InformationCategory::Medications
                    ],
                    inside
                )
            ),
            Err(AuthorityRefusal::InformationNotCovered {
                kind: AuthorityKind::CourtOrder,
                not_covered: vec![InformationCategory::Medications]
            })
        );
        let mut elsewhere = request(&[InformationCategory::Attendance], inside);
        elsewhere.recipient_id = 8;
        assert_eq!(
            check_authorised(&a, &elsewhere),
            Err(AuthorityRefusal::OtherRecipient(AuthorityKind::CourtOrder))
        );
        let late = check_authorised(
            &a,
            &request(&[InformationCategory::Attendance], day(2027, 1, 1)),
        );
        assert_eq!(
            late.as_ref().map_err(AuthorityRefusal::code),
            Err("outside_period")
        );
        let mut other = request(&[InformationCategory::Attendance], inside);
        other.patient_named = false;
        assert_eq!(
            check_authorised(&a, &other),
            Err(AuthorityRefusal::OtherPatient)
        );
    }

    #[test]
    fn a_qso_is_a_bound_contractor_and_only_within_its_dates_2_11_2_12_c_4() {
        let mut a = authority(Terms::QualifiedService {
            services: "Billing and claims submission".into(),
        });
        assert_eq!(
            fields(validate_authority(&a, today())),
            ["recipient_id", "recipient_bound"]
        );
        a.recipient_kind = RecipientKind::ProgramOperations;
        a.recipient_bound = true;
        assert_eq!(validate_authority(&a, today()), Ok(()));
        assert_eq!(
            check_authorised(
                &a,
                &request(&[InformationCategory::Diagnoses], day(2026, 11, 2))
            ),
            Ok(())
        );
        assert_eq!(
            check_authorised(
                &a,
                &request(&[InformationCategory::Diagnoses], day(2026, 11, 1))
            )
            .map_err(|r| r.code()),
            Err("outside_period")
        );
    }

    #[test]
    fn an_auditor_agrees_in_writing_not_to_redisclose_2_53() {
        let mut a = authority(Terms::AuditEvaluation {
            body: AuditBody::GovernmentAgency,
            body_name: "State licensing agency".into(),
            scope: String::new(),
        });
        a.recipient_kind = RecipientKind::Other;
        assert_eq!(
            fields(validate_authority(&a, today())),
            ["scope", "recipient_bound"]
        );
        assert!(
            AuthorityProblem::RecipientNotBound(AuthorityKind::AuditEvaluation)
                .to_string()
                .contains("not to redisclose")
        );
    }

    #[test]
    fn research_needs_the_boards_decision_and_the_researchers_agreement_2_52() {
        let mut a = authority(Terms::Research {
            board: String::new(),
            decided_on: None,
            protocol: String::new(),
            determination: BoardDetermination::Waiver,
        });
        a.recipient_bound = true;
        assert_eq!(
            fields(validate_authority(&a, today())),
            ["board", "protocol", "decided_on"]
        );
        a.terms = Terms::Research {
            board: "University IRB".into(),
            decided_on: Some(day(2026, 10, 1)),
            protocol: "IRB-2026-0412".into(),
            determination: BoardDetermination::Waiver,
        };
        assert_eq!(validate_authority(&a, today()), Ok(()));
        assert!(a.scope_summary("Dr Researcher").contains("IRB-2026-0412"));
    }

    #[test]
    fn counseling_notes_never_leave_without_their_own_consent_2_31_b() {
        let mut a = authority(Terms::CourtOrder(order()));
        a.categories.insert(InformationCategory::CounselingNotes);
        assert!(fields(validate_authority(&a, today())).contains(&"categories"));
        assert_eq!(
            check_authorised(
                &a,
                &request(&[InformationCategory::CounselingNotes], today())
            ),
            Err(AuthorityRefusal::CounselingNotes)
        );
    }

    #[test]
    fn an_ended_order_authorises_nothing_after_its_end() {
        let mut order = authority(Terms::CourtOrder(order()));
        let req = request(&[InformationCategory::Diagnoses], day(2026, 11, 20));
        assert_eq!(check_authorised(&order, &req), Ok(()));
        // Ended later the same day: the morning's request was within it.
        order.ended_at = Some(day(2026, 11, 20).and_hms_opt(15, 0, 0).unwrap().and_utc());
        assert_eq!(check_authorised(&order, &req), Ok(()));
        let later = AuthorisedRequest {
            at: day(2026, 11, 20).and_hms_opt(16, 0, 0).unwrap().and_utc(),
            ..req.clone()
        };
        let refusal = check_authorised(&order, &later).unwrap_err();
        assert_eq!(refusal.code(), "authority_ended");
        assert_eq!(
            check_authorised(
                &order,
                &request(&[InformationCategory::Diagnoses], day(2026, 12, 1))
            )
            .unwrap_err()
            .code(),
            "authority_ended"
        );
    }

    #[test]
    fn ending_early_needs_a_reason_once_within_its_period() {
        let mut order = authority(Terms::CourtOrder(order()));
        assert_eq!(
            validate_early_end(&order, day(2026, 11, 20), "  "),
            Err(AuthorityChangeProblem::NoReason)
        );
        assert_eq!(
            validate_early_end(&order, day(2027, 1, 2), "vacated"),
            Err(AuthorityChangeProblem::AlreadyOver(day(2026, 12, 31)))
        );
        assert_eq!(
            validate_early_end(&order, day(2026, 11, 20), "vacated"),
            Ok(())
        );
        order.ended_at = Some(day(2026, 11, 20).and_hms_opt(15, 0, 0).unwrap().and_utc());
        assert_eq!(
            validate_early_end(&order, day(2026, 11, 21), "vacated"),
            Err(AuthorityChangeProblem::AlreadyEnded)
        );
    }

    #[test]
    fn a_correction_keeps_the_kind_and_says_why() {
        let order = authority(Terms::CourtOrder(order()));
        let mut fixed = order.clone();
        fixed.ends_on = Some(day(2026, 12, 15));
        assert_eq!(
            validate_correction(&order, &fixed, "the order says 15 December"),
            Ok(())
        );
        assert_eq!(
            validate_correction(&order, &fixed, ""),
            Err(AuthorityChangeProblem::NoReason)
        );
        let agreement = authority(Terms::QualifiedService {
            services: "Laboratory".into(),
        });
        assert_eq!(
            validate_correction(&order, &agreement, "typo"),
            Err(AuthorityChangeProblem::KindChanged(
                AuthorityKind::CourtOrder
            ))
        );
        let mut ended = order.clone();
        ended.ended_at = Some(day(2026, 11, 20).and_hms_opt(15, 0, 0).unwrap().and_utc());
        assert_eq!(
            validate_correction(&ended, &fixed, "typo"),
            Err(AuthorityChangeProblem::AlreadyEnded)
        );
    }
}
