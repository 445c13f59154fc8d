/// The console's one script, served from `/console/static/console.js` (the policy allows no inline
/// script). Progressive enhancement only: every page works without it.
///
/// - A page whose `<body>` has `data-long-poll` (a pending verification) long-polls that API URL
///   (`GET /v1/verifications/{id}?wait=S`, the API's own long poll, with the browser's client
///   certificate) and reloads once the status is no longer `pending`; on an error it tries again
///   after 10 s. Without script the page refreshes every 10 s instead (`<noscript>` meta refresh).
/// - An `<input type="file" data-fills="ID">` reads the chosen file (UTF-8) into the textarea
///   `ID`, so a CSV file can be uploaded through the plain form.
enum ConsoleScript {
    static let javaScript = """
        (function () {
          "use strict";
          var url = document.body.getAttribute("data-long-poll");
          if (url && window.fetch) {
            var poll = function () {
              fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
                .then(function (response) {
                  if (!response.ok) { throw new Error("HTTP " + response.status); }
                  return response.json();
                })
                .then(function (verification) {
                  if (verification.status !== "pending") { window.location.reload(); } else { poll(); }
                })
                .catch(function () { window.setTimeout(poll, 10000); });
            };
            poll();
          }
          var inputs = document.querySelectorAll("input[type=file][data-fills]");
          Array.prototype.forEach.call(inputs, function (input) {
            input.addEventListener("change", function () {
              var target = document.getElementById(input.getAttribute("data-fills"));
              var file = input.files && input.files[0];
              if (!target || !file || !window.FileReader) { return; }
              var reader = new FileReader();
              reader.onload = function () { target.value = String(reader.result); };
              reader.readAsText(file, "utf-8");
            });
          });
        })();
        """
}
