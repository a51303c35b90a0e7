/* timeslice spin viewer: turns a product spin written by `timeslice spin`.
 *
 * Embed: <div class="timeslice-spin" data-pattern="frames/{w}/frame_{i}.jpg" data-count="72"
 *             data-sizes="2000,1000,500" data-width="2000" data-height="1500"></div>
 *        <script src="viewer.js"></script>
 * Options (data-attributes): data-loop ("true": a full turn wraps round), data-autospin
 * ("ccw", "cw" or "off"), data-speed (frames per second while autospinning), data-drag
 * (pixels of drag per frame; default: the element's width turns once round).
 * Drag with the mouse or swipe to turn (with inertia), wheel or pinch to zoom (the largest
 * size loads when zoomed), arrow keys to step, Home for the first frame, F or the button for
 * fullscreen. No network, no dependencies. Each viewer exposes its state for tests as
 * element.timesliceSpin (frame, zoom, spinning, loaded).
 */
(function () {
  "use strict";

  function pad(i) {
    return String(i).padStart(3, "0");
  }

  function Spin(el) {
    var self = this;
    this.el = el;
    this.count = parseInt(el.dataset.count, 10);
    this.pattern = el.dataset.pattern;
    this.sizes = (el.dataset.sizes || "").split(",").map(Number).filter(Boolean)
      .sort(function (a, b) { return b - a; });
    this.aspect = Number(el.dataset.height) / Number(el.dataset.width) || 0.75;
    this.loop = el.dataset.loop !== "false";
    this.speed = Number(el.dataset.speed) || 12;
    this.autospin = el.dataset.autospin || "ccw";
    this.frame = 0;
    this.zoom = 1;
    this.panX = 0;
    this.panY = 0;
    this.loaded = 0;
    this.spinning = false;
    this.velocity = 0;
    this.images = [];
    this.large = {};

    el.style.position = "relative";
    el.style.overflow = "hidden";
    el.style.touchAction = "none";
    el.style.userSelect = "none";
    el.style.cursor = "grab";
    el.style.aspectRatio = (1 / this.aspect).toFixed(4);
    el.setAttribute("role", "img");
    el.setAttribute("tabindex", "0");
    if (!el.getAttribute("aria-label")) el.setAttribute("aria-label", "360-degree view");
    el.setAttribute("aria-roledescription", "360-degree viewer");

    this.img = document.createElement("img");
    this.img.alt = "";
    this.img.draggable = false;
    this.img.style.cssText =
      "width:100%;height:100%;object-fit:contain;display:block;transform-origin:0 0;";
    el.appendChild(this.img);

    this.bar = document.createElement("div");
    this.bar.setAttribute("role", "progressbar");
    this.bar.setAttribute("aria-label", "Loading the 360-degree view");
    this.bar.setAttribute("aria-valuemin", "0");
    this.bar.setAttribute("aria-valuemax", String(this.count));
    this.bar.style.cssText =
      "position:absolute;left:10%;right:10%;bottom:12px;height:4px;background:#ddd;border-radius:2px;";
    this.fill = document.createElement("div");
    this.fill.style.cssText = "height:100%;width:0;background:#333;border-radius:2px;";
    this.bar.appendChild(this.fill);
    el.appendChild(this.bar);

    this.full = document.createElement("button");
    this.full.type = "button";
    // An inline icon: a glyph such as U+26F6 is missing from many systems' fonts.
    this.full.innerHTML =
      '<svg width="18" height="18" viewBox="0 0 18 18" aria-hidden="true" fill="none" ' +
      'stroke="#333" stroke-width="2"><path d="M2 7V2h5M11 2h5v5M16 11v5h-5M7 16H2v-5"/></svg>';
    this.full.setAttribute("aria-label", "Fullscreen");
    this.full.style.cssText =
      "position:absolute;right:8px;top:8px;font-size:18px;border:0;background:rgba(255,255,255,.8);border-radius:4px;cursor:pointer;";
    this.full.addEventListener("click", function () { self.toggleFullscreen(); });
    el.appendChild(this.full);

    this.preload();
    this.bind();
    el.timesliceSpin = this;
  }

  Spin.prototype.url = function (i, width) {
    return this.pattern.replace("{w}", String(width)).replace("{i}", pad(i));
  };

  /* The smallest size at least as wide as the element on this screen. */
  Spin.prototype.baseWidth = function () {
    var want = (this.el.clientWidth || 500) * (window.devicePixelRatio || 1);
    var pick = this.sizes[0];
    for (var k = 0; k < this.sizes.length; k++) if (this.sizes[k] >= want) pick = this.sizes[k];
    return pick;
  };

  Spin.prototype.preload = function () {
    var self = this;
    var width = this.baseWidth();
    this.width = width;
    for (var i = 0; i < this.count; i++) {
      var im = new Image();
      im.onload = im.onerror = function () {
        self.loaded += 1;
        self.fill.style.width = (100 * self.loaded / self.count) + "%";
        self.bar.setAttribute("aria-valuenow", String(self.loaded));
        if (self.loaded === self.count) {
          self.bar.style.display = "none";
          self.el.setAttribute("aria-busy", "false");
          if (self.autospin !== "off") self.startSpin();
        }
      };
      im.src = this.url(i, width);
      this.images.push(im);
    }
    this.el.setAttribute("aria-busy", "true");
    this.show(0);
  };

  Spin.prototype.wrap = function (f) {
    if (this.loop) return ((f % this.count) + this.count) % this.count;
    return Math.max(0, Math.min(this.count - 1, f));
  };

  Spin.prototype.show = function (f) {
    this.frame = this.wrap(Math.round(f));
    var src = this.zoom > 1 ? this.largeUrl(this.frame) : this.images[this.frame].src;
    if (this.img.getAttribute("src") !== src) this.img.setAttribute("src", src);
    this.el.setAttribute("aria-valuetext", "frame " + (this.frame + 1) + " of " + this.count);
    this.el.dataset.frame = String(this.frame);
  };

  /* Zoomed in, the frame comes from the largest size. */
  Spin.prototype.largeUrl = function (i) {
    var u = this.url(i, this.sizes[0]);
    if (!this.large[u]) {
      var im = new Image();
      im.src = u;
      this.large[u] = im;
    }
    return u;
  };

  Spin.prototype.startSpin = function () {
    var self = this;
    if (this.spinning) return;
    this.spinning = true;
    var dir = this.autospin === "cw" ? -1 : 1;
    var last = null;
    var pos = this.frame;
    function tick(now) {
      if (!self.spinning) return;
      if (last !== null) {
        pos += dir * self.speed * (now - last) / 1000;
        // Without a loop, turn back at the ends. Clamped there: past an end (a long gap
        // between frames, as in a hidden tab), flipping alone would flip every frame.
        if (!self.loop && pos >= self.count - 1) { pos = self.count - 1; dir = -1; }
        else if (!self.loop && pos <= 0) { pos = 0; dir = 1; }
        self.show(pos);
      }
      last = now;
      self.raf = requestAnimationFrame(tick);
    }
    this.raf = requestAnimationFrame(tick);
  };

  Spin.prototype.stopSpin = function () {
    this.spinning = false;
    if (this.raf) cancelAnimationFrame(this.raf);
  };

  Spin.prototype.setZoom = function (z, cx, cy) {
    var old = this.zoom;
    this.zoom = Math.max(1, Math.min(4, z));
    var w = this.el.clientWidth, h = this.el.clientHeight;
    if (cx === undefined) { cx = w / 2; cy = h / 2; }
    // Keep the point under the cursor still.
    this.panX = cx - (cx - this.panX) * this.zoom / old;
    this.panY = cy - (cy - this.panY) * this.zoom / old;
    if (this.zoom === 1) { this.panX = 0; this.panY = 0; }
    this.panX = Math.min(0, Math.max(w - w * this.zoom, this.panX));
    this.panY = Math.min(0, Math.max(h - h * this.zoom, this.panY));
    this.img.style.transform =
      "translate(" + this.panX + "px," + this.panY + "px) scale(" + this.zoom + ")";
    this.show(this.frame);
  };

  Spin.prototype.toggleFullscreen = function () {
    if (document.fullscreenElement) document.exitFullscreen();
    else if (this.el.requestFullscreen) this.el.requestFullscreen();
  };

  Spin.prototype.bind = function () {
    var self = this;
    var el = this.el;
    var pointers = {};
    var drag = null;
    var pinch = null;
    function perFrame() {
      return Number(el.dataset.drag) || (el.clientWidth || 500) / self.count;
    }
    el.addEventListener("pointerdown", function (e) {
      if (e.target === self.full) return;
      self.stopSpin();
      cancelAnimationFrame(self.inertia);
      // Capture keeps a drag going outside the element; it throws for a pointer the browser
      // no longer tracks (a finger already lifted, a synthetic event): turn without it then.
      try {
        if (el.setPointerCapture) el.setPointerCapture(e.pointerId);
      } catch (err) { /* no capture */ }
      pointers[e.pointerId] = { x: e.clientX, y: e.clientY };
      var ids = Object.keys(pointers);
      if (ids.length === 2) {
        var a = pointers[ids[0]], b = pointers[ids[1]];
        pinch = { d: Math.hypot(a.x - b.x, a.y - b.y), zoom: self.zoom };
        drag = null;
      } else {
        drag = { x: e.clientX, y: e.clientY, frame: self.frame, t: e.timeStamp, v: 0,
                 lastX: e.clientX, lastT: e.timeStamp, panX: self.panX, panY: self.panY };
      }
      el.style.cursor = "grabbing";
    });
    el.addEventListener("pointermove", function (e) {
      if (!pointers[e.pointerId]) return;
      pointers[e.pointerId] = { x: e.clientX, y: e.clientY };
      var ids = Object.keys(pointers);
      if (pinch && ids.length === 2) {
        var a = pointers[ids[0]], b = pointers[ids[1]];
        self.setZoom(pinch.zoom * Math.hypot(a.x - b.x, a.y - b.y) / pinch.d);
        return;
      }
      if (!drag) return;
      if (self.zoom > 1) {
        // Zoomed in, a drag pans.
        self.panX = drag.panX + e.clientX - drag.x;
        self.panY = drag.panY + e.clientY - drag.y;
        self.setZoom(self.zoom);
        return;
      }
      var dt = e.timeStamp - drag.lastT;
      if (dt > 0) drag.v = 0.8 * drag.v + 0.2 * (e.clientX - drag.lastX) / dt;
      drag.lastX = e.clientX;
      drag.lastT = e.timeStamp;
      // Dragging right turns the product to the right: earlier frames of a ccw turn.
      self.show(drag.frame - (e.clientX - drag.x) / perFrame());
    });
    function release(e) {
      delete pointers[e.pointerId];
      el.style.cursor = "grab";
      if (Object.keys(pointers).length < 2) pinch = null;
      if (!drag || self.zoom > 1) { drag = null; return; }
      // Inertia: the release velocity (pixels per ms) decays over about half a second.
      var v = -drag.v / perFrame();
      drag = null;
      var pos = self.frame;
      var last = null;
      function coast(now) {
        if (last !== null) {
          var dt = now - last;
          pos += v * dt;
          v *= Math.pow(0.994, dt);
          self.show(pos);
        }
        last = now;
        if (Math.abs(v) > 0.002) self.inertia = requestAnimationFrame(coast);
      }
      if (Math.abs(v) > 0.002) self.inertia = requestAnimationFrame(coast);
    }
    el.addEventListener("pointerup", release);
    el.addEventListener("pointercancel", release);
    el.addEventListener("wheel", function (e) {
      e.preventDefault();
      self.stopSpin();
      var r = el.getBoundingClientRect();
      self.setZoom(self.zoom * Math.exp(-e.deltaY / 300), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    el.addEventListener("keydown", function (e) {
      var step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: 1, ArrowDown: -1 }[e.key];
      if (step) {
        self.stopSpin();
        self.show(self.frame + step);
        e.preventDefault();
      } else if (e.key === "Home") {
        self.stopSpin();
        self.show(0);
        e.preventDefault();
      } else if (e.key === "+" || e.key === "=") {
        self.stopSpin();
        self.setZoom(self.zoom * 1.5);
      } else if (e.key === "-") {
        self.setZoom(self.zoom / 1.5);
      } else if (e.key === "f" || e.key === "F") {
        self.toggleFullscreen();
      }
    });
  }

  function init() {
    var els = document.querySelectorAll(".timeslice-spin");
    for (var i = 0; i < els.length; i++) if (!els[i].timesliceSpin) new Spin(els[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
