// Shared by the back office's live pages: a page token over the session, the API with it, a socket that reconnects.
"use strict";
(function () {
  const root = document.getElementById("brigada-page");
  const state = { token: null, expiresAt: 0, pending: null };

  // One request at a time: the socket and the first API call ask together on load.
  function token(force) {
    if (!force && state.token && Date.now() < state.expiresAt - 60000) return Promise.resolve(state.token);
    if (!state.pending) state.pending = fetchToken().finally(() => { state.pending = null; });
    return state.pending;
  }

  async function fetchToken() {
    const response = await fetch(root.dataset.tokenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": root.dataset.csrf },
    });
    if (!response.ok) throw new Error("page token refused: " + response.status);
    const body = await response.json();
    state.token = body.token;
    state.expiresAt = Date.parse(body.expires_at);
    return state.token;
  }

  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + (await token(false)), Accept: "application/json" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["Idempotency-Key"] = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
    }
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = response.status === 204 ? null : await response.json();
    if (!response.ok) {
      const error = (data && data.error) || {};
      const failure = new Error(error.message || "HTTP " + response.status);
      failure.code = error.code;
      failure.fields = error.fields;
      throw failure;
    }
    return data;
  }

  // A socket that comes back: a closed connection is reopened with a fresh token, with a growing pause.
  function socket(path, onMessage, onStatus) {
    let pause = 500;
    async function open() {
      let raw;
      try {
        raw = await token(false);
      } catch (failure) {
        onStatus("offline", String(failure));
        setTimeout(open, Math.min((pause *= 2), 15000));
        return;
      }
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const ws = new WebSocket(scheme + "://" + location.host + path, ["bearer", raw]);
      ws.onopen = function () {
        pause = 500;
        onStatus("live");
      };
      ws.onmessage = function (event) {
        onMessage(JSON.parse(event.data));
      };
      ws.onclose = function (event) {
        onStatus("offline", "code " + event.code);
        if (event.code === 4401) state.token = null; // the token expired or its session ended
        if (event.code === 4403 || event.code === 4404) return; // no right to watch: do not hammer
        setTimeout(open, Math.min((pause *= 2), 15000));
      };
    }
    open();
  }

  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (key === "text") node.textContent = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function status(text, detail) {
    const badge = document.getElementById("socket-status");
    badge.dataset.state = text;
    badge.textContent = root.dataset["status" + text[0].toUpperCase() + text.slice(1)] || text;
    badge.title = detail || "";
  }

  window.BrigadaPage = { root, token, api, socket, element, status };
})();
