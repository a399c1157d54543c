// 运维监控台: the instance's diagram (bpmn-js NavigatedViewer) with completed/active/failed marks,
// from the page's JSON data block #cockpit-diagram.
(function () {
  "use strict";
  var diagram = JSON.parse(document.getElementById("cockpit-diagram").textContent);
  var viewer = new BpmnJS({ container: "#cockpit-canvas" });
  viewer.importXML(diagram.xml).then(function () {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    ["completed", "active", "failed"].forEach(function (kind) {
      diagram.highlights[kind].forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, "cockpit-" + kind); }
      });
    });
    canvas.zoom("fit-viewport");
  }).catch(function (err) {
    document.getElementById("cockpit-canvas").textContent = String(err && err.message || err);
  });
})();
