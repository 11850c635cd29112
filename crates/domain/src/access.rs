//! Staff roles and the permission matrix: the one place that says which role may do what.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::care::UnknownCode;

/// A role. Each account has exactly one: a staff role, or `Patient` for a portal account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// System administrator: users, sites, programs, configuration. No clinical content.
    Admin,
    /// Clinical director or supervisor: every patient, co-signing, program design.
    ClinicalDirector,
    /// Counselor or therapist: the patients of their assigned programs.
    Counselor,
    /// Psychiatrist or nurse practitioner.
    Prescriber,
    /// Nurse.
    Nurse,
    /// Peer support specialist.
    PeerSpecialist,
    /// Intake coordinator: inquiries, registration, admission.
    Intake,
    /// Front desk: check-in, schedule and demographics only.
    FrontDesk,
    /// Billing: authorisations and claims; no clinical text.
    Billing,
    /// Privacy officer: consents, disclosures, audit log.
    PrivacyOfficer,
    /// Auditor or evaluator under one §2.53 agreement: reviews, read-only, what it covers.
    Auditor,
    /// A patient signed in to the portal: their own record only, through the portal only. Not a
    /// staff role: never in [`Role::ALL`], never given by an administrator.
    Patient,
}

impl Role {
    /// Every staff role, in the order the admin screens list them.
    pub const ALL: [Role; 11] = [
        Role::Admin,
        Role::ClinicalDirector,
        Role::Counselor,
        Role::Prescriber,
        Role::Nurse,
        Role::PeerSpecialist,
        Role::Intake,
        Role::FrontDesk,
        Role::Billing,
        Role::PrivacyOfficer,
        Role::Auditor,
    ];

    /// The stored code ("clinical_director").
    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::ClinicalDirector => "clinical_director",
            Role::Counselor => "counselor",
            Role::Prescriber => "prescriber",
            Role::Nurse => "nurse",
            Role::PeerSpecialist => "peer_specialist",
            Role::Intake => "intake",
            Role::FrontDesk => "front_desk",
            Role::Billing => "billing",
            Role::PrivacyOfficer => "privacy_officer",
            Role::Auditor => "auditor",
            Role::Patient => "patient",
        }
    }

    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::ClinicalDirector => "Clinical director",
            Role::Counselor => "Counselor",
            Role::Prescriber => "Prescriber",
            Role::Nurse => "Nurse",
            Role::PeerSpecialist => "Peer support specialist",
            Role::Intake => "Intake coordinator",
            Role::FrontDesk => "Front desk",
            Role::Billing => "Billing",
            Role::PrivacyOfficer => "Privacy officer",
            Role::Auditor => "Auditor or evaluator (42 CFR 2.53)",
            Role::Patient => "Patient (portal)",
        }
    }

    /// Whether the role sees every patient of the organisation, not only those of its assignments.
    pub fn sees_all_patients(self) -> bool {
        matches!(
            self,
            Role::Admin | Role::ClinicalDirector | Role::PrivacyOfficer
        )
    }
}

impl Role {
    /// Whether giving someone this role takes two people (one administrator proposes, another
    /// administrator or the privacy officer approves): roles that read clinical text or disclose.
    pub fn grant_needs_second_approval(self) -> bool {
        permits(self, Permission::ReadClinical)
            || permits(self, Permission::Disclose)
            || permits(self, Permission::ReviewUnderAgreement)
    }

    /// Whether moving someone from role `self` to `to` takes two people: `to` is such a role
    /// and gives some permission `self` lacks (a step down, e.g. clinical director to counselor,
    /// takes one).
    pub fn change_needs_second_approval(self, to: Role) -> bool {
        to.grant_needs_second_approval()
            && Permission::ALL
                .into_iter()
                .any(|p| permits(to, p) && !permits(self, p))
    }

    /// Whether the role may approve another administrator's proposal of such a role.
    pub fn approves_roles(self) -> bool {
        matches!(self, Role::Admin | Role::PrivacyOfficer)
    }

    /// Whether the role must sign in with a second factor unless an administrator says otherwise:
    /// every role that reads clinical text or administers (accounts, consents, the audit log).
    pub fn requires_mfa_by_default(self) -> bool {
        permits(self, Permission::ReadClinical)
            || permits(self, Permission::ManageUsers)
            || permits(self, Permission::ReadAudit)
            || permits(self, Permission::ReviewUnderAgreement)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Role {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .chain([Role::Patient])
            .find(|r| r.code() == s.trim())
            .ok_or_else(|| UnknownCode {
                kind: "role",
                code: s.to_owned(),
            })
    }
}

/// Something a staff member may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See a patient's identity, contact details and chart header.
    ReadDemographics,
    /// Register a patient or change their demographics.
    EditDemographics,
    /// See episodes of care, level-of-care history and discharge reasons.
    ReadEpisodes,
    /// Admit a patient to a program (open an episode).
    AdmitEpisode,
    /// Record a level-of-care change.
    ChangeLevelOfCare,
    /// Discharge an episode.
    DischargeEpisode,
    /// Read clinical content: assessments, measures, plans, notes, medications, screens, flags.
    ReadClinical,
    /// Write clinical content.
    WriteClinical,
    /// See the schedule, day sheets and attendance.
    ReadSchedule,
    /// Book, move and cancel sessions and appointments; record attendance.
    ManageSchedule,
    /// See authorisations, claims and payer data.
    ReadBilling,
    /// Create and submit claims and authorisations.
    ManageBilling,
    /// Record, print and revoke Part 2 consents.
    ManageConsents,
    /// Make a consent-checked disclosure.
    Disclose,
    /// Open a record outside one's assignments in a bona fide medical emergency.
    BreakGlass,
    /// Manage staff accounts, roles and assignments.
    ManageUsers,
    /// Search and verify the audit log.
    ReadAudit,
    /// Configure sites, programs, tracks and rooms.
    ManagePrograms,
    /// See program outcome reports (aggregate).
    ReadOutcomes,
    /// Keep the Part 2 recipient directory: who disclosures may go to, and their class.
    ManageRecipients,
    /// Agree to or refuse a patient's request to restrict disclosures (42 CFR 2.26).
    DecideRestrictions,
    /// Keep the breach register: incidents, risk assessments, letters, the log for HHS.
    KeepBreachRegister,
    /// Record court orders and QSO, audit and research agreements, and disclose under them
    /// without the patient's consent (42 CFR 2.11, 2.52, 2.53, 2.61–2.67).
    DiscloseWithoutConsent,
    /// Review, read-only and on screen, the records one audit or evaluation agreement covers
    /// (42 CFR 2.53): its program's patients, its information, within its period.
    ReviewUnderAgreement,
    /// Invite a patient to the portal, see their account's state and end it.
    ManagePortalAccounts,
    /// Use the portal: the signed-in patient's own schedule and check-ins, nobody else's.
    UsePortal,
}

impl Permission {
    /// Every permission, in the order the matrix lists them.
    pub const ALL: [Permission; 26] = [
        Permission::ReadDemographics,
        Permission::EditDemographics,
        Permission::ReadEpisodes,
        Permission::AdmitEpisode,
        Permission::ChangeLevelOfCare,
        Permission::DischargeEpisode,
        Permission::ReadClinical,
        Permission::WriteClinical,
        Permission::ReadSchedule,
        Permission::ManageSchedule,
        Permission::ReadBilling,
        Permission::ManageBilling,
        Permission::ManageConsents,
        Permission::Disclose,
        Permission::BreakGlass,
        Permission::ManageUsers,
        Permission::ReadAudit,
        Permission::ManagePrograms,
        Permission::ReadOutcomes,
        Permission::ManageRecipients,
        Permission::DecideRestrictions,
        Permission::KeepBreachRegister,
        Permission::DiscloseWithoutConsent,
        Permission::ReviewUnderAgreement,
        Permission::ManagePortalAccounts,
        Permission::UsePortal,
    ];

    /// Whether the permission only reads (what emergency access may widen, 42 CFR 2.51: it
    /// opens a record to treat the patient, never to disclose it or change consents).
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Permission::ReadDemographics
                | Permission::ReadEpisodes
                | Permission::ReadClinical
                | Permission::ReadSchedule
        )
    }

    /// Whether using this permission touches one patient's record (and so needs scope and audit).
    pub fn is_patient_scoped(self) -> bool {
        !matches!(
            self,
            Permission::ManageUsers
                | Permission::ReadAudit
                | Permission::ManagePrograms
                | Permission::ReadOutcomes
                | Permission::ManageRecipients
                | Permission::KeepBreachRegister
        )
    }
}

/// The permission matrix. Least privilege: admins run the system but read no clinical content,
/// billing sees no clinical text, front desk sees schedule and demographics only, an auditor
/// only what their agreement covers, through the review alone.
pub fn permits(role: Role, permission: Permission) -> bool {
    use Permission as P;
    use Role as R;
    // §2.53: the auditor's whole access is the agreement's review; the chart, the schedule and
    // every write stay closed to them.
    if role == R::Auditor {
        return permission == P::ReviewUnderAgreement;
    }
    // A patient's whole access is their own portal; no staff page or API answers them.
    if role == R::Patient {
        return permission == P::UsePortal;
    }
    match permission {
        P::ReadDemographics => true,
        P::EditDemographics => matches!(
            role,
            R::Admin | R::ClinicalDirector | R::Counselor | R::Intake | R::FrontDesk
        ),
        P::ReadEpisodes => !matches!(role, R::FrontDesk),
        P::AdmitEpisode => matches!(role, R::ClinicalDirector | R::Counselor | R::Intake),
        P::ChangeLevelOfCare => matches!(role, R::ClinicalDirector | R::Counselor | R::Prescriber),
        P::DischargeEpisode => matches!(role, R::ClinicalDirector | R::Counselor),
        P::ReadClinical => matches!(
            role,
            R::ClinicalDirector | R::Counselor | R::Prescriber | R::Nurse | R::PeerSpecialist
        ),
        P::WriteClinical => matches!(
            role,
            R::ClinicalDirector | R::Counselor | R::Prescriber | R::Nurse | R::PeerSpecialist
        ),
        P::ReadSchedule => !matches!(role, R::PrivacyOfficer),
        P::ManageSchedule => matches!(
            role,
            R::ClinicalDirector | R::Counselor | R::Intake | R::FrontDesk | R::PeerSpecialist
        ),
        P::ReadBilling => matches!(role, R::Billing | R::ClinicalDirector | R::Admin),
        P::ManageBilling => matches!(role, R::Billing),
        P::ManageConsents => matches!(
            role,
            R::PrivacyOfficer | R::ClinicalDirector | R::Counselor | R::Intake
        ),
        P::Disclose => matches!(role, R::PrivacyOfficer | R::ClinicalDirector | R::Counselor),
        P::BreakGlass => matches!(
            role,
            R::ClinicalDirector | R::Counselor | R::Prescriber | R::Nurse | R::PeerSpecialist
        ),
        P::ManageUsers => matches!(role, R::Admin),
        P::ReadAudit => matches!(role, R::Admin | R::PrivacyOfficer),
        P::ManagePrograms => matches!(role, R::Admin | R::ClinicalDirector),
        P::ReadOutcomes => matches!(role, R::Admin | R::ClinicalDirector),
        // The class decides which consents reach a recipient, so only the privacy officer sets it.
        P::ManageRecipients => matches!(role, R::PrivacyOfficer),
        // §2.26 and the breach rule name the program's privacy official as the one who decides.
        P::DecideRestrictions | P::KeepBreachRegister => matches!(role, R::PrivacyOfficer),
        // Whether an order or agreement is sound is the privacy official's judgment, and what
        // leaves under it bypasses the patient's consent.
        P::DiscloseWithoutConsent => matches!(role, R::PrivacyOfficer),
        P::ReviewUnderAgreement | P::UsePortal => false,
        // Those who bring a patient into the program and treat them: the intake coordinator
        // and the counselor (and their director). Front desk holds demographics only, and the
        // portal carries the patient's check-ins to the counselor, so it stays with clinical staff.
        P::ManagePortalAccounts => matches!(role, R::ClinicalDirector | R::Counselor | R::Intake),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_codes() {
        for role in Role::ALL {
            assert_eq!(role.code().parse::<Role>(), Ok(role));
        }
        assert!("superuser".parse::<Role>().is_err());
    }

    #[test]
    fn billing_and_front_desk_read_no_clinical_content() {
        for role in [Role::Billing, Role::FrontDesk, Role::Admin, Role::Intake] {
            assert!(!permits(role, Permission::ReadClinical), "{role}");
            assert!(!permits(role, Permission::WriteClinical), "{role}");
        }
    }

    #[test]
    fn front_desk_sees_schedule_and_demographics_only() {
        let allowed: Vec<Permission> = Permission::ALL
            .into_iter()
            .filter(|p| permits(Role::FrontDesk, *p))
            .collect();
        assert_eq!(
            allowed,
            vec![
                Permission::ReadDemographics,
                Permission::EditDemographics,
                Permission::ReadSchedule,
                Permission::ManageSchedule
            ]
        );
    }

    #[test]
    fn only_admin_manages_users_and_only_admin_or_privacy_officer_reads_audit() {
        for role in Role::ALL {
            assert_eq!(permits(role, Permission::ManageUsers), role == Role::Admin);
            assert_eq!(
                permits(role, Permission::ReadAudit),
                matches!(role, Role::Admin | Role::PrivacyOfficer)
            );
        }
    }

    #[test]
    fn clinicians_write_clinical_content() {
        for role in [Role::Counselor, Role::ClinicalDirector, Role::Prescriber] {
            assert!(permits(role, Permission::ReadClinical));
            assert!(permits(role, Permission::WriteClinical));
        }
        assert!(permits(Role::Counselor, Permission::DischargeEpisode));
        assert!(!permits(Role::Intake, Permission::DischargeEpisode));
        assert!(permits(Role::Intake, Permission::AdmitEpisode));
    }

    #[test]
    fn clinical_and_disclosing_roles_take_two_people_to_grant() {
        let two: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.grant_needs_second_approval())
            .collect();
        assert_eq!(
            two,
            vec![
                Role::ClinicalDirector,
                Role::Counselor,
                Role::Prescriber,
                Role::Nurse,
                Role::PeerSpecialist,
                Role::PrivacyOfficer,
                Role::Auditor
            ]
        );
        assert!(Role::Billing.change_needs_second_approval(Role::Auditor));
        assert!(!Role::ClinicalDirector.change_needs_second_approval(Role::Counselor));
        assert!(Role::Counselor.change_needs_second_approval(Role::ClinicalDirector));
        assert!(Role::Intake.change_needs_second_approval(Role::Counselor));
        assert!(Role::Nurse.change_needs_second_approval(Role::Prescriber));
        assert!(!Role::Counselor.change_needs_second_approval(Role::Billing));
        let approvers: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.approves_roles())
            .collect();
        assert_eq!(approvers, vec![Role::Admin, Role::PrivacyOfficer]);
    }

    #[test]
    fn emergency_access_widens_reading_only() {
        let reads: Vec<Permission> = Permission::ALL
            .into_iter()
            .filter(|p| p.is_read())
            .collect();
        assert_eq!(
            reads,
            vec![
                Permission::ReadDemographics,
                Permission::ReadEpisodes,
                Permission::ReadClinical,
                Permission::ReadSchedule
            ]
        );
        assert!(!Permission::Disclose.is_read());
        assert!(!Permission::ManageConsents.is_read());
    }

    #[test]
    fn clinical_and_administering_roles_need_a_second_factor_by_default() {
        let required: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.requires_mfa_by_default())
            .collect();
        assert_eq!(
            required,
            vec![
                Role::Admin,
                Role::ClinicalDirector,
                Role::Counselor,
                Role::Prescriber,
                Role::Nurse,
                Role::PeerSpecialist,
                Role::PrivacyOfficer,
                Role::Auditor
            ]
        );
    }

    #[test]
    fn only_the_privacy_officer_decides_restrictions_and_keeps_the_breach_register() {
        for role in Role::ALL {
            for p in [
                Permission::DecideRestrictions,
                Permission::KeepBreachRegister,
                Permission::DiscloseWithoutConsent,
            ] {
                assert_eq!(
                    permits(role, p),
                    role == Role::PrivacyOfficer,
                    "{role} {p:?}"
                );
            }
        }
        assert!(Permission::DecideRestrictions.is_patient_scoped());
        assert!(!Permission::KeepBreachRegister.is_patient_scoped());
    }

    #[test]
    fn an_auditor_only_reviews_under_their_agreement_and_writes_nothing() {
        let allowed: Vec<Permission> = Permission::ALL
            .into_iter()
            .filter(|p| permits(Role::Auditor, *p))
            .collect();
        assert_eq!(allowed, vec![Permission::ReviewUnderAgreement]);
        for role in Role::ALL {
            assert_eq!(
                permits(role, Permission::ReviewUnderAgreement),
                role == Role::Auditor,
                "{role}"
            );
        }
        assert!(!Role::Auditor.sees_all_patients());
        assert!(!Role::Auditor.approves_roles());
        assert!(Permission::ReviewUnderAgreement.is_patient_scoped());
        assert!(!Permission::ReviewUnderAgreement.is_read());
    }

    #[test]
    fn a_patient_only_uses_the_portal_and_no_staff_role_does() {
        let allowed: Vec<Permission> = Permission::ALL
            .into_iter()
            .filter(|p| permits(Role::Patient, *p))
            .collect();
        assert_eq!(allowed, vec![Permission::UsePortal]);
        for role in Role::ALL {
            assert!(!permits(role, Permission::UsePortal), "{role}");
        }
        assert!(!Role::ALL.contains(&Role::Patient));
        assert_eq!("patient".parse::<Role>(), Ok(Role::Patient));
        assert!(!Role::Patient.sees_all_patients());
        assert!(!Role::Patient.requires_mfa_by_default());
        assert!(!Role::Patient.grant_needs_second_approval());
    }

    #[test]
    fn intake_and_the_treating_staff_invite_patients_to_the_portal() {
        let inviters: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| permits(*r, Permission::ManagePortalAccounts))
            .collect();
        assert_eq!(
            inviters,
            vec![Role::ClinicalDirector, Role::Counselor, Role::Intake]
        );
        assert!(Permission::ManagePortalAccounts.is_patient_scoped());
    }

    #[test]
    fn only_assignment_free_roles_see_every_patient() {
        let all: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.sees_all_patients())
            .collect();
        assert_eq!(
            all,
            vec![Role::Admin, Role::ClinicalDirector, Role::PrivacyOfficer]
        );
    }
}
