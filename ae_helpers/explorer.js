/*
 * The kernel-free explorers of ae_helpers: latent_explorer_html (one model) and
 * pair_explorer_html (two models side by side, with a pad to draw a digit on), both in
 * ae_helpers/explorer.py.
 *
 * This file is one function expression. Python appends "(settings);" to it, the settings being
 * one JSON object written as a literal (with "<", ">" and "&" escaped), so every output runs its
 * own copy with its own settings and two outputs on one page share nothing but the global
 * registry window.aeExplorers, where each registers under its own element id. Nothing is loaded
 * from the network.
 *
 * Sections: weights and layers; a digit on a canvas; a latent panel (scatter, draggable point,
 * decoded digit, optional decoded grid); the drawing pad and its MNIST-like preprocessing (the
 * same steps as explorer.preprocess_drawing in Python); the two explorers; start-up.
 */
(function (cfg) {
  "use strict";

  // ---- Weights and layers -------------------------------------------------------------------

  function bytes(b64) {
    var bin = atob(b64), n = bin.length, u = new Uint8Array(n);
    for (var i = 0; i < n; i++) u[i] = bin.charCodeAt(i);
    return u;
  }

  // An IEEE half-precision number (its 16 bits) as a float; exact.
  function half(h) {
    var sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    if (e === 0) return sign * f * Math.pow(2, -24);
    if (e === 31) return f ? NaN : sign * Infinity;
    return sign * (1 + f / 1024) * Math.pow(2, e - 15);
  }

  // Little-endian float32 or float16 numbers stored as base64, as a Float32Array.
  function floats(b64, dtype) {
    var u = bytes(b64), dv = new DataView(u.buffer), size = dtype === "float16" ? 2 : 4;
    var n = u.length / size, out = new Float32Array(n);
    for (var i = 0; i < n; i++) out[i] = size === 2 ? half(dv.getUint16(2 * i, true)) : dv.getFloat32(4 * i, true);
    return out;
  }

  // A network given as {layers: [{type: "linear", in, out, w, b} | {type: "relu"|"sigmoid"|"tanh"}],
  // params: base64, dtype}: w and b are offsets of the weight matrix (out x in, row-major) and the
  // bias in the flat parameter array. Returns the function input -> output (arrays of numbers).
  function network(net) {
    var params = floats(net.params, net.dtype), layers = net.layers;
    return function (x) {
      var h = [];
      for (var n = 0; n < x.length; n++) h.push(Number(x[n]));
      for (var l = 0; l < layers.length; l++) {
        var L = layers[l], k;
        if (L.type === "linear") {
          var out = new Array(L.out);
          for (var j = 0; j < L.out; j++) {
            var s = params[L.b + j], row = L.w + j * L.in;
            for (var i = 0; i < L.in; i++) s += params[row + i] * h[i];
            out[j] = s;
          }
          h = out;
        } else if (L.type === "relu") {
          for (k = 0; k < h.length; k++) if (h[k] < 0) h[k] = 0;
        } else if (L.type === "sigmoid") {
          for (k = 0; k < h.length; k++) h[k] = 1 / (1 + Math.exp(-h[k]));
        } else if (L.type === "tanh") {
          for (k = 0; k < h.length; k++) h[k] = Math.tanh(h[k]);
        }
      }
      return h;
    };
  }

  // ---- A digit on a canvas ----------------------------------------------------------------

  // 784 values in [0, 1] drawn as 28 x 28 blocks of S x S pixels, grey round(255 * (1 - v)), opaque.
  // With v null the canvas is cleared to white.
  function paintDigit(canvas, v) {
    var S = parseInt(canvas.getAttribute("data-scale"), 10), w = 28 * S;
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(w, w), d = img.data;
    for (var r = 0; r < 28; r++) for (var c = 0; c < 28; c++) {
      var x = v ? Math.min(1, Math.max(0, v[r * 28 + c])) : 0, gray = Math.round(255 * (1 - x));
      for (var dy = 0; dy < S; dy++) for (var dx = 0; dx < S; dx++) {
        var o = 4 * ((r * S + dy) * w + c * S + dx);
        d[o] = gray; d[o + 1] = gray; d[o + 2] = gray; d[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  }

  // Where a pointer event falls on a canvas, in the canvas's own pixels: its content box (inside
  // border and padding) is mapped onto its drawing buffer, so a canvas that CSS scales down to fit
  // a narrow screen still puts the point where the finger is.
  function canvasPoint(canvas, e) {
    var r = canvas.getBoundingClientRect(), s = window.getComputedStyle(canvas);
    function px(side) { return (parseFloat(s["border" + side + "Width"]) || 0) + (parseFloat(s["padding" + side]) || 0); }
    var left = px("Left"), top = px("Top");
    var w = r.width - left - px("Right"), h = r.height - top - px("Bottom");
    return [(e.clientX - r.left - left) * canvas.width / w, (e.clientY - r.top - top) * canvas.height / h];
  }

  function offscreen(w, h) {
    var c = document.createElement("canvas");
    c.width = w; c.height = h;
    return c;
  }

  // ---- A latent panel -----------------------------------------------------------------------

  // root: a div.ae-explorer holding canvas.ae-explorer-latent and canvas.ae-explorer-digit.
  // p: this panel's settings (decoder, optional encoder, points, labels, ranges, ticks, start, grid).
  // Registers and returns {decode, encode, setCode, getCode, setGrid, setMarker, addMap}.
  function panel(root, p) {
    var lat = root.querySelector("canvas.ae-explorer-latent");
    var dig = root.querySelector("canvas.ae-explorer-digit");
    var readout = root.querySelector(".ae-explorer-readout");
    var decode = network(p.decoder), encode = p.encoder ? network(p.encoder) : null;
    var W = lat.width, H = lat.height, m = cfg.margin, pw = W - m.l - m.r, ph = H - m.t - m.b;
    var x0 = p.xr[0], x1 = p.xr[1], y0 = p.yr[0], y1 = p.yr[1];
    function toPx(z) { return [m.l + (z[0] - x0) / (x1 - x0) * pw, H - m.b - (z[1] - y0) / (y1 - y0) * ph]; }
    function toCode(px, py) { return [x0 + (px - m.l) / pw * (x1 - x0), y0 + (H - m.b - py) / ph * (y1 - y0)]; }
    var pts = floats(p.points, "float32"), lab = bytes(p.labels);
    var bg = offscreen(W, H), tiles = null, showGrid = false, marker = null, code = p.start.slice();

    // The decoded grid: one faded digit per tile, decoded at the tile's centre (made on first use).
    function makeTiles() {
      var n = p.grid, c = offscreen(28 * n, 28 * n), g = c.getContext("2d");
      var img = g.createImageData(28 * n, 28 * n), d = img.data;
      for (var i = 0; i < n; i++) for (var j = 0; j < n; j++) {
        var v = decode([x0 + (j + 0.5) / n * (x1 - x0), y1 - (i + 0.5) / n * (y1 - y0)]);
        for (var r = 0; r < 28; r++) for (var q = 0; q < 28; q++) {
          var x = Math.min(1, Math.max(0, v[r * 28 + q])), gray = Math.round(255 - 190 * x);
          var o = 4 * ((i * 28 + r) * 28 * n + j * 28 + q);
          d[o] = gray; d[o + 1] = gray; d[o + 2] = gray; d[o + 3] = 255;
        }
      }
      g.putImageData(img, 0, 0);
      return c;
    }

    function paintBackground() {
      var g = bg.getContext("2d");
      g.fillStyle = "#ffffff"; g.fillRect(0, 0, W, H);
      if (showGrid) {
        tiles = tiles || makeTiles();
        g.imageSmoothingEnabled = true;
        g.drawImage(tiles, m.l, m.t, pw, ph);
      }
      g.strokeStyle = "#999999"; g.lineWidth = 1;
      g.strokeRect(m.l + 0.5, m.t + 0.5, pw - 1, ph - 1);
      g.fillStyle = "#333333"; g.font = "11px sans-serif";
      g.textAlign = "center"; g.textBaseline = "top";
      p.xt.forEach(function (t) { var q = toPx([t, y0]); g.fillRect(q[0], H - m.b, 1, 4); g.fillText(String(t), q[0], H - m.b + 5); });
      g.textAlign = "right"; g.textBaseline = "middle";
      p.yt.forEach(function (t) { var q = toPx([x0, t]); g.fillRect(m.l - 4, q[1], 4, 1); g.fillText(String(t), m.l - 6, q[1]); });
      g.fillStyle = "#555555"; g.font = "italic 12px sans-serif";
      g.textAlign = "right"; g.textBaseline = "bottom"; g.fillText("z1", W - m.r - 4, H - m.b - 3);
      g.textAlign = "left"; g.textBaseline = "top"; g.fillText("z2", m.l + 4, m.t + 3);
      g.save();
      g.beginPath(); g.rect(m.l, m.t, pw, ph); g.clip();
      g.globalAlpha = showGrid ? 0.45 : 0.6;
      for (var i = 0; i < lab.length; i++) {
        var q = toPx([pts[2 * i], pts[2 * i + 1]]);
        g.fillStyle = cfg.colors[lab[i] % 10];
        g.fillRect(q[0] - 1, q[1] - 1, 3, 3);
      }
      g.restore();
    }

    // Where the drawn digit landed: a red ring with a cross on a white halo, k times the size
    // it has on the scatter.
    function ring(g, x, y, k) {
      g.lineWidth = 4 * k; g.strokeStyle = "#ffffff";
      g.beginPath(); g.arc(x, y, 9 * k, 0, 2 * Math.PI); g.stroke();
      g.lineWidth = 2 * k; g.strokeStyle = "#d00000";
      g.beginPath(); g.arc(x, y, 9 * k, 0, 2 * Math.PI);
      g.moveTo(x - 5 * k, y - 5 * k); g.lineTo(x + 5 * k, y + 5 * k);
      g.moveTo(x + 5 * k, y - 5 * k); g.lineTo(x - 5 * k, y + 5 * k); g.stroke();
    }

    // Small maps (a pair shows one beside each reconstruction, in sight of the pad): the scatter's
    // plotting area, shrunk to the map's canvas, with the ring.
    var maps = [];
    function paintMaps() {
      maps.forEach(function (c) {
        var g = c.getContext("2d"), w = c.width, h = c.height;
        g.drawImage(bg, m.l, m.t, pw, ph, 0, 0, w, h);
        if (marker) ring(g, (marker[0] - x0) / (x1 - x0) * w, (y1 - marker[1]) / (y1 - y0) * h, w / 112);
      });
    }

    var ctx = lat.getContext("2d");
    function draw() {
      ctx.drawImage(bg, 0, 0);
      ctx.save();
      ctx.beginPath(); ctx.rect(m.l, m.t, pw, ph); ctx.clip();
      if (marker) { var d = toPx(marker); ring(ctx, d[0], d[1], 1); }
      var q = toPx(code);
      ctx.beginPath(); ctx.arc(q[0], q[1], 6, 0, 2 * Math.PI);
      ctx.fillStyle = "#000000"; ctx.fill();
      ctx.lineWidth = 2; ctx.strokeStyle = "#ffffff"; ctx.stroke();
      ctx.restore();
      paintMaps();
      paintDigit(dig, decode(code));
      root.setAttribute("data-code", JSON.stringify([code[0], code[1]]));
      if (readout) readout.textContent = "z = (" + code[0].toFixed(2) + ", " + code[1].toFixed(2) + ")";
    }
    function setCode(z) { code = [Number(z[0]), Number(z[1])]; draw(); }
    function fromEvent(e) {
      var q = canvasPoint(lat, e), px = q[0], py = q[1];
      px = Math.min(W - m.r, Math.max(m.l, px)); py = Math.min(H - m.b, Math.max(m.t, py));
      setCode(toCode(px, py));
    }
    // Pointer events cover the mouse, a finger and a pen alike; touch-action: none on the canvas
    // keeps the page from scrolling while a finger drags the point.
    var dragging = false;
    lat.addEventListener("pointerdown", function (e) {
      dragging = true;
      if (lat.setPointerCapture) { try { lat.setPointerCapture(e.pointerId); } catch (err) { /* not capturable */ } }
      try { lat.focus({ preventScroll: true }); } catch (err) { /* focus is optional */ }
      fromEvent(e); e.preventDefault();
    });
    lat.addEventListener("pointermove", function (e) { if (dragging) { fromEvent(e); e.preventDefault(); } });
    function stop() { dragging = false; }
    lat.addEventListener("pointerup", stop);
    lat.addEventListener("pointercancel", stop);
    lat.addEventListener("keydown", function (e) {
      var dx = { ArrowLeft: -1, ArrowRight: 1 }[e.key] || 0, dy = { ArrowDown: -1, ArrowUp: 1 }[e.key] || 0;
      if (!dx && !dy) return;
      // Each press moves 2% of the map (Shift: 10%) and stops at its edge, as the mouse and a
      // finger do: the point stays where the reader can see it.
      var f = e.shiftKey ? 0.1 : 0.02;
      setCode([Math.min(x1, Math.max(x0, code[0] + dx * f * (x1 - x0))),
               Math.min(y1, Math.max(y0, code[1] + dy * f * (y1 - y0)))]);
      e.preventDefault();
    });
    var api = {
      decode: decode,
      encode: encode,
      setCode: setCode,
      getCode: function () { return code.slice(); },
      setGrid: function (on) { showGrid = !!on; paintBackground(); draw(); },
      setMarker: function (z) { marker = z ? [Number(z[0]), Number(z[1])] : null; draw(); },
      addMap: function (canvas) { maps.push(canvas); paintMaps(); }
    };
    window.aeExplorers[root.id] = api;
    paintBackground();
    draw();
    return api;
  }

  // ---- The drawing pad and its preprocessing ------------------------------------------------

  // MNIST-like preprocessing of a drawing, ink (h x w values in [0, 1], row-major) to 784 values:
  // crop to the bounding box of the ink; shrink (or grow) it to fit 20 x 20 keeping its aspect
  // ratio, each new pixel the mean of the block of old pixels it covers; scale so the darkest
  // pixel is 1; place it in 28 x 28 so that its centre of mass falls on pixel (14, 14), rounded to
  // whole pixels (clamped so that nothing is cut off). MNIST's digits were prepared the same way
  // (NIST's digits fitted into 20 x 20, then centred by mass). null when there is no ink.
  function preprocess(ink, w, h) {
    var top = h, bottom = -1, left = w, right = -1, r, c, i, j;
    for (r = 0; r < h; r++) for (c = 0; c < w; c++) if (ink[r * w + c] > 0) {
      if (r < top) top = r;
      if (r > bottom) bottom = r;
      if (c < left) left = c;
      if (c > right) right = c;
    }
    if (bottom < 0) return null;
    var bh = bottom - top + 1, bw = right - left + 1, big = Math.max(bh, bw);
    var nh = Math.max(1, Math.floor((40 * bh + big) / (2 * big))), nw = Math.max(1, Math.floor((40 * bw + big) / (2 * big)));
    function edges(n, size) {  // block k covers [e[k][0], e[k][1]) of the old pixels
      var e = [];
      for (var k = 0; k < n; k++) {
        var a = Math.floor(k * size / n);
        e.push([a, Math.max(a + 1, Math.floor((k + 1) * size / n))]);
      }
      return e;
    }
    var re = edges(nh, bh), ce = edges(nw, bw), small = new Float64Array(nh * nw), peak = 0;
    for (i = 0; i < nh; i++) for (j = 0; j < nw; j++) {
      var s = 0;
      for (r = re[i][0]; r < re[i][1]; r++) for (c = ce[j][0]; c < ce[j][1]; c++) s += ink[(top + r) * w + left + c];
      s /= (re[i][1] - re[i][0]) * (ce[j][1] - ce[j][0]);
      small[i * nw + j] = s;
      if (s > peak) peak = s;
    }
    var mass = 0, my = 0, mx = 0;
    for (i = 0; i < nh; i++) for (j = 0; j < nw; j++) {
      var v = small[i * nw + j] / peak;
      small[i * nw + j] = v; mass += v; my += i * v; mx += j * v;
    }
    var oy = Math.min(28 - nh, Math.max(0, Math.floor(14.5 - my / mass)));
    var ox = Math.min(28 - nw, Math.max(0, Math.floor(14.5 - mx / mass)));
    var out = new Float64Array(784);
    for (i = 0; i < nh; i++) for (j = 0; j < nw; j++) out[(oy + i) * 28 + ox + j] = small[i * nw + j];
    return out;
  }

  // A canvas to draw on with mouse, finger or pen: black strokes on a transparent canvas (the page
  // shows it on white), the ink being each pixel's opacity. onChange() runs after every stroke
  // segment. Returns {ink(), clear()}.
  function drawPad(canvas, lineWidth, onChange) {
    var ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, last = null;
    function at(e) { return canvasPoint(canvas, e); }
    ctx.lineCap = "round"; ctx.lineJoin = "round";
    canvas.addEventListener("pointerdown", function (e) {
      if (canvas.setPointerCapture) { try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* not capturable */ } }
      last = at(e);
      ctx.fillStyle = "#000000";
      ctx.beginPath(); ctx.arc(last[0], last[1], lineWidth / 2, 0, 2 * Math.PI); ctx.fill();
      onChange(); e.preventDefault();
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!last) return;
      var q = at(e);
      ctx.strokeStyle = "#000000"; ctx.lineWidth = lineWidth;
      ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(q[0], q[1]); ctx.stroke();
      last = q;
      onChange(); e.preventDefault();
    });
    function stop() { last = null; }
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    return {
      ink: function () {
        var d = ctx.getImageData(0, 0, W, H).data, out = new Float64Array(W * H);
        for (var i = 0; i < W * H; i++) out[i] = d[4 * i + 3] / 255;
        return { width: W, height: H, data: out };
      },
      clear: function () { ctx.clearRect(0, 0, W, H); last = null; }
    };
  }

  // ---- The two explorers --------------------------------------------------------------------

  function removeFallback(root) {
    var fallback = root.querySelector(".ae-explorer-fallback");
    if (fallback) fallback.parentNode.removeChild(fallback);
  }

  function single(root) {
    removeFallback(root);
    panel(root, cfg.panels[0]);
  }

  // Two panels (each its own model, its own codes and its own point), the grid toggle, and the
  // drawing pad whose digit is encoded by every panel's encoder and marked in its scatter and in
  // its small map beside the pad.
  function pair(root) {
    removeFallback(root);
    var panels = {}, recon = {}, image = null, codes = null;
    cfg.panels.forEach(function (p) {
      panels[p.name] = panel(root.querySelector("[id='" + p.id + "']"), p);
      recon[p.name] = root.querySelector("canvas.ae-pair-recon[data-model='" + p.name + "']");
      var map = root.querySelector("canvas.ae-pair-map[data-model='" + p.name + "']");
      if (map) panels[p.name].addMap(map);
    });
    var seen = root.querySelector("canvas.ae-pair-input");
    var toggle = root.querySelector("input.ae-pair-grid");
    function setGrid(on) {
      toggle.checked = !!on;
      cfg.panels.forEach(function (p) { panels[p.name].setGrid(on); });
    }
    toggle.addEventListener("change", function () { setGrid(toggle.checked); });
    var pad = drawPad(root.querySelector("canvas.ae-pair-draw"), cfg.line_width, update);
    function update() {
      var ink = pad.ink();
      image = preprocess(ink.data, ink.width, ink.height);
      codes = image ? {} : null;
      paintDigit(seen, image);
      cfg.panels.forEach(function (p) {
        var z = image ? panels[p.name].encode(image) : null;
        if (z) codes[p.name] = z;
        panels[p.name].setMarker(z);
        paintDigit(recon[p.name], z ? panels[p.name].decode(z) : null);
      });
      root.setAttribute("data-drawn-codes", JSON.stringify(codes));
    }
    root.querySelector("button.ae-pair-clear").addEventListener("click", function () { pad.clear(); update(); });
    update();
    var ids = {};
    cfg.panels.forEach(function (p) { ids[p.name] = p.id; });
    window.aeExplorers[root.id] = {
      panels: ids,
      setGrid: setGrid,
      clear: function () { pad.clear(); update(); },
      drawnInk: function () { var ink = pad.ink(); return { width: ink.width, height: ink.height, data: Array.from(ink.data) }; },
      drawnImage: function () { return image ? Array.from(image) : null; },
      drawnCodes: function () { return codes ? JSON.parse(JSON.stringify(codes)) : null; },
      preprocess: function (ink, w, h) { var v = preprocess(ink, w, h); return v ? Array.from(v) : null; }
    };
  }

  // ---- Start-up -----------------------------------------------------------------------------

  // Notebook front ends insert an output's HTML and then run its script, so the root element may
  // appear a moment after the script starts: look for it by id for up to five seconds.
  var tries = 0, me = document.currentScript;
  function start() {
    var root = document.getElementById(cfg.id);
    if (!root && me && me.parentNode) root = me.parentNode.querySelector("[id='" + cfg.id + "']");
    if (root) {
      window.aeExplorers = window.aeExplorers || {};
      (cfg.kind === "pair" ? pair : single)(root);
      return;
    }
    if (tries++ < 100) setTimeout(start, 50);
  }
  start();
})
