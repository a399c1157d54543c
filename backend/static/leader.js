// Leadership cockpit (/leader/) and big screen (/leader/screen): ECharts over the JSON of
// /leader/api/*. Clicking a region in the ranking or the treemap drills down (the page reloads
// with ?region=<child>); a project opens its own page. The big screen refetches every minute.
// Tooltips render on the canvas (richText): HTML tooltips carry style="" markup the CSP blocks.
(function () {
  "use strict";
  const configNode = document.getElementById("leader-config");
  if (!configNode || typeof echarts === "undefined") return;
  const config = JSON.parse(configNode.textContent);
  const screen = Boolean(config.screen);
  const texts = config.texts || {};
  const indicators = Object.fromEntries(config.indicators.map((i) => [i.code, i]));
  const codeSelect = document.querySelector("[data-chart-code]");
  let code = codeSelect ? codeSelect.value : config.code;
  const charts = {};
  document.querySelectorAll("[data-chart]").forEach((node) => {
    charts[node.dataset.chart] = echarts.init(node, screen ? "dark" : null, { renderer: "canvas" });
  });
  const base = {
    backgroundColor: "transparent",
    textStyle: { fontFamily: "system-ui, 'Noto Sans CJK SC', sans-serif" },
    tooltip: { renderMode: "richText", confine: true },
  };

  function query(extra) {
    const params = new URLSearchParams({ period: config.period });
    if (config.region) params.set("region", config.region);
    Object.entries(extra || {}).forEach(([k, v]) => params.set(k, v));
    return params.toString();
  }

  async function getJson(url, extra) {
    const response = await fetch(url + "?" + query(extra), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || String(response.status));
    return body;
  }

  function drill(area) {
    if (area.url) {
      window.location.href = area.url;
      return;
    }
    const params = new URLSearchParams({ region: area.code, period: config.period });
    window.location.href = config.urls.page + "?" + params.toString();
  }

  function unitOf(c) {
    return (indicators[c] && indicators[c].unit) || "";
  }

  function empty(chart) {
    chart.setOption(
      Object.assign({}, base, {
        title: { text: texts.empty || "—", left: "center", top: "middle", textStyle: { fontSize: 14, fontWeight: "normal", color: "#888" } },
      }),
      true
    );
  }

  // Category names slant, and long ones are cut, when they would not fit side by side.
  function categoryLabels(chart, count) {
    const room = chart.getWidth() / Math.max(count, 1);
    return { interval: 0, rotate: room < 90 ? 35 : 0, width: room < 90 ? 80 : room - 8, overflow: "truncate" };
  }

  function valueOf(area, c) {
    const v = area.values && area.values[c];
    return v ? v.value : null;
  }

  function displayOf(area, c) {
    const v = area.values && area.values[c];
    return v ? v.display : "—";
  }

  function renderTrend(trend) {
    const chart = charts.trend;
    if (!chart) return;
    if (!trend.points.length) return empty(chart);
    chart.setOption(
      Object.assign({}, base, {
        grid: { left: 48, right: 16, top: 24, bottom: 28 },
        tooltip: Object.assign({}, base.tooltip, { trigger: "axis" }),
        xAxis: { type: "category", data: trend.points.map((p) => (texts.month || "{m}").replace("{m}", p.month.slice(5))) },
        yAxis: { type: "value", name: trend.unit, nameTextStyle: { align: "right" } },
        series: [
          {
            name: trend.name,
            type: "line",
            smooth: true,
            areaStyle: { opacity: 0.15 },
            connectNulls: false,
            data: trend.points.map((p) => (p.future ? null : p.value)),
            label: { show: screen, formatter: (p) => (p.value == null ? "" : trend.points[p.dataIndex].display) },
          },
        ],
      }),
      true
    );
  }

  function renderRanking(children) {
    const chart = charts.ranking;
    if (!chart) return;
    const rows = children.filter((a) => valueOf(a, code) !== null);
    if (!rows.length) return empty(chart);
    const lowerIsBetter = indicators[code] && indicators[code].better === "lower";
    rows.sort((a, b) => (lowerIsBetter ? valueOf(b, code) - valueOf(a, code) : valueOf(a, code) - valueOf(b, code)));
    const shown = rows.slice(-15); // the best at the top of a horizontal bar chart
    chart.setOption(
      Object.assign({}, base, {
        grid: { left: 8, right: 56, top: 8, bottom: 8, containLabel: true },
        xAxis: { type: "value", name: unitOf(code), splitLine: { show: false } },
        yAxis: {
          type: "category",
          data: shown.map((a) => a.name),
          axisLabel: { width: 110, overflow: "truncate" },
        },
        series: [
          {
            type: "bar",
            data: shown.map((a) => ({ value: valueOf(a, code), area: a })),
            label: { show: true, position: "right", formatter: (p) => displayOf(p.data.area, code) },
            itemStyle: { borderRadius: [0, 3, 3, 0] },
            cursor: "pointer",
          },
        ],
      }),
      true
    );
    chart.off("click");
    chart.on("click", (p) => p.data && p.data.area && drill(p.data.area));
  }

  // Red → amber → green between the worst and the best child (reversed when lower is better).
  function shade(value, min, max, lowerIsBetter) {
    if (value === null) return screen ? "#3a4a66" : "#b8c2d3";
    let t = max > min ? (value - min) / (max - min) : 1;
    if (lowerIsBetter) t = 1 - t;
    const stops = [
      [217, 83, 79],
      [240, 173, 78],
      [46, 157, 91],
    ];
    const [a, b, u] = t < 0.5 ? [stops[0], stops[1], t * 2] : [stops[1], stops[2], (t - 0.5) * 2];
    const mix = a.map((x, i) => Math.round(x + (b[i] - x) * u));
    return "rgb(" + mix.join(",") + ")";
  }

  function renderTreemap(children) {
    const chart = charts.treemap;
    if (!chart) return;
    const withProjects = children.filter((a) => a.project_count > 0);
    const shown = withProjects.length ? withProjects : children;
    if (!shown.length) return empty(chart);
    const values = shown.map((a) => valueOf(a, code)).filter((v) => v !== null);
    const min = values.length ? Math.min(...values) : 0;
    const max = values.length ? Math.max(...values) : 0;
    const lowerIsBetter = indicators[code] && indicators[code].better === "lower";
    chart.setOption(
      Object.assign({}, base, {
        series: [
          {
            type: "treemap",
            roam: false,
            nodeClick: false,
            breadcrumb: { show: false },
            left: 0,
            top: 0,
            right: 0,
            bottom: 0,
            label: { fontSize: screen ? 16 : 12, lineHeight: screen ? 22 : 16, formatter: (p) => p.name + "\n" + displayOf(p.data.area, code) + "\n" + p.data.area.project_count + (texts.projects || "") },
            itemStyle: { borderColor: screen ? "#0b1426" : "#fff", borderWidth: 2, gapWidth: 2 },
            data: shown.map((a) => ({
              name: a.name,
              value: Math.max(a.project_count, 1),
              area: a,
              itemStyle: { color: shade(valueOf(a, code), min, max, lowerIsBetter) },
            })),
          },
        ],
      }),
      true
    );
    chart.off("click");
    chart.on("click", (p) => p.data && p.data.area && drill(p.data.area));
  }

  function renderIndustry(breakdown) {
    const chart = charts.industry;
    if (!chart) return;
    const rows = breakdown.rows.filter((r) => r.values[code] && r.values[code].value !== null);
    if (!rows.length) return empty(chart);
    chart.setOption(
      Object.assign({}, base, {
        grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
        tooltip: Object.assign({}, base.tooltip, { trigger: "axis" }),
        xAxis: { type: "category", data: rows.map((r) => r.key), axisLabel: categoryLabels(chart, rows.length) },
        yAxis: { type: "value", name: unitOf(code) },
        series: [
          {
            name: indicators[code] ? indicators[code].name : code,
            type: "bar",
            data: rows.map((r) => r.values[code].value),
            label: { show: true, position: "top", formatter: (p) => rows[p.dataIndex].values[code].display },
          },
        ],
      }),
      true
    );
  }

  function renderDepartment(breakdown) {
    const chart = charts.department;
    if (!chart) return;
    const rows = breakdown.rows.filter((r) => r.values.approval_on_time || r.values.approval_mean_days);
    if (!rows.length) return empty(chart);
    const pick = (r, c) => (r.values[c] ? r.values[c].value : null);
    chart.setOption(
      Object.assign({}, base, {
        legend: { top: 0 },
        grid: { left: 8, right: 8, top: 32, bottom: 8, containLabel: true },
        tooltip: Object.assign({}, base.tooltip, { trigger: "axis" }),
        xAxis: { type: "category", data: rows.map((r) => r.key), axisLabel: categoryLabels(chart, rows.length) },
        yAxis: [
          { type: "value", name: unitOf("approval_on_time"), max: 100 },
          { type: "value", name: unitOf("approval_mean_days"), splitLine: { show: false } },
        ],
        series: [
          {
            name: indicators.approval_on_time ? indicators.approval_on_time.name : "approval_on_time",
            type: "bar",
            data: rows.map((r) => pick(r, "approval_on_time")),
          },
          {
            name: indicators.approval_mean_days ? indicators.approval_mean_days.name : "approval_mean_days",
            type: "line",
            yAxisIndex: 1,
            data: rows.map((r) => pick(r, "approval_mean_days")),
          },
        ],
      }),
      true
    );
  }

  function updateCards(area) {
    document.querySelectorAll("[data-card]").forEach((node) => {
      node.textContent = displayOf(area, node.dataset.card);
    });
  }

  let overview = null;
  let industry = null;

  async function loadAll() {
    const [o, t, ind, dep] = await Promise.all([
      getJson(config.urls.overview),
      getJson(config.urls.trend, { code }),
      getJson(config.urls.breakdown, { by: "industry" }),
      getJson(config.urls.breakdown, { by: "department" }),
    ]);
    overview = o;
    industry = ind;
    updateCards(o.area);
    renderTrend(t);
    renderRanking(o.children);
    renderTreemap(o.children);
    renderIndustry(ind);
    renderDepartment(dep);
    const updated = document.querySelector("[data-updated]");
    // Figures from a stored snapshot carry its time; live ones are as of now.
    if (updated) updated.textContent = o.area.as_of || clockText(new Date()).time;
    document.body.dataset.leaderLoaded = "1";
  }

  async function changeCode() {
    code = codeSelect.value;
    const t = await getJson(config.urls.trend, { code });
    renderTrend(t);
    if (overview) {
      renderRanking(overview.children);
      renderTreemap(overview.children);
    }
    if (industry) renderIndustry(industry);
  }

  function clockText(now) {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat("zh-CN", {
        timeZone: "Asia/Shanghai",
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        weekday: "short",
      })
        .formatToParts(now)
        .map((p) => [p.type, p.value])
    );
    return {
      time: parts.hour + ":" + parts.minute + ":" + parts.second,
      date: parts.year + "-" + parts.month + "-" + parts.day + " " + parts.weekday,
    };
  }

  function tick() {
    const text = clockText(new Date());
    const clock = document.querySelector("[data-clock]");
    const day = document.querySelector("[data-clock-date]");
    if (clock) clock.textContent = text.time;
    if (day) day.textContent = text.date;
  }

  function report(error) {
    document.body.dataset.leaderError = error.message;
    Object.values(charts).forEach((chart) => empty(chart));
  }

  const periodSelect = document.querySelector("[data-period-select]");
  if (periodSelect) periodSelect.addEventListener("change", () => periodSelect.form.submit());
  if (codeSelect) codeSelect.addEventListener("change", () => changeCode().catch(report));
  window.addEventListener("resize", () => Object.values(charts).forEach((chart) => chart.resize()));
  loadAll().catch(report);
  // What the timer calls, also for a test that changes the data and must not wait a minute.
  window.leaderCockpit = { refresh: () => loadAll().catch(report) };
  if (screen) {
    tick();
    setInterval(tick, 1000);
    setInterval(() => loadAll().catch(report), (config.refresh_seconds || 60) * 1000);
  }
})();
