//! What a run produced: figures with their samples, kept as data so the report, the charts and
//! `results.json` all read the same numbers.

use serde::Serialize;

use crate::machine::Machine;
use crate::profile::Profile;
use crate::stats;

/// Units of the figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    /// 10^6 bytes per second.
    MBps,
    /// 2^20 bytes.
    MiB,
    /// Files per second.
    FilesPerSec,
    /// Requests per second.
    ReqPerSec,
    /// Milliseconds.
    Ms,
    /// Seconds.
    Secs,
}

impl Unit {
    /// The unit as printed.
    pub fn label(self) -> &'static str {
        match self {
            Unit::MBps => "MB/s",
            Unit::MiB => "MiB",
            Unit::FilesPerSec => "files/s",
            Unit::ReqPerSec => "req/s",
            Unit::Ms => "ms",
            Unit::Secs => "s",
        }
    }
}

/// A goal a figure is reported against.
#[derive(Debug, Clone, Serialize)]
pub enum Target {
    /// The median must be at least `ratio` times the median of the peer's figure `metric` in the same
    /// section.
    RatioAtLeast {
        /// The peer's server name.
        peer: String,
        /// The peer's metric.
        metric: String,
        /// The factor.
        ratio: f64,
    },
    /// The median must be below this value.
    Below(f64),
    /// The median must be at least this value.
    AtLeast(f64),
    /// Every one of these must hold.
    AllOf(Vec<Target>),
}

/// One measured quantity of one server, over the repeated runs.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// The workload, e.g. `1. Large upload`.
    pub section: String,
    /// What was measured, e.g. `throughput` or `list p99 (mimeType)`.
    pub metric: String,
    /// `cabinet`, `nginx` or `s3s-fs`.
    pub server: String,
    /// Unit of the samples.
    pub unit: Unit,
    /// One value per run; empty when `error` is set.
    pub samples: Vec<f64>,
    /// Why the figure could not be measured.
    pub error: Option<String>,
    /// The goal, if any.
    pub target: Option<Target>,
    /// Context for the reader (share of files matched, sizes).
    pub note: Option<String>,
}

impl Figure {
    /// A measured figure.
    pub fn new(section: &str, metric: &str, server: &str, unit: Unit, samples: Vec<f64>) -> Self {
        Self {
            section: section.to_string(),
            metric: metric.to_string(),
            server: server.to_string(),
            unit,
            samples,
            error: None,
            target: None,
            note: None,
        }
    }

    /// A figure that could not be measured.
    pub fn failed(section: &str, metric: &str, server: &str, unit: Unit, error: String) -> Self {
        Self {
            error: Some(error),
            ..Self::new(section, metric, server, unit, Vec::new())
        }
    }

    /// From samples or the error that prevented them.
    pub fn from_result(
        section: &str,
        metric: &str,
        server: &str,
        unit: Unit,
        r: &Result<Vec<f64>, String>,
    ) -> Self {
        match r {
            Ok(s) if !s.is_empty() => Self::new(section, metric, server, unit, s.clone()),
            Ok(_) => Self::failed(section, metric, server, unit, "no samples".into()),
            Err(e) => Self::failed(section, metric, server, unit, e.clone()),
        }
    }

    /// With a goal.
    pub fn with_target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// With a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// The median of the samples.
    pub fn median(&self) -> Option<f64> {
        stats::median(&self.samples)
    }
}

/// Everything a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// `quick` or `full`.
    pub mode: String,
    /// The command line.
    pub command: String,
    /// Sizes used.
    pub profile: Profile,
    /// Workloads run.
    pub workloads: Vec<String>,
    /// Where it ran.
    pub machine: Machine,
    /// The figures, in the order measured.
    pub figures: Vec<Figure>,
    /// Wall time of the whole run.
    pub elapsed_secs: f64,
    /// Load average when the run ended (other work on the machine skews figures).
    pub loadavg_at_end: String,
}

impl Run {
    /// The figure of `server` with this section and metric.
    pub fn find(&self, section: &str, metric: &str, server: &str) -> Option<&Figure> {
        self.figures
            .iter()
            .find(|f| f.section == section && f.metric == metric && f.server == server)
    }

    /// Whether `f` meets its target: `None` when it has none or it cannot be judged.
    pub fn target_met(&self, f: &Figure) -> Option<bool> {
        self.meets(f, f.target.as_ref()?)
    }

    /// Whether `f` meets `target` (all of them, for [`Target::AllOf`]): `None` when it cannot be judged.
    fn meets(&self, f: &Figure, target: &Target) -> Option<bool> {
        let median = f.median()?;
        match target {
            Target::AllOf(all) => {
                // One part missed decides it even when another cannot be judged (a peer that did not run).
                let parts: Vec<Option<bool>> = all.iter().map(|t| self.meets(f, t)).collect();
                if parts.contains(&Some(false)) {
                    Some(false)
                } else if parts.contains(&None) {
                    None
                } else {
                    Some(true)
                }
            }
            Target::RatioAtLeast {
                peer,
                metric,
                ratio,
            } => {
                let p = self.find(&f.section, metric, peer)?.median()?;
                Some(median >= ratio * p)
            }
            Target::Below(v) => Some(median < *v),
            Target::AtLeast(v) => Some(median >= *v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(figures: Vec<Figure>) -> Run {
        Run {
            mode: "quick".into(),
            command: String::new(),
            profile: Profile::quick(),
            workloads: Vec::new(),
            machine: Machine::default(),
            figures,
            elapsed_secs: 0.0,
            loadavg_at_end: String::new(),
        }
    }

    fn rate(server: &str, v: f64) -> Figure {
        Figure::new(
            "4. Small files",
            "files per second",
            server,
            Unit::FilesPerSec,
            vec![v],
        )
    }

    fn both(s3s: f64, weed: f64) -> Target {
        let ratio = |peer: &str, ratio| Target::RatioAtLeast {
            peer: peer.into(),
            metric: "files per second".into(),
            ratio,
        };
        Target::AllOf(vec![ratio("s3s-fs", s3s), ratio("weed", weed)])
    }

    /// Every part of an `AllOf` target must hold; a missed part decides even when another part's peer
    /// has no figure.
    #[test]
    fn all_of_needs_every_part() {
        let run = run_with(vec![rate("s3s-fs", 1000.0), rate("weed", 400.0)]);
        let me = rate("cabinet", 1000.0);
        assert_eq!(
            run.target_met(&me.clone().with_target(both(1.0, 2.0))),
            Some(true)
        );
        assert_eq!(
            run.target_met(&me.clone().with_target(both(1.0, 3.0))),
            Some(false)
        );
        assert_eq!(
            run.target_met(&me.clone().with_target(both(1.5, 2.0))),
            Some(false)
        );
        let partial = run_with(vec![rate("s3s-fs", 1000.0)]);
        assert_eq!(
            partial.target_met(&me.clone().with_target(both(1.0, 2.0))),
            None
        );
        assert_eq!(
            partial.target_met(&me.with_target(both(1.5, 2.0))),
            Some(false)
        );
    }

    /// The report states both parts and the ratio to each peer.
    #[test]
    fn the_report_states_every_part() {
        let mut figures = vec![rate("s3s-fs", 1000.0), rate("weed", 400.0)];
        figures.insert(0, rate("cabinet", 1000.0).with_target(both(1.0, 3.0)));
        let md = crate::report::render(&run_with(figures), &[]);
        let row = md
            .lines()
            .find(|l| l.starts_with("| 4. Small files | files per second |"))
            .unwrap();
        assert!(
            row.contains("≥ 1× s3s-fs files per second and ≥ 3× weed files per second"),
            "{row}"
        );
        assert!(row.contains("1.00× s3s-fs, 2.50× weed"), "{row}");
        assert!(row.ends_with("| **no** |"), "{row}");
    }
}
