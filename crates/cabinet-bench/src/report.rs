//! `bench/RESULTS.md`: the machine, the targets, every figure (min / median / max over runs) with its
//! ratio to the peer, the charts, and how each figure was measured.

use std::fmt::Write;

use crate::results::{Figure, Run, Target};
use crate::stats;

/// Formats a number with precision that suits its size.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn cell(s: &str) -> String {
    let one_line = s.replace(['\n', '\r'], " ").replace('|', "\\|");
    crate::client::truncate(&one_line, 400)
}

fn target_text(t: &Target, unit: &str) -> String {
    match t {
        Target::RatioAtLeast {
            peer,
            metric,
            ratio,
        } => format!("≥ {ratio}× {peer} {metric}"),
        Target::Below(v) => format!("< {} {unit}", num(*v)),
        Target::AtLeast(v) => format!("≥ {} {unit}", num(*v)),
        Target::AllOf(all) => all
            .iter()
            .map(|t| target_text(t, unit))
            .collect::<Vec<_>>()
            .join(" and "),
    }
}

fn met_text(m: Option<bool>, f: &Figure) -> &'static str {
    match (m, &f.target, &f.error) {
        (_, None, _) => "",
        (_, Some(_), Some(_)) => "n/a",
        (Some(true), _, _) => "yes",
        (Some(false), _, _) => "**no**",
        (None, _, _) => "n/a",
    }
}

/// cabinet's median over each peer's median of the same metric (and of the target's metric).
fn ratios(run: &Run, f: &Figure) -> String {
    if f.server != "cabinet" {
        return String::new();
    }
    let Some(me) = f.median() else {
        return String::new();
    };
    let mut out = Vec::new();
    for other in run
        .figures
        .iter()
        .filter(|o| o.section == f.section && o.metric == f.metric && o.server != f.server)
    {
        if let Some(p) = other.median().filter(|p| *p > 0.0) {
            out.push(format!("{:.2}× {}", me / p, other.server));
        }
    }
    let targets = match &f.target {
        Some(Target::AllOf(all)) => all.iter().collect(),
        Some(t) => vec![t],
        None => Vec::new(),
    };
    for t in targets {
        let Target::RatioAtLeast { peer, metric, .. } = t else {
            continue;
        };
        if metric != &f.metric {
            if let Some(p) = run
                .find(&f.section, metric, peer)
                .and_then(|o| o.median())
                .filter(|p| *p > 0.0)
            {
                out.push(format!("{:.2}× {peer} {metric}", me / p));
            }
        }
    }
    out.join(", ")
}

/// The figures of a section, grouped by metric (in order of first appearance) so that the servers' values
/// of one metric sit next to each other.
fn ordered<'a>(run: &'a Run, section: &str) -> Vec<&'a Figure> {
    let figs: Vec<&Figure> = run
        .figures
        .iter()
        .filter(|f| f.section == section)
        .collect();
    let mut metrics: Vec<&str> = Vec::new();
    for f in &figs {
        if !metrics.contains(&f.metric.as_str()) {
            metrics.push(&f.metric);
        }
    }
    metrics
        .iter()
        .flat_map(|m| figs.iter().copied().filter(move |f| f.metric == *m))
        .collect()
}

/// The whole report.
pub fn render(run: &Run, charts: &[(String, String)]) -> String {
    let mut s = String::new();
    let m = &run.machine;
    let quick = if run.mode == "quick" { " --quick" } else { "" };
    let _ = writeln!(s, "# cabinet benchmark results\n");
    let _ = writeln!(
        s,
        "Produced by `cargo run --release -p cabinet-bench -- all{quick}` ({} mode) on {}; the run took {:.1} minutes.",
        run.mode,
        m.date_utc,
        run.elapsed_secs / 60.0
    );
    let _ = writeln!(
        s,
        "Every server ran on loopback on this machine with a fresh data directory, sharing the cores with the load \
         generator. This is a measurement, not a test: figures move with background load, so each is given as \
         min / median / max over {} runs, and targets are judged on the median.\n",
        run.profile.runs
    );
    if run.mode == "quick" {
        let _ = writeln!(
            s,
            "Quick mode uses smaller sizes than the targets are stated for ({} MiB instead of 1 GiB transfers, \
             {} instead of 1,000,000 files at scale); run without `--quick` for the real figures.\n",
            run.profile.large_bytes >> 20,
            run.profile.scale_files
        );
    }

    let _ = writeln!(s, "## Machine and versions\n\n| | |\n|---|---|");
    for (k, v) in [
        ("CPU", format!("{} ({} logical cores)", m.cpu, m.cores)),
        ("Memory", format!("{:.1} GiB", m.memory_gib)),
        ("OS / kernel", format!("{} / {}", m.os, m.kernel)),
        (
            "Load average (1/5/15 min) at start / end",
            format!("{} / {}", m.loadavg_at_start, run.loadavg_at_end),
        ),
        ("rustc", m.rustc.clone()),
        ("cabinet", m.cabinet.clone()),
        ("nginx", m.nginx.clone()),
        ("s3s-fs", m.s3s.clone()),
        ("SeaweedFS", m.seaweedfs.clone()),
        ("Load generator", m.client.clone()),
    ] {
        let _ = writeln!(s, "| {k} | {} |", cell(&v));
    }

    let _ = writeln!(s, "\n## Targets\n\n| Workload | Figure | cabinet (median) | vs peer | target | met? |\n|---|---|---|---|---|---|");
    for f in run.figures.iter().filter(|f| f.target.is_some()) {
        let unit = f.unit.label();
        let value = match (&f.error, f.median()) {
            (Some(e), _) => format!("error: {}", cell(e)),
            (None, Some(x)) => format!("{} {unit}", num(x)),
            (None, None) => "–".into(),
        };
        let t = f
            .target
            .as_ref()
            .map(|t| target_text(t, unit))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | {value} | {} | {t} | {} |",
            f.section,
            cell(&f.metric),
            ratios(run, f),
            met_text(run.target_met(f), f)
        );
    }

    let _ = writeln!(
        s,
        "\n## All figures\n\nmin / median / max over the runs; \"vs peer\" is cabinet's median divided by the peer's median."
    );
    let mut sections: Vec<&str> = Vec::new();
    for f in &run.figures {
        if !sections.contains(&f.section.as_str()) {
            sections.push(&f.section);
        }
    }
    for sec in sections {
        let _ = writeln!(
            s,
            "\n### {sec}\n\n| Figure | Server | min | median | max | unit | vs peer | target | met? | note |\n|---|---|---|---|---|---|---|---|---|---|"
        );
        for f in ordered(run, sec) {
            let unit = f.unit.label();
            let (a, b, c) = match (&f.error, stats::min_med_max(&f.samples)) {
                (Some(e), _) => (
                    "–".to_string(),
                    format!("error: {}", cell(e)),
                    "–".to_string(),
                ),
                (None, Some((lo, mid, hi))) => (num(lo), num(mid), num(hi)),
                (None, None) => ("–".into(), "–".into(), "–".into()),
            };
            let t = f
                .target
                .as_ref()
                .map(|t| target_text(t, unit))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "| {} | {} | {a} | {b} | {c} | {unit} | {} | {t} | {} | {} |",
                cell(&f.metric),
                f.server,
                ratios(run, f),
                met_text(run.target_met(f), f),
                cell(f.note.as_deref().unwrap_or(""))
            );
        }
    }

    if !charts.is_empty() {
        let _ = writeln!(s, "\n## Charts\n");
        for (title, file) in charts {
            let _ = writeln!(s, "![{title}]({file})\n");
        }
    }

    let p = &run.profile;
    let _ = writeln!(s, "## How each figure is measured\n");
    for line in [
        format!(
            "**Client.** The same in-process client for every server: {}. Transfers, small files and the \
             at-scale queries use reqwest with a connection pool; request bodies are streamed from one reused \
             1 MiB chunk (nothing large is held in memory) with a Content-Length, and downloads are counted and \
             discarded. The request-rate workload (5) uses plain hyper HTTP/1.1 keep-alive connections, one per \
             request in flight, to take as little of the shared CPU as possible. One client for all servers was \
             chosen over curl so that every figure is measured the same way.",
            m.client
        ),
        "**Large upload (1).** One file PUT to cabinet's signed upload URL (the `POST /files` that returns it is \
         not timed), to nginx's WebDAV location, and to s3s-fs and to SeaweedFS with SigV4-presigned URLs. Time \
         from sending the request to its answer; MB/s = 10^6 bytes per second. cabinet answers once the content \
         is fsynced and the file is marked uploaded, and so does the durable peer, SeaweedFS (`weed mini`, one \
         process for all runs, `fs.configure -fsync` on its buckets); nginx and s3s-fs answer without fsync, \
         so they show the page cache's speed, not the disk's."
            .to_string(),
        format!(
            "**Durable write limit (1).** What the disk itself allows for a durable file of the same size: no \
             server, no network, the file written into the work directory, the same filesystem as every \
             server's data directory, in two ways: `O_DIRECT` with 4 MiB writes from a 4096-aligned buffer \
             then one `fdatasync`, and buffered 1 MiB writes then one `fdatasync`, each timed from creating \
             the file to the end of the sync, with `sync` before the next. Each run's figure is the faster \
             of the two (the note gives both medians). This disk's speed drifts within minutes, so the limit \
             is measured in every run right before cabinet's upload (limit, cabinet, the peers; limit, \
             cabinet, …), and cabinet's upload target is a share of it ({} MiB here).",
            p.large_bytes >> 20
        ),
        "**Large download (2).** The same file through cabinet's signed download URL, nginx static GET (sendfile), \
         and presigned s3s-fs and SeaweedFS GETs, from sending the request to the last byte. SeaweedFS's \
         memory is not compared: its one process (master, volume server, filer and S3 gateway) serves every \
         run."
            .to_string(),
        "**Peak RSS.** Each transfer runs in a freshly started server process; its peak is the process's VmHWM \
         (/proc/PID/status) read right after the transfer, so it is the most memory held at any moment of it. \
         For nginx the master's and workers' VmHWM are summed. `sync` runs after every measurement (untimed) so \
         write-back of one run does not slow the next."
            .to_string(),
        format!(
            "**Multipart (3).** init, {} MiB parts with {} in flight, complete; time from the init request to \
             the complete answer. s3s-fs: CreateMultipartUpload, UploadPart, CompleteMultipartUpload, presigned.",
            p.part_bytes >> 20,
            p.parts_in_flight
        ),
        format!(
            "**Small files (4).** {} files of {} KiB, {} in flight, per run into the same running server: cabinet \
             creates each file (POST /files) and PUTs its content (two requests per file); nginx WebDAV PUT, \
             s3s-fs presigned PUT and SeaweedFS presigned PUT with every object fsynced, the durable peer \
             (one request each). Of these only cabinet and SeaweedFS have the file on disk when they answer.",
            p.small_files,
            p.small_bytes / 1024,
            p.small_in_flight
        ),
        format!(
            "**Metadata rates (5).** Closed loop: {} workers each send the next request when the previous one \
             answered, for {} s per run after a warm-up. Creates are durable (201 only after the group commit's \
             fsync). byids asks for one id of 1000 existing files. nginx serves a 64-byte static file on the same \
             machine with the same client: the request-rate ceiling here.",
            p.rate_in_flight, p.rate_secs
        ),
        format!(
            "**At scale (6).** {} files with varied metadata (12 mimeTypes, 20 plants × 10 areas of directories, \
             metadata site/discipline/status/revision, 15 data sets, assets, labels, source times, createdTime over \
             a year) are created through `SqliteStore::create_file` in-process with {} in flight (group commit), then \
             three quarters get content with `publish_content`. Then `cabinet serve` runs on that data directory. \
             Start-up: spawn to the `cabinet listening on` line, and spawn to the first successful \
             `POST /files/list`. Latencies: one request at a time, from sending to having read the whole answer \
             (parsing excluded), {} requests per query kind per run (cursor walk: {} pages of 1000), with filter \
             values varied per request; p50/p99 are taken per run and the table gives min / median / max of \
             those. The share of files a filter matches comes from a tally of the generated files.",
            p.scale_files, p.scale_in_flight, p.scale_requests, p.cursor_pages
        ),
        format!(
            "**Cluster (7–9).** PostgreSQL (Debian's, a throwaway cluster with fsync on) and SeaweedFS \
             (`weed mini`, writes under /buckets/ fsynced). (7) The large file PUT and GET straight to the \
             bucket with presigned URLs, and through a fresh cabinet node (`--metadata postgres://…`, \
             `--content s3://…`) in proxy and in direct transfer mode, runs interleaved; the notes give the \
             ratio to the S3 server alone. (8) Workload 5's creates and byids on a PostgreSQL node and on a \
             SQLite node. (9) Workload 6's {} files written straight into the PostgreSQL schema (COPY in one \
             transaction, indexes built afterwards, VACUUM ANALYZE), then workload 6's queries through a node.",
            p.scale_files
        ),
        format!(
            "**Assets at scale (10).** {} files and about {} assets (hierarchies of 10,111 assets on six \
             levels, fan-outs 10, 10, 10, 3, 2; each file links to 1–3 assets drawn uniformly) written straight \
             into the schema of SQLite (one transaction of inserts, the store's triggers and writer keeping \
             the side tables and the name index) and of PostgreSQL (COPY, indexes afterwards, VACUUM ANALYZE), \
             each checked against the generator (one subtree's files, one root's assets) before it is \
             measured. Then one request at a time: a files list page of 1000 filtered by `assetSubtreeIds` of \
             a 1,011-asset subtree, by `rootAssetIds` and by 100 `assetExternalIds` ({} requests per run), \
             and the walk of a root's subtree through `POST /assets/list` (limit 1000, cursors to the end), \
             timed as a whole.",
            p.asset_files, p.assets, p.asset_requests
        ),
        "**cabinet settings.** `cabinet serve --listen 127.0.0.1:0 --data-dir <fresh dir>` with `RUST_LOG=warn` \
         (no per-request log lines, as nginx runs with `access_log off`). nginx: Debian package, `worker_processes \
         auto`, sendfile, keep-alive, WebDAV `dav_methods PUT DELETE; create_full_put_path on; \
         client_max_body_size 0`. s3s-fs: `--host 127.0.0.1 --port P --access-key AK --secret-key SK DIR`. \
         SeaweedFS: `weed mini -dir=DIR` on loopback ports, the bucket made through the filer, then \
         `fs.configure -locationPrefix=/buckets/ -fsync -apply` in `weed shell`."
            .to_string(),
    ] {
        let _ = writeln!(s, "- {line}");
    }
    let _ = writeln!(
        s,
        "\nRaw numbers of this run: [results.json](results.json)."
    );
    s
}
