//! The front door's public pages and the staff form behind them (issue 15, item 1): anyone
//! finds a published program by ZIP code, time of week, insurance and service without signing
//! in; bad search input is refused with the reason; nothing is audited because nothing about a
//! patient is read; clinical directors and administrators edit the profile in place.

mod common;

use common::*;
use reqwest::StatusCode;
use trellis_domain::frontdoor::profile::{ProfileInput, Service};
use trellis_storage::access::{can, Actor};
use trellis_storage::audit::AuditQuery;

fn profile(zip: &str, phone: &str, insurance: &str) -> ProfileInput {
    ProfileInput {
        summary: "Adults in early recovery.".into(),
        zip: zip.into(),
        services: vec![Service::Group, Service::Medication],
        languages: "English, Spanish".into(),
        insurance: insurance.into(),
        accreditation: "CARF".into(),
        accreditation_number: "296481".into(),
        accreditation_expires: Some(today() + chrono::Duration::days(400)),
        intake_phone: phone.into(),
        intake_hours: "Mon–Fri 8 am–8 pm".into(),
        published: true,
        ..ProfileInput::default()
    }
}

/// The adult program (with an evening track) in Old City Philadelphia, the co-occurring one
/// (no track) in Manhattan; both published.
async fn published(s: &TestServer) {
    evening_group(s, "casey").await;
    let orgs = s
        .store
        .grant::<can::ManagePrograms>(&Actor::system("test"))
        .expect("grant");
    s.store
        .save_program_profile(
            &orgs,
            s.program_id,
            &profile("19106", "(555) 201-4410", "Medicaid, Aetna"),
            today(),
        )
        .await
        .expect("adult");
    s.store
        .save_program_profile(
            &orgs,
            s.other_program_id,
            &profile("10001", "(555) 201-4500", "Cigna"),
            today(),
        )
        .await
        .expect("co-occurring");
}

/// Audit rows written while answering a request (the server's own jobs write theirs on
/// their own schedule, without a request id).
async fn audit_rows(s: &TestServer) -> usize {
    let grant = s
        .store
        .grant::<can::ReadAudit>(&Actor::system("test"))
        .expect("grant");
    s.store
        .search_audit(
            &grant,
            &AuditQuery {
                limit: 100_000,
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit")
        .iter()
        .filter(|r| r.request_id.is_some())
        .count()
}

async fn page(s: &TestServer, path: &str) -> (StatusCode, String) {
    let res = client()
        .get(format!("{}{path}", s.base))
        .send()
        .await
        .expect("get");
    let status = res.status();
    assert!(
        res.headers()
            .get("content-security-policy")
            .is_some_and(|v| v.to_str().unwrap_or_default().contains("script-src 'self'")),
        "{path} has the strict CSP"
    );
    (status, res.text().await.expect("text"))
}

#[tokio::test]
async fn a_visitor_finds_an_evening_program_near_a_zip_code_without_signing_in() {
    let s = start().await;
    published(&s).await;
    let before = audit_rows(&s).await;

    let (status, html) = page(&s, "/find-a-program").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("All programs"));
    assert!(html.contains("Call or text <a href=\"tel:988\">988</a>"));

    // Nearest first from a ZIP next door to Old City.
    let (status, html) = page(&s, "/find-a-program?zip=19107").await;
    assert_eq!(status, StatusCode::OK);
    let adult = html.find("Adult SUD IOP").expect("adult listed");
    let other = html.find("Co-occurring IOP").expect("co-occurring listed");
    assert!(adult < other, "nearest first");
    assert!(html.contains("under 1 mile away") || html.contains("1 miles away"));

    // Evenings only: the co-occurring program has no evening track.
    let (status, html) = page(&s, "/find-a-program?zip=19107&miles=25&when=evening").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("1 program found"));
    assert!(html.contains("Adult SUD IOP"));
    assert!(!html.contains("Co-occurring IOP</a>"));
    assert!(html.contains("Weekday evenings"));

    // Within 25 miles of Manhattan: only the co-occurring program; by insurance likewise.
    let (_, html) = page(&s, "/find-a-program?zip=10001&miles=25").await;
    assert!(html.contains("Co-occurring IOP</a>") && !html.contains("Adult SUD IOP</a>"));
    let (_, html) = page(&s, "/find-a-program?insurance=cigna").await;
    assert!(html.contains("Co-occurring IOP</a>") && !html.contains("Adult SUD IOP</a>"));
    let (_, html) = page(&s, "/find-a-program?service=family").await;
    assert!(html.contains("0 programs found"));

    // The program's page: times from its track, intake phone, a plain map link, credentials.
    let (status, html) = page(&s, &format!("/find-a-program/{}", s.program_id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("tel:5552014410"));
    // The test site has no street address, so there is nothing to put on a map.
    assert!(!html.contains("openstreetmap"));
    assert!(html.contains("6:00 pm"));
    assert!(html.contains("CARF no. 296481, valid until"));

    // Public pages read nothing about a patient, so they leave no audit row.
    assert_eq!(audit_rows(&s).await, before);
}

#[tokio::test]
async fn bad_search_input_is_refused_with_the_reason_and_unpublished_programs_are_not_found() {
    let s = start().await;
    published(&s).await;
    let long_zip = format!("zip={}", "1".repeat(300));
    for (query, reason) in [
        ("zip=abcde", "five-digit ZIP code"),
        ("zip=1910", "five-digit ZIP code"),
        ("zip=00000", "could not find this ZIP code"),
        (long_zip.as_str(), "five-digit ZIP code"),
        ("miles=7", "choose one of the listed distances"),
        ("when=midnight", "choose one of the listed times"),
        ("service=massage", "choose one of the listed services"),
        (
            "insurance=Nonexistent%20Health",
            "choose one of the listed plans",
        ),
    ] {
        let (status, html) = page(&s, &format!("/find-a-program?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(html.contains(reason), "{query}: {reason}");
        assert!(html.contains("role=\"alert\""), "{query}");
    }
    let orgs = s
        .store
        .grant::<can::ManagePrograms>(&Actor::system("test"))
        .expect("grant");
    let draft = ProfileInput {
        published: false,
        ..profile("10001", "(555) 201-4500", "Cigna")
    };
    s.store
        .save_program_profile(&orgs, s.other_program_id, &draft, today())
        .await
        .expect("unpublish");
    let (status, _) = page(&s, &format!("/find-a-program/{}", s.other_program_id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = page(&s, "/find-a-program/99999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = client()
        .get(format!("{}/find-a-program/not-a-number", s.base))
        .send()
        .await
        .expect("get");
    assert!(res.status().is_client_error());
}

#[tokio::test]
async fn directors_edit_the_public_profile_in_place_and_bad_input_is_refused() {
    let s = start().await;
    let path = format!("/admin/programs/{}/public-profile", s.program_id);
    let dora = s.browser("dora").await;
    let res = dora.get(&path).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.contains("Show this program on the public pages"));

    let good = [
        ("published", "yes"),
        ("summary", "Adults in early recovery."),
        ("zip", "19106"),
        ("services", "group"),
        ("services", "medication"),
        ("languages", "English, Spanish"),
        ("insurance", "Medicaid, Aetna"),
        ("accreditation", "CARF"),
        ("accreditation_number", "296481"),
        ("accreditation_expires", "2030-06-30"),
        ("licence", ""),
        ("licence_number", ""),
        ("licence_expires", ""),
        ("intake_phone", "(555) 201-4410"),
        ("intake_hours", "Mon–Fri 8 am–8 pm"),
    ];
    // Without JavaScript: saved, then back to the page with the confirmation.
    let res = dora.post(&path, &good).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.url().as_str().ends_with("?saved=1"));
    assert!(res
        .text()
        .await
        .expect("text")
        .contains("Public profile saved for Adult SUD IOP."));
    let (status, html) = page(&s, &format!("/find-a-program/{}", s.program_id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("CARF no. 296481, valid until Jun 30, 2030"));

    // With htmx: the form comes back in place with the live-region confirmation.
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", dora.csrf.as_str())];
    form.extend_from_slice(&good);
    let res = dora
        .client
        .post(format!("{}{path}", s.base))
        .header("Origin", &s.base)
        .header("HX-Request", "true")
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("text");
    assert!(html.trim_start().starts_with("<form id=\"profile-form\""));
    assert!(html.contains("hx-swap-oob"));

    // Refused: publishing with no phone, a lapsed accreditation, an unknown service; nothing
    // changes and each reason links to its field.
    let before = s
        .store
        .published_program(s.program_id)
        .await
        .expect("published");
    let bad = [
        ("published", "yes"),
        ("summary", "Adults."),
        ("zip", "19106"),
        ("services", "massage"),
        ("accreditation", "CARF"),
        ("accreditation_number", "296481"),
        ("accreditation_expires", "not a date"),
        ("intake_phone", ""),
    ];
    let res = dora.post(&path, &bad).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("href=\"#profile-services\""));
    assert!(html.contains("href=\"#profile-accreditation_expires\""));
    let lapsed = [
        ("published", "yes"),
        ("summary", "Adults."),
        ("zip", "19106"),
        ("services", "group"),
        ("accreditation", "CARF"),
        ("accreditation_number", "296481"),
        ("accreditation_expires", "2020-01-01"),
        ("intake_phone", ""),
    ];
    let res = dora.post(&path, &lapsed).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.expect("text");
    assert!(html.contains("href=\"#profile-intake_phone\""));
    assert!(html.contains("renew it before publishing"));
    let after = s
        .store
        .published_program(s.program_id)
        .await
        .expect("still published");
    assert_eq!(after.input.summary, before.input.summary);
    assert_eq!(after.updated_at, before.updated_at);

    // A counselor may not edit it.
    let casey = s.browser("casey").await;
    assert_eq!(casey.get(&path).await.status(), StatusCode::FORBIDDEN);
}

/// Every self-screen answer: AUDIT-C values, DAST-10 yes items, and the plain questions'
/// answers in the form's order (daily life, withdrawal, suicide, unsafe, safe home, support).
fn screen(audit_c: [u8; 3], dast_yes: &[usize], plain: [u8; 6]) -> Vec<(String, String)> {
    let mut form = Vec::new();
    for (i, v) in audit_c.iter().enumerate() {
        form.push((format!("audit_c_{}", i + 1), v.to_string()));
    }
    for n in 1..=10 {
        let yes = u8::from(dast_yes.contains(&n));
        form.push((format!("dast_10_{n}"), yes.to_string()));
    }
    let names = [
        "daily_life",
        "severe_withdrawal",
        "thoughts_of_suicide",
        "unsafe_now",
        "safe_home",
        "support",
    ];
    for (name, v) in names.iter().zip(plain) {
        form.push(((*name).to_owned(), v.to_string()));
    }
    form
}

async fn post_screen(s: &TestServer, form: &[(String, String)]) -> (StatusCode, String) {
    let res = client()
        .post(format!("{}/is-iop-right-for-me", s.base))
        .header("Origin", &s.base)
        .form(form)
        .send()
        .await
        .expect("post");
    let status = res.status();
    (status, res.text().await.expect("text"))
}

#[tokio::test]
async fn the_self_screen_explains_what_may_fit_puts_crisis_help_first_and_stores_nothing() {
    let s = start().await;
    published(&s).await;
    let before = audit_rows(&s).await;
    let (status, html) = page(&s, "/is-iop-right-for-me").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Nothing you answer is stored"));
    assert!(!html.contains("csrf_token"), "a visitor has no session");
    assert!(
        html.contains("© 1982 Harvey A. Skinner"),
        "DAST-10 credited"
    );

    // AUDIT-C 2+2+1 = 5 and daily life affected: an IOP may fit.
    let (status, html) = post_screen(&s, &screen([2, 2, 1], &[3], [1, 0, 0, 0, 1, 1])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("An intensive outpatient program may be a good fit"));
    assert!(html.contains("alcohol score (AUDIT-C) was 5 of 12"));
    assert!(html.contains("tel:5552014410"));
    assert!(!html.contains("Please reach out for help now"));

    // Few signs: outpatient.
    let (_, html) = post_screen(&s, &screen([1, 0, 0], &[3], [0, 0, 0, 0, 1, 1])).await;
    assert!(html.contains("Outpatient counseling or a check-in may be enough"));

    // Dangerous withdrawal: a more intensive start first.
    let (_, html) = post_screen(&s, &screen([4, 4, 4], &[3], [1, 1, 0, 0, 1, 1])).await;
    assert!(html.contains("A more intensive start may be safer first"));

    // A danger answer: crisis help is the first thing on the page, before what may fit.
    let (status, html) = post_screen(&s, &screen([0, 0, 0], &[3], [0, 0, 1, 0, 1, 1])).await;
    assert_eq!(status, StatusCode::OK);
    let crisis = html
        .find("Please reach out for help now")
        .expect("crisis help");
    let fit = html.find("What may fit you</h2>").expect("fit");
    assert!(crisis < fit);
    assert!(html.contains("href=\"tel:988\"") && html.contains("href=\"sms:988\""));
    assert!(html.contains("href=\"tel:911\""));
    let main = html.find("<main").expect("main");
    assert!(crisis > main && html[main..crisis].matches("<h").count() <= 1);

    // Unanswered and out-of-range answers bring the form back, marked.
    let mut partial = screen([2, 2, 1], &[3], [1, 0, 0, 0, 1, 1]);
    partial.retain(|(k, _)| k != "dast_10_4" && k != "support");
    let (status, html) = post_screen(&s, &partial).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("2 questions are not answered yet"));
    assert!(html.contains("name=\"audit_c_1\" value=\"2\" checked"));
    let mut out_of_range = screen([2, 2, 1], &[3], [1, 0, 0, 0, 1, 1]);
    out_of_range[0].1 = "9".into();
    let (status, _) = post_screen(&s, &out_of_range).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post_screen(&s, &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Nothing was stored or audited.
    assert_eq!(audit_rows(&s).await, before);
}
