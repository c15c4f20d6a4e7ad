//! Summaries of samples: min / median / max over runs, percentiles within a run.

/// Smallest, median and largest sample; `None` for no samples.
pub fn min_med_max(samples: &[f64]) -> Option<(f64, f64, f64)> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    Some((s[0], median_sorted(&s), s[s.len() - 1]))
}

/// The median; the mean of the two middle values for an even count.
pub fn median(samples: &[f64]) -> Option<f64> {
    min_med_max(samples).map(|(_, m, _)| m)
}

fn median_sorted(s: &[f64]) -> f64 {
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Latencies of one run, recorded in microseconds with 3 significant digits.
pub struct Latencies {
    hist: hdrhistogram::Histogram<u64>,
}

impl Latencies {
    /// An empty recorder for latencies up to an hour.
    pub fn new() -> anyhow::Result<Self> {
        let hist = hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
            .map_err(|e| anyhow::anyhow!("cannot create a histogram: {e}"))?;
        Ok(Self { hist })
    }

    /// Records one latency.
    pub fn record(&mut self, d: std::time::Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        self.hist.saturating_record(us);
    }

    /// The `q` quantile (0..=1) in milliseconds; `None` when nothing was recorded.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.hist.is_empty() {
            return None;
        }
        Some(self.hist.value_at_quantile(q) as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(min_med_max(&[5.0, 1.0, 3.0]), Some((1.0, 3.0, 5.0)));
    }
}
