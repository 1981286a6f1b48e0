// EmStreaming dashboard: plain JavaScript, no build step. Polls the /v1 API for models, state and recent rows,
// follows /v1/events (server-sent events) for what happens, and draws with canvas and SVG.
(() => {
  "use strict";

  const PALETTE = ["#4cc9f0", "#f72585", "#b5e48c", "#ffb703", "#9d4edd", "#fb8500", "#2ec4b6", "#e63946", "#90be6d", "#577590"];
  const REGIME_PALETTE = ["#4ade80", "#f72585", "#fbbf24", "#60a5fa", "#c084fc", "#fb923c"];
  const LIST_POLL_MS = 3000, DETAIL_POLL_MS = 1500, SNAPSHOT_POLL_MS = 10000, ANIMATION_MS = 700, RECENT_ROWS = 600;
  const EVENT_TYPES = ["ready", "regimeChanged", "anomaly", "refitAdopted", "refitRejected", "snapshotWritten", "created", "deleted", "failed", "drift"];
  const nf = new Intl.NumberFormat("en-US");
  const $ = (id) => document.getElementById(id);

  // An API key can be given once as #key=… and is kept in this browser only.
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("key")) { localStorage.setItem("emstream.apiKey", hash.get("key")); }
  const apiKey = localStorage.getItem("emstream.apiKey");

  const state = {
    models: [], selected: null, wanted: hash.get("model"), failed: new Map(), eventCount: 0,
    detail: null, recent: null, snapshots: [], info: null,
    anim: { from: null, to: null, start: 0 }, bounds: null, lastTotal: null, lastTotalAt: 0,
    dims: { x: 0, y: 1, s: 0 }, filter: "",
  };

  async function api(path) {
    const headers = { "Accept": "application/json" };
    if (apiKey) { headers["X-Api-Key"] = apiKey; }
    const response = await fetch(path, { headers, cache: "no-store" });
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = (await response.json()).detail || detail; } catch { /* not JSON */ }
      const error = new Error(detail); error.status = response.status; throw error;
    }
    return response.json();
  }

  // ---------- model list ----------
  function health(model) {
    const failedAt = state.failed.get(model.id);
    if (failedAt && Date.now() - failedAt < 5 * 60_000) { return ["failed", "failed recently"]; }
    if (model.status.warmingUp) { return ["warming", `warming up · ${nf.format(model.status.warmUpRemaining || 0)} to go`]; }
    const last = model.status.lastObservationAt ? Date.parse(model.status.lastObservationAt) : 0;
    if (!last || Date.now() - last > 60_000) { return ["stale", "no recent data"]; }
    return ["live", "live"];
  }

  async function loadModels() {
    const all = [];
    let cursor = null;
    for (let page = 0; page < 10; page++) {
      const q = new URLSearchParams({ limit: "1000" });
      if (cursor) { q.set("cursor", cursor); }
      const result = await api(`/v1/models?${q}`);
      all.push(...result.models);
      cursor = result.nextCursor;
      if (!cursor) { break; }
    }
    state.models = all;
    const total = all.reduce((s, m) => s + m.status.observations, 0);
    const now = performance.now();
    // Each model reports its own rate (status.health.observationsPerSecond, by the batches' timestamps), so the figure shows on
    // the first list; between two lists the difference of totals is the fallback for servers that do not report it.
    const reported = all.filter((m) => m.status.health && m.status.health.observationsPerSecond != null);
    if (reported.length) {
      $("stat-rate").textContent = nf.format(Math.round(reported.reduce((s, m) => s + m.status.health.observationsPerSecond, 0)));
    } else if (state.lastTotal !== null && now > state.lastTotalAt) {
      const rate = Math.max(0, (total - state.lastTotal) * 1000 / (now - state.lastTotalAt));
      $("stat-rate").textContent = nf.format(Math.round(rate));
    }
    state.lastTotal = total; state.lastTotalAt = now;
    $("stat-models").textContent = nf.format(all.length);
    // The first list selects the model named in the address (#model=…) when it exists, else the first one.
    if (!state.selected && all.length) { select((all.find((m) => m.id === state.wanted) || all[0]).id); }
    renderModels();
  }

  function renderModels() {
    const list = $("models");
    const visible = state.models.filter((m) => m.id.toLowerCase().includes(state.filter));
    $("models-empty").hidden = state.models.length > 0;
    list.replaceChildren(...visible.map((m) => {
      const [cls, text] = health(m);
      const li = document.createElement("li");
      li.className = "model-item" + (m.id === state.selected ? " selected" : "");
      li.dataset.testid = "model-item";
      li.setAttribute("data-testid", "model-item");
      li.dataset.modelId = m.id;
      li.dataset.health = cls;
      li.title = text;
      const kind = m.definition.kind;
      const k = kind === "hmm" ? m.definition.states : m.definition.components;
      li.innerHTML = `<span class="health ${cls}"></span><span class="name"></span><span class="kind ${kind}">${kind} · K=${k}</span>
        <span class="meta"><span>${nf.format(m.status.observations)} obs</span><span>${text}</span></span>`;
      li.querySelector(".name").textContent = m.id;
      li.addEventListener("click", () => select(m.id));
      return li;
    }));
  }

  function select(id) {
    if (state.selected !== id) {
      state.selected = id; state.detail = null; state.recent = null; state.snapshots = []; state.bounds = null;
      state.anim = { from: null, to: null, start: 0 }; state.dims = { x: 0, y: 1, s: 0 };
      history.replaceState(null, "", `#model=${encodeURIComponent(id)}`);
    }
    renderModels();
    loadDetail(true);
    loadSnapshots();
  }

  // ---------- one model ----------
  let detailBusy = false;
  async function loadDetail(force) {
    const id = state.selected;
    if (!id || (detailBusy && !force)) { return; }
    detailBusy = true;
    try {
      const enc = encodeURIComponent(id);
      const [info, st, recent] = await Promise.all([
        api(`/v1/models/${enc}`), api(`/v1/models/${enc}/state`), api(`/v1/models/${enc}/recent?limit=${RECENT_ROWS}`),
      ]);
      if (id !== state.selected) { return; }
      state.info = info; state.recent = recent;
      const previous = state.anim.to;
      state.detail = st;
      state.anim = { from: previous && previous.components === st.components ? current() : null, to: st, start: performance.now() };
      renderDetail();
      requestAnimationFrame(frame);
    } catch (e) {
      if (e.status === 404 && id === state.selected) { state.selected = null; $("model-view").hidden = true; $("placeholder").hidden = false; }
    } finally {
      detailBusy = false;
    }
  }

  async function loadSnapshots() {
    const id = state.selected;
    if (!id) { return; }
    try {
      const list = await api(`/v1/models/${encodeURIComponent(id)}/snapshots`);
      if (id === state.selected) { state.snapshots = list; renderTimeline(); }
    } catch { /* shown as empty */ }
  }

  function renderDetail() {
    const info = state.info, st = state.detail;
    if (!info || !st) { return; }
    $("placeholder").hidden = true;
    $("model-view").hidden = false;
    $("model-title").textContent = info.id;
    const d = info.definition, s = info.status;
    const fact = (label, value) => `<span>${label} <b>${value}</b></span>`;
    const ago = (t) => t ? timeAgo(Date.parse(t)) : "never";
    $("model-facts").innerHTML = [
      fact("kind", d.kind.toUpperCase()), fact("d", d.dimension), fact(d.kind === "hmm" ? "states" : "components", st.components),
      fact("observations", nf.format(s.observations)), fact("refits", nf.format(s.refits || 0)),
      fact("last refit", ago(s.lastRefitAt)), fact("last snapshot", ago(s.lastSnapshotAt)),
      s.recentMeanLogLikelihood != null ? fact("recent log-lik/row", s.recentMeanLogLikelihood.toFixed(2)) : "",
      s.health && s.health.refitGap != null ? fact("refit gap", `${s.health.refitGap >= 0 ? "+" : ""}${s.health.refitGap.toFixed(3)} nats/row`) : "",
      s.health && s.health.lastDriftAt ? fact("last drift", ago(s.health.lastDriftAt)) : "",
    ].join("");
    const [cls, text] = health(info);
    let badges = `<span class="badge ${cls}" data-testid="health-badge">${text}</span>`;
    if (d.kind === "hmm" && st.regime != null) {
      badges += `<span class="badge" data-testid="regime-badge" style="color:${regimeColor(st.regime)}">regime ${st.regime} · ${nf.format(st.regimeRunLength || 0)} rows</span>`;
    }
    for (const w of (s.health && s.health.warnings) || []) {
      badges += `<span class="badge stale" data-testid="health-warning" title="${escapeHtml(w)}">degenerate: ${escapeHtml(w)}</span>`;
    }
    if (s.health && s.health.lastRefitRejection) {
      badges += `<span class="badge" data-testid="refit-rejection" title="${escapeHtml(s.health.lastRefitRejection)}">last refit refused</span>`;
    }
    $("model-badges").innerHTML = badges;

    const isHmm = d.kind === "hmm";
    $("gmm-card").hidden = isHmm;
    $("hmm-card").hidden = !isHmm;
    $("transition-card").hidden = !isHmm;
    fillDimensionSelects(st.dimension, isHmm);
    renderParameters();
    if (isHmm) { renderHmm(); renderTransitions(); }
  }

  function fillDimensionSelects(dimension, isHmm) {
    const fill = (select, value) => {
      if (select.options.length !== dimension) {
        select.replaceChildren(...Array.from({ length: dimension }, (_, j) => new Option(`x${j}`, String(j))));
      }
      select.value = String(Math.min(value, dimension - 1));
    };
    if (isHmm) { fill($("dim-s"), state.dims.s); }
    else { fill($("dim-x"), state.dims.x); fill($("dim-y"), Math.min(state.dims.y, dimension - 1)); }
  }

  // ---------- GMM: points and ellipses that move ----------
  function current() {
    const a = state.anim;
    if (!a.to) { return null; }
    const t = a.from ? Math.min(1, (performance.now() - a.start) / ANIMATION_MS) : 1;
    if (t >= 1 || !a.from || !a.from.means || !a.to.means) { return a.to; }
    const e = t * t * (3 - 2 * t);
    const lerp = (x, y) => x.map((v, i) => Array.isArray(v) ? lerp(v, y[i]) : v + (y[i] - v) * e);
    return { ...a.to, means: lerp(a.from.means, a.to.means), covariances: lerp(a.from.covariances, a.to.covariances), weights: lerp(a.from.weights, a.to.weights) };
  }

  function frame() {
    if (!state.detail || !state.info) { return; }
    if (state.info.definition.kind === "gmm") { drawGmm(current()); }
    if (state.anim.from && performance.now() - state.anim.start < ANIMATION_MS) { requestAnimationFrame(frame); }
  }

  function setupCanvas(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return [ctx, w, h];
  }

  function drawGmm(st) {
    const canvas = $("gmm-plot");
    const [ctx, w, h] = setupCanvas(canvas);
    const x = state.dims.x, y = state.dims.y;
    const allLabels = state.recent?.labels;
    const indexed = (state.recent?.rows || []).map((r, i) => [r, allLabels ? allLabels[i] : null]).filter(([r]) => r[x] != null && r[y] != null);
    const rows = indexed.map(([r]) => r);
    const K = st?.components || 0;

    // Axis ranges from the points and the component extents, eased so the view does not jump.
    let xs = rows.map((r) => r[x]), ys = rows.map((r) => r[y]);
    if (st?.means) {
      for (let k = 0; k < K; k++) {
        const c = st.covariances[k];
        xs.push(st.means[k][x] - 2.2 * Math.sqrt(c[x][x]), st.means[k][x] + 2.2 * Math.sqrt(c[x][x]));
        ys.push(st.means[k][y] - 2.2 * Math.sqrt(c[y][y]), st.means[k][y] + 2.2 * Math.sqrt(c[y][y]));
      }
    }
    if (!xs.length) { xs = [0, 1]; ys = [0, 1]; }
    const target = padRange(trimmed(xs), trimmed(ys));
    const b = state.bounds = state.bounds ? easeBounds(state.bounds, target) : target;
    const pad = { l: 44, r: 12, t: 10, b: 26 };
    const px = (v) => pad.l + (v - b.x0) / (b.x1 - b.x0) * (w - pad.l - pad.r);
    const py = (v) => h - pad.b - (v - b.y0) / (b.y1 - b.y0) * (h - pad.t - pad.b);
    drawAxes(ctx, w, h, pad, b, `x${x}`, `x${y}`);

    // Points: older ones fainter, coloured by their most likely component.
    const n = rows.length;
    indexed.forEach(([r, label], i) => {
      ctx.globalAlpha = 0.18 + 0.62 * (i + 1) / n;
      ctx.fillStyle = label != null ? PALETTE[label % PALETTE.length] : "#9aa6c4";
      ctx.beginPath(); ctx.arc(px(r[x]), py(r[y]), 2.3, 0, Math.PI * 2); ctx.fill();
    });
    ctx.globalAlpha = 1;

    // Ellipses at 1 and 2 standard deviations from the 2×2 block of each covariance.
    let drawn = 0, inView = 0;
    if (st?.means && st.covariances) {
      for (let k = 0; k < K; k++) {
        const m = st.means[k], c = st.covariances[k];
        const a = c[x][x], bb = c[x][y], d = c[y][y];
        const tr = (a + d) / 2, det = Math.sqrt(Math.max(0, ((a - d) / 2) ** 2 + bb * bb));
        const l1 = Math.max(tr + det, 1e-12), l2 = Math.max(tr - det, 1e-12);
        const theta = 0.5 * Math.atan2(2 * bb, a - d);
        const color = PALETTE[k % PALETTE.length];
        for (const [scale, alpha, width] of [[2, 0.10, 1.2], [1, 0.20, 2]]) {
          ctx.beginPath();
          for (let i = 0; i <= 72; i++) {
            const t = i / 72 * Math.PI * 2;
            const u = scale * Math.sqrt(l1) * Math.cos(t), v = scale * Math.sqrt(l2) * Math.sin(t);
            const ex = m[x] + u * Math.cos(theta) - v * Math.sin(theta);
            const ey = m[y] + u * Math.sin(theta) + v * Math.cos(theta);
            if (i === 0) { ctx.moveTo(px(ex), py(ey)); } else { ctx.lineTo(px(ex), py(ey)); }
          }
          ctx.closePath();
          ctx.fillStyle = hexAlpha(color, alpha); ctx.fill();
          ctx.strokeStyle = color; ctx.lineWidth = width; ctx.globalAlpha = 0.95; ctx.stroke(); ctx.globalAlpha = 1;
        }
        ctx.fillStyle = "#fff"; ctx.strokeStyle = color; ctx.lineWidth = 2;
        ctx.beginPath(); ctx.arc(px(m[x]), py(m[y]), 4, 0, Math.PI * 2); ctx.fill(); ctx.stroke();
        if (px(m[x]) >= pad.l && px(m[x]) <= w - pad.r && py(m[y]) >= pad.t && py(m[y]) <= h - pad.b) { inView++; }
        ctx.fillStyle = color; ctx.font = "600 12px DejaVu Sans, sans-serif";
        ctx.fillText(`${k} · ${(st.weights[k] * 100).toFixed(0)}%`, px(m[x]) + 8, py(m[y]) - 8);
        drawn++;
      }
    } else {
      ctx.fillStyle = "#8a97b5"; ctx.font = "14px DejaVu Sans, sans-serif";
      ctx.fillText("warming up: components appear after the first fit", pad.l + 12, pad.t + 22);
    }
    canvas.dataset.points = String(n);
    canvas.dataset.components = String(drawn);
    canvas.dataset.inView = String(inView);
    $("gmm-legend").innerHTML = Array.from({ length: drawn }, (_, k) =>
      `<span><span class="sw" style="background:${PALETTE[k % PALETTE.length]}"></span>component ${k}</span>`).join("") +
      `<span>${nf.format(n)} recent points · ellipses at 1σ and 2σ</span>`;
  }

  // ---------- HMM: series by regime, probability band, transitions ----------
  function regimeOrder() {
    // Colour regimes by spread: the calmest state green, the most volatile pink, whatever their index.
    const st = state.detail;
    if (!st?.covariances) { return null; }
    const spread = st.covariances.map((c, k) => [k, c.reduce((s, row, i) => s + row[i], 0)]);
    spread.sort((a, b) => a[1] - b[1]);
    const order = new Array(spread.length);
    spread.forEach(([k], rank) => { order[k] = rank; });
    return order;
  }
  function regimeColor(k) { const o = regimeOrder(); return REGIME_PALETTE[(o ? o[k] : k) % REGIME_PALETTE.length]; }

  function renderHmm() {
    const st = state.detail, recent = state.recent;
    const s = state.dims.s;
    const rows = recent?.rows || [];
    const labels = recent?.labels, probs = recent?.probabilities;
    const canvas = $("hmm-series");
    const [ctx, w, h] = setupCanvas(canvas);
    const pad = { l: 44, r: 12, t: 10, b: 22 };
    const values = rows.map((r) => r[s]).filter((v) => v != null);
    const ry = values.length ? trimmed(values, 0.002) : [0, 1];
    const span = (ry[1] - ry[0]) || 1;
    const b = { x0: recent?.firstObservation || 0, x1: (recent?.firstObservation || 0) + Math.max(rows.length - 1, 1), y0: ry[0] - span * 0.08, y1: ry[1] + span * 0.08 };
    const px = (i) => pad.l + i / Math.max(rows.length - 1, 1) * (w - pad.l - pad.r);
    const py = (v) => h - pad.b - (v - b.y0) / (b.y1 - b.y0) * (h - pad.t - pad.b);

    // Regime shading behind the series.
    if (labels) {
      let start = 0;
      for (let i = 1; i <= rows.length; i++) {
        if (i === rows.length || labels[i] !== labels[start]) {
          ctx.fillStyle = hexAlpha(regimeColor(labels[start]), 0.09);
          ctx.fillRect(px(start), pad.t, Math.max(px(i - 1) - px(start), 1), h - pad.t - pad.b);
          start = i;
        }
      }
    }
    drawAxes(ctx, w, h, pad, b, "observation", `x${s}`);
    ctx.lineWidth = 1.3;
    for (let i = 1; i < rows.length; i++) {
      const a = rows[i - 1][s], c = rows[i][s];
      if (a == null || c == null) { continue; }
      ctx.strokeStyle = labels ? regimeColor(labels[i]) : "#9aa6c4";
      ctx.beginPath(); ctx.moveTo(px(i - 1), py(a)); ctx.lineTo(px(i), py(c)); ctx.stroke();
    }
    canvas.dataset.points = String(rows.length);

    // The band: p(regime | data so far) per row, stacked.
    const band = $("hmm-band");
    const [bctx, bw, bh] = setupCanvas(band);
    bctx.fillStyle = "#0e1630"; bctx.fillRect(0, 0, bw, bh);
    if (probs && probs.length) {
      const colw = (bw - pad.l - pad.r) / probs.length;
      probs.forEach((p, i) => {
        let y0 = 0;
        p.forEach((q, k) => {
          bctx.fillStyle = regimeColor(k);
          bctx.fillRect(pad.l + i * colw, y0 * bh, Math.ceil(colw) + 0.5, q * bh);
          y0 += q;
        });
      });
    }
    band.dataset.rows = String(probs ? probs.length : 0);
    const K = st.components;
    $("hmm-legend").innerHTML = Array.from({ length: K }, (_, k) => {
      const sd = st.covariances ? Math.sqrt(st.covariances[k][s][s]) : null;
      const mu = st.means ? st.means[k][s] : null;
      return `<span><span class="sw" style="background:${regimeColor(k)}"></span>regime ${k}${mu != null ? ` · μ=${mu.toFixed(2)} σ=${sd.toFixed(2)}` : ""}</span>`;
    }).join("");
  }

  function renderTransitions() {
    const st = state.detail, K = st.components, table = $("transition-matrix");
    if (!st.transitions) { table.innerHTML = `<tr><td class="empty">warming up</td></tr>`; $("regime-now").innerHTML = ""; return; }
    let html = `<tr><th>from \\ to</th>${Array.from({ length: K }, (_, k) => `<th style="color:${regimeColor(k)}">${k}</th>`).join("")}</tr>`;
    for (let i = 0; i < K; i++) {
      html += `<tr><th style="color:${regimeColor(i)}">${i}</th>`;
      for (let j = 0; j < K; j++) {
        const p = st.transitions[i][j];
        html += `<td data-testid="transition-cell" style="background:${hexAlpha(regimeColor(j), 0.12 + 0.75 * p)};color:${p > 0.55 ? "#0b1020" : "#e6ebf5"}">${p.toFixed(3)}</td>`;
      }
      html += "</tr>";
    }
    table.innerHTML = html;
    const rp = st.regimeProbabilities || [];
    $("regime-now").innerHTML = rp.map((p, k) =>
      `<div>regime ${k}: <b>${(p * 100).toFixed(1)}%</b><div class="bar"><span style="width:${(p * 100).toFixed(1)}%;background:${regimeColor(k)}"></span></div></div>`).join("");
  }

  function renderParameters() {
    const st = state.detail;
    if (!st.weights && !st.means) { $("params").innerHTML = `<div class="empty">Warming up: parameters exist after the first fit.</div>`; return; }
    const isHmm = state.info.definition.kind === "hmm";
    const weights = isHmm ? (st.regimeProbabilities || st.startProbabilities || []) : st.weights;
    $("params").innerHTML = st.means.map((m, k) => {
      const color = isHmm ? regimeColor(k) : PALETTE[k % PALETTE.length];
      const wgt = weights?.[k] ?? 0;
      return `<div class="param-row"><span class="sw" style="display:inline-block;width:10px;height:10px;border-radius:3px;background:${color}"></span>
        <div><div class="w" style="width:${Math.max(4, wgt * 100)}%;background:${color}"></div><small>${(wgt * 100).toFixed(1)}%</small></div>
        <span class="mu">μ = [${m.map((v) => v.toFixed(2)).join(", ")}]</span></div>`;
    }).join("") + `<div class="empty" style="padding:6px 0 0">${isHmm ? "bars: current regime probabilities" : "bars: mixture weights"}</div>`;
  }

  // ---------- snapshots ----------
  function renderTimeline() {
    const svg = $("timeline"), list = state.snapshots;
    const W = 880, H = 90;
    if (!list.length) {
      svg.innerHTML = `<text x="12" y="50" fill="#8a97b5" font-size="13">No snapshots yet.</text>`;
      $("timeline-caption").textContent = "";
      svg.dataset.count = "0";
      return;
    }
    const times = list.map((s) => Date.parse(s.createdAt));
    const t0 = Math.min(...times), t1 = Math.max(Date.now(), ...times);
    const x = (t) => 20 + (t - t0) / Math.max(t1 - t0, 1) * (W - 40);
    let html = `<line x1="20" y1="50" x2="${W - 20}" y2="50" stroke="#24304f" stroke-width="2"/>`;
    list.forEach((s, i) => {
      const last = i === list.length - 1;
      const color = s.reason && s.reason.toLowerCase().includes("refit") ? "#4ade80" : "#4cc9f0";
      html += `<g data-testid="snapshot"><title>v${s.version} · ${new Date(s.createdAt).toLocaleString()} · ${nf.format(s.observations)} obs · ${s.reason} · ${nf.format(s.sizeBytes)} bytes</title>
        <circle cx="${x(times[i])}" cy="50" r="${last ? 7 : 4.5}" fill="${color}" fill-opacity="${last ? 1 : 0.75}" stroke="#0b1020" stroke-width="1.5"/></g>`;
    });
    const first = list[0], latest = list[list.length - 1];
    html += `<text x="20" y="80" fill="#8a97b5" font-size="11">${new Date(first.createdAt).toLocaleTimeString()}</text>`;
    html += `<text x="${W - 20}" y="80" fill="#8a97b5" font-size="11" text-anchor="end">now</text>`;
    html += `<text x="${Math.min(x(times[times.length - 1]), W - 60)}" y="30" fill="#e6ebf5" font-size="12" text-anchor="middle">v${latest.version}</text>`;
    svg.innerHTML = html;
    svg.dataset.count = String(list.length);
    $("timeline-caption").textContent = `${list.length} snapshot${list.length === 1 ? "" : "s"} · latest v${latest.version} ${timeAgo(Date.parse(latest.createdAt))} (${latest.reason}, ${nf.format(latest.observations)} obs)`;
  }

  // ---------- events ----------
  function connectEvents() {
    const url = "/v1/events" + (apiKey ? `?api_key=${encodeURIComponent(apiKey)}` : "");
    const source = new EventSource(url);
    const pill = $("connection");
    const setState = (s, text) => { pill.dataset.state = s; pill.querySelector(".pill-text").textContent = text; };
    source.onopen = () => setState("live", "live");
    source.onerror = () => setState(source.readyState === EventSource.CLOSED ? "down" : "connecting", source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting…");
    let refreshTimer = null;
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message) => {
        let e;
        try { e = JSON.parse(message.data); } catch { return; }
        state.eventCount++;
        $("stat-events").textContent = nf.format(state.eventCount);
        if (e.type === "failed") { state.failed.set(e.modelId, Date.now()); }
        addEvent(e);
        if (e.modelId === state.selected && !refreshTimer) {
          refreshTimer = setTimeout(() => { refreshTimer = null; loadDetail(false); if (e.type === "snapshotWritten" || e.type === "refitAdopted") { loadSnapshots(); } }, 250);
        }
        if (e.type === "created" || e.type === "deleted") { loadModels().catch(() => {}); }
      });
    }
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function describe(e) {
    const f = (v, digits = 2) => v == null ? "?" : Number(v).toFixed(digits);
    switch (e.type) {
      case "regimeChanged": return `regime ${e.fromRegime ?? "?"} → ${e.toRegime ?? "?"}`;
      case "anomaly": return `anomaly score ${f(e.score, 1)}${e.tailProbability != null ? `, tail ${e.tailProbability.toExponential(1)}` : ""}${e.row ? ` at [${e.row.map((v) => f(v)).join(", ")}]` : ""}`;
      case "refitAdopted": return `refit adopted: window log-lik ${f(e.before)} → ${f(e.after)}`;
      case "refitRejected": return `refit refused: ${e.message || `${f(e.before)} ≥ ${f(e.after)}`}`;
      case "drift": return `drift detected: ${e.message || "the data changed"}`;
      case "snapshotWritten": return `snapshot v${e.snapshotVersion ?? "?"}`;
      default: return e.message || e.type;
    }
  }

  function addEvent(e) {
    const feed = $("event-feed");
    const li = document.createElement("li");
    li.className = `event ${e.type}`;
    li.dataset.type = e.type;
    li.innerHTML = `<span class="t"></span><div class="m"></div><div class="d"></div>`;
    li.querySelector(".t").textContent = new Date(e.time).toLocaleTimeString();
    li.querySelector(".m").textContent = e.modelId;
    li.querySelector(".d").textContent = describe(e);
    li.addEventListener("click", () => select(e.modelId));
    feed.prepend(li);
    while (feed.children.length > 60) { feed.lastChild.remove(); }
  }

  // ---------- helpers ----------
  function trimmed(values, q = 0.01) {
    const v = [...values].sort((a, b) => a - b);
    const lo = v[Math.floor(q * (v.length - 1))], hi = v[Math.ceil((1 - q) * (v.length - 1))];
    return [lo, hi];
  }
  function padRange([x0, x1], [y0, y1]) {
    const dx = (x1 - x0) || 1, dy = (y1 - y0) || 1;
    return { x0: x0 - dx * 0.08, x1: x1 + dx * 0.08, y0: y0 - dy * 0.08, y1: y1 + dy * 0.08 };
  }
  function easeBounds(a, b) {
    const k = 0.35;
    return { x0: a.x0 + (b.x0 - a.x0) * k, x1: a.x1 + (b.x1 - a.x1) * k, y0: a.y0 + (b.y0 - a.y0) * k, y1: a.y1 + (b.y1 - a.y1) * k };
  }
  function ticks(lo, hi, n) {
    const step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
    const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= n) || step * 10;
    const out = [];
    for (let v = Math.ceil(lo / nice) * nice; v <= hi; v += nice) { out.push(+v.toFixed(10)); }
    return out;
  }
  function drawAxes(ctx, w, h, pad, b, xLabel, yLabel) {
    ctx.strokeStyle = "#1c2644"; ctx.fillStyle = "#6b7899"; ctx.lineWidth = 1; ctx.font = "11px DejaVu Sans, sans-serif";
    for (const v of ticks(b.x0, b.x1, 8)) {
      const X = pad.l + (v - b.x0) / (b.x1 - b.x0) * (w - pad.l - pad.r);
      ctx.beginPath(); ctx.moveTo(X, pad.t); ctx.lineTo(X, h - pad.b); ctx.stroke();
      ctx.fillText(fmtTick(v), X - 10, h - 8);
    }
    for (const v of ticks(b.y0, b.y1, 5)) {
      const Y = h - pad.b - (v - b.y0) / (b.y1 - b.y0) * (h - pad.t - pad.b);
      ctx.beginPath(); ctx.moveTo(pad.l, Y); ctx.lineTo(w - pad.r, Y); ctx.stroke();
      ctx.fillText(fmtTick(v), 4, Y + 4);
    }
    ctx.fillStyle = "#8a97b5";
    ctx.fillText(xLabel, w - pad.r - ctx.measureText(xLabel).width, h - pad.b - 6);
    ctx.fillText(yLabel, pad.l + 6, pad.t + 12);
  }
  function fmtTick(v) { return Math.abs(v) >= 1000 ? nf.format(Math.round(v)) : String(+v.toFixed(2)); }
  function hexAlpha(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${Math.max(0, Math.min(1, a)).toFixed(3)})`;
  }
  function timeAgo(t) {
    const s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 60) { return `${s}s ago`; }
    if (s < 3600) { return `${Math.round(s / 60)}m ago`; }
    return `${Math.round(s / 3600)}h ago`;
  }

  // ---------- wiring ----------
  $("filter").addEventListener("input", (e) => { state.filter = e.target.value.toLowerCase(); renderModels(); });
  $("dim-x").addEventListener("change", (e) => { state.dims.x = +e.target.value; state.bounds = null; frame(); });
  $("dim-y").addEventListener("change", (e) => { state.dims.y = +e.target.value; state.bounds = null; frame(); });
  $("dim-s").addEventListener("change", (e) => { state.dims.s = +e.target.value; renderHmm(); });
  window.addEventListener("resize", () => { if (state.detail) { renderDetail(); frame(); } });

  const poll = (fn, ms) => { const run = () => fn().catch(() => {}).finally(() => setTimeout(run, ms)); run(); };
  poll(loadModels, LIST_POLL_MS);
  setInterval(() => loadDetail(false), DETAIL_POLL_MS);
  setInterval(loadSnapshots, SNAPSHOT_POLL_MS);
  connectEvents();
  document.body.dataset.ready = "true";
})();
