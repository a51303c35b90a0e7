//! The spin viewer (viewer.js) in a real browser: Debian's `chromium`, headless, which
//! scripts/install-deps.sh installs.
//!
//! Each test makes a real package with the built binary and writes a harness page next to its
//! index.html: the page itself with a prelude injected at the top of <head> (it records errors,
//! overrides a few of the viewer's data-attributes before viewer.js starts, and replaces
//! requestAnimationFrame with a clock the scenario steps by hand) and a scenario at the end of
//! <body> that dispatches synthetic pointer, key and wheel events at the viewer and notes its
//! state (element.timesliceSpin) into a <pre> as JSON. Chromium runs the page under virtual
//! time (`--virtual-time-budget`, which waits for the frames to load but never drives
//! requestAnimationFrame, hence the hand-stepped clock) and prints the DOM (`--dump-dom`) or
//! a screenshot; the network is cut off. Nothing depends on the wall clock.

mod common;

use common::run;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// The frames the package has (`samples --cameras 12`, every shot kept).
const COUNT: i64 = 12;

/// Virtual milliseconds a page may run: far more than any scenario needs.
const BUDGET_MS: u32 = 20_000;

/// Where the browser is: `chromium` (Debian) or `chromium-browser` (Ubuntu) on the PATH.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "chromium is not installed: the viewer tests run viewer.js in headless Chromium. \
         Run scripts/install-deps.sh (make test does) to install it, then rerun the tests."
    );
}

/// A spin package made by the binary: 12 frames of the turntable sample at 257x193 and 160
/// wide, no animations.
struct Package {
    dir: TempDir,
    pkg: PathBuf,
}

fn package() -> Package {
    let dir = tempfile::tempdir().unwrap();
    let shoe = dir.path().join("shoe");
    let pkg = dir.path().join("pkg");
    let r = run(&[
        "samples",
        "--turntable",
        "--out",
        shoe.to_str().unwrap(),
        "--cameras",
        "12",
        "--size",
        "320x240",
    ]);
    assert_eq!(r.code, 0, "samples: {}", r.stderr);
    let r = run(&[
        "spin",
        shoe.to_str().unwrap(),
        "--out",
        pkg.to_str().unwrap(),
        "--no-animations",
        "--sizes",
        "160",
    ]);
    assert_eq!(r.code, 0, "spin: {}", r.stderr);
    assert!(
        pkg.join("frames/257/frame_011.jpg").is_file() && pkg.join("frames/160").is_dir(),
        "the package has 12 frames at 257 and 160 wide"
    );
    Package { dir, pkg }
}

/// What one browser run printed.
struct Browsed {
    stdout: String,
    /// The page's console messages (Chromium logs them to stderr).
    console: Vec<String>,
}

/// Opens `page` in headless Chromium, offline, at 800x600 and device pixel ratio 1, for
/// `BUDGET_MS` of virtual time; `action` is `--dump-dom` or `--screenshot=PATH`.
fn browse(p: &Package, page: &Path, action: &str) -> Browsed {
    let profile = tempfile::tempdir_in(p.dir.path()).unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Offline: every request goes to a proxy that is not there.
            "--proxy-server=127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
            "--enable-logging=stderr",
            "--v=0",
            // Scripts of file:// pages count as one origin: errors keep their messages.
            "--allow-file-access-from-files",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=800,600",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--virtual-time-budget={BUDGET_MS}"))
        .arg(action)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("runs chromium");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed: {stderr}");
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    Browsed { stdout, console }
}

/// Injected at the top of <head>: runs before viewer.js.
const PRELUDE: &str = r#"
(function () {
  "use strict";
  var T = window.T = { errors: [], notes: [], done: false };
  window.addEventListener("error", function (e) {
    var t = e.target;
    T.errors.push(t && t !== window && t.tagName
      ? "failed to load " + t.tagName + " " + (t.src || t.href)
      : "uncaught: " + e.message + " (" + e.filename + ":" + e.lineno + ")");
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    T.errors.push("unhandled rejection: " + e.reason);
  });
  ["error", "warn"].forEach(function (level) {
    var orig = console[level];
    console[level] = function () {
      T.errors.push("console." + level + ": " + Array.prototype.join.call(arguments, " "));
      return orig.apply(console, arguments);
    };
  });

  // The animation clock: requestAnimationFrame callbacks run only when the scenario ticks.
  var queue = [], nextId = 1, now = 1000;
  window.requestAnimationFrame = function (cb) {
    queue.push({ id: nextId, cb: cb });
    return nextId++;
  };
  window.cancelAnimationFrame = function (id) {
    queue = queue.filter(function (q) { return q.id !== id; });
  };
  /* Advances the clock by ms and runs the callbacks queued until then, n times. */
  T.tick = function (ms, n) {
    for (var k = 0; k < (n || 1); k++) {
      now += ms;
      var q = queue;
      queue = [];
      q.forEach(function (e) { e.cb(now); });
    }
  };
  T.wait = function (ms) {
    return new Promise(function (ok) { setTimeout(ok, ms); });
  };

  document.addEventListener("DOMContentLoaded", function () {
    var el = T.el = document.querySelector(".timeslice-spin");
    var setup = __SETUP__;
    Object.keys(setup.attrs).forEach(function (k) { el.setAttribute(k, setup.attrs[k]); });
    el.style.cssText += setup.style;
  });

  function flush() {
    var pre = document.getElementById("timeslice-test");
    if (!pre) {
      pre = document.createElement("pre");
      pre.id = "timeslice-test";
      document.body.appendChild(pre);
    }
    pre.textContent = JSON.stringify({ done: T.done, errors: T.errors, notes: T.notes });
  }

  function rel(src) {
    src = src || "";
    var i = src.indexOf("frames/");
    return i >= 0 ? src.slice(i) : src;
  }

  /* Records the viewer's state under a label, with any extra fields. */
  T.note = function (label, extra) {
    var el = T.el, s = el.timesliceSpin, img = s.img;
    var r = {
      label: label, frame: s.frame, zoom: s.zoom, spinning: s.spinning, loaded: s.loaded,
      count: s.count, src: rel(img.getAttribute("src")), transform: img.style.transform,
      valuetext: el.getAttribute("aria-valuetext"), busy: el.getAttribute("aria-busy"),
      queued: queue.length
    };
    Object.keys(extra || {}).forEach(function (k) { r[k] = extra[k]; });
    T.notes.push(r);
    flush();
  };

  /* Every frame the viewer preloaded that decoded, and the shown image if it did. */
  T.decoded = function () {
    var s = T.el.timesliceSpin;
    return {
      decoded: s.images.filter(function (im) { return im.complete && im.naturalWidth > 0; })
        .length,
      widths: s.images.map(function (im) { return im.naturalWidth; }),
      shown: s.img.complete ? s.img.naturalWidth : 0
    };
  };

  /* Waits for the shown image to finish loading. */
  T.shown = async function () {
    while (!T.el.timesliceSpin.img.complete) await T.wait(10);
  };

  /* Events at the viewer, as a finger or a keyboard would send them. A pointer event's
     timeStamp is the animation clock's time: under virtual time performance.now() still
     counts the real time a task takes, which would make drag velocities vary. */
  T.pointer = function (type, x, y, id) {
    var r = T.el.getBoundingClientRect();
    var e = new PointerEvent(type, {
      pointerId: id || 7, pointerType: "touch", isPrimary: (id || 7) === 7,
      clientX: r.left + x, clientY: r.top + y, button: 0, buttons: type === "pointerup" ? 0 : 1,
      bubbles: true, cancelable: true, composed: true
    });
    Object.defineProperty(e, "timeStamp", { value: now });
    T.el.dispatchEvent(e);
  };
  /* A drag from x0 to x1 at height 50 in steps, the clock ticking ms between moves. */
  T.drag = function (x0, x1, steps, ms) {
    T.pointer("pointerdown", x0, 50);
    for (var k = 1; k <= steps; k++) {
      if (ms) T.tick(ms);
      T.pointer("pointermove", x0 + (x1 - x0) * k / steps, 50);
    }
  };
  T.key = function (key) {
    T.el.dispatchEvent(new KeyboardEvent("keydown", {
      key: key, bubbles: true, cancelable: true, composed: true
    }));
  };
  T.wheel = function (deltaY, x, y) {
    var r = T.el.getBoundingClientRect();
    T.el.dispatchEvent(new WheelEvent("wheel", {
      deltaY: deltaY, clientX: r.left + x, clientY: r.top + y, bubbles: true, cancelable: true
    }));
  };

  /* Runs the scenario once the viewer has loaded every frame. */
  T.run = function (scenario) {
    (async function () {
      await new Promise(function (ok) {
        if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ok);
        else ok();
      });
      flush();
      var s;
      while (!(s = T.el.timesliceSpin) || s.loaded < s.count) await T.wait(10);
      T.note("loaded", T.decoded());
      await scenario(T.el, s);
      T.done = true;
      flush();
    })().catch(function (e) {
      T.errors.push("the scenario threw: " + e + "\n" + e.stack);
      flush();
    });
  };
})();
"#;

/// What a scenario recorded.
struct Notes {
    notes: Vec<Value>,
}

impl Notes {
    fn get(&self, label: &str) -> &Value {
        self.notes
            .iter()
            .find(|n| n["label"] == label)
            .unwrap_or_else(|| panic!("no note {label:?} in {:#?}", self.notes))
    }

    fn frame(&self, label: &str) -> i64 {
        self.get(label)["frame"].as_i64().unwrap()
    }

    fn src(&self, label: &str) -> &str {
        self.get(label)["src"].as_str().unwrap()
    }

    fn zoom(&self, label: &str) -> f64 {
        self.get(label)["zoom"].as_f64().unwrap()
    }

    fn spinning(&self, label: &str) -> bool {
        self.get(label)["spinning"].as_bool().unwrap()
    }
}

/// Writes a harness page `name`.html into the package: its index.html with the prelude, the
/// data-attributes `attrs` and the CSS `style` set on the viewer before it starts, and
/// `scenario` (the body of an async function of `el`, the viewer element, and `s`, its
/// timesliceSpin). Returns the page's path.
fn harness(
    p: &Package,
    name: &str,
    attrs: &[(&str, &str)],
    style: &str,
    scenario: &str,
) -> PathBuf {
    let index = std::fs::read_to_string(p.pkg.join("index.html")).unwrap();
    let attrs: serde_json::Map<String, Value> = attrs
        .iter()
        .map(|(k, v)| (format!("data-{k}"), Value::from(*v)))
        .collect();
    let setup = serde_json::json!({ "attrs": attrs, "style": style });
    let prelude = PRELUDE.replace("__SETUP__", &setup.to_string());
    assert!(index.contains("<head>") && index.contains("</body>"));
    let page = index
        .replacen("<head>", &format!("<head>\n<script>{prelude}</script>"), 1)
        .replacen(
            "</body>",
            &format!(
                "<script>\nT.run(async function (el, s) {{\n{scenario}\n}});\n</script>\n</body>"
            ),
            1,
        );
    let path = p.pkg.join(format!("{name}.html"));
    std::fs::write(&path, page).unwrap();
    path
}

/// Runs a harness page to its end and returns its notes, having checked that the scenario
/// finished, that every frame decoded, and that nothing went wrong on the way: no uncaught
/// error, failed load or console message.
fn scenario(p: &Package, name: &str, attrs: &[(&str, &str)], style: &str, js: &str) -> Notes {
    let page = harness(p, name, attrs, style, js);
    let b = browse(p, &page, "--dump-dom");
    let start = r#"<pre id="timeslice-test">"#;
    let at = b.stdout.find(start).unwrap_or_else(|| {
        panic!(
            "{name}: the harness wrote no result (did the page run?); console: {:#?}",
            b.console
        )
    });
    let text = &b.stdout[at + start.len()..];
    let text = &text[..text.find("</pre>").expect("the result ends")];
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    let result: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{name}: the result is not JSON ({e}): {text}"));
    let notes = Notes {
        notes: result["notes"].as_array().cloned().unwrap_or_default(),
    };
    assert_eq!(
        result["errors"],
        serde_json::json!([]),
        "{name}: errors in the page; notes: {:#?}",
        notes.notes
    );
    assert!(
        b.console.is_empty(),
        "{name}: console messages: {:#?}",
        b.console
    );
    assert_eq!(
        result["done"], true,
        "{name}: the scenario did not finish in {BUDGET_MS} ms of virtual time; notes: {:#?}",
        notes.notes
    );
    let loaded = notes.get("loaded");
    assert_eq!(
        loaded["decoded"], COUNT,
        "{name}: every frame decoded: {loaded}"
    );
    notes
}

#[test]
fn the_page_loads_offline_with_no_console_error() {
    let p = package();
    // The page as written, untouched: the viewer builds itself, loads every frame from disk
    // with the network cut off, and logs nothing.
    let b = browse(&p, &p.pkg.join("index.html"), "--dump-dom");
    assert!(b.console.is_empty(), "console messages: {:#?}", b.console);
    let dom = &b.stdout;
    assert!(
        dom.contains(r#"aria-busy="false""#),
        "every frame loaded: {dom}"
    );
    assert!(dom.contains(r#"aria-valuenow="12""#), "{dom}");
    // It spins (Chromium may or may not have run an animation frame by then): the frame, its
    // text and the image shown agree.
    let frame: usize = dom
        .split(r#"data-frame=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("the viewer notes its frame: {dom}"));
    assert!(frame < COUNT as usize, "{dom}");
    let text = format!(r#"aria-valuetext="frame {} of 12""#, frame + 1);
    assert!(dom.contains(&text), "{text}: {dom}");
    let src = format!(r#"/pkg/frames/257/frame_{frame:03}.jpg""#);
    assert!(dom.contains(&src), "{src}: {dom}");

    // And instrumented: every frame decoded, at the size that fits the element.
    let n = scenario(&p, "load", &[], "width: 320px;", "");
    let loaded = n.get("loaded");
    assert_eq!(
        loaded["widths"],
        serde_json::json!(vec![257; 12]),
        "{loaded}"
    );
    assert_eq!(loaded["shown"], 257, "{loaded}");
    assert_eq!(loaded["busy"], "false");
    assert_eq!(n.src("loaded"), "frames/257/frame_000.jpg");
    assert_eq!(loaded["valuetext"], "frame 1 of 12");
}

#[test]
fn a_drag_turns_one_frame_per_step_of_pixels() {
    let p = package();
    // 240 px wide and 12 frames: 20 px a frame. Dragging left turns to later frames.
    let n = scenario(
        &p,
        "drag",
        &[("autospin", "off")],
        "width: 240px;",
        r#"
        T.note("start", { width: el.clientWidth });
        T.pointer("pointerdown", 100, 50);
        T.pointer("pointermove", 40, 50);
        T.note("left 60");
        T.pointer("pointermove", 160, 50);
        T.note("right 60");
        T.pointer("pointermove", 125, 50);
        T.note("right 25");
        T.pointer("pointermove", 129, 50);
        T.note("right 29");
        T.pointer("pointerup", 129, 50);
        T.note("released");
        // A drag that starts where the last one ended goes on from its frame.
        T.pointer("pointerdown", 10, 50);
        T.pointer("pointermove", 10 - 20 * 5, 50);
        T.note("left 100 more");
        T.pointer("pointerup", 10 - 20 * 5, 50);
        // data-drag sets the pixels per frame.
        el.dataset.drag = "7";
        T.pointer("pointerdown", 100, 50);
        T.pointer("pointermove", 100 - 7 * 4, 50);
        T.note("left 28 at 7 px");
        T.pointer("pointerup", 100 - 7 * 4, 50);
        "#,
    );
    assert_eq!(n.get("start")["width"], 240);
    assert_eq!(n.frame("left 60"), 3);
    assert_eq!(n.frame("right 60"), COUNT - 3, "wraps round");
    assert_eq!(n.frame("right 25"), COUNT - 1, "1.25 frames rounds to 1");
    assert_eq!(n.frame("right 29"), COUNT - 1, "1.45 frames rounds to 1");
    assert_eq!(n.frame("released"), COUNT - 1);
    assert_eq!(n.frame("left 100 more"), 4, "11 + 5, wrapped");
    assert_eq!(n.frame("left 28 at 7 px"), 8);
    assert_eq!(n.src("left 60"), "frames/257/frame_003.jpg");
    assert_eq!(n.get("left 60")["valuetext"], "frame 4 of 12");
    for label in ["left 60", "right 60", "released", "left 28 at 7 px"] {
        assert!(!n.spinning(label));
    }
}

#[test]
fn a_fast_drag_coasts_on_and_stops() {
    let p = package();
    let n = scenario(
        &p,
        "inertia",
        &[("autospin", "off")],
        "width: 240px;",
        r#"
        // 60 px left in 6 moves 10 ms apart (1 px/ms), then let go.
        T.drag(150, 90, 6, 10);
        T.note("dragged");
        T.pointer("pointerup", 90, 50);
        T.note("released");
        T.tick(16);
        T.tick(16);
        T.note("coasting");
        T.tick(16, 200);
        T.note("stopped");
        T.tick(16, 10);
        T.note("still");
        "#,
    );
    assert_eq!(n.frame("dragged"), 3);
    assert_eq!(
        n.frame("released"),
        3,
        "nothing moves before the next frame"
    );
    // The release velocity: 1 px/ms smoothed over 6 moves, (1 - 0.8^6) px/ms or 0.037 frames
    // a millisecond, decaying by 0.994 a millisecond: about 1.1 frames in the first two
    // frames, 6.1 in all.
    assert_eq!(
        n.frame("coasting"),
        4,
        "turns on the same way after release"
    );
    assert_eq!(n.get("stopped")["queued"], 0, "the coast ends");
    let stopped = n.frame("stopped");
    assert_eq!(stopped, 9, "3 + 6 frames coasted");
    assert_eq!(n.frame("still"), stopped);
}

#[test]
fn autospin_advances_and_stops_on_interaction() {
    let p = package();
    // 12 frames a second: 250 ms is 3 frames. A press, a key and the wheel each stop it; the
    // scenario starts it again after each.
    let n = scenario(
        &p,
        "autospin",
        &[],
        "width: 320px;",
        r#"
        var stops = {
          pointer: function () { T.pointer("pointerdown", 50, 50); T.pointer("pointerup", 50, 50); },
          key: function () { T.key("ArrowRight"); },
          wheel: function () { T.wheel(-100, 50, 50); }
        };
        T.note("start");
        T.tick(0);
        Object.keys(stops).forEach(function (name) {
          if (name !== "pointer") { s.setZoom(1); s.startSpin(); T.tick(0); }
          T.note(name + " before");
          T.tick(250);
          T.note(name + " 250 ms");
          T.tick(250);
          T.note(name + " 500 ms");
          stops[name]();
          T.note(name + " stopped");
          T.tick(250, 4);
          T.note(name + " 1000 ms on");
        });
        "#,
    );
    assert!(n.spinning("start"), "spins once loaded");
    assert_eq!(n.frame("start"), 0);
    for name in ["pointer", "key", "wheel"] {
        let at = n.frame(&format!("{name} before"));
        let label = |l: &str| format!("{name} {l}");
        assert!(n.spinning(&label("before")), "{name}");
        assert_eq!(n.frame(&label("250 ms")), (at + 3) % COUNT, "{name}");
        assert_eq!(n.frame(&label("500 ms")), (at + 6) % COUNT, "{name}");
        assert!(n.spinning(&label("500 ms")), "{name}");
        assert!(!n.spinning(&label("stopped")), "{name}: stops");
        let stopped = n.frame(&label("stopped"));
        let step = if name == "key" { 1 } else { 0 };
        assert_eq!(stopped, (at + 6 + step) % COUNT, "{name}");
        assert_eq!(
            n.frame(&label("1000 ms on")),
            stopped,
            "{name}: stays stopped"
        );
        assert_eq!(
            n.get(&label("1000 ms on"))["queued"],
            0,
            "{name}: no frame requested"
        );
    }
}

#[test]
fn autospin_turns_clockwise_and_back_at_the_ends() {
    let p = package();
    let n = scenario(
        &p,
        "autospin-cw",
        &[("autospin", "cw"), ("speed", "4")],
        "width: 320px;",
        r#"
        T.tick(0);
        T.tick(500);
        T.note("500 ms");
        "#,
    );
    assert_eq!(n.frame("500 ms"), COUNT - 2, "4 frames a second, backwards");

    // Without a loop it turns back at the last frame, even after a long pause between frames
    // (a hidden tab) that overshoots an end.
    let n = scenario(
        &p,
        "autospin-bounce",
        &[("loop", "false")],
        "width: 320px;",
        r#"
        T.tick(0);
        T.tick(500);
        T.note("500 ms");
        T.tick(500);
        T.note("1000 ms");
        T.tick(250);
        T.note("1250 ms");
        T.tick(10000);
        T.note("after a pause");
        T.tick(250);
        T.note("250 ms on");
        T.tick(250);
        T.note("500 ms on");
        "#,
    );
    assert_eq!(n.frame("500 ms"), 6);
    assert_eq!(n.frame("1000 ms"), COUNT - 1, "stops at the last frame");
    assert_eq!(n.frame("1250 ms"), COUNT - 4, "and turns back");
    assert_eq!(n.frame("after a pause"), 0);
    assert_eq!(n.frame("250 ms on"), 3, "turns on after the pause");
    assert_eq!(n.frame("500 ms on"), 6);
}

#[test]
fn the_arrow_keys_step() {
    let p = package();
    let js = r#"
        var keys = ["ArrowRight", "ArrowRight", "ArrowLeft", "ArrowUp", "ArrowDown", "ArrowLeft",
                    "ArrowLeft", "Home"];
        T.note("start");
        keys.forEach(function (k, i) { T.key(k); T.note(i + " " + k); });
        for (var i = 0; i < 15; i++) T.key("ArrowRight");
        T.note("15 right");
    "#;
    let n = scenario(&p, "keys", &[], "width: 320px;", js);
    assert!(n.spinning("start"));
    let want = [1, 2, 1, 2, 1, 0, COUNT - 1, 0];
    for (i, k) in [
        "ArrowRight",
        "ArrowRight",
        "ArrowLeft",
        "ArrowUp",
        "ArrowDown",
        "ArrowLeft",
        "ArrowLeft",
        "Home",
    ]
    .iter()
    .enumerate()
    {
        let label = format!("{i} {k}");
        assert_eq!(n.frame(&label), want[i], "{label}");
        assert!(!n.spinning(&label), "{label}: a key stops the spin");
        assert_eq!(
            n.get(&label)["valuetext"],
            format!("frame {} of 12", want[i] + 1)
        );
        assert_eq!(
            n.src(&label),
            format!("frames/257/frame_{:03}.jpg", want[i])
        );
    }
    assert_eq!(n.frame("15 right"), 15 % COUNT);

    // Without a loop the keys stop at the ends.
    let n = scenario(&p, "keys-noloop", &[("loop", "false")], "width: 320px;", js);
    let want = [1, 2, 1, 2, 1, 0, 0, 0];
    for (i, k) in [
        "ArrowRight",
        "ArrowRight",
        "ArrowLeft",
        "ArrowUp",
        "ArrowDown",
        "ArrowLeft",
        "ArrowLeft",
        "Home",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(n.frame(&format!("{i} {k}")), want[i], "{i} {k}");
    }
    assert_eq!(n.frame("15 right"), COUNT - 1);
}

#[test]
fn zoom_loads_the_large_image() {
    let p = package();
    // 150 px wide: the viewer turns the 160-wide frames and loads the 257-wide ones zoomed.
    let n = scenario(
        &p,
        "zoom",
        &[("autospin", "off")],
        "width: 150px;",
        r#"
        T.note("start");
        T.wheel(-300, 75, 56);
        await T.shown();
        T.note("wheel in", { shown: s.img.naturalWidth });
        T.key("ArrowRight");
        await T.shown();
        T.note("step zoomed", { shown: s.img.naturalWidth });
        // Zoomed in, a drag pans and does not turn.
        T.pointer("pointerdown", 75, 50);
        T.pointer("pointermove", 95, 60);
        T.pointer("pointerup", 95, 60);
        T.note("pan");
        T.wheel(1000, 75, 56);
        await T.shown();
        T.note("wheel out", { shown: s.img.naturalWidth });
        T.key("+");
        T.note("plus");
        T.key("-");
        T.note("minus");
        // Two fingers 50 px apart, then 100: twice the size.
        T.pointer("pointerdown", 40, 50, 7);
        T.pointer("pointerdown", 90, 50, 8);
        T.pointer("pointermove", 140, 50, 8);
        T.note("pinch");
        T.pointer("pointerup", 140, 50, 8);
        T.pointer("pointerup", 40, 50, 7);
        T.note("pinch done");
        "#,
    );
    assert_eq!(n.src("start"), "frames/160/frame_000.jpg");
    assert_eq!(n.get("loaded")["widths"], serde_json::json!(vec![160; 12]));
    let z = n.zoom("wheel in");
    assert!((z - 1f64.exp()).abs() < 1e-9, "zoom {z}");
    assert_eq!(n.src("wheel in"), "frames/257/frame_000.jpg");
    assert_eq!(n.get("wheel in")["shown"], 257, "the large frame loaded");
    assert_eq!(n.src("step zoomed"), "frames/257/frame_001.jpg");
    assert_eq!(n.get("step zoomed")["shown"], 257);
    assert_eq!(n.frame("pan"), 1, "a drag zoomed in pans");
    assert_ne!(
        n.get("pan")["transform"],
        n.get("step zoomed")["transform"],
        "and moves the image"
    );
    assert_eq!(n.zoom("wheel out"), 1.0);
    assert_eq!(n.src("wheel out"), "frames/160/frame_001.jpg");
    assert_eq!(n.get("wheel out")["shown"], 160);
    assert_eq!(n.zoom("plus"), 1.5);
    assert_eq!(n.src("plus"), "frames/257/frame_001.jpg");
    assert_eq!(n.zoom("minus"), 1.0);
    assert!((n.zoom("pinch") - 2.0).abs() < 1e-9, "{}", n.zoom("pinch"));
    assert_eq!(n.src("pinch"), "frames/257/frame_001.jpg");
    assert_eq!(n.frame("pinch done"), 1, "a pinch does not turn");
}

#[test]
fn a_screenshot_shows_the_product() {
    let p = package();
    // Frame 3, still: where the viewer is on the page, then what the browser paints there.
    let js = r#"
        T.key("ArrowRight"); T.key("ArrowRight"); T.key("ArrowRight");
        await T.shown();
        var r = el.getBoundingClientRect();
        T.note("shown", { x: r.left, y: r.top, w: r.width, h: r.height,
                          bar: getComputedStyle(s.bar).display });
    "#;
    let n = scenario(
        &p,
        "screenshot",
        &[("autospin", "off")],
        "width: 320px;",
        js,
    );
    let shown = n.get("shown");
    assert_eq!(n.src("shown"), "frames/257/frame_003.jpg");
    assert_eq!(shown["bar"], "none", "the progress bar is gone");
    let num = |k: &str| shown[k].as_f64().unwrap();
    let (x, y, w, h) = (num("x"), num("y"), num("w"), num("h"));
    assert_eq!(w, 320.0);
    assert!((h - 240.3).abs() < 0.5, "height {h}");

    let png = p.dir.path().join("screenshot.png");
    let page = p.pkg.join("screenshot.html");
    let b = browse(&p, &page, &format!("--screenshot={}", png.display()));
    assert!(b.console.is_empty(), "console messages: {:#?}", b.console);
    let shot = image::open(&png).unwrap().to_rgb8();
    assert_eq!(shot.dimensions(), (800, 600));
    let (x, y) = (x.round() as u32, y.round() as u32);
    let area = image::imageops::crop_imm(&shot, x, y, 320, 240).to_image();

    let frame = |k: usize| {
        let f = image::open(p.pkg.join(format!("frames/257/frame_{k:03}.jpg")))
            .unwrap()
            .to_rgb8();
        image::imageops::resize(&f, 320, 240, image::imageops::FilterType::Triangle)
    };
    // The mean difference from a frame, leaving out the fullscreen button's corner.
    let diff = |f: &image::RgbImage| {
        let (mut sum, mut n) = (0f64, 0f64);
        for (px, py, a) in area.enumerate_pixels() {
            if px >= 320 - 48 && py < 48 {
                continue;
            }
            let b = f.get_pixel(px, py);
            sum += (0..3)
                .map(|c| (a[c] as f64 - b[c] as f64).abs())
                .sum::<f64>()
                / 3.0;
            n += 1.0;
        }
        sum / n
    };
    let page_bg = *shot.get_pixel(700, 500);
    assert_eq!(page_bg, image::Rgb([255, 255, 255]), "the page is white");
    // The product: many pixels far from white, which a blank or white canvas lacks.
    let product = area
        .pixels()
        .filter(|p| p.0.iter().map(|&c| 255 - c as u32).sum::<u32>() > 150)
        .count();
    assert!(
        product > 320 * 240 / 10,
        "only {product} product pixels in the viewer"
    );
    let (d3, d0) = (diff(&frame(3)), diff(&frame(0)));
    eprintln!("mean difference from frame 3: {d3:.2}, from frame 0: {d0:.2}");
    assert!(d3 < 6.0, "the viewer shows frame 3: differs by {d3:.2}");
    assert!(d3 * 2.0 < d0, "frame 3, not frame 0: {d3:.2} vs {d0:.2}");
}
