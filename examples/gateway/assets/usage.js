// A customer's own usage: reads GET /v1/key and GET /v1/usage with the key the customer typed
// (kept in this tab's session storage), and draws totals, a daily SVG chart and a table per
// model. Every element is built with DOM calls, never from HTML strings, so model names are
// always text and the page runs under Trusted Types. Days are UTC, as the API's are.
"use strict";

(() => {
  const KEY_STORAGE = "gatewayz.usage.key";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const DEFAULT_DAYS = 30;
  const CHART = { width: 720, height: 200, left: 56, bottom: 22, top: 10, right: 8 };

  const significant = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 4 });
  const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const credits = (v) => (v >= 100 ? whole.format(v) : significant.format(v));
  const percent = (v) => `${significant.format(v * 100)}%`;

  const $ = (id) => document.getElementById(id);

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

  // --- The key, for this tab only -----------------------------------------------------------

  let memoryKey = null;
  function storage(action) {
    try {
      return action(window.sessionStorage);
    } catch {
      return null; // storage off: the key lasts until reload
    }
  }
  const key = {
    get: () => storage((s) => s.getItem(KEY_STORAGE)) ?? memoryKey,
    set: (value) => {
      memoryKey = value;
      storage((s) => s.setItem(KEY_STORAGE, value));
    },
    clear: () => {
      memoryKey = null;
      storage((s) => s.removeItem(KEY_STORAGE));
    },
  };

  // --- Dates (UTC) ----------------------------------------------------------------------------

  function utcDate(date) {
    return date.toISOString().slice(0, 10);
  }

  function defaultRange() {
    const end = new Date();
    const start = new Date(end.getTime() - (DEFAULT_DAYS - 1) * 86400 * 1000);
    return { start: utcDate(start), end: utcDate(end) };
  }

  // --- Talking to the gateway -------------------------------------------------------------

  class Refused extends Error {}

  async function get(path) {
    const response = await fetch(path, {
      headers: { Accept: "application/json", Authorization: `Bearer ${key.get()}` },
      cache: "no-store",
    });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (response.status === 401) throw new Refused(body?.error?.message || "key refused");
    if (!response.ok) {
      throw new Error(body?.error?.message || `the gateway answered ${response.status}`);
    }
    return body;
  }

  async function show() {
    const start = $("range-start").value;
    const end = $("range-end").value;
    const range = new URLSearchParams({ start, end });
    try {
      const [account, daily, models] = await Promise.all([
        get("/v1/key"),
        get(`/v1/usage?${range}&group_by=day`),
        get(`/v1/usage?${range}&group_by=model`),
      ]);
      $("banner").hidden = true;
      render(account.data, daily, models);
      document.body.dataset.state = "ready";
    } catch (error) {
      if (error instanceof Refused) {
        key.clear();
        login(`That key was refused (${error.message}). Check it, or ask for a new one.`);
      } else {
        banner(error.message);
      }
    }
  }

  function banner(message) {
    $("banner").textContent = message;
    $("banner").hidden = false;
  }

  function login(message) {
    $("content").hidden = true;
    $("login").hidden = false;
    $("who").textContent = "";
    document.body.dataset.state = "login";
    if (message) banner(message);
    $("login-key").focus();
  }

  // --- Drawing ----------------------------------------------------------------------------

  function tile(label, value, note) {
    return el(
      "div",
      { class: "tile" },
      el("div", { class: "tile-label" }, label),
      el("div", { class: "tile-value" }, value),
      note ? el("div", { class: "tile-note" }, note) : null,
    );
  }

  function render(account, daily, models) {
    const plan = account.is_free_tier ? "trial" : "paid";
    const expiry = account.expires_at ? `, expires ${account.expires_at.replace("T", " ").replace("Z", " UTC")}` : "";
    $("who").textContent = `${account.label}\u2026 (${account.name}), ${plan} plan${expiry}`;
    const totals = daily.totals;
    $("tiles").replaceChildren(
      tile("Credits spent", credits(totals.credits), `${daily.start} to ${daily.end}`),
      tile("Credits left", credits(daily.credits_remaining), `of ${credits(account.limit)} given`),
      tile("Requests", whole.format(totals.requests)),
      tile("Input tokens", whole.format(totals.input_tokens)),
      tile("Output tokens", whole.format(totals.output_tokens)),
      tile("This month", credits(account.usage_monthly), "credits, UTC month so far"),
    );
    $("daily").replaceChildren(chart(daily.data));
    const rows = models.data.map((m) =>
      el(
        "tr",
        {},
        el("td", {}, m.model),
        el("td", {}, whole.format(m.requests)),
        el("td", {}, whole.format(m.input_tokens)),
        el("td", {}, whole.format(m.output_tokens)),
        el("td", {}, credits(m.credits)),
        el("td", {}, totals.credits > 0 ? percent(m.credits / totals.credits) : "\u2014"),
      ),
    );
    $("models").querySelector("tbody").replaceChildren(...rows);
    $("models").hidden = rows.length === 0;
    $("no-models").hidden = rows.length > 0;
  }

  // A bar per UTC day; the axis starts at zero and its top is a round number.
  function chart(days) {
    const { width, height, left, bottom, top, right } = CHART;
    const plotWidth = width - left - right;
    const plotHeight = height - top - bottom;
    const highest = Math.max(0, ...days.map((d) => d.credits));
    const ceiling = highest > 0 ? niceCeiling(highest) : 1;
    const slot = plotWidth / Math.max(days.length, 1);
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": `Credits per day, ${days.length} days, highest ${credits(highest)}`,
    });
    for (const fraction of [0, 0.5, 1]) {
      const y = top + plotHeight * (1 - fraction);
      root.append(
        svg("line", { class: "grid", x1: left, x2: width - right, y1: y, y2: y }),
        svg("text", { class: "axis", x: left - 6, y: y + 4, "text-anchor": "end" }, credits(ceiling * fraction)),
      );
    }
    days.forEach((day, i) => {
      const h = (day.credits / ceiling) * plotHeight;
      const bar = svg("rect", {
        class: "bar",
        x: left + i * slot + slot * 0.15,
        y: top + plotHeight - h,
        width: Math.max(slot * 0.7, 1),
        height: h,
      });
      bar.append(svg("title", {}, `${day.date}: ${credits(day.credits)} credits, ${whole.format(day.requests)} requests`));
      root.append(bar);
    });
    // Every few days, counted back from the last, so the latest day always has its label.
    const labelEvery = Math.max(1, Math.ceil(days.length / 8));
    days.forEach((day, i) => {
      if ((days.length - 1 - i) % labelEvery !== 0) return;
      root.append(
        svg("text", { class: "label", x: left + (i + 0.5) * slot, y: height - 6, "text-anchor": "middle" }, day.date.slice(5)),
      );
    });
    return root;
  }

  function niceCeiling(value) {
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (value <= step * power) return step * power;
    }
    return 10 * power;
  }

  // --- Wiring -----------------------------------------------------------------------------

  function start() {
    const range = defaultRange();
    $("range-start").value = range.start;
    $("range-end").value = range.end;
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      key.set($("login-key").value.trim());
      $("login-key").value = "";
      $("login").hidden = true;
      $("content").hidden = false;
      $("banner").hidden = true;
      show();
    });
    $("range").addEventListener("submit", (event) => {
      event.preventDefault();
      show();
    });
    $("forget").addEventListener("click", () => {
      key.clear();
      login(null);
    });
    if (key.get()) {
      $("login").hidden = true;
      $("content").hidden = false;
      show();
    } else {
      login(null);
    }
  }

  start();
})();
