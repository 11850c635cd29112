//! `trellis generate`: a seeded, network-scale data set for load tests. On top of the demo
//! clinic it adds generated sites (two programs, three tracks and a staff each), ten years of
//! group sessions, and episodes with their attendance, notes, measures, plans, screens,
//! appointments, consents, disclosures and the audit rows all of that implies.
//!
//! Records are cloned from the demo clinic's own (so they have its shapes), re-dated to each
//! episode and re-encrypted; they go in with multi-row inserts, a few thousand episodes per
//! transaction.

mod records;
mod structure;
mod templates;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::io::Write;
use std::time::Instant as Clock;
use trellis_storage::access::{can, Actor};
use trellis_storage::Store;

/// How big a network to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Generated sites (the demo clinic's two come on top).
    pub sites: usize,
    /// Years of history, ending today.
    pub years: u32,
    /// Treatment episodes across the generated sites.
    pub episodes: usize,
    /// Seed: the same seed on an empty database gives the same data.
    pub seed: u64,
    /// Show progress on standard error.
    pub progress: bool,
}

impl Options {
    /// The full network (20 sites with the demo's two, ten years, 80,000 episodes) times
    /// `fraction` for sites and episodes.
    pub fn network(fraction: f64, seed: u64) -> Options {
        let fraction = fraction.clamp(0.0, 1.0);
        Options {
            sites: ((18.0 * fraction).round() as usize).max(1),
            years: 10,
            episodes: ((80_000.0 * fraction).round() as usize).max(1),
            seed,
            progress: true,
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Sites added.
    pub sites: u64,
    /// Staff accounts added.
    pub staff: u64,
    /// Group sessions added.
    pub sessions: u64,
    /// Patients added.
    pub patients: u64,
    /// Episodes added.
    pub episodes: u64,
    /// Attendance rows added.
    pub attendance: u64,
    /// Progress notes added.
    pub notes: u64,
    /// Measure administrations added.
    pub measures: u64,
    /// Treatment plans added.
    pub plans: u64,
    /// Drug screens added.
    pub screens: u64,
    /// Appointments added.
    pub appointments: u64,
    /// Consents added.
    pub consents: u64,
    /// Disclosures added.
    pub disclosures: u64,
    /// Audit rows added.
    pub audit_rows: u64,
}

/// Episodes per transaction: big enough for bulk speed, small enough to show progress.
const EPISODES_PER_TRANSACTION: usize = 1000;

/// Generates the network into `store`, loading the demo clinic first if the database is empty.
pub async fn network(store: &Store, options: &Options, today: NaiveDate) -> Result<Counts> {
    let started = Clock::now();
    if store.staff().await?.is_empty() {
        progress(options, "loading the demo clinic (the templates) …\n");
        crate::demo::load(store)
            .await
            .context("cannot load the demo clinic")?;
    }
    let system = Actor::system("generate");
    let grant = store.grant::<can::ManageUsers>(&system)?;
    let mut load = store.bulk_load(&grant).await?;
    let templates = templates::Templates::read(&mut load).await?;
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut counts = Counts::default();
    let network = structure::build(&mut load, &templates, options, today, &mut counts)
        .await
        .context("cannot create the generated sites")?;
    load.checkpoint().await?;
    progress(
        options,
        &format!(
            "{} sites, {} staff, {} group sessions ({:.0} s)\n",
            counts.sites,
            counts.staff,
            counts.sessions,
            started.elapsed().as_secs_f64()
        ),
    );
    let plan = records::plan_episodes(&network, options, today, &mut rng);
    let mut generator = records::Generator::new(&network, &templates, today);
    for (batch_number, batch) in plan.chunks(EPISODES_PER_TRANSACTION).enumerate() {
        generator
            .write_batch(&mut load, batch, &mut rng, &mut counts)
            .await
            .context("cannot write generated episodes")?;
        load.checkpoint().await?;
        let done = (batch_number * EPISODES_PER_TRANSACTION + batch.len()) as f64;
        let elapsed = started.elapsed().as_secs_f64();
        progress(
            options,
            &format!(
                "\repisodes {:>6}/{} ({:>3.0}%) · {} rows · {:.0} s",
                done as u64,
                plan.len(),
                100.0 * done / plan.len().max(1) as f64,
                load.rows_written(),
                elapsed
            ),
        );
    }
    load.commit().await?;
    // The planner's statistics still describe the demo clinic: without fresh ones the first
    // pages on the network plan as if every table had sixty patients.
    store
        .analyze()
        .await
        .context("cannot gather the query planner's statistics")?;
    progress(
        options,
        &format!("\ndone in {:.0} s\n", started.elapsed().as_secs_f64()),
    );
    Ok(counts)
}

fn progress(options: &Options, text: &str) {
    if options.progress {
        let mut err = std::io::stderr();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }
}
