//! `cabinet files`, the client, run as the built binary against a real `cabinet serve` on loopback:
//! uploads of trees and multipart files, ls/stat/search/rm, downloads compared byte for byte, an upload
//! and a download killed midway and resumed, sync run twice, and OAuth client credentials against a token
//! endpoint served by the test.
//!
//! The server runs on the backends named by `CABINET_TEST_BACKENDS` (`postgres+s3`, as in the HTTP
//! suite; the embedded default otherwise). Tests run one at a time ([`SERIAL`]) and each is bounded
//! ([`LIMIT`]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/s3.rs"]
mod s3;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::server::{Server, PROJECT};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const MIB: usize = 1 << 20;
/// Every test as a whole.
const LIMIT: Duration = Duration::from_secs(240);
/// One CLI run.
const RUN_LIMIT: Duration = Duration::from_secs(120);

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Deterministic pseudo-random content, so a mismatch shows up anywhere in a file.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The `cabinet serve` arguments of the backends under test.
async fn backend_args() -> Vec<String> {
    match std::env::var("CABINET_TEST_BACKENDS").as_deref() {
        Ok("postgres+s3") | Ok("postgres+s3-direct") => {
            let seaweed = s3::SeaweedFs::shared();
            std::env::set_var("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY);
            std::env::set_var("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY);
            let mut args = seaweed.serve_args(&seaweed.location());
            args.extend([
                "--metadata".to_string(),
                common::postgres::fresh_database().await,
            ]);
            if std::env::var("CABINET_TEST_BACKENDS").as_deref() == Ok("postgres+s3-direct") {
                args.extend(["--content-transfer".to_string(), "direct".to_string()]);
            }
            args
        }
        _ => Vec::new(),
    }
}

/// A server on the backends under test, with extra `serve` arguments.
async fn server(root: &Path, extra: &[&str]) -> Server {
    let mut args = backend_args().await;
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start_with(root, &args, None).await
}

/// A `cabinet files` command with the connection in the environment (as `CDF_*`), its resume state under
/// `root/state`, and no proxy.
fn files_command(server: &Server, root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cabinet"));
    command.arg("files").args(args);
    for var in [
        "CDF_BASE_URL",
        "CDF_PROJECT",
        "CDF_TOKEN",
        "CDF_CLIENT_ID",
        "CDF_CLIENT_SECRET",
        "CDF_TOKEN_URL",
        "CDF_SCOPES",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "CABINET_FILES_PAUSE_AFTER_PARTS",
        "CABINET_FILES_PAUSE_AFTER_BYTES",
    ] {
        command.env_remove(var);
    }
    command
        .env("CDF_BASE_URL", &server.base)
        .env("CDF_PROJECT", PROJECT)
        .env("CABINET_STATE_DIR", root.join("state"))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs a command to its end within [`RUN_LIMIT`].
async fn output(mut command: Command) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().expect("the cabinet binary starts");
    tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .expect("the CLI finishes in time")
        .expect("the CLI's output")
}

/// Runs `cabinet files ARGS` with token `cli-token` and asserts success; returns stdout.
async fn ok(server: &Server, root: &Path, args: &[&str]) -> String {
    let mut command = files_command(server, root, args);
    command.env("CDF_TOKEN", "cli-token");
    let out = output(command).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cabinet files {args:?} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        out.status,
    );
    // stderr is no terminal here: no progress bars, and a success says nothing there.
    assert!(
        stderr.is_empty(),
        "cabinet files {args:?} wrote on stderr: {stderr:?}"
    );
    stdout
}

/// Runs `cabinet files ARGS` and asserts failure; returns stderr.
async fn fails(server: &Server, root: &Path, token: Option<&str>, args: &[&str]) -> String {
    let mut command = files_command(server, root, args);
    if let Some(t) = token {
        command.env("CDF_TOKEN", t);
    }
    let out = output(command).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "cabinet files {args:?} should fail; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// `ls --json` with these extra arguments, parsed.
async fn ls(server: &Server, root: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["ls", "--json"];
    all.extend(args);
    let out = ok(server, root, &all).await;
    serde_json::from_str::<Value>(&out)
        .unwrap_or_else(|e| panic!("ls --json printed no JSON ({e}): {out}"))
        .as_array()
        .unwrap()
        .clone()
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

fn assert_same_file(got: &Path, want: &[u8]) {
    let bytes = std::fs::read(got).unwrap_or_else(|e| panic!("{}: {e}", got.display()));
    assert_eq!(bytes.len(), want.len(), "size of {}", got.display());
    assert!(bytes == want, "content of {}", got.display());
}

/// Spawns a CLI run with a pause hook set, waits (bounded) for its "paused:" line on stderr, then
/// SIGKILLs it.
async fn run_until_paused(mut command: Command) {
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("the cabinet binary starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let paused = tokio::time::timeout(RUN_LIMIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("paused:") {
                return true;
            }
            seen.push(line);
        }
        false
    })
    .await
    .expect("the CLI pauses in time");
    assert!(paused, "the CLI ended without pausing: {seen:?}");
    child.kill().await.unwrap();
}

/// The file with this externalId, through `stat`.
async fn stat(server: &Server, root: &Path, external_id: &str) -> Value {
    let out = ok(server, root, &["stat", "--external-id", external_id]).await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("stat printed no JSON ({e}): {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_list_download_and_delete() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(LIMIT, async {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let s = server(root, &[]).await;
        let src = root.join("src");
        let big = content(13 * MIB + 123, 1);
        write(&src.join("a.txt"), b"alpha\n");
        write(&src.join("sub/b.txt"), b"bravo bravo\n");
        write(&src.join("sub/deeper/c.bin"), &content(70_000, 2));
        write(&src.join("big.bin"), &big);
        write(&src.join("empty"), b"");

        // Global options after the subcommand (the token), and before it (the project).
        let src_arg = src.to_str().unwrap();
        let out = ok(
            &s,
            root,
            &[
                "--project",
                PROJECT,
                "upload",
                src_arg,
                "--directory",
                "/up",
                "--external-id-prefix",
                "t1/",
                "--multipart-threshold",
                &(6 * MIB).to_string(),
                "--part-size",
                &(5 * MIB).to_string(),
                "--token",
                "cli-token",
            ],
        )
        .await;
        assert!(out.contains("uploaded 5, resumed 0, skipped 0"), "{out}");

        let files = ls(&s, root, &["--external-id-prefix", "t1/"]).await;
        let mut seen: Vec<(String, String, String, bool, String)> = files
            .iter()
            .map(|f| {
                (
                    f["externalId"].as_str().unwrap().to_string(),
                    f["directory"].as_str().unwrap().to_string(),
                    f["name"].as_str().unwrap().to_string(),
                    f["uploaded"].as_bool().unwrap(),
                    f["metadata"]["cabinet:size"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        seen.sort();
        let row = |x: &str, d: &str, n: &str, size: usize| {
            (
                x.to_string(),
                d.to_string(),
                n.to_string(),
                true,
                size.to_string(),
            )
        };
        assert_eq!(
            seen,
            vec![
                row("t1/a.txt", "/up", "a.txt", 6),
                row("t1/big.bin", "/up", "big.bin", big.len()),
                row("t1/empty", "/up", "empty", 0),
                row("t1/sub/b.txt", "/up/sub", "b.txt", 12),
                row("t1/sub/deeper/c.bin", "/up/sub/deeper", "c.bin", 70_000),
            ]
        );
        // The table, with the filters.
        let table = ok(
            &s,
            root,
            &["ls", "--directory-prefix", "/up/sub", "--uploaded", "true"],
        )
        .await;
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(
            lines[0].starts_with("ID") && lines[0].contains("EXTERNAL_ID"),
            "{table}"
        );
        assert!(
            table.contains("/up/sub/b.txt") && table.contains("t1/sub/b.txt"),
            "{table}"
        );
        assert!(table.contains("/up/sub/deeper/c.bin"), "{table}");
        assert_eq!(ls(&s, root, &["--limit", "2"]).await.len(), 2);

        // A rerun skips what is there.
        let out = ok(
            &s,
            root,
            &[
                "upload",
                src_arg,
                "--directory",
                "/up",
                "--external-id-prefix",
                "t1/",
            ],
        )
        .await;
        assert!(out.contains("uploaded 0, resumed 0, skipped 5"), "{out}");

        // stat and search.
        let b = stat(&s, root, "t1/sub/b.txt").await;
        assert_eq!(b["directory"], "/up/sub");
        let found = ok(&s, root, &["search", "c.bin", "--json"]).await;
        let found: Value = serde_json::from_str(&found).unwrap();
        assert!(
            found
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["externalId"] == "t1/sub/deeper/c.bin"),
            "{found}"
        );
        let err = fails(
            &s,
            root,
            Some("cli-token"),
            &["stat", "--external-id", "nope"],
        )
        .await;
        assert!(err.contains("no file"), "{err}");

        // Downloads by id, externalId and directory prefix, compared byte for byte.
        let dl = root.join("dl");
        let dl_arg = dl.to_str().unwrap();
        let id = b["id"].as_i64().unwrap().to_string();
        ok(&s, root, &["download", "--id", &id, "--to", dl_arg]).await;
        assert_same_file(&dl.join("b.txt"), b"bravo bravo\n");
        let out = ok(
            &s,
            root,
            &["download", "--external-id", "t1/big.bin", "--to", dl_arg],
        )
        .await;
        assert!(
            out.contains(&format!("downloaded 1 file(s), {} bytes", big.len())),
            "{out}"
        );
        assert_same_file(&dl.join("big.bin"), &big);
        let tree = root.join("tree");
        let out = ok(
            &s,
            root,
            &[
                "download",
                "--directory-prefix",
                "/up",
                "--to",
                tree.to_str().unwrap(),
            ],
        )
        .await;
        assert!(out.contains("downloaded 5 file(s)"), "{out}");
        for rel in ["a.txt", "big.bin", "empty", "sub/b.txt", "sub/deeper/c.bin"] {
            assert_same_file(
                &tree.join("up").join(rel),
                &std::fs::read(src.join(rel)).unwrap(),
            );
        }
        assert!(!tree.join("up/big.bin.part").exists());

        // Other content under a taken externalId needs --overwrite.
        write(&src.join("a.txt"), b"alpha, changed\n");
        let a = src.join("a.txt");
        let a_arg = a.to_str().unwrap();
        let err = fails(
            &s,
            root,
            Some("cli-token"),
            &[
                "upload",
                a_arg,
                "--directory",
                "/up",
                "--external-id-prefix",
                "t1/",
            ],
        )
        .await;
        assert!(err.contains("--overwrite"), "{err}");
        let out = ok(
            &s,
            root,
            &[
                "upload",
                a_arg,
                "--directory",
                "/up",
                "--external-id-prefix",
                "t1/",
                "--overwrite",
            ],
        )
        .await;
        assert!(out.contains("uploaded 1"), "{out}");
        ok(
            &s,
            root,
            &["download", "--external-id", "t1/a.txt", "--to", dl_arg],
        )
        .await;
        assert_same_file(&dl.join("a.txt"), b"alpha, changed\n");

        // rm by externalId and id.
        let out = ok(&s, root, &["rm", "--external-id", "t1/a.txt", "--id", &id]).await;
        assert!(out.contains("deleted 2"), "{out}");
        let left: Vec<String> = ls(&s, root, &["--external-id-prefix", "t1/"])
            .await
            .iter()
            .map(|f| f["externalId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(left.len(), 3, "{left:?}");
        assert!(
            !left.contains(&"t1/a.txt".to_string()) && !left.contains(&"t1/sub/b.txt".to_string())
        );
        let err = fails(&s, root, Some("cli-token"), &["rm", "--id", &id]).await;
        assert!(err.contains("400") || err.contains("missing"), "{err}");
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_multipart_upload_resumes() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(LIMIT, async {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let s = server(root, &[]).await;
        let data = content(23 * MIB, 3);
        let file = root.join("big.bin");
        write(&file, &data);
        let file_arg = file.to_str().unwrap();
        let part = (5 * MIB).to_string();
        let args = [
            "upload",
            file_arg,
            "--part-size",
            &part,
            "--multipart-threshold",
            &part,
            "--parallel",
            "2",
        ];

        let mut command = files_command(&s, root, &args);
        command
            .env("CDF_TOKEN", "cli-token")
            .env("CABINET_FILES_PAUSE_AFTER_PARTS", "2");
        run_until_paused(command).await;

        // The state file records the session with some parts done and some not.
        let state: Value =
            serde_json::from_slice(&std::fs::read(root.join("state/upload-state.json")).unwrap())
                .unwrap();
        let entry = state
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.ends_with(" big.bin"))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no session for big.bin in {state}"));
        let done: Vec<bool> = serde_json::from_value(entry["done"].clone()).unwrap();
        assert_eq!(done.len(), 5, "{entry}");
        let n_done = done.iter().filter(|d| **d).count();
        assert!((2..5).contains(&n_done), "{done:?}");
        assert_eq!(stat(&s, root, "big.bin").await["uploaded"], false);

        let out = ok(&s, root, &args).await;
        assert!(out.contains("uploaded 0, resumed 1, skipped 0"), "{out}");
        let file = stat(&s, root, "big.bin").await;
        assert_eq!(file["uploaded"], true);
        assert_eq!(file["id"], entry["id"], "the same file was finished");
        let state: Value =
            serde_json::from_slice(&std::fs::read(root.join("state/upload-state.json")).unwrap())
                .unwrap();
        assert_eq!(
            state,
            serde_json::json!({}),
            "the finished session is forgotten"
        );
        assert_eq!(s.download("big.bin").await, data);

        // A file created but never given content (an interrupted single PUT) is filled without
        // --overwrite.
        let (status, _) = s
            .post(
                "/files",
                serde_json::json!({ "name": "small.txt", "externalId": "small.txt" }),
            )
            .await;
        assert_eq!(status.as_u16(), 201);
        let small = root.join("small.txt");
        write(&small, b"small\n");
        let out = ok(&s, root, &["upload", small.to_str().unwrap()]).await;
        assert!(out.contains("uploaded 1, resumed 0, skipped 0"), "{out}");
        assert_eq!(s.download("small.txt").await, b"small\n");
    })
    .await
    .expect("the test finishes in time");
}

/// Two uploads at once share the state file: each keeps the other's session (a run that wrote back its
/// own copy would drop it), and both resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_keep_each_others_sessions() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(LIMIT, async {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let s = server(root, &[]).await;
        let part = (5 * MIB).to_string();
        let mut args = Vec::new();
        for (name, seed) in [("one.bin", 5), ("two.bin", 6)] {
            let data = content(15 * MIB, seed);
            let file = root.join(name);
            write(&file, &data);
            args.push((name, data, file.to_str().unwrap().to_string()));
        }
        let command = |file: &str| {
            let upload = [
                "upload",
                file,
                "--part-size",
                &part,
                "--multipart-threshold",
                &part,
                "--parallel",
                "1",
            ];
            let mut command = files_command(&s, root, &upload);
            command.env("CDF_TOKEN", "cli-token");
            command
        };
        let paused = |file: &str| {
            let mut c = command(file);
            c.env("CABINET_FILES_PAUSE_AFTER_PARTS", "1");
            run_until_paused(c)
        };
        futures_util::future::join(paused(&args[0].2), paused(&args[1].2)).await;
        let state: Value =
            serde_json::from_slice(&std::fs::read(root.join("state/upload-state.json")).unwrap())
                .unwrap();
        let keys: Vec<&String> = state.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 2, "both sessions are recorded: {keys:?}");

        let (a, b) =
            futures_util::future::join(output(command(&args[0].2)), output(command(&args[1].2)))
                .await;
        for out in [a, b] {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{text} {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(text.contains("resumed 1"), "{text}");
        }
        for (name, data, _) in &args {
            assert_eq!(&s.download(name).await, data);
        }
        let state: Value =
            serde_json::from_slice(&std::fs::read(root.join("state/upload-state.json")).unwrap())
                .unwrap();
        assert_eq!(state, serde_json::json!({}));
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_download_resumes_with_a_range() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(LIMIT, async {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let s = server(root, &[]).await;
        let data = content(20 * MIB, 4);
        let file = root.join("src/d.bin");
        write(&file, &data);
        ok(&s, root, &["upload", file.to_str().unwrap()]).await;
        let to = root.join("dl");
        let to_arg = to.to_str().unwrap();
        let args = ["download", "--external-id", "d.bin", "--to", to_arg];

        let mut command = files_command(&s, root, &args);
        command
            .env("CDF_TOKEN", "cli-token")
            .env("CABINET_FILES_PAUSE_AFTER_BYTES", "6000000");
        run_until_paused(command).await;
        let part = to.join("d.bin.part");
        let have = std::fs::metadata(&part).unwrap().len() as usize;
        assert!((6_000_000..data.len()).contains(&have), "{have}");
        assert!(to.join("d.bin.part.json").exists());
        assert!(!to.join("d.bin").exists());

        // The rerun asks for the rest only: it says where it resumed and counts only those bytes.
        let out = ok(&s, root, &args).await;
        assert!(out.contains(&format!("resuming at byte {have}")), "{out}");
        assert!(
            out.contains(&format!(
                "downloaded 1 file(s), {} bytes",
                data.len() - have
            )),
            "{out}"
        );
        assert_same_file(&to.join("d.bin"), &data);
        assert!(!part.exists() && !to.join("d.bin.part.json").exists());

        // If-Range: a part of content that has since been replaced is started again, not continued.
        run_until_paused({
            let mut c = files_command(&s, root, &args);
            c.env("CDF_TOKEN", "cli-token")
                .env("CABINET_FILES_PAUSE_AFTER_BYTES", "6000000");
            c
        })
        .await;
        let newer = content(20 * MIB, 5);
        write(&file, &newer);
        ok(&s, root, &["upload", file.to_str().unwrap(), "--overwrite"]).await;
        let out = ok(&s, root, &args).await;
        assert!(!out.contains("resuming"), "{out}");
        assert!(
            out.contains(&format!("downloaded 1 file(s), {} bytes", newer.len())),
            "{out}"
        );
        assert_same_file(&to.join("d.bin"), &newer);
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_twice_transfers_nothing_the_second_time() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(LIMIT, async {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let s = server(root, &[]).await;
        let local = root.join("local");
        write(&local.join("one.txt"), b"one\n");
        write(&local.join("d/two.txt"), b"two two\n");
        write(&local.join("d/e/three.bin"), &content(9 * MIB, 6));
        let l = local.to_str().unwrap();

        let out = ok(&s, root, &["sync", l, "cdf:/sync/x"]).await;
        assert!(
            out.contains("sync: 3 uploaded, 0 unchanged, 0 deleted"),
            "{out}"
        );
        let out = ok(&s, root, &["sync", l, "cdf:/sync/x"]).await;
        assert!(
            out.contains("sync: 0 uploaded, 3 unchanged, 0 deleted"),
            "{out}"
        );
        assert!(!out.contains("upload "), "{out}");
        let files = ls(&s, root, &["--directory-prefix", "/sync/x"]).await;
        let mut paths: Vec<String> = files
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f["directory"].as_str().unwrap(),
                    f["externalId"].as_str().unwrap()
                )
            })
            .collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "/sync/x /sync/x/one.txt",
                "/sync/x/d /sync/x/d/two.txt",
                "/sync/x/d/e /sync/x/d/e/three.bin"
            ]
        );

        // A changed file goes again; a removed one is deleted only with --delete, and not on a dry run.
        std::fs::remove_file(local.join("one.txt")).unwrap();
        write(&local.join("d/two.txt"), b"two, changed\n");
        let out = ok(
            &s,
            root,
            &["sync", l, "cdf:/sync/x", "--delete", "--dry-run"],
        )
        .await;
        assert!(
            out.contains("sync (dry run): 1 uploaded, 1 unchanged, 1 deleted"),
            "{out}"
        );
        assert!(out.contains("delete cdf:one.txt"), "{out}");
        assert_eq!(
            ls(&s, root, &["--directory-prefix", "/sync/x"]).await.len(),
            3
        );
        assert_eq!(
            stat(&s, root, "/sync/x/d/two.txt").await["metadata"]["cabinet:size"],
            "8"
        );
        let out = ok(&s, root, &["sync", l, "cdf:/sync/x", "--delete"]).await;
        assert!(
            out.contains("sync: 1 uploaded, 1 unchanged, 1 deleted"),
            "{out}"
        );
        assert_eq!(
            ls(&s, root, &["--directory-prefix", "/sync/x"]).await.len(),
            2
        );

        // Down, twice.
        let back = root.join("back");
        let b = back.to_str().unwrap();
        let out = ok(&s, root, &["sync", "cdf:/sync/x", b]).await;
        assert!(
            out.contains("sync: 2 downloaded, 0 unchanged, 0 deleted"),
            "{out}"
        );
        let out = ok(&s, root, &["sync", "cdf:/sync/x", b]).await;
        assert!(
            out.contains("sync: 0 downloaded, 2 unchanged, 0 deleted"),
            "{out}"
        );
        for rel in ["d/two.txt", "d/e/three.bin"] {
            assert_same_file(&back.join(rel), &std::fs::read(local.join(rel)).unwrap());
        }
        // A local extra goes with --delete.
        write(&back.join("stray.txt"), b"x");
        let out = ok(&s, root, &["sync", "cdf:/sync/x", b, "--delete"]).await;
        assert!(
            out.contains("sync: 0 downloaded, 2 unchanged, 1 deleted"),
            "{out}"
        );
        assert!(!back.join("stray.txt").exists());

        // --checksum: the first run records SHA-256 (no hashes yet), the second compares them.
        let out = ok(&s, root, &["sync", l, "cdf:/sync/x", "--checksum"]).await;
        assert!(out.contains("sync: 2 uploaded, 0 unchanged"), "{out}");
        let out = ok(&s, root, &["sync", l, "cdf:/sync/x", "--checksum"]).await;
        assert!(out.contains("sync: 0 uploaded, 2 unchanged"), "{out}");
        let out = ok(&s, root, &["sync", "cdf:/sync/x", b, "--checksum"]).await;
        assert!(out.contains("sync: 0 downloaded, 2 unchanged"), "{out}");
    })
    .await
    .expect("the test finishes in time");
}

/// The forms a token endpoint received, each as its (name, value) pairs.
type Forms = std::sync::Arc<std::sync::Mutex<Vec<Vec<(String, String)>>>>;

/// A token endpoint for the client-credentials grant: answers `access_token` for client `cli-client`
/// with secret `cli-secret` and scope `files:all other`, a 401 otherwise; records the forms it got.
async fn token_endpoint(forms: Forms) -> String {
    use axum::http::StatusCode;
    let app = axum::Router::new().route(
        "/oauth/token",
        axum::routing::post(move |body: String| {
            let forms = forms.clone();
            async move {
                let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
                let earlier = {
                    let mut forms = forms.lock().unwrap();
                    let earlier = forms
                        .iter()
                        .filter(|f| f.iter().any(|(k, v)| k == "client_id" && Some(v.as_str()) == get("client_id")))
                        .count();
                    forms.push(form.clone());
                    earlier
                };
                let client = get("client_id");
                if get("grant_type") == Some("client_credentials")
                    && matches!(client, Some("cli-client" | "cli-stale-first" | "cli-short"))
                    && get("client_secret") == Some("cli-secret")
                    && get("scope") == Some("files:all other")
                {
                    let body = match (client, earlier) {
                        // A token the API will refuse (revoked, say), then a good one.
                        (Some("cli-stale-first"), 0) => {
                            r#"{"access_token":"stale-token","token_type":"Bearer","expires_in":3600}"#
                        }
                        // A good token that expires within the client's margin.
                        (Some("cli-short"), _) => {
                            r#"{"access_token":"issued-token","token_type":"Bearer","expires_in":"30"}"#
                        }
                        _ => r#"{"access_token":"issued-token","token_type":"Bearer","expires_in":3600}"#,
                    };
                    (StatusCode::OK, body)
                } else {
                    (StatusCode::UNAUTHORIZED, r#"{"error":"invalid_client"}"#)
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/oauth/token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_from_a_token_endpoint() {
    let _serial = SERIAL.lock().await;
    tokio::time::timeout(LIMIT, async {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        // Access control on: only the token the endpoint issues is a service token of the project.
        let config =
            common::config::write_service_token_config(root, PROJECT, "cli", "issued-token", "");
        let s = server(root, &["--config", config.to_str().unwrap()]).await;
        let forms = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let token_url = token_endpoint(forms.clone()).await;
        let file = root.join("cc.txt");
        write(&file, b"client credentials\n");

        let run = |secret: &'static str, args: Vec<String>| {
            let mut command = files_command(&s, root, &[]);
            command
                .args(args)
                .args(["--client-id", "cli-client", "--token-url", &token_url])
                .env("CDF_CLIENT_SECRET", secret)
                .env("CDF_SCOPES", "files:all,other");
            command
        };
        let out = output(run(
            "cli-secret",
            vec!["upload".into(), file.to_str().unwrap().into()],
        ))
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = output(run("cli-secret", vec!["ls".into(), "--json".into()])).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(listed[0]["externalId"], "cc.txt", "{listed}");
        {
            let forms = forms.lock().unwrap();
            assert_eq!(forms.len(), 2, "one token request per run");
            assert!(forms[0].contains(&("grant_type".into(), "client_credentials".into())));
        }

        // A wrong secret fails at the token endpoint; a token that is no service token gets the API's 401.
        let out = output(run("wrong", vec!["ls".into()])).await;
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("token endpoint") && err.contains("401"),
            "{err}"
        );
        let err = fails(&s, root, Some("not-a-service-token"), &["ls"]).await;
        assert!(err.contains("401"), "{err}");
        let err = fails(&s, root, None, &["ls"]).await;
        assert!(err.contains("no credentials"), "{err}");

        // A 401 to a token from the endpoint: one new token, and the call is tried again.
        let count = |client: &str| {
            forms
                .lock()
                .unwrap()
                .iter()
                .filter(|f| f.iter().any(|(k, v)| k == "client_id" && v == client))
                .count()
        };
        let refreshed = |client: &'static str| {
            let mut command = files_command(&s, root, &["ls", "--json"]);
            command
                .args(["--client-id", client, "--token-url", &token_url])
                .env("CDF_CLIENT_SECRET", "cli-secret")
                .env("CDF_SCOPES", "files:all,other");
            output(command)
        };
        let out = refreshed("cli-stale-first").await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            count("cli-stale-first"),
            2,
            "the refused token was replaced once"
        );
        // A token that expires within a minute is replaced before the next call.
        let out = refreshed("cli-short").await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(count("cli-short") >= 2, "a new token before the call");
    })
    .await
    .expect("the test finishes in time");
}
