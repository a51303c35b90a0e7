//! README.md's examples run as written (issue 28, "a new user's first hour"), and so do the
//! examples of `timeslice render --help`.
//!
//! What counts as an example: every line of a ```sh, ```bash, ```shell or ```console block in
//! README.md that starts with `timeslice ` (or `$ timeslice `), joined with the lines after it
//! while it ends in `\`. A code block without a language may not hold one (tag it). In a line:
//! - `# ...` to the end of the line is a comment; a comment that starts with `your footage`
//!   marks a line that needs files of the user's own (footage with a start timecode,
//!   chessboard photos): it is not run.
//! - `[...]` groups are optional options: they are left out, and each `--flag` in them must be
//!   an option of that command (its `--help` names it).
//! - `*` in an argument is a glob, expanded (sorted) as the shell would; it must match.
//! - Quotes, `$`, `;`, `|`, `&`, `<`, `>` and backticks are refused: examples stay plain.
//!
//! Lines that are not `timeslice` commands are not run; SKIPPED_PROGRAMS lists the programs
//! such lines may start with (anything else fails the test, so that nothing is skipped
//! silently).
//!
//! The examples run in order in one temporary folder, as a user runs them after the
//! README's two `timeslice samples` lines, each through the built binary, and must exit 0 and
//! write what they name with `--out`/`-o`, `--viz`, `--consistency` or `--sheet`. To keep
//! the test fast, everything runs at 1/8 of the README's pixel sizes (SCALE; 1/4 for the slow
//! examples), as documented at `at_test_scale`; times, frame numbers, camera numbers, counts
//! and presets stay as written.
//!
//! Two tests: `readme_examples_run` runs everything but the slow examples (calibrate, demo
//! and the plane-sweep render take minutes unoptimised: see SLOW_SUBCOMMANDS);
//! `readme_slow_examples_run` runs those, and is ignored in debug builds (`make test`): run it
//! with `cargo test --release --test readme`.

mod common;

use common::run;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// The README's sample footage is 1280x720; the test's is 1/8 of that in each direction
/// (160x90)...
const SCALE: f64 = 8.0;
/// ...but 1/4 (320x180) for the slow examples: at 160x90 rig self-calibration misjudges the
/// focal length and its self-check rightly refuses the result.
const SLOW_SCALE: f64 = 4.0;
/// `timeslice samples`' default size, which the README's rigs use.
const README_SIZE: (u32, u32) = (1280, 720);

/// Programs a README shell line may start with that the test does not run: building and
/// installing (make demo / test / lint / bench / bench-peer, cargo install), and the shell's
/// own housekeeping (export PATH=..., cd, mkdir, ls). Players and other tools would go here.
const SKIPPED_PROGRAMS: &[&str] = &["make", "cargo", "export", "cd", "mkdir", "ls"];

/// Subcommands too slow for an unoptimised build: `calibrate` (rig self-calibration takes
/// about 20 s per run optimised) and `demo` (a full-size rig, calibration and replay, about
/// 60 s optimised; it has no size option). They run in `readme_slow_examples_run`, and so do
/// renders with `--calibration` and `--flow-preset quality` (a plane sweep for every view:
/// 7 s optimised, 70 s unoptimised, at 160x90).
const SLOW_SUBCOMMANDS: &[&str] = &["calibrate", "demo"];

/// Options whose value is a file or folder the command writes.
const OUTPUT_OPTIONS: &[&str] = &["--out", "-o", "--viz", "--consistency", "--sheet"];

/// Shell syntax the examples may not use (the test runs them without a shell).
const REFUSED_CHARS: &[char] = &['\'', '"', '$', ';', '|', '&', '<', '>', '`'];

/// One example command.
struct Example {
    /// Where it comes from, e.g. "README.md:63".
    origin: String,
    /// The command as written (continuation lines joined, comment removed).
    text: String,
    /// Its words without the optional `[...]` groups, `timeslice` first.
    words: Vec<String>,
    /// The `--flags` named in its `[...]` groups.
    optional_flags: Vec<String>,
    /// Marked `# your footage`: not run.
    own_footage: bool,
}

impl Example {
    fn subcommand(&self) -> &str {
        self.words.get(1).map(String::as_str).unwrap_or("")
    }

    fn is_slow(&self) -> bool {
        let has = |a: &str, b: &str| self.words.windows(2).any(|w| w[0] == a && w[1] == b);
        SLOW_SUBCOMMANDS.contains(&self.subcommand())
            || (self.words.iter().any(|w| w == "--calibration") && has("--flow-preset", "quality"))
    }
}

/// Splits `line` into the command and its comment (from a `#` that starts a word).
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return (line[..i].trim_end(), Some(line[i + 1..].trim()));
        }
    }
    (line.trim_end(), None)
}

/// Parses one logical command line (continuations joined) into an example, or `None` for a
/// line the test does not run.
fn parse_command(origin: String, line: &str) -> Option<Example> {
    let line = line.trim();
    let line = line.strip_prefix("$ ").unwrap_or(line).trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (command, comment) = split_comment(line);
    let program = command.split_whitespace().next().unwrap_or("");
    if program != "timeslice" {
        assert!(
            SKIPPED_PROGRAMS.contains(&program),
            "{origin}: `{command}` is neither a timeslice command nor a program the test knows \
             to skip (SKIPPED_PROGRAMS in tests/readme.rs)"
        );
        return None;
    }
    // Optional groups: [--flag VALUE] or [--a X | --b Y].
    let mut plain = String::new();
    let mut optional_flags = Vec::new();
    let mut rest = command;
    while let Some(open) = rest.find('[') {
        plain.push_str(&rest[..open]);
        let close = rest[open..]
            .find(']')
            .unwrap_or_else(|| panic!("{origin}: `[` without `]` in `{command}`"))
            + open;
        let group = &rest[open + 1..close];
        assert!(!group.contains('['), "{origin}: nested [ ] in `{command}`");
        let flags: Vec<String> = group
            .split_whitespace()
            .filter(|w| w.starts_with("--"))
            .map(String::from)
            .collect();
        assert!(
            !flags.is_empty(),
            "{origin}: `[{group}]` names no --option in `{command}`"
        );
        optional_flags.extend(flags);
        rest = &rest[close + 1..];
    }
    plain.push_str(rest);
    assert!(
        !plain.contains(']'),
        "{origin}: `]` without `[` in `{command}`"
    );
    if let Some(c) = plain.chars().find(|c| REFUSED_CHARS.contains(c)) {
        panic!(
            "{origin}: `{command}` uses the shell syntax `{c}`; keep README examples plain \
             commands (or extend tests/readme.rs)"
        );
    }
    Some(Example {
        origin,
        text: command.to_string(),
        words: plain.split_whitespace().map(String::from).collect(),
        optional_flags,
        own_footage: comment.is_some_and(|c| c.starts_with("your footage")),
    })
}

/// Joins lines ending in `\` with the lines after them; gives each logical line with the
/// 1-based number of its first line.
fn logical_lines<'a>(lines: impl Iterator<Item = (usize, &'a str)>) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    for (n, line) in lines {
        let (text, more) = match line.trim_end().strip_suffix('\\') {
            Some(t) => (t, true),
            None => (line.trim_end(), false),
        };
        if open {
            let last = out.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(text.trim());
        } else {
            out.push((n, text.to_string()));
        }
        open = more;
    }
    out
}

/// The examples of README.md, in order.
fn readme_examples(readme: &str) -> Vec<Example> {
    const SHELL: &[&str] = &["sh", "bash", "shell", "console"];
    let mut examples = Vec::new();
    let mut block: Option<(String, Vec<(usize, &str)>)> = None;
    for (i, line) in readme.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (fence, block.take()) {
            (Some(lang), None) => block = Some((lang.trim().to_string(), Vec::new())),
            (Some(_), Some((lang, lines))) => {
                if SHELL.contains(&lang.as_str()) {
                    for (n, l) in logical_lines(lines.into_iter()) {
                        examples.extend(parse_command(format!("README.md:{n}"), &l));
                    }
                } else if lang.is_empty() {
                    for (n, l) in lines {
                        assert!(
                            !l.trim_start().starts_with("timeslice ")
                                && !l.trim_start().starts_with("$ timeslice "),
                            "README.md:{n}: a timeslice command in a code block without a \
                             language; tag the block ```sh so that tests/readme.rs runs it"
                        );
                    }
                }
            }
            (None, Some((lang, mut lines))) => {
                lines.push((i + 1, line));
                block = Some((lang, lines));
            }
            (None, None) => {}
        }
    }
    assert!(block.is_none(), "README.md: a code block is not closed");
    examples
}

/// The examples in `timeslice render --help`: the lines after `Examples:` up to the first
/// blank line.
fn render_help_examples(help: &str) -> Vec<Example> {
    let section: Vec<(usize, &str)> = help
        .lines()
        .enumerate()
        .skip_while(|(_, l)| l.trim() != "Examples:")
        .skip(1)
        .take_while(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l))
        .collect();
    logical_lines(section.into_iter())
        .into_iter()
        .map(|(n, l)| {
            assert!(
                l.trim_start().starts_with("timeslice "),
                "render --help, line {n}: `{l}` is not a command (a line wrapped by the \
                 terminal? break long examples with `\\`)"
            );
            parse_command(format!("render --help:{n}"), &l).unwrap()
        })
        .collect()
}

/// `x` of a README pixel coordinate at the test's scale (pixel centres stay centres).
fn scale_px(x: f64, scale: f64) -> f64 {
    ((x + 0.5) / scale - 0.5).max(0.0)
}

/// A README size at the test's scale, in even numbers (what the encoders need).
fn scale_size(w: u32, h: u32, scale: f64) -> String {
    let even = |v: u32| ((v as f64 / scale / 2.0).round() as u32 * 2).max(2);
    format!("{}x{}", even(w), even(h))
}

/// The example's words as the test runs them, `timeslice` left out. Every pixel quantity is
/// divided by `scale` (SCALE = 8, or SLOW_SCALE = 4), so that the README's commands keep their
/// meaning on the test's small rigs; with 8:
/// - `timeslice samples` without --size gets `--size 160x90` (its default 1280x720 / 8);
/// - every `--size WxH` becomes (W/8)x(H/8), rounded to even numbers;
/// - `--preset broadcast` (1920x1080) and `--preset social` (1080x1920) without --size get
///   the preset's size / 8 as an explicit --size (which the presets let override theirs);
/// - `--focus-px CAMERA:X,Y` picks scale to the smaller image, `--focal F` to F/8.
///
/// `timeslice demo` has no size option and runs at full size.
fn at_test_scale(words: &[String], scale: f64) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut it = words[1..].iter();
    while let Some(w) = it.next() {
        out.push(w.clone());
        match w.as_str() {
            "--size" => {
                let v = it.next().expect("--size needs a value");
                let (a, b) = v.split_once('x').expect("--size WxH");
                out.push(scale_size(a.parse().unwrap(), b.parse().unwrap(), scale));
            }
            "--focus-px" => {
                let v = it.next().expect("--focus-px needs a value");
                let (cam, xy) = v.rsplit_once(':').expect("--focus-px CAMERA:X,Y");
                let (x, y) = xy.split_once(',').expect("--focus-px CAMERA:X,Y");
                out.push(format!(
                    "{cam}:{:.1},{:.1}",
                    scale_px(x.parse().unwrap(), scale),
                    scale_px(y.parse().unwrap(), scale)
                ));
            }
            "--focal" => {
                let v: f64 = it.next().expect("--focal F").parse().unwrap();
                out.push(format!("{:.2}", v / scale));
            }
            _ => {}
        }
    }
    if !out.iter().any(|w| w == "--size") {
        let preset = out
            .iter()
            .position(|w| w == "--preset")
            .map(|i| out[i + 1].as_str());
        match preset {
            Some("broadcast") => out.extend(["--size".into(), scale_size(1920, 1080, scale)]),
            Some("social") => out.extend(["--size".into(), scale_size(1080, 1920, scale)]),
            _ if out[0] == "samples" => out.extend([
                "--size".into(),
                scale_size(README_SIZE.0, README_SIZE.1, scale),
            ]),
            _ => {}
        }
    }
    out
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters.
fn wildcard(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len()).any(|i| wildcard(tail, &name[head.len() + i..]))
        }
    }
}

/// Expands `*` in the last part of a path, relative to `dir`, sorted.
fn expand_glob(dir: &Path, word: &str) -> Vec<String> {
    if !word.contains('*') {
        return vec![word.to_string()];
    }
    let (folder, pattern) = word.rsplit_once('/').unwrap_or(("", word));
    assert!(
        !folder.contains('*'),
        "`{word}`: only the file name may hold a *"
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.join(folder))
        .unwrap_or_else(|e| panic!("`{word}`: {folder}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && wildcard(pattern, n))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "`{word}` matches no file");
    names
        .into_iter()
        .map(|n| {
            if folder.is_empty() {
                n
            } else {
                format!("{folder}/{n}")
            }
        })
        .collect()
}

/// Runs timeslice in `dir` (common::run adds --quiet).
fn run_in(dir: &Path, args: &[String]) -> common::Run {
    let out = common::timeslice()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("runs timeslice");
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// The options that `timeslice <path> --help` lists, and its subcommands; cached.
#[derive(Default)]
struct HelpCache(HashMap<Vec<String>, (Vec<String>, Vec<String>)>);

impl HelpCache {
    fn get(&mut self, path: &[String]) -> &(Vec<String>, Vec<String>) {
        self.0.entry(path.to_vec()).or_insert_with(|| {
            let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
            args.push("--help");
            let r = run(&args);
            assert_eq!(r.code, 0, "timeslice {args:?}: {}", r.stderr);
            let options = r
                .stdout
                .split(|c: char| c.is_whitespace() || c == ',' || c == '=')
                .filter(|w| w.starts_with("--"))
                .map(String::from)
                .collect();
            let subcommands = r
                .stdout
                .lines()
                .skip_while(|l| l.trim() != "Commands:")
                .skip(1)
                .take_while(|l| l.starts_with("  "))
                .filter_map(|l| l.split_whitespace().next().map(String::from))
                .collect();
            (options, subcommands)
        })
    }

    /// The subcommand path of `words` (e.g. ["calibrate", "rig"]).
    fn command_path(&mut self, words: &[String]) -> Vec<String> {
        let mut path: Vec<String> = Vec::new();
        for w in &words[1..] {
            if self.get(&path).1.contains(w) {
                path.push(w.clone());
            } else {
                break;
            }
        }
        path
    }
}

/// Runs `examples` in order in `dir`: exit status 0, and the outputs they name exist.
fn run_examples(dir: &Path, examples: &[&Example], scale: f64, help: &mut HelpCache) {
    for ex in examples {
        let path = help.command_path(&ex.words);
        assert!(
            !path.is_empty(),
            "{}: `{}`: no such subcommand",
            ex.origin,
            ex.text
        );
        let (options, _) = help.get(&path).clone();
        for flag in ex.words.iter().chain(&ex.optional_flags) {
            let flag = flag.split('=').next().unwrap();
            assert!(
                !flag.starts_with("--") || options.iter().any(|o| o == flag),
                "{}: `{}`: timeslice {} has no option {flag}",
                ex.origin,
                ex.text,
                path.join(" ")
            );
        }
        let args: Vec<String> = at_test_scale(&ex.words, scale)
            .iter()
            .flat_map(|w| expand_glob(dir, w))
            .collect();
        let started = Instant::now();
        let r = run_in(dir, &args);
        eprintln!(
            "{:>6.1} s  {}: timeslice {}",
            started.elapsed().as_secs_f64(),
            ex.origin,
            args.join(" ")
        );
        assert_eq!(
            r.code,
            0,
            "{}: `{}` (run as `timeslice {}`) failed:\n{}{}",
            ex.origin,
            ex.text,
            args.join(" "),
            r.stdout,
            r.stderr
        );
        for (i, w) in args.iter().enumerate() {
            if OUTPUT_OPTIONS.contains(&w.as_str()) {
                let out = dir.join(&args[i + 1]);
                assert!(
                    out.exists(),
                    "{}: `{}` exited 0 but wrote no {}",
                    ex.origin,
                    ex.text,
                    args[i + 1]
                );
            }
        }
    }
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("reads README.md")
}

fn is_samples(ex: &Example) -> bool {
    ex.subcommand() == "samples"
}

#[test]
fn readme_examples_run() {
    let started = Instant::now();
    let examples = readme_examples(&readme());
    let skipped: Vec<&Example> = examples.iter().filter(|e| e.own_footage).collect();
    let runnable: Vec<&Example> = examples.iter().filter(|e| !e.own_footage).collect();
    // The README's own sample rigs come first: every other example runs on them.
    let first_other = runnable.iter().position(|e| !is_samples(e)).unwrap_or(0);
    assert!(
        first_other >= 1 && runnable[first_other..].iter().all(|e| !is_samples(e)),
        "README.md: the `timeslice samples` lines that make the sample rigs must come before \
         every other example"
    );
    assert!(
        runnable.len() >= 30,
        "README.md: only {} runnable examples found; did the code blocks lose their ```sh tag?",
        runnable.len()
    );
    for e in &skipped {
        eprintln!("not run ({} marked `your footage`): {}", e.origin, e.text);
    }
    let d = tempfile::tempdir().unwrap();
    let mut help = HelpCache::default();
    let fast: Vec<&Example> = runnable.iter().copied().filter(|e| !e.is_slow()).collect();
    for e in runnable.iter().filter(|e| e.is_slow()) {
        eprintln!("run by readme_slow_examples_run: {}: {}", e.origin, e.text);
    }
    run_examples(d.path(), &fast, SCALE, &mut help);

    // `timeslice render --help`: its examples run on the same rig, which it names as the
    // README does.
    let r = run(&["render", "--help"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let help_examples = render_help_examples(&r.stdout);
    assert!(help_examples.len() >= 5, "render --help: too few examples");
    let rig_line: Vec<(usize, &str)> = r
        .stdout
        .lines()
        .enumerate()
        .skip_while(|(_, l)| !l.contains("README's sample rig"))
        .skip(1)
        .take_while(|(_, l)| !l.trim().is_empty())
        .collect();
    let rig_line = logical_lines(rig_line.into_iter());
    assert_eq!(
        rig_line.len(),
        1,
        "render --help: name the README's sample rig"
    );
    let readme_rig = &runnable[0].words;
    assert_eq!(
        rig_line[0].1.split_whitespace().collect::<Vec<_>>(),
        readme_rig.iter().map(String::as_str).collect::<Vec<_>>(),
        "render --help names another sample rig than README.md's first `timeslice samples`"
    );
    let help_examples: Vec<&Example> = help_examples.iter().collect();
    run_examples(d.path(), &help_examples, SCALE, &mut help);
    eprintln!(
        "readme_examples_run: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "calibrate, demo and the plane sweep take minutes unoptimised: cargo test --release --test readme"
)]
fn readme_slow_examples_run() {
    let started = Instant::now();
    let examples = readme_examples(&readme());
    let chosen: Vec<&Example> = examples
        .iter()
        .filter(|e| !e.own_footage && (is_samples(e) || e.is_slow()))
        .collect();
    assert!(
        chosen.iter().any(|e| e.is_slow()),
        "README.md: no slow example found"
    );
    let d = tempfile::tempdir().unwrap();
    run_examples(d.path(), &chosen, SLOW_SCALE, &mut HelpCache::default());
    eprintln!(
        "readme_slow_examples_run: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn example_parsing_follows_the_convention() {
    let readme = "text\n```sh\n$ timeslice probe rig --json   # a comment\nmake demo\n\
                  timeslice samples --out rig \\\n    --cameras 3 [--seed 1] [--a X | --b Y]\n\
                  timeslice init footage/   # your footage: no such folder\n```\n\
                  ```toml\ntimeslice = 1\n```\n";
    let ex = readme_examples(readme);
    assert_eq!(ex.len(), 3);
    assert_eq!(ex[0].words, ["timeslice", "probe", "rig", "--json"]);
    assert_eq!(ex[0].origin, "README.md:3");
    assert_eq!(
        ex[1].words,
        ["timeslice", "samples", "--out", "rig", "--cameras", "3"]
    );
    assert_eq!(ex[1].optional_flags, ["--seed", "--a", "--b"]);
    assert!(ex[2].own_footage && !ex[1].own_footage);
    let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert!(wildcard("cam*.png", "cam01.png") && !wildcard("cam*.png", "cam01.mp4"));
    assert!(wildcard("*", "x") && wildcard("a*b*c", "aXbYc") && !wildcard("a*b", "ba"));
    assert_eq!(
        at_test_scale(&words("timeslice samples --out rig"), SCALE),
        words("samples --out rig --size 160x90")
    );
    assert_eq!(
        at_test_scale(
            &words(
                "timeslice render rig --size 1920x1080 --focus-px cam01:639.5,359.5 --out a.mp4"
            ),
            SCALE
        ),
        words("render rig --size 240x136 --focus-px cam01:79.5,44.5 --out a.mp4")
    );
    assert_eq!(
        at_test_scale(
            &words("timeslice render rig --preset social --out s.mp4"),
            SCALE
        ),
        words("render rig --preset social --out s.mp4 --size 136x240")
    );
}

#[test]
#[should_panic(expected = "neither a timeslice command")]
fn unknown_programs_are_not_skipped_silently() {
    readme_examples("```sh\nffmpeg -i clip.mp4 out.mp4\n```\n");
}
