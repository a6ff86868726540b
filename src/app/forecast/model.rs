//! Holt-Winters' additive seasonal method with a damped trend (ETS(A,Ad,A)),
//! its prediction intervals, and the seasonal-naive baseline it is judged
//! against.
//!
//! A statistical estimate, so it computes in `f64`; what it returns is
//! rounded to cents where it is stored. The smoothing parameters are chosen
//! by a fixed grid that minimises the one-step-ahead squared error: no
//! random start, so the same history always gives the same forecast.

/// A fitted model, ready to forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// What was fitted, in words (method and parameters).
    pub method: String,
    level: f64,
    trend: f64,
    /// The seasonal components, indexed by `t % period`.
    season: Vec<f64>,
    period: usize,
    alpha: f64,
    beta: f64,
    gamma: f64,
    phi: f64,
    /// The history's length: the next step's index.
    n: usize,
    /// Standard deviation of the one-step-ahead errors.
    sigma: f64,
}

/// One forecast month: the point, and its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The forecast.
    pub value: f64,
    /// Lower bound of the 95% prediction interval.
    pub lower: f64,
    /// Upper bound of the 95% prediction interval.
    pub upper: f64,
}

/// The normal distribution's 97.5% quantile: a 95% two-sided interval.
const Z95: f64 = 1.959_963_984_540_054;

/// The smoothing parameters tried.
const LEVELS: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const DAMPING: [f64; 3] = [0.9, 0.98, 1.0];

/// One pass over `y`; the sum of squared one-step errors from step `skip`
/// on, and the state at the end. `period` 1 is the model without season.
fn pass(
    y: &[f64],
    period: usize,
    (alpha, beta, gamma, phi): (f64, f64, f64, f64),
    skip: usize,
) -> (f64, f64, f64, Vec<f64>) {
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let (mut level, mut trend, mut season) = if period > 1 {
        // Classical start: the first season's mean, the change between
        // the first two seasons' means, the first season's deviations.
        let first = mean(&y[..period]);
        let second = mean(&y[period..2 * period]);
        let season: Vec<f64> = y[..period].iter().map(|v| v - first).collect();
        (first, (second - first) / period as f64, season)
    } else {
        // The first value, and the mean change over the first few.
        let k = (y.len() - 1).min(3);
        (y[0], (y[k] - y[0]) / k as f64, vec![0.0])
    };
    let mut sse = 0.0;
    for (t, &v) in y.iter().enumerate() {
        let s = season[t % period];
        let predicted = level + phi * trend + s;
        let error = v - predicted;
        if t >= skip {
            // The steps that made the start say nothing of the fit.
            sse += error * error;
        }
        let previous = level;
        level = alpha * (v - s) + (1.0 - alpha) * (previous + phi * trend);
        trend = beta * (level - previous) + (1.0 - beta) * phi * trend;
        season[t % period] = gamma * (v - level) + (1.0 - gamma) * s;
    }
    (sse, level, trend, season)
}

/// The best parameters on the grid for `period` (1: no season): the
/// squared error from step `skip` on, and the parameters.
fn search(y: &[f64], period: usize, skip: usize) -> (f64, (f64, f64, f64, f64)) {
    let gammas: &[f64] = if period > 1 { &LEVELS } else { &[0.0] };
    let mut best: Option<(f64, (f64, f64, f64, f64))> = None;
    for &alpha in &LEVELS {
        for &beta in &LEVELS {
            if beta > alpha {
                // The usual admissible region: the trend moves no faster
                // than the level.
                continue;
            }
            for &gamma in gammas {
                if gamma > 1.0 - alpha {
                    continue;
                }
                for &phi in &DAMPING {
                    let params = (alpha, beta, gamma, phi);
                    let (sse, ..) = pass(y, period, params, skip);
                    if best.is_none_or(|(b, _)| sse < b) {
                        best = Some((sse, params));
                    }
                }
            }
        }
    }
    best.expect("the grid is not empty")
}

/// Akaike's criterion for a fit with `k` estimated values whose `n`
/// one-step errors sum to `sse` in square.
fn aic(sse: f64, n: usize, k: usize) -> f64 {
    let n = n as f64;
    n * (sse.max(f64::MIN_POSITIVE) / n).ln() + 2.0 * k as f64
}

/// Fits `y`: with a season of `period` when there are two whole seasons
/// and the season earns its keep (a lower AIC than the damped trend alone,
/// counting the season's starting values as estimated), else the damped
/// trend alone. `None` under 3 values.
pub fn fit(y: &[f64], period: usize) -> Option<Fit> {
    if y.len() < 3 {
        return None;
    }
    let seasonal = period >= 2 && y.len() >= 2 * period;
    // Both are judged on the same steps: those after the first season.
    let skip = if seasonal { period } else { 1 };
    let (plain_sse, plain) = search(y, 1, skip);
    // alpha, beta, phi, and the starting level and trend.
    let plain_k = 5;
    let errors = y.len() - skip;
    let mut chosen = (plain_sse, plain, 1, plain_k);
    let mut why = if seasonal {
        String::new()
    } else {
        format!(": under two years of {period} months")
    };
    if seasonal {
        let (season_sse, with_season) = search(y, period, skip);
        // gamma too, and period - 1 free starting seasonal values.
        let season_k = plain_k + 1 + (period - 1);
        let (a_plain, a_season) = (
            aic(plain_sse, errors, plain_k),
            aic(season_sse, errors, season_k),
        );
        if a_season < a_plain {
            chosen = (season_sse, with_season, period, season_k);
        } else {
            why = format!(
                ": a yearly season did not earn its keep (AIC {a_season:.1} against {a_plain:.1})"
            );
        }
    }
    let (sse, params, period, k) = chosen;
    let (alpha, beta, gamma, phi) = params;
    let (_, level, trend, season) = pass(y, period, params, skip);
    let dof = errors.saturating_sub(k).max(1);
    let sigma = (sse / dof as f64).sqrt();
    let method = if period > 1 {
        format!(
            "Holt-Winters additive, period {period} (alpha={alpha}, beta={beta}, gamma={gamma}, phi={phi})"
        )
    } else {
        format!("damped trend, no season{why} (alpha={alpha}, beta={beta}, phi={phi})")
    };
    Some(Fit {
        method,
        level,
        trend,
        season,
        period,
        alpha,
        beta,
        gamma,
        phi,
        n: y.len(),
        sigma,
    })
}

impl Fit {
    /// The next `h` steps with their 95% intervals. The variance is the
    /// ETS(A,Ad,A) model's: sigma² (1 + sum over j < h of c_j²), where
    /// c_j = alpha (1 + beta (phi + ... + phi^j)) + gamma when j is a whole
    /// number of seasons.
    pub fn forecast(&self, h: usize) -> Vec<Point> {
        let mut out = Vec::with_capacity(h);
        let mut damped = 0.0; // phi + phi^2 + ... + phi^k
        let mut power = 1.0;
        let mut variance = 0.0;
        for k in 1..=h {
            power *= self.phi;
            damped += power;
            let s = self.season[(self.n + k - 1) % self.period];
            let value = self.level + damped * self.trend + s;
            // c_{k-1} joins the sum for step k (c_0 is absent: step 1's
            // variance is sigma² alone).
            if k > 1 {
                let j = k - 1;
                let phis: f64 = (1..=j).map(|i| self.phi.powi(i as i32)).sum();
                let seasonal = if self.period > 1 && j % self.period == 0 {
                    self.gamma
                } else {
                    0.0
                };
                let c = self.alpha * (1.0 + self.beta * phis) + seasonal;
                variance += c * c;
            }
            let half = Z95 * self.sigma * (1.0 + variance).sqrt();
            out.push(Point {
                value,
                lower: value - half,
                upper: value + half,
            });
        }
        out
    }
}

/// The seasonal-naive forecast: each month as the same month a season
/// before (the last value where the history is shorter than a season).
pub fn seasonal_naive(y: &[f64], period: usize, h: usize) -> Vec<f64> {
    (0..h)
        .map(|k| {
            if y.len() >= period {
                y[y.len() - period + (k % period)]
            } else {
                *y.last().unwrap_or(&0.0)
            }
        })
        .collect()
}

/// Symmetric mean absolute percentage error, in percent (0 to 200); a
/// month where both are 0 counts as exact.
pub fn smape(actual: &[f64], forecast: &[f64]) -> f64 {
    let terms: Vec<f64> = actual
        .iter()
        .zip(forecast)
        .map(|(a, f)| {
            let scale = a.abs() + f.abs();
            if scale == 0.0 {
                0.0
            } else {
                2.0 * (f - a).abs() / scale
            }
        })
        .collect();
    if terms.is_empty() {
        return 0.0;
    }
    100.0 * terms.iter().sum::<f64>() / terms.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trend plus a yearly pattern: what the model describes exactly.
    fn seasonal(n: usize) -> Vec<f64> {
        let pattern = [
            5.0, 3.0, 0.0, -2.0, -4.0, -6.0, -5.0, -2.0, 1.0, 3.0, 6.0, 1.0,
        ];
        (0..n)
            .map(|t| 100.0 + 0.5 * t as f64 + pattern[t % 12])
            .collect()
    }

    #[test]
    fn a_clean_seasonal_series_is_continued_and_beats_seasonal_naive() {
        let y = seasonal(48);
        let fit = fit(&y[..42], 12).unwrap();
        assert!(fit.method.starts_with("Holt-Winters"), "{}", fit.method);
        let points = fit.forecast(6);
        let predicted: Vec<f64> = points.iter().map(|p| p.value).collect();
        let model = smape(&y[42..], &predicted);
        let naive = smape(&y[42..], &seasonal_naive(&y[..42], 12, 6));
        assert!(model < 1.0, "sMAPE {model}");
        assert!(model < naive, "model {model} against naive {naive}");
        for (p, a) in points.iter().zip(&y[42..]) {
            assert!(p.lower <= p.value && p.value <= p.upper);
            assert!((p.value - a).abs() < 2.0, "{p:?} against {a}");
        }
        // The intervals widen with the horizon.
        assert!(points[5].upper - points[5].lower >= points[0].upper - points[0].lower);
    }

    #[test]
    fn the_same_history_gives_the_same_forecast() {
        let mut y = seasonal(36);
        // Noise that is the same every time.
        for (t, v) in y.iter_mut().enumerate() {
            *v += ((t * 7919) % 13) as f64 - 6.0;
        }
        let a = fit(&y, 12).unwrap().forecast(6);
        let b = fit(&y, 12).unwrap().forecast(6);
        assert_eq!(a, b);
        let spread = a[0].upper - a[0].lower;
        assert!(spread > 0.0, "noise gives an interval");
    }

    #[test]
    fn noise_without_a_season_is_not_given_one() {
        // A fixed, patternless sequence around a level.
        let y: Vec<f64> = (0..48u64)
            .map(|t| 100.0 + ((t * 2_654_435_761) % 97) as f64 / 4.0)
            .collect();
        let fit = fit(&y, 12).unwrap();
        assert!(
            fit.method.contains("did not earn its keep"),
            "{}",
            fit.method
        );
    }

    #[test]
    fn short_histories_fall_back_and_tiny_ones_are_refused() {
        let y = seasonal(18);
        let fit18 = fit(&y, 12).unwrap();
        assert!(fit18.method.starts_with("damped trend"), "{}", fit18.method);
        assert_eq!(fit18.forecast(3).len(), 3);
        assert!(fit(&y[..2], 12).is_none());
    }

    #[test]
    fn smape_and_seasonal_naive_are_what_they_say() {
        assert_eq!(smape(&[100.0, 0.0], &[100.0, 0.0]), 0.0);
        assert!((smape(&[100.0], &[50.0]) - 66.666_666_666_666_67).abs() < 1e-9);
        let y: Vec<f64> = (0..24).map(f64::from).collect();
        assert_eq!(seasonal_naive(&y, 12, 3), vec![12.0, 13.0, 14.0]);
    }
}
