//! PNG charts of a run: throughput, request rates, memory and at-scale latency, as grouped bars of the
//! median with a min–max whisker.
//!
//! Text is drawn with a TrueType font found on the machine (plotters' `ab_glyph` backend needs the bytes;
//! no fontconfig linkage). Without a font the charts are still drawn, without any text, and the report's
//! tables carry the numbers.

use std::path::Path;

use anyhow::anyhow;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::num;
use crate::results::{Run, Unit};
use crate::stats;

const CABINET: RGBColor = RGBColor(31, 119, 180);
const NGINX: RGBColor = RGBColor(44, 160, 44);
const S3S: RGBColor = RGBColor(255, 127, 14);
const WEED: RGBColor = RGBColor(148, 103, 189);
const LIMIT: RGBColor = RGBColor(127, 127, 127);
const P50: RGBColor = RGBColor(120, 170, 220);
const P99: RGBColor = RGBColor(20, 60, 130);

/// Bars of one chart.
struct Bars {
    title: String,
    y_label: String,
    categories: Vec<String>,
    series: Vec<(String, RGBColor)>,
    /// `values[category][series]`: (min, median, max).
    values: Vec<Vec<Option<(f64, f64, f64)>>>,
    log_y: bool,
}

fn server_color(s: &str) -> RGBColor {
    match s {
        "nginx" => NGINX,
        "s3s-fs" => S3S,
        "seaweedfs" | crate::peers::WEED_NAME => WEED,
        crate::workloads::LIMIT_NAME => LIMIT,
        _ => CABINET,
    }
}

/// Finds a sans-serif TrueType font and registers it with plotters; false when none is found.
fn register_font() -> bool {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REGISTERED.get_or_init(|| {
        if std::env::var_os("CABINET_BENCH_NO_FONT").is_some() {
            return false;
        }
        let mut candidates: Vec<String> = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
            "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
            "/Library/Fonts/Arial.ttf",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Ok(out) = std::process::Command::new("fc-match")
            .args(["-f", "%{file}", "sans-serif:fontformat=TrueType"])
            .output()
        {
            let f = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !f.is_empty() {
                candidates.push(f);
            }
        }
        for c in candidates {
            if let Ok(bytes) = std::fs::read(&c) {
                // plotters keeps registered fonts for the life of the process and wants 'static bytes.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

/// Renders every chart that has data into `out`; returns (title, file name) of each.
pub fn render_all(run: &Run, out: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = register_font();
    if !text {
        crate::log("no TrueType font found: charts are drawn without text");
    }
    let mut made = Vec::new();
    let charts = [
        (
            "throughput.png",
            by_server(run, "Throughput (median, min–max)", "MB/s", |f| {
                f.unit == Unit::MBps
            }),
        ),
        (
            "rates.png",
            by_server(
                run,
                "Request rates (median, min–max)",
                "per second",
                |f| {
                    matches!(f.unit, Unit::FilesPerSec | Unit::ReqPerSec)
                        && !f.metric.starts_with("bulk load")
                },
            ),
        ),
        (
            "memory.png",
            by_server(
                run,
                "Server peak RSS during transfers (median, min–max)",
                "MiB",
                |f| f.unit == Unit::MiB && f.metric == "server peak RSS",
            ),
        ),
        ("latency.png", latency(run)),
    ];
    for (file, bars) in charts {
        if bars.values.iter().flatten().all(|v| v.is_none()) {
            continue;
        }
        draw(&out.join(file), &bars, text)?;
        made.push((bars.title.clone(), file.to_string()));
    }
    Ok(made)
}

/// One category per (section, metric) of the selected figures, one bar per server.
fn by_server(
    run: &Run,
    title: &str,
    y_label: &str,
    select: impl Fn(&crate::results::Figure) -> bool,
) -> Bars {
    let mut cats: Vec<(String, String)> = Vec::new();
    let mut servers: Vec<String> = Vec::new();
    for f in run.figures.iter().filter(|f| select(f)) {
        let key = (f.section.clone(), f.metric.clone());
        if !cats.contains(&key) {
            cats.push(key);
        }
        if !servers.contains(&f.server) {
            servers.push(f.server.clone());
        }
    }
    let values = cats
        .iter()
        .map(|(sec, met)| {
            servers
                .iter()
                .map(|s| {
                    run.find(sec, met, s)
                        .and_then(|f| stats::min_med_max(&f.samples))
                })
                .collect()
        })
        .collect();
    let categories = cats
        .iter()
        .map(|(sec, met)| {
            let sec = sec.split_once(". ").map(|(_, t)| t).unwrap_or(sec);
            if met == "throughput" || met == "server peak RSS" || met == "files per second" {
                sec.to_string()
            } else {
                met.split(" (").next().unwrap_or(met).to_string()
            }
        })
        .collect();
    Bars {
        title: title.to_string(),
        y_label: y_label.to_string(),
        categories,
        series: servers
            .iter()
            .map(|s| (s.clone(), server_color(s)))
            .collect(),
        values,
        log_y: false,
    }
}

/// The at-scale query latencies: p50 and p99 per query kind.
fn latency(run: &Run) -> Bars {
    let mut cats: Vec<String> = Vec::new();
    for f in run.figures.iter().filter(|f| f.unit == Unit::Ms) {
        if let Some(q) = f
            .metric
            .strip_suffix(": p50")
            .or_else(|| f.metric.strip_suffix(": p99"))
        {
            if !cats.iter().any(|c| c == q) {
                cats.push(q.to_string());
            }
        }
    }
    let values = cats
        .iter()
        .map(|q| {
            ["p50", "p99"]
                .iter()
                .map(|p| {
                    run.figures
                        .iter()
                        .find(|f| f.metric == format!("{q}: {p}"))
                        .and_then(|f| stats::min_med_max(&f.samples))
                })
                .collect()
        })
        .collect();
    let files = run.profile.scale_files;
    Bars {
        title: format!("Query latency with {files} files (median of per-run percentiles)"),
        y_label: "ms (log scale)".into(),
        categories: cats
            .iter()
            .map(|c| {
                c.replace("list 1000, ", "list ")
                    .replace("aggregate count, ", "count ")
                    .replace(" + uploadedTime range", "+time")
                    .replace(" (no filter)", "")
            })
            .collect(),
        series: vec![("p50".into(), P50), ("p99".into(), P99)],
        values,
        log_y: true,
    }
}

fn draw(path: &Path, bars: &Bars, text: bool) -> anyhow::Result<()> {
    let width = (220 + 130 * bars.categories.len() as u32).clamp(700, 1600);
    let root = BitMapBackend::new(path, (width, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
    let all: Vec<f64> = bars
        .values
        .iter()
        .flatten()
        .flatten()
        .flat_map(|(a, _, c)| [*a, *c])
        .collect();
    let hi = all.iter().copied().fold(0.0f64, f64::max).max(1e-6);
    if bars.log_y {
        let lo = all
            .iter()
            .copied()
            .filter(|x| *x > 0.0)
            .fold(f64::MAX, f64::min)
            .min(hi);
        let lo = 10f64.powf((lo / 2.0).log10().floor());
        draw_on(&root, bars, (lo..hi * 6.0).log_scale(), lo, text)?;
    } else {
        // Headroom above the tallest bar keeps the legend clear of the value labels.
        draw_on(&root, bars, 0.0..hi * 1.35, 0.0, text)?;
    }
    root.present()
        .map_err(|e| anyhow!("cannot write {}: {e:?}", path.display()))?;
    Ok(())
}

fn draw_on<Y>(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    bars: &Bars,
    y: Y,
    floor: f64,
    text: bool,
) -> anyhow::Result<()>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let e = |e: DrawingAreaErrorKind<_>| anyhow!("drawing failed: {e:?}");
    let n = bars.categories.len();
    let x = -0.5f64..n as f64 - 0.5;
    let mut builder = ChartBuilder::on(root);
    builder.margin(16);
    if text {
        builder
            .caption(&bars.title, ("sans-serif", 22))
            .x_label_area_size(40)
            .y_label_area_size(70);
    } else {
        builder.x_label_area_size(8).y_label_area_size(8);
    }
    let mut chart = builder.build_cartesian_2d(x, y).map_err(e)?;
    // Category names are drawn under each group by hand: a numeric x axis has no labels of its own here.
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh().x_labels(0);
    if text {
        mesh.y_desc(bars.y_label.as_str())
            .label_style(("sans-serif", 13));
    } else {
        mesh.y_labels(0);
    }
    mesh.draw().map_err(e)?;
    if text {
        let style = TextStyle::from(("sans-serif", 13)).pos(Pos::new(HPos::Center, VPos::Top));
        for (i, name) in bars.categories.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64, floor));
            root.draw(&Text::new(name.clone(), (px, py + 8), style.clone()))
                .map_err(e)?;
        }
    }

    for (si, (name, color)) in bars.series.iter().enumerate() {
        let color = *color;
        let mut rects = Vec::new();
        let mut whiskers = Vec::new();
        let mut labels = Vec::new();
        for (ci, row) in bars.values.iter().enumerate() {
            // Only the series present in this category share its width, so bars have no gaps.
            let present: Vec<usize> = (0..row.len()).filter(|j| row[*j].is_some()).collect();
            let Some(pos) = present.iter().position(|j| *j == si) else {
                continue;
            };
            let Some((lo, mid, hi)) = row[si] else {
                continue;
            };
            let w = 0.8 / present.len() as f64;
            let x0 = ci as f64 - 0.4 + pos as f64 * w;
            let xc = x0 + w / 2.0;
            rects.push(Rectangle::new(
                [(x0 + 0.01, floor), (x0 + w - 0.01, mid)],
                color.filled(),
            ));
            whiskers.push(PathElement::new(
                vec![(xc, lo), (xc, hi)],
                BLACK.stroke_width(1),
            ));
            whiskers.push(PathElement::new(
                vec![(xc - w / 6.0, hi), (xc + w / 6.0, hi)],
                BLACK.stroke_width(1),
            ));
            whiskers.push(PathElement::new(
                vec![(xc - w / 6.0, lo), (xc + w / 6.0, lo)],
                BLACK.stroke_width(1),
            ));
            labels.push((xc, hi, num(mid)));
        }
        let series = chart.draw_series(rects).map_err(e)?;
        if text {
            series.label(name.as_str()).legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 12, y + 6)], color.filled())
            });
        }
        chart.draw_series(whiskers).map_err(e)?;
        if text {
            let style =
                TextStyle::from(("sans-serif", 12)).pos(Pos::new(HPos::Center, VPos::Bottom));
            chart
                .draw_series(
                    labels
                        .into_iter()
                        .map(|(x, y, t)| Text::new(t, (x, y), style.clone())),
                )
                .map_err(e)?;
        }
    }
    if text {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(e)?;
    }
    Ok(())
}
