//! `timeslice batch`: a spin package for each of many products, several at a time,
//! resumable, one failure reported without stopping the others.
//!
//! Each product runs as its own `timeslice spin` process: a product that fails (or crashes)
//! takes nothing else down, and the package is written atomically by spin, so a batch killed
//! at any moment leaves finished packages and hidden temporaries only. Run again, it skips
//! the products whose spin.json exists and clears the temporaries a killed run left.

use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use timeslice::progress::Progress;
use timeslice::Error;

/// Make a spin package for each product of a batch: one subfolder of DIR per product, or one
/// row of a CSV file (id,input,options).
///
/// Packages go to OUT/ID (ID: the subfolder's or the row's). Products run in parallel
/// (--jobs); a finished product (OUT/ID/spin.json) is skipped, so a killed batch resumes
/// where it stopped. Writes OUT/summary.csv and OUT/summary.json (status, frames, seconds
/// and error per product); exits 1 when a product failed, after doing the others.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  timeslice batch products/ --out spins/ -- --frames 72 --sizes 1000,500\n  timeslice batch products.csv --out spins/ --jobs 2\n\nproducts.csv (options: any of `timeslice spin`'s, added to those after --):\n  id,input,options\n  shoe-041,shots/shoe-041,--frames 72\n  bag-007,shots/bag-007.mp4,--from-video 36"
)]
pub struct Args {
    /// A folder with one subfolder of shots per product, or a CSV file.
    input: PathBuf,
    /// The folder of packages (created if missing).
    #[arg(long, short)]
    out: PathBuf,
    /// Products at a time (default: one per two cores, at least one).
    #[arg(long)]
    jobs: Option<usize>,
    /// Options for every product's `timeslice spin`, after `--`.
    #[arg(last = true)]
    spin: Vec<String>,
}

/// One product to make.
#[derive(Clone, Debug)]
struct Product {
    id: String,
    input: PathBuf,
    options: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
struct Outcome {
    id: String,
    /// done, skipped (finished by an earlier run) or failed.
    status: &'static str,
    frames: Option<usize>,
    seconds: f64,
    error: Option<String>,
}

fn products(input: &Path) -> Result<Vec<Product>> {
    if input.is_dir() {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(input)
            .with_context(|| format!("{}: cannot read", input.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_dir()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        dirs.sort_by(|a, b| {
            timeslice::natsort::natural_cmp(&a.to_string_lossy(), &b.to_string_lossy())
        });
        return Ok(dirs
            .into_iter()
            .map(|d| Product {
                id: d
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                input: d,
                options: Vec::new(),
            })
            .collect());
    }
    let text = std::fs::read_to_string(input)
        .map_err(|e| Error::io(input, "cannot read the product list", e))?;
    let root = input.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (n == 0 && line.starts_with("id,")) {
            continue;
        }
        let mut cols = line.splitn(3, ',');
        let (Some(id), Some(path)) = (cols.next(), cols.next()) else {
            return Err(
                Error::input(input, format!("line {}: give id,input[,options]", n + 1)).into(),
            );
        };
        let id = id.trim();
        if id.is_empty()
            || id.starts_with('.')
            || id.contains(['/', '\\'])
            || out.iter().any(|p: &Product| p.id == id)
        {
            return Err(Error::input(
                input,
                format!(
                    "line {}: product id '{id}' is empty, hidden, a path or given twice; ids name the packages' folders",
                    n + 1
                ),
            )
            .into());
        }
        out.push(Product {
            id: id.to_string(),
            input: root.join(path.trim()),
            options: cols
                .next()
                .map(|o| o.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Removes the hidden temporaries (`.ID.partial-...`) that a killed spin of `id` left.
fn clear_leftovers(out: &Path, id: &str) {
    let prefix = format!(".{id}.partial-");
    if let Ok(entries) = std::fs::read_dir(out) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

fn make(p: &Product, out: &Path, common: &[String]) -> Outcome {
    let started = Instant::now();
    let pkg = out.join(&p.id);
    let outcome = |status, frames, error| Outcome {
        id: p.id.clone(),
        status,
        frames,
        seconds: (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
        error,
    };
    let frames_of = |pkg: &Path| -> Option<usize> {
        let text = std::fs::read_to_string(pkg.join("spin.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["frames"].as_array().map(Vec::len)
    };
    if let Some(n) = frames_of(&pkg) {
        return outcome("skipped", Some(n), None);
    }
    clear_leftovers(out, &p.id);
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return outcome("failed", None, Some(format!("cannot run spin: {e}"))),
    };
    let run = std::process::Command::new(exe)
        .arg("--quiet")
        .arg("spin")
        .arg(&p.input)
        .arg("--out")
        .arg(&pkg)
        .args(common)
        .args(&p.options)
        .stdout(std::process::Stdio::null())
        .output();
    match run {
        Ok(r) if r.status.success() => outcome("done", frames_of(&pkg), None),
        Ok(r) => {
            let err = String::from_utf8_lossy(&r.stderr);
            let line = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("spin failed")
                .trim_start_matches("error: ")
                .to_string();
            outcome("failed", None, Some(line))
        }
        Err(e) => outcome("failed", None, Some(format!("cannot run spin: {e}"))),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn run(a: Args, progress: &dyn Progress) -> Result<()> {
    if a.input.is_dir() && timeslice::output::is_within(&a.out, &a.input) {
        return Err(Error::usage(format!(
            "{}: the packages would sit inside the products' folder {} (and be read as a product next time); give an --out outside it",
            a.out.display(),
            a.input.display()
        ))
        .into());
    }
    let list = products(&a.input)?;
    if list.is_empty() {
        return Err(Error::usage(format!(
            "{}: no products found (give a folder with one subfolder of shots per product, or a CSV file id,input,options)",
            a.input.display()
        ))
        .into());
    }
    std::fs::create_dir_all(&a.out)
        .map_err(|e| Error::io(&a.out, "cannot create the output folder", e))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = a.jobs.unwrap_or(cores / 2).clamp(1, list.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; list.len()]);
    progress.begin("products", list.len() as u64);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = list.get(i) else { break };
                let o = make(p, &a.out, &a.spin);
                if o.status == "failed" {
                    progress.warn(&format!(
                        "product {}: {}",
                        o.id,
                        o.error.as_deref().unwrap_or("failed")
                    ));
                }
                results.lock().expect("results")[i] = Some(o);
                progress.advance(1);
            });
        }
    });
    progress.end();
    let results: Vec<Outcome> = results
        .into_inner()
        .expect("results")
        .into_iter()
        .map(|o| o.expect("every product ran"))
        .collect();
    let mut csv = String::from("id,status,frames,seconds,error\n");
    for o in &results {
        csv.push_str(&format!(
            "{},{},{},{:.2},{}\n",
            csv_field(&o.id),
            o.status,
            o.frames.map(|f| f.to_string()).unwrap_or_default(),
            o.seconds,
            csv_field(o.error.as_deref().unwrap_or(""))
        ));
    }
    write_atomic(&a.out.join("summary.csv"), csv.as_bytes())?;
    let json = serde_json::to_string_pretty(&serde_json::json!({ "products": results }))?;
    write_atomic(&a.out.join("summary.json"), json.as_bytes())?;
    let count = |s: &str| results.iter().filter(|o| o.status == s).count();
    let (done, skipped, failed) = (count("done"), count("skipped"), count("failed"));
    println!(
        "{}: {done} made, {skipped} already made, {failed} failed, of {} products (summary.csv, summary.json)",
        a.out.display(),
        results.len()
    );
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} products failed (see {}); run the same command again to retry them",
            results.len(),
            a.out.join("summary.csv").display()
        );
    }
    Ok(())
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let out = timeslice::output::AtomicOutput::file(path)?;
    std::fs::write(out.path(), data).map_err(|e| Error::io(path, "cannot write", e))?;
    out.commit()?;
    Ok(())
}
