//! `timeslice batch` (issue 20): one package per product, a failing product reported while
//! the others are made, resumable after a kill with the same packages as an uninterrupted run.

mod common;

use common::{listing, run};
use std::path::Path;

/// `n` small turntable products (8 shots each, 160x120, seeds 1..) in `dir`/p1.., and one
/// product whose shots differ in size.
fn products(dir: &Path, n: usize) {
    for i in 1..=n {
        let out = dir.join(format!("p{i}"));
        let seed = i.to_string();
        let r = run(&[
            "samples",
            "--turntable",
            "--out",
            out.to_str().unwrap(),
            "--cameras",
            "8",
            "--size",
            "160x120",
            "--seed",
            &seed,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        // Loose shots, as a studio delivers them.
        std::fs::remove_file(out.join("timeslice.toml")).unwrap();
        std::fs::remove_dir_all(out.join("truth")).unwrap();
    }
}

fn package_bytes(pkg: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![(
        "spin.json".to_string(),
        std::fs::read(pkg.join("spin.json")).unwrap(),
    )];
    for size in listing(&pkg.join("frames")) {
        for f in listing(&pkg.join("frames").join(&size)) {
            let p = pkg.join("frames").join(&size).join(&f);
            files.push((format!("{size}/{f}"), std::fs::read(p).unwrap()));
        }
    }
    files
}

#[test]
fn a_batch_makes_every_product_and_reports_the_one_that_fails() {
    let d = tempfile::tempdir().unwrap();
    let shots = d.path().join("shots");
    products(&shots, 3);
    // A broken product: two shots of different sizes.
    let bad = shots.join("p0-bad");
    std::fs::create_dir(&bad).unwrap();
    common::pattern(64, 48, 1, 0)
        .to_image()
        .save(bad.join("a.png"))
        .unwrap();
    common::pattern(80, 48, 2, 0)
        .to_image()
        .save(bad.join("b.png"))
        .unwrap();
    let out = d.path().join("spins");
    let args = [
        "batch",
        shots.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "2",
        "--",
        "--arc",
        "360",
        "--no-animations",
        "--sizes",
        "80",
    ];
    let r = run(&args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("p0-bad") && r.stderr.contains("one size"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout
            .contains("3 made, 0 already made, 1 failed, of 4 products"),
        "{}",
        r.stdout
    );
    assert_eq!(
        listing(&out),
        ["p1", "p2", "p3", "summary.csv", "summary.json"]
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let rows = summary["products"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["id"], "p0-bad");
    assert_eq!(rows[0]["status"], "failed");
    assert!(rows[0]["error"].as_str().unwrap().contains("one size"));
    for row in &rows[1..] {
        assert_eq!(row["status"], "done", "{row}");
        assert_eq!(row["frames"], 8);
    }
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(
        csv.starts_with("id,status,frames,seconds,error\np0-bad,failed,,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 5);
    // Run again: the three are skipped, the bad one fails again.
    let r = run(&args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout.contains("0 made, 3 already made, 1 failed"),
        "{}",
        r.stdout
    );

    // A CSV list: ids, inputs relative to the list, options per product.
    let list = d.path().join("list.csv");
    std::fs::write(
        &list,
        "id,input,options\nshoe,shots/p1,--frames 16 --keep-framing\nbag,shots/p2,\n",
    )
    .unwrap();
    let out2 = d.path().join("from-csv");
    let r = run(&[
        "batch",
        list.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
        "--",
        "--arc",
        "360",
        "--no-animations",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shoe: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("shoe/spin.json")).unwrap())
            .unwrap();
    assert_eq!(shoe["frames"].as_array().unwrap().len(), 16);
    assert_eq!(shoe["frames"][2]["shot"], "shot02.png");
    assert!(out2.join("bag/spin.json").is_file());
}

#[test]
fn a_killed_batch_resumes_to_the_same_packages() {
    let d = tempfile::tempdir().unwrap();
    let shots = d.path().join("shots");
    products(&shots, 5);
    let opts = ["--", "--arc", "360", "--frames", "16", "--no-animations"];
    // Uninterrupted.
    let whole = d.path().join("whole");
    let mut args = vec![
        "batch",
        shots.to_str().unwrap(),
        "--out",
        whole.to_str().unwrap(),
        "--jobs",
        "1",
    ];
    args.extend(opts);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Killed once the first package is in place (the whole process group, its spins too, as
    // a scheduler or the OOM killer ends a job), then run again.
    use std::os::unix::process::CommandExt;
    let resumed = d.path().join("resumed");
    let mut child = common::timeslice()
        .args([
            "batch",
            shots.to_str().unwrap(),
            "--out",
            resumed.to_str().unwrap(),
            "--jobs",
            "1",
        ])
        .args(opts)
        .process_group(0)
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !resumed.join("p1/spin.json").exists() {
        assert!(t0.elapsed().as_secs() < 120, "the batch made nothing");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let group = format!("-{}", child.id());
    let killed = std::process::Command::new("kill")
        .args(["-KILL", "--", &group])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap();
    let before = listing(&resumed);
    assert!(
        !before.contains(&"p5".to_string()),
        "{before:?}: killed too late"
    );
    assert!(!before.contains(&"summary.json".to_string()));
    let mut args = vec![
        "batch",
        shots.to_str().unwrap(),
        "--out",
        resumed.to_str().unwrap(),
        "--jobs",
        "1",
    ];
    args.extend(opts);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("already made"), "{}", r.stdout);
    // Nothing half-made stays, and every package is byte for byte the uninterrupted one.
    assert_eq!(
        listing(&resumed),
        ["p1", "p2", "p3", "p4", "p5", "summary.csv", "summary.json"]
    );
    for p in ["p1", "p2", "p3", "p4", "p5"] {
        assert!(
            package_bytes(&resumed.join(p)) == package_bytes(&whole.join(p)),
            "{p} differs"
        );
    }
}
