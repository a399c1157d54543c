// Site pages (check-in, daily log, site location): browser position, photo previews, log rows.
// Messages come from data-msg-* attributes rendered by the templates (translated there).
(function () {
  "use strict";

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) { return values[key]; });
  }

  // Haversine, metres: the same formula as backend/site/geo.py (WGS-84, mean Earth radius).
  function distanceM(lat1, lon1, lat2, lon2) {
    var r = Math.PI / 180, p1 = lat1 * r, p2 = lat2 * r;
    var a = Math.pow(Math.sin((p2 - p1) / 2), 2) +
      Math.cos(p1) * Math.cos(p2) * Math.pow(Math.sin((lon2 - lon1) * r / 2), 2);
    return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(a)));
  }

  function locate(onPosition, onError) {
    if (!("geolocation" in navigator)) { onError(null); return; }
    navigator.geolocation.getCurrentPosition(onPosition, onError,
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 });
  }

  // Check-in: fill the hidden position fields; a refusal leaves them empty (flagged 无定位).
  var status = document.querySelector("[data-geo-status]");
  if (status) {
    var retry = document.querySelector("[data-geo-retry]");
    var lat = document.querySelector("[data-geo-latitude]");
    var lng = document.querySelector("[data-geo-longitude]");
    var acc = document.querySelector("[data-geo-accuracy]");
    var show = function (text, kind) {
      status.textContent = text;
      status.className = "site-geo alert mb-3 alert-" + kind;
    };
    var run = function () {
      show(status.dataset.msgLocating, "secondary");
      if (retry) { retry.hidden = true; }
      locate(function (pos) {
        var c = pos.coords;
        lat.value = c.latitude.toFixed(7);
        lng.value = c.longitude.toFixed(7);
        acc.value = Math.round(c.accuracy);
        var text = fmt(status.dataset.msgOk, { acc: Math.round(c.accuracy) });
        var kind = "success";
        if (status.dataset.siteLat) {
          var d = Math.round(distanceM(+status.dataset.siteLat, +status.dataset.siteLng, c.latitude, c.longitude));
          var radius = +status.dataset.siteRadius;
          text += "; " + fmt(status.dataset.msgDistance, { d: d, r: radius });
          if (d > radius) { text += "; " + status.dataset.msgOutside; kind = "warning"; }
        }
        show(text, kind);
      }, function (err) {
        lat.value = ""; lng.value = ""; acc.value = "";
        var msg = !err ? status.dataset.msgUnsupported
          : err.code === 1 ? status.dataset.msgDenied : status.dataset.msgUnavailable;
        show(msg, "warning");
        if (retry && err) { retry.hidden = false; }
      });
    };
    if (retry) { retry.addEventListener("click", run); }
    run();
  }

  // Site location: "use my position".
  var fill = document.querySelector("[data-geo-fill]");
  if (fill) {
    fill.addEventListener("click", function () {
      var out = document.querySelector("[data-geo-fill-status]");
      locate(function (pos) {
        document.querySelector("[data-geo-latitude]").value = pos.coords.latitude.toFixed(7);
        document.querySelector("[data-geo-longitude]").value = pos.coords.longitude.toFixed(7);
        out.textContent = "±" + Math.round(pos.coords.accuracy) + " m";
      }, function (err) {
        out.textContent = err && err.code === 1 ? fill.dataset.msgDenied : fill.dataset.msgUnavailable;
      });
    });
  }

  // Photo previews (object URLs: nothing leaves the phone before submit).
  document.querySelectorAll("[data-photo-input]").forEach(function (input) {
    var preview = input.parentElement.querySelector("[data-photo-preview]") ||
      document.querySelector("[data-photo-preview]");
    input.addEventListener("change", function () {
      preview.textContent = "";
      var max = +input.dataset.max || 9;
      Array.prototype.slice.call(input.files, 0, max).forEach(function (file) {
        if (!/^image\//.test(file.type)) { return; }
        var img = document.createElement("img");
        img.className = "site-thumb";
        img.alt = file.name;
        img.src = URL.createObjectURL(file);
        img.onload = function () { URL.revokeObjectURL(img.src); };
        preview.appendChild(img);
      });
    });
  });

  // Daily log rows: add from the section's <template>, remove, total headcount.
  function total() {
    var badge = document.querySelector("[data-headcount-total]");
    if (!badge) { return; }
    var sum = 0;
    document.querySelectorAll("[data-headcount]").forEach(function (input) {
      var n = parseInt(input.value, 10);
      if (n > 0) { sum += n; }
    });
    badge.textContent = fmt(badge.dataset.msgTotal, { n: sum });
  }
  document.querySelectorAll("[data-rows]").forEach(function (section) {
    var list = section.querySelector("[data-row-list]");
    var template = section.querySelector("template[data-row-template]");
    section.querySelector("[data-add-row]").addEventListener("click", function () {
      list.appendChild(template.content.cloneNode(true));
      var added = list.lastElementChild;
      var first = added && added.querySelector("input, select");
      if (first) { first.focus(); }
    });
    section.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-row]");
      if (button) { button.closest("[data-row]").remove(); total(); }
    });
    section.addEventListener("input", total);
  });
  total();
})();
