//! Fault injection for testing clients: rules, armed through the admin API (`/_cabinet/faults`, see
//! [`admin`]) or the `[faults]` section of the configuration file, make matching requests fail on
//! purpose (a status with a CDF error envelope, added latency, a reset connection, a truncated body).
//!
//! The rules live in the process: every node of a deployment has its own. A server with no rule armed pays
//! one atomic load per request ([`Faults::armed`]).

pub mod admin;
pub mod layer;
pub mod rules;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

pub use rules::{FaultKind, FaultSpec, Target};

/// The seed of the generator that draws `probability` rules when neither the configuration nor a
/// `POST /_cabinet/faults` gives one: runs are repeatable by default.
pub const DEFAULT_SEED: u64 = 0;

/// `[faults]` in the configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsConfig {
    /// The seed of the generator behind `probability` ([`DEFAULT_SEED`] when absent).
    pub seed: Option<u64>,
    /// With access control on, the principals (service-token subjects or a JWT's `sub`) that may use the
    /// admin API; nobody when empty. Ignored in open mode, where anyone may.
    #[serde(default)]
    pub admin: Vec<String>,
    /// Rules armed when the server starts, in the shape of `POST /_cabinet/faults` items.
    #[serde(default)]
    pub items: Vec<FaultSpec>,
}

impl FaultsConfig {
    /// The section with every item checked; the error names the item at fault.
    pub fn checked(mut self) -> anyhow::Result<Self> {
        self.items = self
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                item.checked()
                    .map_err(|e| anyhow::anyhow!("faults.items[{i}]: {e}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(self)
    }
}

/// An armed rule, as the admin API lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmedFault {
    /// Names the rule in `DELETE /_cabinet/faults/{id}`.
    pub id: u64,
    /// The rule as given.
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Requests it matched.
    pub matched: u64,
    /// Requests it fired on.
    pub fired: u64,
    /// How many more times it fires, for a rule with `times`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
}

/// What happens to one request a rule fired on.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    /// The id of the rule.
    pub id: u64,
    /// Its spec.
    pub spec: FaultSpec,
}

struct Inner {
    rules: Vec<ArmedFault>,
    next_id: u64,
    seed: u64,
    rng: StdRng,
}

/// The rules of one process, shared by the router's fault layer and the admin API.
pub struct Faults {
    armed: AtomicBool,
    inner: Mutex<Inner>,
    admins: Vec<String>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("armed", &self.armed())
            .finish_non_exhaustive()
    }
}

impl Faults {
    /// The rules of `config`, armed (they must have been [checked](FaultsConfig::checked)).
    pub fn new(config: &FaultsConfig) -> Self {
        let seed = config.seed.unwrap_or(DEFAULT_SEED);
        let faults = Self {
            armed: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                rules: Vec::new(),
                next_id: 1,
                seed,
                rng: StdRng::seed_from_u64(seed),
            }),
            admins: config.admin.clone(),
        };
        faults.add(config.items.clone(), None);
        faults
    }

    /// Whether any rule is armed: the one check a request pays when none is.
    pub fn armed(&self) -> bool {
        self.armed.load(Ordering::Acquire)
    }

    /// Whether `subject` may use the admin API when access control is on.
    pub fn is_admin(&self, subject: &str) -> bool {
        self.admins.iter().any(|a| a == subject)
    }

    /// Whether any admin is configured.
    pub fn has_admins(&self) -> bool {
        !self.admins.is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every update is a single assignment).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms `specs` (checked) after the rules already armed; a `seed` restarts the generator with it.
    /// Returns the new rules.
    pub fn add(&self, specs: Vec<FaultSpec>, seed: Option<u64>) -> Vec<ArmedFault> {
        let mut inner = self.lock();
        if let Some(seed) = seed {
            inner.seed = seed;
            inner.rng = StdRng::seed_from_u64(seed);
        }
        let mut added = Vec::with_capacity(specs.len());
        for spec in specs {
            let rule = ArmedFault {
                id: inner.next_id,
                remaining: spec.times,
                spec,
                matched: 0,
                fired: 0,
            };
            inner.next_id += 1;
            added.push(rule.clone());
            inner.rules.push(rule);
        }
        self.armed.store(!inner.rules.is_empty(), Ordering::Release);
        added
    }

    /// The armed rules and the seed.
    pub fn list(&self) -> (Vec<ArmedFault>, u64) {
        let inner = self.lock();
        (inner.rules.clone(), inner.seed)
    }

    /// Removes every rule and restarts the generator with the current seed; returns how many it removed.
    pub fn reset(&self) -> usize {
        let mut inner = self.lock();
        let removed = inner.rules.len();
        inner.rules.clear();
        inner.rng = StdRng::seed_from_u64(inner.seed);
        self.armed.store(false, Ordering::Release);
        removed
    }

    /// Removes rule `id`; whether there was one.
    pub fn remove(&self, id: u64) -> bool {
        let mut inner = self.lock();
        let before = inner.rules.len();
        inner.rules.retain(|r| r.id != id);
        self.armed.store(!inner.rules.is_empty(), Ordering::Release);
        inner.rules.len() != before
    }

    /// The first armed rule that matches `target` and fires on it (rules are tried in the order they were
    /// armed; a `probability` draw happens only for a matching rule with firings left). A rule whose
    /// `times` are used up stays listed, with `remaining: 0`, until it is removed.
    pub fn fire(&self, target: &Target<'_>) -> Option<Firing> {
        let mut inner = self.lock();
        let Inner { rules, rng, .. } = &mut *inner;
        for rule in rules.iter_mut() {
            if rule.remaining == Some(0) || !rule.spec.matches(target) {
                continue;
            }
            rule.matched += 1;
            if let Some(p) = rule.spec.probability {
                if rng.gen::<f64>() >= p {
                    continue;
                }
            }
            rule.fired += 1;
            if let Some(left) = rule.remaining.as_mut() {
                *left -= 1;
            }
            return Some(Firing {
                id: rule.id,
                spec: rule.spec.clone(),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: serde_json::Value) -> FaultSpec {
        serde_json::from_value::<FaultSpec>(json)
            .unwrap()
            .checked()
            .unwrap()
    }

    const LIST: Target<'static> = Target {
        method: "POST",
        project: "p",
        route: "files/list",
    };

    #[test]
    fn times_fire_on_the_next_requests_only() {
        let faults = Faults::new(&FaultsConfig::default());
        assert!(!faults.armed());
        faults.add(
            vec![rule(
                serde_json::json!({"route": "files/list", "status": 429, "times": 2}),
            )],
            None,
        );
        assert!(faults.armed());
        assert!(faults.fire(&LIST).is_some());
        assert!(faults.fire(&LIST).is_some());
        assert!(faults.fire(&LIST).is_none());
        let (rules, _) = faults.list();
        assert_eq!((rules[0].fired, rules[0].remaining), (2, Some(0)));
        assert_eq!(faults.reset(), 1);
        assert!(!faults.armed());
    }

    #[test]
    fn probability_draws_repeat_with_the_seed() {
        let draws = |seed| {
            let faults = Faults::new(&FaultsConfig {
                seed: Some(seed),
                ..FaultsConfig::default()
            });
            faults.add(
                vec![rule(
                    serde_json::json!({"route": "files/*", "status": 503, "probability": 0.3}),
                )],
                None,
            );
            (0..200)
                .map(|_| faults.fire(&LIST).is_some())
                .collect::<Vec<_>>()
        };
        let a = draws(7);
        assert_eq!(a, draws(7));
        assert_ne!(a, draws(8));
        let fired = a.iter().filter(|f| **f).count();
        assert!((30..=90).contains(&fired), "{fired} of 200 at p=0.3");
    }
}
