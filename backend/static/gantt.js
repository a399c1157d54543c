// The schedule page's Gantt chart (frappe-gantt 1.2.2, served from npm by /vendor).
// Data: GET gantt.json (backend/schedule/service.gantt_rows). The owner unit's planners drag a
// leaf's bar (or its ends) to new dates: on release the dates are POSTed and the chart is
// redrawn from the server's answer, so a refused change (400, Chinese message) puts the bar
// back. Parents do not move (their span is their children's); successors are never moved
// along: a broken finish-to-start link is listed as a conflict instead. Phones: frappe-gantt
// has no touch dragging, the chart scrolls sideways and the item forms do the editing.
(function () {
  "use strict";
  const box = document.getElementById("gantt");
  const configNode = document.getElementById("gantt-config");
  if (!box || !configNode || typeof window.Gantt !== "function") return;
  const config = JSON.parse(configNode.textContent);
  const strings = config.strings;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const language = (document.documentElement.lang || "zh").toLowerCase().startsWith("en") ? "en" : "zh";
  const DAYS_PER_COLUMN = { Day: 1, Week: 7, Month: 30 };
  const SVG = "http://www.w3.org/2000/svg";
  let chart = null;
  let viewMode = "Week";
  let pending = null; // the last dates of a bar being dragged, sent on release
  let conflicts = [];

  // frappe-gantt writes a hatch <pattern> with a style="" attribute on every render (for
  // "ignored" days, unused here), which the CSP (style-src 'self') refuses: draw only the
  // today line. Weekends are not shaded for the same reason (their fill is an inline style).
  window.Gantt.prototype.make_grid_highlights = function () {
    this.config.ignored_positions = [];
    this.highlight_current();
  };

  // Bar labels and the popup go into innerHTML: names are escaped first.
  function escapeHtml(text) {
    return String(text).replace(
      /[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
    );
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, (_m, key) => (key in values ? values[key] : ""));
  }

  function isoDate(d) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }

  function daysBetween(a, b) {
    return Math.round((Date.parse(b) - Date.parse(a)) / 86400000);
  }

  function status(message, kind) {
    const node = document.getElementById("gantt-status");
    if (!node) return;
    node.className = `alert py-2 alert-${kind}`;
    node.textContent = message;
  }

  function showConflicts(conflicts) {
    const node = document.getElementById("gantt-conflicts");
    if (!node) return;
    const list = node.querySelector("ul");
    list.replaceChildren(
      ...conflicts.map((c) => {
        const li = document.createElement("li");
        li.dataset.successor = c.successor_code;
        li.textContent = fill(strings.conflict, {
          succ: c.successor_code,
          start: c.successor_start,
          pred: c.predecessor_code,
          end: c.predecessor_end,
        });
        return li;
      }),
    );
    node.classList.toggle("d-none", conflicts.length === 0);
  }

  function tasksOf(data) {
    return data.items.map((row) => ({
      id: String(row.id),
      name: escapeHtml(`${row.code} ${row.name}`),
      start: row.start,
      end: row.end,
      progress: row.progress,
      dependencies: row.dependencies.map(String),
      custom_class: "wbs-bar", // one class only (frappe adds it with classList.add)
      row,
    }));
  }

  function popup(ctx) {
    const row = ctx.task.row;
    ctx.set_title(escapeHtml(`${row.code} ${row.name}`));
    const flags = [
      row.critical && strings.critical,
      row.overdue && strings.overdue,
      row.milestone && strings.milestone,
    ].filter(Boolean);
    ctx.set_subtitle(escapeHtml(flags.join(" · ")));
    let details = `${escapeHtml(strings.plan)}: ${row.start} ~ ${row.end}`;
    if (row.baseline_start) {
      details += `<br>${escapeHtml(strings.baseline)}: ${row.baseline_start} ~ ${row.baseline_end}`;
    }
    details += `<br>${escapeHtml(strings.progress)}: ${row.progress}%`;
    ctx.set_details(details);
    if (config.edit) {
      ctx.add_action(escapeHtml(strings.edit), () => {
        window.location.href = config.edit.replace("/items/0/", `/items/${row.id}/`);
      });
    }
  }

  // After every render: classes for the flags (frappe takes a single custom class), a diamond
  // at a milestone's date, the baseline's span as a thin bar under the plan's.
  function decorate(gantt) {
    const pxPerDay = gantt.config.column_width / (DAYS_PER_COLUMN[gantt.config.view_mode.name] || 1);
    const conflicted = new Set(conflicts.map((c) => String(c.successor)));
    for (const bar of gantt.bars) {
      const row = bar.task.row;
      const group = bar.group;
      group.classList.toggle("wbs-critical", row.critical);
      group.classList.toggle("wbs-overdue", row.overdue);
      group.classList.toggle("wbs-milestone", row.milestone);
      group.classList.toggle("wbs-parent", !row.leaf);
      group.classList.toggle("wbs-conflict", conflicted.has(String(row.id)));
      group.dataset.code = row.code;
      group.dataset.start = row.start;
      group.dataset.end = row.end;
      const x = bar.$bar.getX();
      const y = bar.$bar.getY();
      const h = bar.$bar.getHeight();
      if (row.milestone) {
        const cx = x + bar.$bar.getWidth();
        const cy = y + h / 2;
        const r = h / 2 - 2;
        const diamond = document.createElementNS(SVG, "polygon");
        diamond.setAttribute("points", `${cx},${cy - r} ${cx + r},${cy} ${cx},${cy + r} ${cx - r},${cy}`);
        diamond.setAttribute("class", "wbs-diamond");
        bar.bar_group.appendChild(diamond);
      }
      if (row.baseline_start) {
        const base = document.createElementNS(SVG, "rect");
        base.setAttribute("x", x + daysBetween(row.start, row.baseline_start) * pxPerDay);
        base.setAttribute("y", y + h + 2);
        base.setAttribute("width", Math.max(2, (daysBetween(row.baseline_start, row.baseline_end) + 1) * pxPerDay));
        base.setAttribute("height", 4);
        base.setAttribute("class", "wbs-baseline");
        bar.bar_group.appendChild(base);
      }
    }
  }

  function draw(data, scrollTo) {
    box.replaceChildren();
    conflicts = data.conflicts || [];
    showConflicts(conflicts);
    if (!data.items.length) return;
    chart = new window.Gantt(box, tasksOf(data), {
      view_mode: viewMode,
      language,
      readonly: !config.mayEdit,
      readonly_progress: true, // progress is reported on its own form, never dragged
      move_dependencies: false,
      infinite_padding: false,
      auto_move_label: true, // a long bar's label follows the scrolled view
      today_button: false,
      holidays: null,
      bar_height: 24,
      padding: 16,
      scroll_to: scrollTo || "today",
      popup,
      // Called after every render, the first one inside the constructor.
      on_view_change: function () {
        if (this.bars) decorate(this);
      },
      on_date_change: (task, start, end) => {
        pending = { id: task.row.id, start: isoDate(start), end: isoDate(end) };
      },
    });
    window.wbsGantt.chart = chart;
  }

  async function load(scrollTo) {
    const response = await fetch(config.data, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      status(strings.failed, "danger");
      return;
    }
    draw(await response.json(), scrollTo);
  }

  // The one path a date change takes (the drag, and tests through window.wbsGantt.move).
  async function move(id, start, end) {
    let response = null;
    let data = null;
    try {
      response = await fetch(config.move.replace("/items/0/", `/items/${id}/`), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ start, end }),
      });
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (response && response.ok && data) {
      const row = data.items.find((r) => r.id === data.moved);
      status(fill(strings.saved, { code: row ? row.code : "" }), "success");
      draw(data, start);
      return true;
    }
    status((data && data.error) || `${strings.failed} (HTTP ${response ? response.status : 0})`, "danger");
    if (data && data.items) draw(data, start);
    else await load(start);
    return false;
  }

  window.wbsGantt = { move, load, chart: null };

  // Parents are not draggable: stop the press before frappe-gantt's handler on the <svg> sees it.
  box.addEventListener(
    "mousedown",
    (event) => {
      const wrapper = event.target.closest && event.target.closest(".bar-wrapper");
      if (wrapper && wrapper.classList.contains("wbs-parent") && config.mayEdit) {
        event.stopPropagation();
        status(strings.parentFixed, "info");
      }
    },
    true,
  );
  // frappe-gantt reports every step of a drag; the dates are sent once, on release.
  document.addEventListener("mouseup", () => {
    if (!pending) return;
    const change = pending;
    pending = null;
    move(change.id, change.start, change.end);
  });

  for (const button of document.querySelectorAll("[data-gantt-view]")) {
    button.addEventListener("click", () => {
      viewMode = button.dataset.ganttView;
      for (const other of document.querySelectorAll("[data-gantt-view]")) {
        other.classList.toggle("active", other === button);
      }
      if (chart) chart.change_view_mode(viewMode);
    });
  }
  const today = document.querySelector("[data-gantt-today]");
  if (today) today.addEventListener("click", () => chart && chart.scroll_current());

  load();
})();
