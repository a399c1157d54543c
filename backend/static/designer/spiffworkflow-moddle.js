// Moddle extension for the spiffworkflow: elements the platform reads (docs/processes.md), so
// bpmn-js keeps them typed through load and save instead of dropping or mangling them.
(function (root) {
  "use strict";
  const body = [{ name: "value", isBody: true, type: "String" }];
  const descriptor = {
    name: "SpiffWorkflow",
    uri: "http://spiffworkflow.org/bpmn/schema/1.0/core",
    prefix: "spiffworkflow",
    associations: [],
    types: [
      {
        name: "properties",
        superClass: ["Element"],
        properties: [{ name: "properties", type: "property", isMany: true }],
      },
      {
        name: "property",
        superClass: ["Element"],
        properties: [
          { name: "name", isAttr: true, type: "String" },
          { name: "value", isAttr: true, type: "String" },
        ],
      },
      { name: "preScript", superClass: ["Element"], properties: body },
      { name: "postScript", superClass: ["Element"], properties: body },
      { name: "messageVariable", superClass: ["Element"], properties: body },
      {
        name: "serviceTaskOperator",
        superClass: ["Element"],
        properties: [
          { name: "id", isAttr: true, type: "String" },
          { name: "resultVariable", isAttr: true, type: "String" },
          { name: "parameterList", type: "parameters" },
        ],
      },
      {
        name: "parameters",
        superClass: ["Element"],
        properties: [{ name: "parameters", type: "parameter", isMany: true }],
      },
      {
        name: "parameter",
        superClass: ["Element"],
        properties: [
          { name: "id", isAttr: true, type: "String" },
          { name: "type", isAttr: true, type: "String" },
          { name: "value", isAttr: true, type: "String" },
        ],
      },
    ],
  };
  if (typeof module !== "undefined" && module.exports) module.exports = descriptor;
  else root.SpiffworkflowModdle = descriptor;
})(this);
