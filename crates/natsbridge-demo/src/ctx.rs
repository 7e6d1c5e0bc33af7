//! What every demo scenario shares, in a module of its own so that the driver (`run`) and
//! the scenarios it drives (`command`, `table`, `audio`, `health`, and the `dashboard`'s
//! services) import it and never each other: the context of a run ([`Ctx`]) and one row of
//! the summary ([`Outcome`]).

use std::sync::{Arc, Mutex};

use natsbridge::ReceiveOptions;
use natsbridge_testkit::NatsCluster;

/// What every scenario shares.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// One URL, or every seed of the cluster.
    pub(crate) nats_url: String,
    /// With `--cluster`: the nodes (scenario 4 kills its stream's leader) and R3 streams.
    pub(crate) cluster: Option<Arc<Mutex<NatsCluster>>>,
    pub(crate) files_url: String,
    pub(crate) receive: ReceiveOptions,
}

/// One row of the summary.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) name: &'static str,
    pub(crate) ok: bool,
    pub(crate) result: String,
    pub(crate) figure: String,
}
