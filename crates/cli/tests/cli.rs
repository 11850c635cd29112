//! The `trellis` binary: user creation, tokens, audit verification and backup on a SQLite file.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// The master key the tests run with (32 bytes of base64): writing the keyed audit log needs it.
const TEST_KEY: &str = "dHJlbGxpcy1jbGktdGVzdHMtbWFzdGVyLWtleS0zMmI=";

fn trellis(args: &[&str], stdin: &str) -> Output {
    trellis_with_key(args, stdin, Some(TEST_KEY))
}

fn trellis_with_key(args: &[&str], stdin: &str, key: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trellis"));
    command.env_remove("TRELLIS_MASTER_KEY");
    command.env_remove("TRELLIS_MASTER_KEY_FILE");
    if let Some(key) = key {
        command.env("TRELLIS_MASTER_KEY", key);
    }
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run trellis");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn audit_verify_catches_a_tampered_row() {
    let dir = std::env::temp_dir().join(format!("trellis-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}/t.db", dir.display());
    let created = trellis(
        &[
            "user",
            "create",
            "--database-url",
            &url,
            "--username",
            "ada",
            "--name",
            "Ada Lee",
            "--role",
            "admin",
        ],
        "a long enough password\n",
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let token = trellis(
        &[
            "token",
            "create",
            "--database-url",
            &url,
            "--user",
            "ada",
            "--name",
            "ci",
        ],
        "",
    );
    assert!(token.status.success(), "{}", text(&token.stderr));
    assert!(text(&token.stdout).starts_with("trl_"));

    let ok = trellis(&["audit", "verify", "--database-url", &url], "");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("audit log intact"));

    let backup = dir.join("backup.db");
    let b = trellis(
        &[
            "backup",
            "--database-url",
            &url,
            "--out",
            &backup.display().to_string(),
        ],
        "",
    );
    assert!(b.status.success(), "{}", text(&b.stderr));
    assert!(backup.exists());
    let again = trellis(
        &[
            "backup",
            "--database-url",
            &url,
            "--out",
            &backup.display().to_string(),
        ],
        "",
    );
    assert!(!again.status.success(), "refuses to overwrite");

    let store = trellis_storage::Store::connect(&url).await.expect("open");
    trellis_storage::testing::raw_execute(&store, "DROP TRIGGER audit_log_no_update")
        .await
        .expect("drop");
    trellis_storage::testing::raw_execute(
        &store,
        "UPDATE audit_log SET role = 'billing' WHERE id = 1",
    )
    .await
    .expect("tamper");
    let broken = trellis(&["audit", "verify", "--database-url", &url], "");
    assert!(!broken.status.success());
    assert!(
        text(&broken.stderr).contains("row 1: contents were altered"),
        "{}",
        text(&broken.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_configuration_is_refused_with_a_clear_message() {
    let bad_url = trellis(&["serve", "--database-url", "mysql://x"], "");
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(text(&bad_url.stderr).contains("sqlite:// or postgres://"));
    let bad_bind = trellis(
        &[
            "serve",
            "--database-url",
            "sqlite:///tmp/x.db",
            "--bind",
            "nowhere",
        ],
        "",
    );
    assert!(text(&bad_bind.stderr).contains("is not an address like 127.0.0.1:8080"));
    let db = std::env::temp_dir().join(format!("trellis-nokey-{}.db", std::process::id()));
    let no_key = trellis_with_key(
        &[
            "serve",
            "--database-url",
            &format!("sqlite://{}", db.display()),
        ],
        "",
        None,
    );
    std::fs::remove_file(&db).ok();
    assert_eq!(no_key.status.code(), Some(2));
    assert!(
        text(&no_key.stderr).contains("master key"),
        "{}",
        text(&no_key.stderr)
    );
    let bad_role = trellis(
        &[
            "user",
            "create",
            "--database-url",
            "sqlite:///tmp/x.db",
            "--username",
            "a",
            "--name",
            "A",
            "--role",
            "wizard",
        ],
        "",
    );
    assert!(text(&bad_role.stderr).contains("unknown role"));
}

#[tokio::test]
async fn master_keys_are_generated_and_rotated() {
    let dir = std::env::temp_dir().join(format!("trellis-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}/k.db", dir.display());
    let old = dir.join("old.key");
    let new = dir.join("new.key");
    for path in [&old, &new] {
        let out = trellis(
            &["keys", "generate", "--out", &path.display().to_string()],
            "",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let again = trellis(
        &["keys", "generate", "--out", &old.display().to_string()],
        "",
    );
    assert!(!again.status.success(), "never overwrites a key file");
    let store = trellis_storage::Store::connect(&url).await.expect("open");
    store.migrate().await.expect("migrate");
    let old_key = trellis_storage::crypto::MasterKey::from_file(&old).expect("key");
    store.unlock(&old_key).await.expect("unlock");
    let rotated = trellis(
        &[
            "keys",
            "rotate",
            "--database-url",
            &url,
            "--master-key-file",
            &old.display().to_string(),
            "--new-master-key-file",
            &new.display().to_string(),
        ],
        "",
    );
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let reopened = trellis_storage::Store::connect(&url).await.expect("open");
    assert!(reopened.unlock(&old_key).await.is_err());
    let new_key = trellis_storage::crypto::MasterKey::from_file(&new).expect("key");
    reopened.unlock(&new_key).await.expect("new key unlocks");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn user_and_token_commands_refuse_weak_passwords_and_tokens_beyond_the_user() {
    let dir = std::env::temp_dir().join(format!("trellis-cli-signin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}/t.db", dir.display());
    let create = |password: &str| {
        trellis(
            &[
                "user",
                "create",
                "--database-url",
                &url,
                "--username",
                "ada",
                "--name",
                "Ada Lee",
                "--role",
                "admin",
            ],
            &format!("{password}\n"),
        )
    };
    for weak in ["password1234", "aaaaaaaaaaaa"] {
        let refused = create(weak);
        assert!(!refused.status.success(), "{weak} accepted");
        let said = text(&refused.stderr);
        assert!(said.contains("password"), "{said}");
        assert!(!said.contains(weak), "the error repeats {weak}");
    }
    let created = create("trellis-demo-2026");
    assert!(created.status.success(), "{}", text(&created.stderr));
    let token = |extra: &[&str]| {
        let mut args = vec![
            "token",
            "create",
            "--database-url",
            &url,
            "--user",
            "ada",
            "--name",
            "ci",
        ];
        args.extend_from_slice(extra);
        trellis(&args, "")
    };
    // An administrator may not mint a prescriber's token: admin lacks clinical permissions.
    let above = token(&["--role", "prescriber"]);
    assert!(!above.status.success());
    assert!(
        text(&above.stderr).contains("owner's role"),
        "{}",
        text(&above.stderr)
    );
    let too_long = token(&["--expires-in-days", "400"]);
    assert!(!too_long.status.success());
    assert!(text(&too_long.stderr).contains("maximum token lifetime"));
    let ok = token(&["--role", "admin"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    // An enrolment code for the first second factor: printed once, for a known account only.
    let code = |user: &str| {
        trellis(
            &[
                "user",
                "enrolment-code",
                "--database-url",
                &url,
                "--username",
                user,
            ],
            "",
        )
    };
    let issued = code("ada");
    assert!(issued.status.success(), "{}", text(&issued.stderr));
    let said = text(&issued.stdout);
    let printed = said
        .split(": ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("code printed");
    assert_eq!(printed.len(), 19, "{said}");
    assert!(!code("nobody").status.success());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn audit_checkpoints_are_exported_and_checked() {
    let dir = std::env::temp_dir().join(format!("trellis-cli-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}/c.db", dir.display());
    let created = trellis(
        &[
            "user",
            "create",
            "--database-url",
            &url,
            "--username",
            "ada",
            "--name",
            "Ada Lee",
            "--role",
            "admin",
        ],
        "a long enough password\n",
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let checkpoint = trellis(&["audit", "checkpoint", "--database-url", &url], "");
    assert!(checkpoint.status.success(), "{}", text(&checkpoint.stderr));
    let line = text(&checkpoint.stdout);
    assert!(
        line.contains("\"rows\":") && line.contains("\"mac\":"),
        "{line}"
    );
    let file = dir.join("checkpoints.jsonl");
    std::fs::write(&file, &line).expect("write");
    let file_arg = file.display().to_string();
    let verify = |key: Option<&str>| {
        trellis_with_key(
            &[
                "audit",
                "verify",
                "--database-url",
                &url,
                "--checkpoints",
                &file_arg,
            ],
            "",
            key,
        )
    };
    let ok = verify(Some(TEST_KEY));
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let no_key = verify(None);
    assert!(!no_key.status.success(), "verify needs the master key");
    assert!(text(&no_key.stderr).contains("master key"));
    let forged = line.replacen("\"rows\":", "\"rows\":1", 1);
    std::fs::write(&file, forged).expect("write");
    let refused = verify(Some(TEST_KEY));
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("not signed"),
        "{}",
        text(&refused.stderr)
    );
    std::fs::write(&file, "not json\n").expect("write");
    let bad = verify(Some(TEST_KEY));
    assert!(text(&bad.stderr).contains("line 1: not a checkpoint"));
    std::fs::remove_dir_all(&dir).ok();
}
