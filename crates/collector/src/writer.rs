//! The single writer: takes every waiting batch of accepted reports, commits them in one
//! transaction (group commit), then answers each request. A request is answered only after the
//! transaction that holds its reports committed; a failed commit answers every waiting request
//! with an error and stores nothing of theirs.

use std::collections::HashMap;
use std::time::Instant;

use dpseg::estimate::Tally;
use dpseg::privacy::mechanism::Slot;
use tokio::sync::{mpsc, oneshot};

use crate::catalog::Catalog;
use crate::store::{CounterDelta, NonceRow};
use crate::AppState;

/// A report that passed validation, waiting to be committed.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    pub(crate) campaign: usize,
    pub(crate) epoch: u64,
    pub(crate) nonce: [u8; 16],
    pub(crate) slots: Vec<Slot>,
}

pub(crate) struct Job {
    pub(crate) reports: Vec<Accepted>,
    pub(crate) reply: oneshot::Sender<Result<Vec<bool>, ()>>,
}

/// Reports per transaction at most, when batching waiting requests together.
const COMMIT_REPORTS_MAX: usize = 20_000;

/// The single writer: takes every waiting job, commits them in one transaction, then answers.
pub(crate) async fn writer(state: std::sync::Weak<AppState>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let Some(state) = state.upgrade() else { return };
        let mut jobs = vec![first];
        let mut total = jobs[0].reports.len();
        while total < COMMIT_REPORTS_MAX {
            match rx.try_recv() {
                Ok(job) => {
                    total += job.reports.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let reports: Vec<&Accepted> = jobs.iter().flat_map(|j| j.reports.iter()).collect();
        let nonces: Vec<NonceRow<'_>> = reports
            .iter()
            .map(|r| NonceRow {
                campaign: state.catalog.campaigns[r.campaign].compiled.campaign().id(),
                nonce: r.nonce,
                epoch: r.epoch,
            })
            .collect();
        let started = Instant::now();
        let result =
            state.store.ingest(&nonces, |fresh| deltas(&state.catalog, &reports, fresh)).await;
        state.metrics.storage.observe(started.elapsed().as_secs_f64());
        match result {
            Ok(fresh) => {
                state.write_health.committed();
                let mut offset = 0;
                for job in jobs {
                    let n = job.reports.len();
                    let _ = job.reply.send(Ok(fresh[offset..offset + n].to_vec()));
                    offset += n;
                }
            }
            Err(e) => {
                state.write_health.failed();
                eprintln!("dpseg-collector: commit failed: {e}");
                for job in jobs {
                    let _ = job.reply.send(Err(()));
                }
            }
        }
    }
}

/// The counter increments of the new reports, tallied per (campaign, config, epoch).
fn deltas(catalog: &Catalog, reports: &[&Accepted], fresh: &[bool]) -> Vec<CounterDelta> {
    let mut tallies: HashMap<(usize, u64), Tally> = HashMap::new();
    for (r, _) in reports.iter().zip(fresh).filter(|(_, &f)| f) {
        let served = &catalog.campaigns[r.campaign];
        tallies
            .entry((r.campaign, r.epoch))
            .or_insert_with(|| Tally::new(&served.mechanism))
            .add(&served.mechanism, &r.slots);
    }
    let mut out = Vec::new();
    for ((c, epoch), tally) in tallies {
        let served = &catalog.campaigns[c];
        for (key, delta) in tally.counters().into_iter().filter(|(_, v)| *v > 0) {
            out.push(CounterDelta {
                campaign: served.compiled.campaign().id().to_owned(),
                config_id: served.compiled.config_id().to_owned(),
                epoch,
                key,
                delta,
            });
        }
    }
    out
}
