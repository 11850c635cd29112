//! Patients' identities at rest (issue 11 item 7): names, date of birth and contact details are
//! encrypted, search and duplicate detection work through blind indexes, and a database written
//! in the clear is sealed on upgrade.

mod common;

use common::{clinic, clinic_on, day, registration, Clinic};
use trellis_domain::patient::Registration;
use trellis_storage::access::can;
use trellis_storage::crypto::MasterKey;
use trellis_storage::patients::{PatientQuery, RegisterOutcome};
use trellis_storage::testing::{raw_execute, raw_strings, store_at_version};
use trellis_storage::Engine;

/// Every identity column that is sealed.
const SEALED: [&str; 13] = [
    "legal_first_name",
    "legal_last_name",
    "preferred_name",
    "date_of_birth",
    "gender_identity",
    "pronouns",
    "phone",
    "email",
    "address",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relationship",
    "preferred_language",
];

/// Words of the registration below that must never be stored in the clear.
const CLEAR_WORDS: [&str; 8] = [
    "Zebulon",
    "Quixotez",
    "1977-08-19",
    "555 014 9876",
    "zq@example.org",
    "Larkspur",
    "Wilhelmina",
    "Portuguese",
];

fn full_registration() -> Registration {
    Registration {
        legal_first_name: "Zebulon".into(),
        legal_last_name: "Quixotez".into(),
        preferred_name: Some("Zeb".into()),
        date_of_birth: Some(day(1977, 8, 19)),
        sex: "male".into(),
        gender_identity: Some("man".into()),
        pronouns: Some("he/him".into()),
        phone: Some("+1 555 014 9876".into()),
        email: Some("zq@example.org".into()),
        address: Some("12 Larkspur Lane, Springfield".into()),
        emergency_contact_name: Some("Wilhelmina Quixotez".into()),
        emergency_contact_phone: Some("555 014 1111".into()),
        emergency_contact_relationship: Some("sister".into()),
        preferred_language: Some("Portuguese".into()),
    }
}

async fn register_as(c: &Clinic, r: &Registration) -> RegisterOutcome {
    let grant = c
        .store
        .grant::<can::EditDemographics>(&c.intake)
        .expect("grant");
    c.store
        .register_patient(&grant, c.site, r, day(2026, 11, 27), false)
        .await
        .expect("register")
}

async fn created(c: &Clinic, r: &Registration) -> i64 {
    match register_as(c, r).await {
        RegisterOutcome::Created(id) => id,
        other => panic!("expected a new patient, got {other:?}"),
    }
}

/// Names (first last) of the patients a search finds, in the order listed.
async fn search(c: &Clinic, text: &str) -> Vec<String> {
    let grant = c
        .store
        .grant::<can::ReadDemographics>(&c.intake)
        .expect("grant");
    let mut names: Vec<String> = c
        .store
        .search_patients(
            &grant,
            &PatientQuery {
                text: Some(text.into()),
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .expect("search")
        .into_iter()
        .map(|p| format!("{} {}", p.legal_first_name, p.legal_last_name))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn names_birth_dates_and_contact_details_are_not_stored_in_the_clear() {
    let c = clinic().await;
    let id = created(&c, &full_registration()).await;
    for column in SEALED {
        let stored = raw_strings(
            &c.store,
            &format!("SELECT {column} FROM patients WHERE id = {id}"),
        )
        .await
        .expect("raw read");
        assert_eq!(stored.len(), 1);
        assert!(stored[0].starts_with("enc:v1:"), "{column} is not sealed");
    }
    let mut everything = raw_strings(
        &c.store,
        "SELECT token FROM patient_name_tokens UNION ALL SELECT dob_index FROM patients",
    )
    .await
    .expect("raw read");
    assert!(everything.len() > 10, "one token per name prefix");
    for column in SEALED {
        everything.extend(
            raw_strings(&c.store, &format!("SELECT {column} FROM patients"))
                .await
                .unwrap_or_default(),
        );
    }
    for word in CLEAR_WORDS {
        assert!(
            !everything.iter().any(|v| v.contains(word)),
            "{word} found in the clear"
        );
    }
    // On SQLite, the files themselves (database and write-ahead log) hold none of it either.
    if c.store.engine() == Engine::Sqlite {
        let path = c.store.sqlite_path().expect("sqlite path").to_owned();
        let mut bytes = std::fs::read(&path).expect("database file");
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        for word in CLEAR_WORDS {
            assert!(
                !bytes.windows(word.len()).any(|w| w == word.as_bytes()),
                "{word} found in the database files"
            );
        }
    }
    // The chart still reads every field back.
    let read = c
        .store
        .patient_grant::<can::ReadDemographics>(&c.intake, id)
        .await
        .expect("grant");
    let patient = c.store.patient(&read).await.expect("read");
    assert_eq!(patient.registration(), full_registration());
    assert_eq!(patient.display_name(), "Zeb Quixotez");
}

#[tokio::test]
async fn search_by_name_prefix_full_name_and_date_of_birth_still_works() {
    let c = clinic().await;
    created(&c, &registration("Maria", "Núñez")).await;
    created(&c, &registration("Mario", "Nunes")).await;
    created(&c, &registration("Ana", "Smith")).await;
    let mut older = registration("Olga", "Núñez");
    older.date_of_birth = Some(day(1961, 2, 3));
    let olga = created(&c, &older).await;

    assert_eq!(search(&c, "nú").await.len(), 3, "accents and case folded");
    assert_eq!(search(&c, "NUNEZ").await, vec!["Maria Núñez", "Olga Núñez"]);
    assert_eq!(
        search(&c, "mar").await,
        vec!["Maria Núñez", "Mario Nunes"],
        "one word: first or last name"
    );
    assert_eq!(search(&c, "maria nun").await, vec!["Maria Núñez"]);
    assert_eq!(search(&c, "Nunes, Mar").await, vec!["Mario Nunes"]);
    assert_eq!(search(&c, "Smith,").await, vec!["Ana Smith"]);
    assert_eq!(search(&c, "ana").await, vec!["Ana Smith"]);
    assert!(search(&c, "zzz").await.is_empty());
    assert!(
        search(&c, "smithers").await.is_empty(),
        "a prefix, not a suffix match"
    );
    assert_eq!(search(&c, "1961-02-03").await, vec!["Olga Núñez"]);
    assert_eq!(search(&c, "1990-05-17").await.len(), 3);

    // A changed name is found under the new name only.
    let grant = c
        .store
        .patient_grant::<can::EditDemographics>(&c.intake, olga)
        .await
        .expect("grant");
    let mut renamed = older.clone();
    renamed.legal_last_name = "Petrova".into();
    renamed.date_of_birth = Some(day(1961, 2, 4));
    c.store
        .update_patient(&grant, &renamed, day(2026, 11, 27))
        .await
        .expect("update");
    assert_eq!(search(&c, "petr").await, vec!["Olga Petrova"]);
    assert_eq!(search(&c, "nunez").await, vec!["Maria Núñez"]);
    assert!(search(&c, "1961-02-03").await.is_empty());
    assert_eq!(search(&c, "1961-02-04").await, vec!["Olga Petrova"]);
}

#[tokio::test]
async fn duplicate_detection_finds_the_same_people_as_before() {
    let c = clinic().await;
    let maria = created(&c, &registration("Maria", "Núñez")).await;
    created(&c, &registration("Ana", "Smith")).await;
    let found = |outcome: RegisterOutcome| match outcome {
        RegisterOutcome::PossibleDuplicates(candidates) => {
            candidates.iter().map(|c| c.patient_id).collect::<Vec<_>>()
        }
        RegisterOutcome::Created(_) => Vec::new(),
    };
    // Same birth date and last name (folded), first name equal or sharing its initial.
    assert_eq!(
        found(register_as(&c, &registration("maria", "NUNEZ")).await),
        vec![maria]
    );
    assert_eq!(
        found(register_as(&c, &registration("Mary", "Nunez")).await),
        vec![maria]
    );
    // Another first initial, another birth date: a new patient.
    assert!(found(register_as(&c, &registration("Ana", "Núñez")).await).is_empty());
    let mut other_day = registration("Maria", "Núñez");
    other_day.date_of_birth = Some(day(1990, 5, 18));
    assert!(found(register_as(&c, &other_day).await).is_empty());
    let RegisterOutcome::PossibleDuplicates(candidates) =
        register_as(&c, &registration("Maria", "Nunez")).await
    else {
        panic!("expected a duplicate warning");
    };
    assert_eq!(candidates[0].name, "Maria Núñez", "shown decrypted");
}

#[tokio::test]
async fn a_clear_text_database_is_encrypted_on_upgrade() {
    // A database as Trellis left it before migration 0085, with patients in the clear.
    let store = store_at_version(65).await.expect("old store");
    for sql in [
        "INSERT INTO sites (id, code, name, timezone, created_at)
         VALUES (900, 'OLD', 'Old site', 'America/New_York', '2020-01-01T00:00:00.000000Z')",
        "INSERT INTO users (id, username, display_name, role, password_hash, active, mfa_enabled,
             failed_logins, created_at)
         VALUES (900, 'old_intake', 'Old intake', 'intake', 'x', TRUE, FALSE, 0,
             '2020-01-01T00:00:00.000000Z')",
        "INSERT INTO patients (id, site_id, legal_first_name, legal_last_name, preferred_name,
             first_name_key, last_name_key, date_of_birth, sex, phone, address, created_at,
             created_by, updated_at)
         VALUES (901, 900, 'Zebulon', 'Quixotez', 'Zeb', 'zebulon', 'quixotez', '1977-08-19',
             'male', '+1 555 014 9876', '12 Larkspur Lane', '2020-01-01T00:00:00.000000Z', 900,
             '2020-01-01T00:00:00.000000Z')",
        "INSERT INTO patients (id, site_id, legal_first_name, legal_last_name, first_name_key,
             last_name_key, date_of_birth, sex, created_at, created_by, updated_at)
         VALUES (902, 900, 'Maria', 'Núñez', 'maria', 'nunez', '1990-05-17', 'female',
             '2020-01-01T00:00:00.000000Z', 900, '2020-01-01T00:00:00.000000Z')",
    ] {
        raw_execute(&store, sql).await.expect("old rows");
    }

    store.migrate().await.expect("migrate");
    let key = MasterKey::generate().0;
    store.unlock(&key).await.expect("unlock seals the old rows");
    let sealed_once = raw_strings(&store, "SELECT legal_last_name FROM patients ORDER BY id")
        .await
        .expect("raw");
    assert_eq!(sealed_once.len(), 2);
    assert!(sealed_once.iter().all(|v| v.starts_with("enc:v1:")));
    for word in [
        "Zebulon",
        "Quixotez",
        "1977-08-19",
        "Larkspur",
        "Núñez",
        "9876",
    ] {
        for column in SEALED {
            let values = raw_strings(&store, &format!("SELECT {column} FROM patients"))
                .await
                .unwrap_or_default();
            assert!(
                !values.iter().any(|v| v.contains(word)),
                "{word} still in the clear in {column}"
            );
        }
    }
    // Unlocking again changes nothing: the upgrade is idempotent.
    store.unlock(&key).await.expect("unlock again");
    assert_eq!(
        raw_strings(&store, "SELECT legal_last_name FROM patients ORDER BY id")
            .await
            .expect("raw"),
        sealed_once
    );

    // Search, the chart and duplicate detection work on the upgraded rows.
    let c = clinic_on(store).await;
    raw_execute(
        &c.store,
        &format!(
            "UPDATE patients SET site_id = {} WHERE id IN (901, 902)",
            c.site
        ),
    )
    .await
    .expect("move to the fixture's site");
    assert_eq!(search(&c, "quix").await, vec!["Zebulon Quixotez"]);
    assert_eq!(search(&c, "zeb").await, vec!["Zebulon Quixotez"]);
    assert_eq!(search(&c, "1990-05-17").await, vec!["Maria Núñez"]);
    let read = c
        .store
        .patient_grant::<can::ReadDemographics>(&c.intake, 901)
        .await
        .expect("grant");
    let patient = c.store.patient(&read).await.expect("read");
    assert_eq!(patient.preferred_name.as_deref(), Some("Zeb"));
    assert_eq!(patient.phone.as_deref(), Some("+1 555 014 9876"));
    assert_eq!(patient.date_of_birth.0, day(1977, 8, 19));
    match register_as(&c, &registration("Maria", "Nunez")).await {
        RegisterOutcome::PossibleDuplicates(candidates) => {
            assert_eq!(candidates[0].patient_id, 902)
        }
        other => panic!("expected the upgraded patient as a duplicate, got {other:?}"),
    }
}

/// How many name tokens each patient has, fewest and most.
async fn token_counts(store: &trellis_storage::Store) -> (String, String) {
    let counts = raw_strings(
        store,
        "SELECT CAST(COUNT(*) AS TEXT) FROM patient_name_tokens GROUP BY patient_id",
    )
    .await
    .expect("counts");
    let counts: Vec<i64> = counts.iter().map(|c| c.parse().expect("count")).collect();
    (
        counts.iter().min().expect("tokens").to_string(),
        counts.iter().max().expect("tokens").to_string(),
    )
}

#[tokio::test]
async fn name_tokens_do_not_tell_the_length_of_a_name() {
    let store = trellis_storage::Store::connect(
        &trellis_storage::testing::fresh_database_url()
            .await
            .expect("url"),
    )
    .await
    .expect("connect");
    store.migrate().await.expect("migrate");
    let key = MasterKey::generate().0;
    store.unlock(&key).await.expect("unlock");
    let c = clinic_on(store).await;
    created(&c, &registration("Al", "Li")).await;
    let long = created(
        &c,
        &registration("Maximiliana", "Wolfeschlegelsteinhausenbergerdorff"),
    )
    .await;
    assert_eq!(
        token_counts(&c.store).await,
        ("32".to_owned(), "32".to_owned()),
        "the same count for a short and a long name"
    );
    // A long name is still found by any prefix, and by its whole length.
    for text in [
        "wolfe",
        "Wolfeschlegelstei",
        "Wolfeschlegelsteinhausenbergerdorff",
        "maximiliana wolfeschlegelsteinhausen",
    ] {
        assert_eq!(
            search(&c, text).await,
            vec!["Maximiliana Wolfeschlegelsteinhausenbergerdorff"],
            "{text}"
        );
    }
    assert_eq!(search(&c, "li").await, vec!["Al Li"]);

    // Tokens written before the padding (one per letter) are padded at the next start-up.
    raw_execute(
        &c.store,
        &format!("DELETE FROM patient_name_tokens WHERE patient_id = {long}"),
    )
    .await
    .expect("forget tokens");
    raw_execute(
        &c.store,
        &format!("INSERT INTO name_tokens_to_pad (patient_id) VALUES ({long})"),
    )
    .await
    .expect("list for padding");
    assert!(search(&c, "wolfe").await.is_empty());
    c.store.unlock(&key).await.expect("unlock pads");
    assert_eq!(
        token_counts(&c.store).await,
        ("32".to_owned(), "32".to_owned())
    );
    assert_eq!(
        search(&c, "wolfe").await,
        vec!["Maximiliana Wolfeschlegelsteinhausenbergerdorff"]
    );
    assert!(raw_strings(
        &c.store,
        "SELECT CAST(patient_id AS TEXT) FROM name_tokens_to_pad"
    )
    .await
    .expect("list")
    .is_empty());
}
