// symbackprop explorer: every number and formula was computed in Python and sits in the
// JSON block above; this script only chooses what to show. No network access, no framework.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("sbp-data").textContent);
  var C = D.content, S = C.symbols, V = C.values, P = C.params, sizes = D.net.sizes;
  var L = sizes.length - 1, MAXLIST = 24, MAXLABELS = 40;

  function $(id) { return document.getElementById(id); }
  function fmt(v) {  // about Python's .6g
    if (v === null || v === undefined) return "—";
    if (v === 0) return "0";
    var a = Math.abs(v);
    if (a >= 1e6 || a < 1e-4) return v.toExponential(5).replace(/\.?0+e/, "e");
    return String(Number(v.toPrecision(6)));
  }
  function full(v) { return (v === null || v === undefined) ? "—" : String(Number(v.toPrecision(12))); }
  function mn(v) { return "<mn>" + fmt(v).replace("-", "\u2212") + "</mn>"; }
  function math(body) { return '<math displaystyle="true">' + body + "</math>"; }
  function line(html) { return '<div class="line">' + html + "</div>"; }
  function esc(t) { return String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;"); }
  function d(num, den) {
    return "<mfrac><mrow><mi>\u2202</mi>" + num + "</mrow><mrow><mi>\u2202</mi>" + den + "</mrow></mfrac>";
  }
  function deltaLine(n) {  // δ = its right side ≈ value (and the sum-to-one form, if any)
    var e = C.deltas[n];
    return line(math(S[n] + "<mo>=</mo>" + e[0] + "<mo>\u2248</mo>" + mn(e[1]))) + (C.assumed[n] ? line(C.assumed[n]) : "");
  }
  function paren(x) { return "<mrow><mo>(</mo>" + x + "<mo>)</mo></mrow>"; }
  function plus(sym) { return "<msup><mrow>" + sym + "</mrow><mo>+</mo></msup>"; }
  function parse(name) {  // w2_1_3 -> {head, layer, j, k}
    var m = /^(w|b)(\d+)_(\d+)(?:_(\d+))?$/.exec(name);
    return m ? { head: m[1], layer: +m[2], j: +m[3], k: m[4] ? +m[4] : null } : null;
  }

  // ------------------------------------------------------------ drawing weights
  function weightStyle(svgPrefix, values) {
    var maxw = 1e-12;
    D.net.params.forEach(function (p, i) { if (p[0] === "w") maxw = Math.max(maxw, Math.abs(values[i] || 0)); });
    D.net.params.forEach(function (p, i) {
      var q = parse(p), v = values[i];
      if (q.head === "w") {
        var el = $(svgPrefix + "-e-" + q.layer + "-" + q.j + "-" + q.k);
        var t = Math.min(1, Math.abs(v || 0) / maxw);
        el.setAttribute("stroke-width", (0.6 + 5.4 * t).toFixed(2));
        el.style.stroke = v >= 0 ? "rgb(33,102,172)" : "rgb(178,24,43)";
        el.style.opacity = (0.25 + 0.75 * t).toFixed(2);
        el.setAttribute("data-value", v);
      } else {
        var c = $(svgPrefix + "-n-" + q.layer + "-" + q.j);
        c.setAttribute("data-value", v);
      }
    });
  }
  function gradStyle(layer, grads) {  // the edges of one layer drawn by their gradient
    var maxg = 1e-300, names = D.net.params.filter(function (p) { var q = parse(p); return q.head === "w" && q.layer === layer; });
    names.forEach(function (p) { maxg = Math.max(maxg, Math.abs(grads[p] || 0)); });
    names.forEach(function (p) {
      var q = parse(p), el = $("m-e-" + q.layer + "-" + q.j + "-" + q.k), g = grads[p] || 0;
      var t = Math.min(1, Math.abs(g) / maxg);
      el.setAttribute("stroke-width", (0.6 + 5.4 * t).toFixed(2));
      el.style.stroke = g >= 0 ? "rgb(123,50,148)" : "rgb(0,136,55)";
      el.style.opacity = (0.25 + 0.75 * t).toFixed(2);
    });
  }
  var start = D.net.params.map(function (p) { return P[p].value; });
  var after = D.net.params.map(function (p) { return C.step.after[p]; });
  var stepGrad = C.step.grad;  // sbp.walkthrough's gradients

  // ------------------------------------------------------------ the walkthrough
  function setVal(l, j, text, cls) {
    var t = $("m-v-" + l + "-" + j);
    t.textContent = text; t.setAttribute("class", cls || "");
  }
  function layerNames(head, l) {
    var out = [];
    for (var j = 1; j <= sizes[l]; j++) out.push(head + l + "_" + j);
    return out;
  }
  function paramsOf(l) { return D.net.params.filter(function (p) { return parse(p).layer === l; }); }
  function listed(items, render, what) {
    var html = items.slice(0, MAXLIST).map(render).join("");
    if (items.length > MAXLIST) html += '<div class="more">\u22ee ' + (items.length - MAXLIST) +
      " more " + what + " (click one on the diagram for its derivation)</div>";
    return html;
  }
  var step = 0;
  function showStep(s) {
    step = Math.max(0, Math.min(D.steps.length - 1, s));
    var st = D.steps[step];
    $("step-title").textContent = "Step " + step + "/" + (D.steps.length - 1) + ": " + st.title;
    document.body.setAttribute("data-step", step);
    document.body.setAttribute("data-phase", st.phase);
    ["forward", "backward", "update"].forEach(function (ph) {
      $("b-" + ph).classList.toggle("on", st.phase === ph || (ph === "forward" && st.phase === "loss"));
    });
    // Values on the diagram: what has been computed by this step.
    var k, l, j;
    for (k = 1; k <= sizes[0]; k++) setVal(0, k, "x=" + fmt(D.sample.x[k - 1]));
    var fwd = st.phase === "start" ? 0 : (st.phase === "forward" ? st.layer : L);
    var backTo = st.phase === "backward" ? st.layer : (st.phase === "update" ? 1 : L + 1);
    for (l = 1; l <= L; l++) {
      for (j = 1; j <= sizes[l]; j++) {
        var c = $("m-n-" + l + "-" + j);
        c.classList.toggle("done", l <= fwd && l < backTo);
        c.classList.toggle("back", l >= backTo);
        if (l >= backTo) setVal(l, j, "\u03b4=" + fmt(V["delta" + l + "_" + j]), "d");
        else if (l <= fwd) setVal(l, j, "a=" + fmt(V["a" + l + "_" + j]));
        else setVal(l, j, "");
      }
    }
    var jl = $("m-v-J");
    if (st.phase === "update") jl.textContent = "J: " + fmt(C.step.loss) + " \u2192 " + fmt(C.step.loss_after);
    else if (st.phase === "loss" || st.phase === "backward") jl.textContent = "J=" + fmt(V.J);
    else jl.textContent = "";
    // Edges: the weights; after a layer's backward step, its gradients; after the update, the new weights.
    weightStyle("m", st.phase === "update" ? after : start);
    if (st.phase === "backward") for (l = L; l >= st.layer; l--) gradStyle(l, stepGrad);
    // The lines of this step, typeset.
    var html = "<h3>" + esc(st.title) + "</h3>";
    if (st.phase === "start") {
      html += '<p class="note">The sample x = (' + D.sample.x.map(fmt).join(", ") + "), target y = (" +
        D.sample.y.map(fmt).join(", ") + '). Press "Next" to push it through the network.</p>';
    } else if (st.phase === "forward") {
      var names = layerNames("z", st.layer).concat(layerNames("a", st.layer));
      html += listed(names, function (n) { return line(C.defs[n]); }, "definitions");
    } else if (st.phase === "loss") {
      html += line(C.defs.J);
    } else if (st.phase === "backward") {
      var ds = layerNames("delta", st.layer);
      html += listed(ds, deltaLine, "\u03b4");
      if (st.layer === L && C.assumed_note) html += '<p class="note">' + esc(C.assumed_note) + "</p>";
      html += "<h3>Gradients of layer " + st.layer + "</h3>";
      html += listed(paramsOf(st.layer), function (p) {
        return line(math(d("<mi>J</mi>", S[p]) + "<mo>=</mo>" + P[p].form + "<mo>\u2248</mo>" + mn(P[p].grad)));
      }, "gradients");
    } else if (st.phase === "update") {
      html += '<p class="note">Learning rate \u03b7 = ' + fmt(C.step.lr) + "; every parameter moves against its gradient, all taken before the step.</p>";
      html += listed(D.net.params, function (p) {
        return line(math(plus(S[p]) + "<mo>=</mo>" + S[p] + "<mo>\u2212</mo><mi>\u03b7</mi>" +
          d("<mi>J</mi>", S[p]) + "<mo>=</mo>" + mn(P[p].value) + "<mo>\u2212</mo>" + mn(C.step.lr) +
          "<mo>\u22c5</mo>" + mn(stepGrad[p]) + "<mo>=</mo>" + mn(C.step.after[p])));
      }, "updates");
      html += '<p class="big">Loss on this sample: before <b id="loss-before">' + full(C.step.loss) +
        '</b>, after the step <b id="loss-after">' + full(C.step.loss_after) + "</b></p>";
    }
    $("step-box").innerHTML = html;
    if (selected) highlight(selected);
  }
  function firstOf(phase) { for (var i = 0; i < D.steps.length; i++) if (D.steps[i].phase === phase) return i; return 0; }
  function lastOf(phase) { var k = 0; for (var i = 0; i < D.steps.length; i++) if (D.steps[i].phase === phase) k = i; return k; }
  $("b-reset").onclick = function () { showStep(0); };
  $("b-prev").onclick = function () { showStep(step - 1); };
  $("b-next").onclick = function () { showStep(step + 1); };
  $("b-forward").onclick = function () { showStep(step < firstOf("loss") ? firstOf("loss") : firstOf("forward")); };
  $("b-backward").onclick = function () { showStep(step < lastOf("backward") ? lastOf("backward") : firstOf("backward")); };
  $("b-update").onclick = function () { showStep(lastOf("update")); };
  // A presenter's remote sends arrows or page keys: they step too (not while a control has focus).
  document.addEventListener("keydown", function (ev) {
    var tag = ev.target && ev.target.tagName;
    if (tag === "INPUT" || tag === "BUTTON" || tag === "SUMMARY" || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var to = { ArrowRight: step + 1, PageDown: step + 1, ArrowLeft: step - 1, PageUp: step - 1, Home: 0 }[ev.key];
    if (to !== undefined) { showStep(to); ev.preventDefault(); }
  });

  // ------------------------------------------------------------ one parameter's derivation
  var selected = null;
  function highlight(p) {
    var svg = $("m-svg"), q = parse(p);
    svg.querySelectorAll(".hl, .own").forEach(function (el) { el.classList.remove("hl", "own"); });
    svg.classList.add("sel");
    var labels = [];
    function mark(id, cls) { var el = $(id); if (el) el.classList.add(cls || "hl"); return el; }
    if (q.head === "w") mark("m-e-" + q.layer + "-" + q.j + "-" + q.k, "own");
    mark("m-n-" + q.layer + "-" + q.j, q.head === "b" ? "own" : "hl");
    var n = 0, m, i, h;
    for (m = q.layer + 1; m <= L; m++) n += (m === q.layer + 1 ? 1 : sizes[m - 1]) * sizes[m];
    var label = n <= MAXLABELS;
    for (m = q.layer + 1; m <= L; m++) {
      for (i = 1; i <= sizes[m]; i++) {
        mark("m-n-" + m + "-" + i);
        for (h = 1; h <= sizes[m - 1]; h++) {
          if (m === q.layer + 1 && h !== q.j) continue;
          var el = mark("m-e-" + m + "-" + i + "-" + h);
          if (label) labels.push([el, C.edges["a" + (m - 1) + "_" + h + ">z" + m + "_" + i]]);
        }
      }
    }
    for (i = 1; i <= sizes[L]; i++) mark("m-o-" + i);
    mark("m-n-J");
    if (q.head === "w") labels.push([$("m-e-" + q.layer + "-" + q.j + "-" + q.k), C.edges[p + ">z" + q.layer + "_" + q.j]]);
    var g = $("m-labels"), out = "";
    labels.forEach(function (pair) {
      var el = pair[0], e = pair[1];
      if (!el || !e) return;
      var x = 0.45 * (+el.getAttribute("x1")) + 0.55 * (+el.getAttribute("x2"));
      var y = 0.45 * (+el.getAttribute("y1")) + 0.55 * (+el.getAttribute("y2"));
      out += '<text x="' + x.toFixed(1) + '" y="' + (y - 3).toFixed(1) + '">' + fmt(e[1]) + "</text>";
    });
    g.innerHTML = out;
  }
  function derivation(p) {
    var r = P[p], q = parse(p), html = "";
    var lhs = d("<mi>J</mi>", S[p]);
    html += "<h2>" + math(lhs) + " at this sample</h2>";
    html += '<p class="big">' + math(lhs + "<mo>=</mo>" + r.form) + ' = <b id="grad-value" data-value="' +
      r.grad + '">' + full(r.grad) + "</b></p>";
    html += '<p class="note">' + (q.head === "w" ? "Weight" : "Bias") + " value " + math(S[p] + "<mo>=</mo>" + mn(r.value)) +
      "; the compiled model's gradient: " + full(r.compiled) + ".</p>";
    // Paths and the local partial on each of their edges.
    var nodes = {}, paths = r.paths && r.paths.map(function (path) { return path.map(function (i) { return C.nodes[i]; }); });
    // The edges of the listed paths, in order (else only p's own edge, as the printed derivation).
    var edges = [], seen = {};
    (paths || [[p, "z" + q.layer + "_" + q.j]]).forEach(function (path) {
      for (var s = 0; s + 1 < path.length; s++) {
        var key = path[s] + ">" + path[s + 1];
        if (!seen[key]) { seen[key] = 1; edges.push(key); }
      }
    });
    if (paths) {
      html += "<details open><summary>Paths from " + math(S[p]) + " to J (" + r.n_paths + ")</summary>";
      paths.forEach(function (path) {
        path.forEach(function (n) { nodes[n] = 1; });
        html += line(math(path.map(function (n) { return S[n]; }).join("<mo>\u2192</mo>")));
      });
      html += "</details>";
    } else {
      html += '<p class="note">There are ' + r.n_paths.toLocaleString("en") + " paths from " + math(S[p]) +
        " to J (their number grows exponentially with depth); the \u03b4 recursion below sums over all of them." +
        " The diagram highlights every edge they use.</p>";
    }
    var defs = Object.keys(C.defs).filter(function (n) { return nodes[n]; });
    if (defs.length) {
      html += "<details><summary>Forward definitions (" + defs.length + ")</summary>" +
        defs.map(function (n) { return line(C.defs[n]); }).join("") + "</details>";
    }
    html += "<details open><summary>Local partial derivatives, one per edge</summary>";
    edges.forEach(function (key) {
      var uv = key.split(">"), e = C.edges[key];
      html += line(math(d(S[uv[1]], S[uv[0]]) + "<mo>=</mo>" + e[0] + "<mo>\u2248</mo>" + mn(e[1])));
    });
    html += "</details>";
    if (paths) {
      html += "<details open><summary>Chain rule: the product along each path, then the sum</summary>";
      var total = 0;
      paths.forEach(function (path, i) {
        var prod = 1;
        for (var s = 0; s + 1 < path.length; s++) prod *= C.edges[path[s] + ">" + path[s + 1]][1];
        total += prod;
        html += line(math("<mtext>path\u00a0" + (i + 1) + "</mtext><mo>:</mo>" + path.slice(0, -1).map(function (n, s) {
          return d(S[path[s + 1]], S[n]);
        }).join("<mo>\u22c5</mo>") + "<mo>\u2248</mo>" + mn(prod)));
      });
      html += line(math(lhs + "<mo>=</mo><mo>\u2211</mo><mtext>paths</mtext><mo>\u2248</mo>" + mn(total))) + "</details>";
    }
    // The δ recursion, a wide layer shortened as the printed derivation does.
    html += "<details open><summary>\u03b4 recursion (\u03b4 = \u2202J/\u2202z, from the output layer back)</summary>";
    var byLayer = {};
    r.deltas.forEach(function (n) { var l = +/^delta(\d+)_/.exec(n)[1]; (byLayer[l] = byLayer[l] || []).push(n); });
    Object.keys(byLayer).sort(function (a, b) { return b - a; }).forEach(function (l) {
      var group = byLayer[l];
      var shown = group.length <= C.max_paths ? group : group.slice(0, C.shown_deltas).concat([group[group.length - 1]]);
      shown.forEach(function (n, i) {
        if (group.length > C.max_paths && i === shown.length - 1)
          html += '<div class="more">\u22ee ' + (group.length - C.shown_deltas - 1) + " more of layer " + l + "</div>";
        html += deltaLine(n);
      });
    });
    html += "</details>";
    html += "<details open><summary>Result: compact and expanded forms</summary>";
    html += line(math(lhs + "<mo>=</mo>" + r.form + "<mo>\u2248</mo>" + mn(r.grad)));
    // Compact: the δ of p's neuron written out one level (what net.grad(p) returns).
    var dl = C.deltas[r.delta], rhs = r.factor ? r.factor + "<mo>\u2062</mo>" + (dl[2] ? paren(dl[0]) : dl[0]) : dl[0];
    html += '<div class="line" id="compact">' + math(lhs + "<mo>=</mo>" + rhs + "<mo>\u2248</mo>" + mn(r.grad)) + "</div>";
    if (r.expanded) html += '<div class="line" id="expanded">' + r.expanded + "</div>";
    else html += '<p class="note" id="expanded-note">The expanded form (in x, y, w, b) has about ' +
      r.expanded_size.toLocaleString("en") + " operations, more than the " + C.max_expanded +
      " shown here; net.grad(p, expand=True) builds it.</p>";
    html += "</details>";
    return html;
  }
  function select(p) {
    selected = p;
    document.body.setAttribute("data-selected", p);
    $("deriv").innerHTML = derivation(p);
    highlight(p);
    $("deriv").scrollIntoView({ block: "nearest" });
  }
  // Where hit areas overlap (a dense layer fans out), the weight whose line passes nearest
  // to the click wins, not the one drawn last.
  function nearestWeight(ev) {
    var svg = $("m-svg"), pt = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(svg.getScreenCTM().inverse());
    var best = null, bestD = Infinity;
    svg.querySelectorAll("line.hit").forEach(function (el) {
      var a = +el.getAttribute("x1"), b = +el.getAttribute("y1"), c = +el.getAttribute("x2"), d = +el.getAttribute("y2");
      var dx = c - a, dy = d - b, t = Math.max(0, Math.min(1, ((pt.x - a) * dx + (pt.y - b) * dy) / (dx * dx + dy * dy || 1)));
      var ex = a + t * dx - pt.x, ey = b + t * dy - pt.y, dist = ex * ex + ey * ey;
      if (dist < bestD) { bestD = dist; best = el.getAttribute("data-p"); }
    });
    return best;
  }
  $("m-svg").addEventListener("click", function (ev) {
    var p = ev.target.getAttribute && ev.target.getAttribute("data-p");
    if (p && ev.target.classList.contains("hit")) p = nearestWeight(ev) || p;
    if (p) select(p);
    else if (ev.target.tagName === "svg") {
      selected = null; $("m-svg").classList.remove("sel"); $("m-labels").innerHTML = "";
      $("m-svg").querySelectorAll(".hl, .own").forEach(function (el) { el.classList.remove("hl", "own"); });
    }
  });

  // ------------------------------------------------------------ training
  var T = D.training;
  if (T) {
    var slider = $("epoch"), curve = D.curve;
    var palette = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD"];
    function rgb(hex) { return [1, 3, 5].map(function (i) { return parseInt(hex.substr(i, 2), 16); }); }
    var cols = palette.map(rgb);
    function drawBoundary(i) {
      var B = T.boundary; if (!B) return;
      var cv = $("boundary-canvas"), ctx = cv.getContext("2d"), img = ctx.createImageData(B.grid, B.grid);
      var bytes = atob(B.rasters[i]);
      for (var c = 0; c < B.grid * B.grid; c++) {
        var col = cols[bytes.charCodeAt(2 * c) % cols.length], a = bytes.charCodeAt(2 * c + 1) / 255;
        var w = 0.35 + 0.45 * a;  // a certain cell is strongly coloured, a tie nearly white
        for (var ch = 0; ch < 3; ch++) img.data[4 * c + ch] = Math.round(255 * (1 - w) + col[ch] * w);
        img.data[4 * c + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
    }
    function showFlow(i, e) {
      var F = T.flow; if (!F) return;
      var x = curve.flow_x[i], mark = $("flow-mark");
      if (x !== null && x !== undefined) { mark.setAttribute("x1", x); mark.setAttribute("x2", x); mark.style.display = ""; }
      else mark.style.display = "none";
      var row = e > 0 ? e - 1 : -1, html = "<tr><th>layer</th><th>sup|f\u2032|</th><th>RMS \u2016\u03b4\u2016</th>" +
        "<th>its bound</th><th>\u2016\u2202J/\u2202W\u2016</th></tr>";
      for (var l = 0; l < F.slope_bounds.length; l++) {
        html += "<tr><td>" + (l + 1) + "</td><td>" + esc(F.slope_bounds[l] || "\u2014") + "</td><td>" +
          (row >= 0 ? fmt(F.delta_norm[row][l]) : "\u2014") + "</td><td>" + (row >= 0 ? fmt(F.bound[row][l]) : "\u2014") +
          "</td><td>" + (row >= 0 ? fmt(F.grad_w_norm[row][l]) : "\u2014") + "</td></tr>";
      }
      $("flow-table").innerHTML = html;
    }
    function showEpoch(i) {
      i = Math.max(0, Math.min(T.epochs.length - 1, i));
      var e = T.epochs[i];
      $("epoch-out").textContent = "epoch " + e + " of " + T.settings.epochs;
      $("epoch-loss").textContent = full(T.snap_loss[i]);
      $("epoch-loss").setAttribute("data-value", T.snap_loss[i]);
      $("epoch-mean").textContent = e > 0 ? full(T.loss[e - 1]) : "\u2014 (before training)";
      $("epoch-acc").textContent = e > 0 && T.accuracy.length ? (100 * T.accuracy[e - 1]).toFixed(2) + "%" : "\u2014";
      document.body.setAttribute("data-epoch", e);
      var mk = curve.marks[i];
      var dot = $("loss-mark");
      if (mk) { dot.setAttribute("cx", mk[0]); dot.setAttribute("cy", mk[1]); dot.style.display = ""; }
      else dot.style.display = "none";
      weightStyle("t", T.weights[i]);
      drawBoundary(i);
      showFlow(i, e);
    }
    slider.addEventListener("input", function () { showEpoch(+slider.value); });
    showEpoch(+slider.value);
  }
  showStep(0);
  document.body.setAttribute("data-ready", "yes");
})();
