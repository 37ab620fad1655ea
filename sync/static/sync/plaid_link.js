/* Plaid Link in the admin: fetch a link token from the admin (session + CSRF), open Link with it, and
   post the public token Link gives back with the form ("Add a Plaid connection", a Plaid "Reconnect").
   Plaid's own script (link-initialize.js) defines window.Plaid; nothing else is loaded from outside. */
(function () {
  "use strict";

  function show(status, text) {
    status.textContent = text;
    status.hidden = !text;
  }

  function linkToken(form) {
    var body = new URLSearchParams();
    var investments = form.querySelector("input[name=investments]");
    if (investments && investments.checked) body.set("investments", "1");
    if (form.dataset.connectionId) body.set("connection_id", form.dataset.connectionId);
    return fetch(form.dataset.linkTokenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value},
      body: body,
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (!response.ok || !answer.link_token) {
          throw new Error("Plaid Link could not start: " + (answer.message || "the server answered " + response.status));
        }
        return answer.link_token;
      });
    });
  }

  function wire(form) {
    var button = form.querySelector("[data-plaid-open]");
    var status = form.querySelector(".plaid-link-status");
    button.addEventListener("click", function () {
      button.disabled = true;
      show(status, "");
      linkToken(form).then(function (token) {
        if (!window.Plaid || typeof window.Plaid.create !== "function") {
          throw new Error("Plaid Link did not load (is cdn.plaid.com reachable?); nothing was changed.");
        }
        window.Plaid.create({
          token: token,
          onSuccess: function (publicToken) {
            form.querySelector("input[name=public_token]").value = publicToken;
            form.submit();
          },
          onExit: function (error) {
            button.disabled = false;
            var why = error && (error.display_message || error.error_message || error.error_code);
            show(status, "Plaid Link was closed" + (why ? " (" + why + ")" : "") + ": nothing was changed.");
          },
        }).open();
      }).catch(function (error) {
        button.disabled = false;
        show(status, error.message);
      });
    });
  }

  document.querySelectorAll("form[data-plaid-link]").forEach(wire);
})();
