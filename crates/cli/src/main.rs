//! The `trellis` command: run the server (production or demo), migrate, manage staff and API
//! tokens, verify the audit log, back up.

mod demo;
mod generate;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use trellis_domain::access::Role;
use trellis_storage::access::{can, Actor};
use trellis_storage::audit::Checkpoint;
use trellis_storage::crypto::MasterKey;
use trellis_storage::staff::{NewStaff, DEFAULT_TOKEN_MAX_DAYS};
use trellis_storage::{Instant, Store};
use trellis_web::{AppState, Config};

/// How often each server looks for due background jobs.
const JOB_POLL: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Parser)]
#[command(
    name = "trellis",
    version,
    about = "Trellis: the platform an intensive outpatient program runs in"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start with a demo clinic on an embedded SQLite database in ./trellis-data (created on first start).
    Demo {
        /// Address to listen on.
        #[arg(long, env = "TRELLIS_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// Folder for the demo database and its master key.
        #[arg(long, env = "TRELLIS_DATA_DIR", default_value = "trellis-data")]
        data_dir: PathBuf,
        /// Use this database instead of the SQLite file in the data folder (e.g. postgres://…).
        #[arg(long)]
        database_url: Option<String>,
        /// The demo clinic alone, or a 20-site, ten-year network generated around it.
        #[arg(long, value_enum, default_value = "clinic")]
        scale: Scale,
        /// With --scale network: the share of the full network's sites and episodes (0–1).
        #[arg(long, default_value_t = 1.0)]
        fraction: f64,
    },
    /// Fill a database with a generated network (demo clinic plus sites, ten years of episodes)
    /// for load tests; the demo clinic is loaded first if the database is empty.
    Generate {
        #[command(flatten)]
        db: Database,
        #[command(flatten)]
        key: MasterKeyArgs,
        /// The share of the full network (18 generated sites, 80,000 episodes), 0–1.
        #[arg(long, default_value_t = 1.0)]
        fraction: f64,
        /// Generated sites (overrides --fraction's).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=500))]
        sites: Option<u16>,
        /// Episodes (overrides --fraction's).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=5_000_000))]
        episodes: Option<u32>,
        /// Years of history ending today.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=30))]
        years: u32,
        /// Random seed.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// No progress on standard error.
        #[arg(long)]
        quiet: bool,
    },
    /// Start the server (production).
    Serve {
        #[command(flatten)]
        db: Database,
        /// Address to listen on.
        #[arg(long, env = "TRELLIS_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// The URL users reach Trellis at (an https URL makes cookies Secure).
        #[arg(long, env = "TRELLIS_PUBLIC_URL")]
        public_url: Option<String>,
        /// Minutes without activity before a session ends.
        #[arg(long, env = "TRELLIS_IDLE_TIMEOUT_MINUTES", default_value_t = 15)]
        idle_timeout_minutes: i64,
        /// Serve Prometheus metrics at /metrics (to administrators' API tokens only).
        #[arg(long, env = "TRELLIS_METRICS")]
        metrics: bool,
        /// Reverse proxies whose X-Forwarded-For gives the client address, comma-separated
        /// addresses or networks (e.g. 127.0.0.1,10.0.0.0/8). Without it, the peer address is used.
        #[arg(long, env = "TRELLIS_TRUSTED_PROXIES", value_delimiter = ',')]
        trusted_proxies: Vec<trellis_web::proxy::TrustedProxy>,
        #[command(flatten)]
        tokens: TokenLifetime,
        #[command(flatten)]
        key: MasterKeyArgs,
    },
    /// Apply database migrations.
    Migrate {
        #[command(flatten)]
        db: Database,
    },
    /// Staff accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// API bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The master key that encrypts clinical text at rest.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Write a consistent online copy of a SQLite database (for PostgreSQL, use pg_dump).
    Backup {
        #[command(flatten)]
        db: Database,
        /// The new file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// How much data `trellis demo` starts with.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scale {
    /// The demo clinic: two sites, about sixty patients.
    Clinic,
    /// The demo clinic plus a generated 20-site, ten-year network.
    Network,
}

#[derive(Args)]
struct Database {
    /// sqlite://path/to/file.db or postgres://user@host/db
    #[arg(long, env = "TRELLIS_DATABASE_URL")]
    database_url: String,
}

/// Where the master key comes from: a file (preferred) or the environment.
#[derive(Args)]
struct MasterKeyArgs {
    /// File holding the base64 master key (create it with `trellis keys generate`).
    #[arg(long, env = "TRELLIS_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
}

impl MasterKeyArgs {
    fn load(&self) -> Result<MasterKey> {
        if let Some(path) = &self.master_key_file {
            return Ok(MasterKey::from_file(path)?);
        }
        match std::env::var("TRELLIS_MASTER_KEY") {
            Ok(text) => Ok(MasterKey::from_base64(&text)?),
            Err(_) => bail!(
                "clinical text is encrypted at rest: give the master key with --master-key-file \
                 (or TRELLIS_MASTER_KEY_FILE / TRELLIS_MASTER_KEY); create one with `trellis keys generate`"
            ),
        }
    }
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new random master key to a file readable only by its owner.
    Generate {
        /// The new file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Re-wrap the database's data keys under a new master key (no downtime; records untouched).
    Rotate {
        #[command(flatten)]
        db: Database,
        /// The current master key file.
        #[arg(long)]
        master_key_file: PathBuf,
        /// The new master key file.
        #[arg(long)]
        new_master_key_file: PathBuf,
    },
}

/// The longest an API token may live.
#[derive(Args)]
struct TokenLifetime {
    /// Days an API token lives at most; the server refuses older tokens, even ones made with a
    /// longer expiry or none.
    #[arg(long, env = "TRELLIS_TOKEN_MAX_DAYS", default_value_t = DEFAULT_TOKEN_MAX_DAYS,
          value_parser = clap::value_parser!(i64).range(1..=3650))]
    token_max_days: i64,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a staff account; the password is read from standard input.
    Create {
        #[command(flatten)]
        db: Database,
        /// Login name.
        #[arg(long)]
        username: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// Role: admin, clinical_director, counselor, prescriber, nurse, peer_specialist, intake, front_desk, billing, privacy_officer.
        #[arg(long)]
        role: String,
        /// Work email.
        #[arg(long)]
        email: Option<String>,
        #[command(flatten)]
        key: MasterKeyArgs,
    },
    /// Issue a one-time code with which the person sets up their first second factor at sign-in
    /// (valid 72 hours, replaces any earlier one); printed once, stored only hashed.
    EnrolmentCode {
        #[command(flatten)]
        db: Database,
        /// Login name.
        #[arg(long)]
        username: String,
        #[command(flatten)]
        key: MasterKeyArgs,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a staff member; it is printed once and stored only hashed.
    Create {
        #[command(flatten)]
        db: Database,
        /// The staff member the token acts as.
        #[arg(long)]
        user: String,
        /// A label, e.g. "billing export".
        #[arg(long)]
        name: String,
        /// Role the token acts with: must be the user's own role (the default).
        #[arg(long)]
        role: Option<String>,
        /// Days until the token expires (at most, and by default, the maximum lifetime).
        #[arg(long)]
        expires_in_days: Option<i64>,
        #[command(flatten)]
        tokens: TokenLifetime,
        #[command(flatten)]
        key: MasterKeyArgs,
    },
    /// Revoke a token by id.
    Revoke {
        #[command(flatten)]
        db: Database,
        /// Token id.
        id: i64,
        #[command(flatten)]
        key: MasterKeyArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the keyed hash chain (needs the master key); exits non-zero if any row was
    /// altered, inserted or removed, or the log no longer reaches a checkpoint given.
    Verify {
        #[command(flatten)]
        db: Database,
        #[command(flatten)]
        key: MasterKeyArgs,
        /// A file of checkpoints (one JSON object a line, as `trellis audit checkpoint` writes).
        #[arg(long)]
        checkpoints: Option<PathBuf>,
    },
    /// Print a signed checkpoint of the chain (rows, head, time) as one JSON line; keep these
    /// outside the database (e.g. append them to a file on another machine) so verify can detect
    /// a truncated or rewritten log.
    Checkpoint {
        #[command(flatten)]
        db: Database,
        #[command(flatten)]
        key: MasterKeyArgs,
    },
}

#[tokio::main]
async fn main() {
    init_logging();
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("trellis: {e:#}");
        std::process::exit(2);
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("TRELLIS_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.compact().init();
    }
}

async fn open(db: &Database) -> Result<Store> {
    let store = Store::connect(&db.database_url)
        .await
        .context("cannot open the database (check --database-url / TRELLIS_DATABASE_URL)")?;
    store.migrate().await.context("cannot apply migrations")?;
    Ok(store)
}

/// Opens the database and unlocks it: writing or verifying the keyed audit log needs the key.
async fn open_unlocked(db: &Database, key: &MasterKeyArgs) -> Result<Store> {
    let store = open(db).await?;
    store.unlock(&key.load()?).await?;
    Ok(store)
}

fn parse_bind(bind: &str) -> Result<SocketAddr> {
    bind.parse()
        .with_context(|| format!("--bind {bind:?} is not an address like 127.0.0.1:8080"))
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo {
            bind,
            data_dir,
            database_url,
            scale,
            fraction,
        } => {
            let addr = parse_bind(&bind)?;
            if !(0.0..=1.0).contains(&fraction) || fraction == 0.0 {
                bail!("--fraction must be above 0 and at most 1");
            }
            let url = database_url
                .unwrap_or_else(|| format!("sqlite://{}/trellis.db", data_dir.display()));
            let store = Store::connect(&url)
                .await
                .context("cannot open the demo database")?;
            store.migrate().await.context("cannot apply migrations")?;
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("cannot create {}", data_dir.display()))?;
            store.unlock(&demo_master_key(&data_dir)?).await?;
            let fresh = store.staff().await?.is_empty();
            if fresh {
                eprintln!("Creating the demo clinic …");
                demo::load(&store)
                    .await
                    .context("cannot load the demo clinic")?;
                if scale == Scale::Network {
                    let options = generate::Options::network(fraction, 2026);
                    generate::network(&store, &options, demo::clinic_today()).await?;
                }
            }
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            println!("\nTrellis demo clinic is running at http://{addr}/\n");
            println!(
                "Sign in as any of these (password: {}; the demo asks for no second factor):",
                demo::PASSWORD
            );
            for (username, role, name) in demo::STAFF {
                println!("  {username:<12} {:<24} {name}", role.label());
            }
            println!(
                "Patient portal: http://{addr}/portal as {:<8} (same password), a patient of counselor's evening group",
                demo::PORTAL_USERNAME
            );
            if scale == Scale::Network {
                println!("Generated sites N03… have n03.counselor1, n03.director, n03.frontdesk, … (same password)");
            }
            println!("\nData: {url} · stop with Ctrl-C");
            let config = Config {
                job_poll: Some(JOB_POLL),
                ..Config::default()
            };
            serve(listener, store, config).await
        }
        Command::Serve {
            db,
            bind,
            public_url,
            idle_timeout_minutes,
            metrics,
            trusted_proxies,
            tokens,
            key,
        } => {
            let addr = parse_bind(&bind)?;
            if !(1..=240).contains(&idle_timeout_minutes) {
                bail!("--idle-timeout-minutes must be between 1 and 240");
            }
            if let Some(url) = &public_url {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    bail!("--public-url must start with https:// (or http:// for testing)");
                }
            }
            let store = open(&db).await?;
            store.unlock(&key.load()?).await?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            tracing::info!(%addr, "listening");
            let config = Config {
                idle_timeout: chrono::Duration::minutes(idle_timeout_minutes),
                public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
                metrics,
                token_max_lifetime: chrono::Duration::days(tokens.token_max_days),
                job_poll: Some(JOB_POLL),
                trusted_proxies,
                ..Config::default()
            };
            serve(listener, store, config).await
        }
        Command::Generate {
            db,
            key,
            fraction,
            sites,
            episodes,
            years,
            seed,
            quiet,
        } => {
            if !(0.0..=1.0).contains(&fraction) || fraction == 0.0 {
                bail!("--fraction must be above 0 and at most 1");
            }
            let mut options = generate::Options::network(fraction, seed);
            options.years = years;
            options.progress = !quiet;
            if let Some(n) = sites {
                options.sites = usize::from(n);
            }
            if let Some(n) = episodes {
                options.episodes = n as usize;
            }
            let store = open(&db).await?;
            store.unlock(&key.load()?).await?;
            let c = generate::network(&store, &options, demo::clinic_today()).await?;
            println!(
                "generated {} sites, {} staff, {} group sessions, {} patients, {} episodes, \
                 {} attendance, {} notes, {} measures, {} plans, {} screens, {} appointments, \
                 {} consents, {} disclosures, {} audit rows",
                c.sites,
                c.staff,
                c.sessions,
                c.patients,
                c.episodes,
                c.attendance,
                c.notes,
                c.measures,
                c.plans,
                c.screens,
                c.appointments,
                c.consents,
                c.disclosures,
                c.audit_rows
            );
            Ok(())
        }
        Command::Migrate { db } => {
            open(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    db,
                    username,
                    name,
                    role,
                    email,
                    key,
                },
        } => {
            let role: Role = role.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            let store = open_unlocked(&db, &key).await?;
            let actor = Actor::system("user-create");
            let grant = store.grant::<can::ManageUsers>(&actor)?;
            let id = store
                .create_staff(
                    &grant,
                    &NewStaff {
                        username: username.clone(),
                        display_name: name,
                        email,
                        role,
                        password,
                    },
                )
                .await
                .map_err(describe)?;
            println!("created {username} (id {id}, {})", role.label());
            Ok(())
        }
        Command::User {
            command: UserCommand::EnrolmentCode { db, username, key },
        } => {
            let store = open_unlocked(&db, &key).await?;
            let user = store.staff_by_username(&username).await.map_err(describe)?;
            let actor = Actor::system("user-enrolment-code");
            let grant = store.grant::<can::ManageUsers>(&actor)?;
            let issued = store
                .issue_enrolment_code(&grant, user.id)
                .await
                .map_err(describe)?;
            println!(
                "enrolment code for {username}: {} (works once, until {} UTC)",
                issued.code,
                issued.expires_at.0.format("%Y-%m-%d %H:%M")
            );
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    db,
                    user,
                    name,
                    role,
                    expires_in_days,
                    tokens,
                    key,
                },
        } => {
            let store = open_unlocked(&db, &key).await?;
            let owner = store.staff_by_username(&user).await.map_err(describe)?;
            let role = match role {
                Some(r) => r.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
                None => owner.role()?,
            };
            if expires_in_days.is_some_and(|d| d < 1 || d > tokens.token_max_days) {
                bail!(
                    "--expires-in-days must be 1 to {} (the maximum token lifetime)",
                    tokens.token_max_days
                );
            }
            let expires =
                expires_in_days.map(|d| Instant(chrono::Utc::now() + chrono::Duration::days(d)));
            let secret = store
                .create_token(
                    &Actor::system("token-create"),
                    owner.id,
                    &name,
                    role,
                    expires,
                    chrono::Duration::days(tokens.token_max_days),
                )
                .await
                .map_err(describe)?;
            println!("{secret}");
            eprintln!("This token is shown once. Send it as: Authorization: Bearer <token>");
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Revoke { db, id, key },
        } => {
            let store = open_unlocked(&db, &key).await?;
            store
                .revoke_token(&Actor::system("token-revoke"), id)
                .await
                .map_err(describe)?;
            println!("token {id} revoked");
            Ok(())
        }
        Command::Audit {
            command:
                AuditCommand::Verify {
                    db,
                    key,
                    checkpoints,
                },
        } => {
            let store = open_unlocked(&db, &key).await?;
            let checkpoints = match checkpoints {
                Some(path) => read_checkpoints(&path)?,
                None => Vec::new(),
            };
            let v = store.verify_audit_against(&checkpoints).await?;
            if v.is_intact() {
                println!("audit log intact: {} rows, head {}", v.rows, v.head_hash);
                Ok(())
            } else {
                for p in &v.problems {
                    eprintln!("{p}");
                }
                bail!(
                    "audit log verification failed: {} problem(s)",
                    v.problems.len()
                )
            }
        }
        Command::Audit {
            command: AuditCommand::Checkpoint { db, key },
        } => {
            let store = open_unlocked(&db, &key).await?;
            let checkpoint = store.audit_checkpoint().await?;
            println!("{}", serde_json::to_string(&checkpoint)?);
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Generate { out },
        } => {
            let (_, text) = MasterKey::generate();
            write_secret_file(&out, &text)?;
            println!(
                "master key written to {}; keep a copy apart from the database backups",
                out.display()
            );
            Ok(())
        }
        Command::Keys {
            command:
                KeysCommand::Rotate {
                    db,
                    master_key_file,
                    new_master_key_file,
                },
        } => {
            let old = MasterKey::from_file(&master_key_file)?;
            let new = MasterKey::from_file(&new_master_key_file)?;
            let store = open(&db).await?;
            let n = store
                .rotate_master_key(&old, &new)
                .await
                .map_err(describe)?;
            println!(
                "{n} data key(s) now wrapped by master key {}; start Trellis with the new key file",
                new.fingerprint()
            );
            Ok(())
        }
        Command::Backup { db, out } => {
            let store = Store::connect(&db.database_url)
                .await
                .context("cannot open the database")?;
            store.backup_sqlite(&out).await.map_err(describe)?;
            println!("backup written to {}", out.display());
            Ok(())
        }
    }
}

/// Reads checkpoints, one JSON object a line (blank lines skipped).
fn read_checkpoints(path: &std::path::Path) -> Result<Vec<Checkpoint>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read checkpoints from {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{} line {}: not a checkpoint", path.display(), n + 1))
        })
        .collect()
}

/// The demo's master key: created beside the demo database on first start.
fn demo_master_key(data_dir: &std::path::Path) -> Result<MasterKey> {
    let path = data_dir.join("master.key");
    if path.exists() {
        return Ok(MasterKey::from_file(&path)?);
    }
    let (key, text) = MasterKey::generate();
    write_secret_file(&path, &text)?;
    Ok(key)
}

/// Writes a new file that only its owner can read.
fn write_secret_file(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// A store error in words for the terminal, including each field's problem.
fn describe(e: trellis_storage::StoreError) -> anyhow::Error {
    match e {
        trellis_storage::StoreError::Invalid(fields) => anyhow::anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}

async fn serve(listener: tokio::net::TcpListener, store: Store, config: Config) -> Result<()> {
    let state = AppState::new(store, config).await?;
    trellis_web::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down; finishing requests in flight");
}
