// The gatewayz status page: polls the JSON summary, keeps the last minutes of polls in memory,
// and draws provider cards, tiles and SVG charts from them. No framework and no build step:
// served as is by gatewayz-actix. Every element is built with DOM calls (never from HTML
// strings), so provider and model names are always text and the page runs under Trusted Types.
"use strict";

(() => {
  const SUMMARY_URL = "metrics/summary"; // relative: the page works under any mount point
  const query = new URLSearchParams(location.search);
  const REFRESH_MS = clamp(Number(query.get("refresh")) || 5, 1, 60) * 1000;
  const STALE_MS = 3 * REFRESH_MS;
  const HISTORY_MS = 15 * 60 * 1000;
  // An axis shorter than this would stretch the first few polls across the whole chart.
  const MIN_SPAN_MS = 60 * 1000;
  const CREDENTIALS_KEY = "gatewayz.dashboard.authorization";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PALETTE_SIZE = 8;
  const CHART = { width: 600, height: 160 };

  // Colour alone says nothing to some readers: every status has a word and a symbol too.
  const STATUSES = {
    healthy: { label: "Healthy", symbol: "\u2713" },
    degraded: { label: "Degraded", symbol: "!" },
    unavailable: { label: "Unavailable", symbol: "\u2715" },
    unknown: { label: "Unknown", symbol: "?" },
  };

  const significant = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 3 });
  const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
  const format = {
    count: (v) => whole.format(v),
    compact: (v) => compact.format(v),
    score: (v) => v.toFixed(2),
    percent: (v) => `${significant.format(v * 100)}%`,
    seconds: (v) => (v < 1 ? `${significant.format(v * 1000)} ms` : `${significant.format(v)} s`),
    dollars: (v) => `$${v >= 100 ? whole.format(v) : significant.format(v)}`,
    // A saving can be negative (a policy that buys speed spends more than the reference).
    signedDollars: (v) => (v < 0 ? `\u2212${format.dollars(-v)}` : format.dollars(v)),
    credits: (v) => significant.format(v),
    rate: (v) => `${significant.format(v)}/s`,
    perHour: (v) => `$${significant.format(v)}/h`,
    perMinute: (v) => `${compact.format(v)}/min`,
  };

  // Each chart is one value per provider (or model) per poll, from two successive samples.
  const CHARTS = [
    { id: "requests", title: "Requests per second", group: "providers", unit: format.rate,
      value: (a, b, dt) => perSecond(a, b, "requests", dt) },
    { id: "errors", title: "Error rate", group: "providers", unit: format.percent, floor: 0.05,
      value: (a, b) => {
        // No call, no rate; and no failure count (an older gateway) is no rate either, not 0%.
        const calls = increase(a, b, "requests");
        const failed = increase(a, b, "failed");
        return calls && failed != null ? failed / calls : null;
      } },
    { id: "latency", title: "p95 latency", group: "providers", unit: format.seconds,
      value: (a, b) => b.p95 },
    { id: "cost", title: "Cost per hour", group: "providers", unit: format.perHour,
      value: (a, b, dt) => scale(perSecond(a, b, "cost", dt), 3600) },
    { id: "tokens", title: "Tokens per minute, by model", group: "models", unit: format.perMinute,
      value: (a, b, dt) => scale(perSecond(a, b, "tokens", dt), 60) },
  ];

  const state = {
    samples: [], // {t, providers: {name: {requests, failed, p95, cost}}, models: {name: {tokens}}}
    lastOk: null, // when the last poll succeeded
    error: null, // why the last poll failed: {reachable, message}
    polls: 0,
    inFlight: false,
    login: false,
  };

  const $ = (id) => document.getElementById(id);

  function clamp(value, low, high) {
    return Math.min(high, Math.max(low, value));
  }

  function scale(value, factor) {
    return value == null ? null : value * factor;
  }

  // What a counter gained between two samples. One that went down was reset (the gateway
  // restarted), so all it holds now was counted since: Prometheus's rule for `increase`.
  function increase(a, b, field) {
    const before = a[field];
    const after = b[field];
    if (before == null || after == null) return null;
    return after >= before ? after - before : after;
  }

  function perSecond(a, b, field, dt) {
    const gained = increase(a, b, field);
    return gained == null || dt <= 0 ? null : gained / dt;
  }

  // --- Building elements -------------------------------------------------------------------

  function el(tag, attributes = {}, ...children) {
    return build(document.createElement(tag), attributes, children);
  }

  function svg(tag, attributes = {}, ...children) {
    return build(document.createElementNS(SVG_NS, tag), attributes, children);
  }

  function build(node, attributes, children) {
    for (const [name, value] of Object.entries(attributes)) {
      if (value != null) node.setAttribute(name, String(value));
    }
    node.append(...children.filter((child) => child != null));
    return node;
  }

  // --- Credentials -------------------------------------------------------------------------

  function storage(action) {
    try {
      return action(window.sessionStorage);
    } catch {
      return null; // storage off (privacy settings): credentials last until reload
    }
  }

  let memoryCredentials = null;
  const credentials = {
    get: () => storage((s) => s.getItem(CREDENTIALS_KEY)) ?? memoryCredentials,
    set: (value) => {
      memoryCredentials = value;
      storage((s) => s.setItem(CREDENTIALS_KEY, value));
    },
    clear: () => {
      memoryCredentials = null;
      storage((s) => s.removeItem(CREDENTIALS_KEY));
    },
  };

  function askForCredentials(response, refused) {
    const challenge = (response.headers.get("www-authenticate") || "").toLowerCase();
    const basic = challenge.includes("basic");
    const bearer = challenge.includes("bearer") || !basic;
    if (refused) credentials.clear();
    state.login = true;
    $("login-bearer").hidden = !bearer;
    $("login-basic").hidden = !basic;
    $("login-reason").textContent = refused
      ? "Those credentials were refused; try again."
      : "The summary endpoint asks for credentials.";
    $("login").hidden = false;
    (bearer ? $("login-token") : $("login-user")).focus();
  }

  function submitCredentials(event) {
    event.preventDefault();
    if (event.currentTarget.id === "login-bearer") {
      credentials.set(`Bearer ${$("login-token").value.trim()}`);
    } else {
      const bytes = new TextEncoder().encode(`${$("login-user").value}:${$("login-password").value}`);
      credentials.set(`Basic ${btoa(String.fromCharCode(...bytes))}`);
    }
    for (const id of ["login-token", "login-user", "login-password"]) $(id).value = "";
    $("login").hidden = true;
    state.login = false;
    poll();
  }

  // --- Polling -----------------------------------------------------------------------------

  async function poll() {
    if (state.inFlight || state.login) return;
    state.inFlight = true;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), Math.max(REFRESH_MS, 5000));
    try {
      const authorization = credentials.get();
      const headers = { Accept: "application/json" };
      if (authorization) headers.Authorization = authorization;
      const response = await fetch(SUMMARY_URL, { headers, cache: "no-store", signal: abort.signal });
      if (response.status === 401) {
        askForCredentials(response, Boolean(authorization));
        return;
      }
      if (!response.ok) {
        state.error = { reachable: true, message: `${response.status}${await reason(response)}` };
        return;
      }
      const summary = await response.json();
      const now = Date.now();
      record(summary, now);
      Object.assign(state, { lastOk: now, error: null, polls: state.polls + 1 });
      render(summary, now);
    } catch (error) {
      const message = error.name === "AbortError" ? "no answer in time" : error.message;
      state.error = { reachable: false, message };
    } finally {
      clearTimeout(timer);
      state.inFlight = false;
      showFreshness();
    }
  }

  // The message of the crate's one error shape, `{"error": {"message": ...}}`, if any.
  async function reason(response) {
    try {
      const body = await response.json();
      return body?.error?.message ? `: ${body.error.message}` : "";
    } catch {
      return "";
    }
  }

  function record(summary, t) {
    const providers = {};
    for (const p of summary.metrics?.providers?.by_provider ?? []) {
      providers[p.provider] = {
        requests: p.requests_total ?? null,
        failed: p.failed_requests_total ?? null,
        p95: p.latency_p95_seconds ?? null,
        cost: p.cost_usd_total ?? null,
      };
    }
    const models = {};
    for (const m of summary.metrics?.models?.by_model ?? []) {
      models[m.model] = { tokens: (m.input_tokens ?? 0) + (m.output_tokens ?? 0) };
    }
    state.samples.push({ t, providers, models });
    // Keep one sample from before the window: the window's first point needs a predecessor.
    while (state.samples.length > 2 && state.samples[1].t < t - HISTORY_MS) state.samples.shift();
  }

  function showFreshness() {
    const now = Date.now();
    const line = $("freshness");
    const banner = $("banner");
    let mode = "loading";
    if (state.login) mode = "login";
    else if (state.error) mode = state.error.reachable ? "failing" : "unreachable";
    else if (state.lastOk != null) mode = now - state.lastOk > STALE_MS ? "stale" : "ok";
    // For the stylesheet (stale data is dimmed) and for browser tests, which count refreshes.
    document.body.dataset.state = mode;
    document.body.dataset.polls = String(state.polls);

    const every = `refreshes every ${REFRESH_MS / 1000} s`;
    const since = state.lastOk == null ? null
      : `${new Date(state.lastOk).toLocaleTimeString()} (${ago(now - state.lastOk)})`;
    const failed = mode === "unreachable" || mode === "failing";
    line.classList.toggle("stale", failed || mode === "stale");
    if (mode === "ok") line.textContent = `Updated ${since} \u00b7 ${every}`;
    else if (mode === "stale" || failed) line.textContent = since ? `Stale: last update ${since}` : "No data yet";
    else if (mode === "login") line.textContent = "Waiting for credentials";
    else line.textContent = "Loading\u2026";

    banner.hidden = !failed;
    if (failed) {
      const what = mode === "unreachable" ? "Gateway unreachable" : "The summary endpoint failed";
      banner.textContent = `${what} (${state.error.message}). Retrying every ${REFRESH_MS / 1000} s`
        + (since ? `; showing what it said at ${since}.` : ".");
    }
  }

  function ago(ms) {
    const s = Math.round(ms / 1000);
    return s < 90 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
  }

  // --- Rendering ---------------------------------------------------------------------------

  function render(summary, now) {
    const m = summary.metrics ?? {};
    const providers = m.providers?.by_provider ?? [];
    $("overview").replaceChildren(...overviewTiles(m.providers));
    $("cards").replaceChildren(...providers.map(card));
    $("no-providers").hidden = providers.length > 0;
    $("tiles").replaceChildren(...businessTiles(m.business ?? {}, m.models ?? {}));
    drawCharts(now);
  }

  function value(v, show) {
    return v == null ? "\u2014" : show(v);
  }

  function tile(id, label, v, show, note) {
    return el("div", { class: "tile", "data-tile": id, "data-value": v ?? "" },
      el("div", { class: "tile-label" }, label),
      el("div", { class: "tile-value" }, value(v, show)),
      note ? el("div", { class: "tile-note muted" }, note) : null);
  }

  function overviewTiles(p) {
    if (!p) return [];
    const counts = [
      [p.healthy_providers, "healthy"], [p.degraded_providers, "degraded"],
      [p.unavailable_providers, "unavailable"], [p.unknown_providers, "unknown"],
    ].filter(([n]) => n > 0).map(([n, status]) => `${n} ${status}`).join(" \u00b7 ");
    return [
      tile("providers", "Providers", p.total_providers, format.count, counts),
      tile("avg_health_score", "Mean health score", p.avg_health_score, format.score),
      tile("avg_error_rate", "Mean error rate", p.avg_error_rate, format.percent),
      tile("open_circuits", "Open circuits", p.open_circuits, format.count),
      tile("failovers_total", "Failovers", p.failovers_total, format.count),
      ...routingTiles(p.routing ?? {}),
    ];
  }

  // Routing: requests routed by policy, and what routing saved against the reference cost
  // (the mean price of the healthy candidates, what the spread policy pays on average).
  function routingTiles(r) {
    const policies = Object.entries(r.decisions_by_policy ?? {})
      .map(([policy, n]) => `${policy} ${format.count(n)}`).join(" \u00b7 ");
    const share = r.saved_ratio == null ? null
      : `${format.percent(r.saved_ratio)} of ${format.dollars(r.reference_cost_usd)} at reference prices`;
    return [
      tile("routing_decisions_total", "Routed", r.decisions_total, format.count, policies || null),
      tile("routing_saved_usd", "Saved by routing", r.saved_usd, format.signedDollars, share),
    ];
  }

  function businessTiles(b, models) {
    return [
      tile("active_api_keys", "Active API keys", b.active_api_keys, format.count),
      tile("active_subscriptions", "Subscriptions", b.active_subscriptions, format.count),
      tile("active_trials", "Trials", b.active_trials, format.count),
      // Over the key store's whole history; the Business dashboard gives them per range.
      tile("trial_conversion_rate", "Trial conversion", b.trial_conversion_rate, format.percent,
        b.trials_ended == null ? null : `${b.trials_converted} of ${b.trials_ended} trials ended`),
      tile("subscription_churn_rate", "Churn (all time)", b.subscription_churn_rate, format.percent,
        b.subscriptions_ended == null ? null : `${b.subscriptions_ended} of ${b.subscriptions_started} ended`),
      tile("projected_subscriptions", "Projected paid", b.projected_subscriptions, format.count,
        "once today's trials end"),
      tile("total_tokens_used", "Tokens used", b.total_tokens_used, format.compact,
        models.input_tokens == null ? null
          : `${format.compact(models.input_tokens)} in \u00b7 ${format.compact(models.output_tokens)} out`),
      tile("total_credits_used", "Credits used", b.total_credits_used, format.credits),
      tile("total_cost_usd", "Upstream cost", b.total_cost_usd, format.dollars),
    ];
  }

  function card(p) {
    const status = Object.hasOwn(STATUSES, p.status) ? p.status : "unknown";
    const { label, symbol } = STATUSES[status];
    const anomalies = p.active_anomalies ?? [];
    const circuit = p.circuit_state ?? null;
    const row = (field, name, v, show, extra = {}) => el("div", { class: "row" },
      el("dt", {}, name),
      el("dd", { "data-field": field, "data-value": v ?? "", ...extra }, value(v, show)));
    return el("article", { class: `card status-${status}`, "data-provider": p.provider, "data-status": status },
      el("header", {},
        el("h3", {}, p.provider),
        el("span", { class: "badge" }, el("span", { "aria-hidden": "true" }, symbol), ` ${label}`)),
      el("dl", {},
        row("health_score", "Health score", p.health_score, format.score),
        row("error_rate", "Error rate", p.error_rate, format.percent),
        row("latency_p95_seconds", "p95 latency", p.latency_p95_seconds, format.seconds),
        row("circuit_state", "Circuit", circuit, (c) => c.replace("_", "-"),
          { class: circuit && circuit !== "closed" ? "alert" : null }),
        row("active_anomalies", "Anomalies", anomalies.length ? anomalies.join(", ") : "none", String,
          { class: anomalies.length ? "alert" : null }),
        row("requests_total", "Requests", p.requests_total, format.count),
        row("routing_decisions_total", "Routed first", p.routing_decisions_total, format.count),
        row("cost_usd_total", "Cost", p.cost_usd_total, format.dollars)));
  }

  // --- Charts ------------------------------------------------------------------------------

  // One [time, value] list per provider or model, `null` where there is no value.
  function seriesOf(chart) {
    const out = new Map();
    const samples = state.samples;
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1];
      const b = samples[i];
      for (const [name, now] of Object.entries(b[chart.group])) {
        const before = a[chart.group][name];
        const v = before ? chart.value(before, now, (b.t - a.t) / 1000) : null;
        if (!out.has(name)) out.set(name, []);
        out.get(name).push([b.t, Number.isFinite(v) ? v : null]);
      }
    }
    return out;
  }

  // 1, 2 or 5 times a power of ten, at or above `v`: a readable top for the axis.
  function niceCeil(v) {
    if (!(v > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(v));
    return [1, 2, 5, 10].map((f) => f * power).find((n) => n >= v * (1 - 1e-9));
  }

  function drawCharts(now) {
    const first = state.samples.length ? state.samples[0].t : now;
    const t0 = Math.min(Math.max(first, now - HISTORY_MS), now - MIN_SPAN_MS);
    const span = now - t0;
    $("history-span").textContent = `(last ${Math.round(span / 60000)} min, kept in this page)`;
    $("charts").replaceChildren(...CHARTS.map((chart) => drawChart(chart, seriesOf(chart), t0, now)));
  }

  function drawChart(chart, series, t0, t1) {
    const names = [...series.keys()].sort();
    const values = [...series.values()].flat().map(([, v]) => v).filter((v) => v != null);
    const top = niceCeil(Math.max(chart.floor ?? 0, ...values));
    const x = (t) => ((t - t0) / (t1 - t0)) * CHART.width;
    const y = (v) => CHART.height - (v / top) * CHART.height;

    const plot = svg("svg", {
      viewBox: `0 0 ${CHART.width} ${CHART.height}`, preserveAspectRatio: "none", role: "img",
      "aria-label": `${chart.title}: ${names.map((n) => `${n} ${latestText(series.get(n), chart)}`).join(", ") || "no data yet"}`,
    });
    for (const f of [0.25, 0.5, 0.75]) {
      plot.append(svg("line", { class: "grid", x1: 0, x2: CHART.width, y1: CHART.height * f, y2: CHART.height * f }));
    }
    names.forEach((name, i) => {
      const points = series.get(name);
      const d = path(points, x, y);
      if (d) {
        plot.append(svg("path", {
          class: `line series-${i % PALETTE_SIZE}`, d, "data-series": name,
          "data-points": points.filter(([, v]) => v != null).length,
        }));
      }
    });

    const legend = el("ul", { class: "legend" }, ...names.map((name, i) => el("li", {
      "data-series": name, "data-latest": latest(series.get(name)) ?? "",
    }, el("span", { class: `swatch series-${i % PALETTE_SIZE}`, "aria-hidden": "true" }),
    `${name} `, el("b", {}, latestText(series.get(name), chart)))));

    return el("figure", { class: "chart", "data-chart": chart.id },
      el("figcaption", {}, chart.title),
      el("div", { class: "plot" },
        el("span", { class: "y-top" }, chart.unit(top)),
        plot,
        names.length ? null : el("span", { class: "waiting muted" }, "Collecting: a line needs two polls")),
      el("div", { class: "x-axis muted" },
        el("span", {}, `\u2212${Math.round((t1 - t0) / 60000)} min`), el("span", {}, "now")),
      legend);
  }

  // An SVG path through the points; a missing value or a gap of missed polls breaks the line,
  // and a lone point is drawn as a dot (a zero-length segment with round caps).
  function path(points, x, y) {
    let d = "";
    let previous = null;
    for (const [t, v] of points) {
      if (v == null) {
        previous = null;
        continue;
      }
      const gap = previous != null && t - previous > STALE_MS;
      const px = x(t).toFixed(1);
      const py = y(v).toFixed(1);
      d += previous == null || gap ? ` M${px} ${py} l0.01 0` : ` L${px} ${py}`;
      previous = t;
    }
    return d.trim();
  }

  function latest(points) {
    for (let i = points.length - 1; i >= 0; i--) if (points[i][1] != null) return points[i][1];
    return null;
  }

  function latestText(points, chart) {
    const v = latest(points);
    return v == null ? "\u2014" : chart.unit(v);
  }

  // --- Start -------------------------------------------------------------------------------

  $("login-bearer").addEventListener("submit", submitCredentials);
  $("login-basic").addEventListener("submit", submitCredentials);
  poll();
  setInterval(poll, REFRESH_MS);
  // Freshness is judged every second, so a poll that hangs still turns the page stale.
  setInterval(showFreshness, 1000);
})();
