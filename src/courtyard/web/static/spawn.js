// The spawn page: follow a server start through the hub's progress events (server-sent events).
// Each event's data is JSON: {"progress": 0-100, "message": "...", "ready": bool, "failed": bool,
// "url": "..."}. Every text from the hub goes in with textContent, never as HTML.
"use strict";

(() => {
  const root = document.getElementById("spawn");
  if (!root || !("EventSource" in window)) return;
  const bar = document.getElementById("spawn-progress");
  const log = document.getElementById("spawn-log");
  const failedBox = document.getElementById("spawn-failed");
  const errorText = document.getElementById("spawn-error");
  const source = new EventSource(root.dataset.progressUrl);
  let finished = false;

  // Only a path on this site (not "//host" or "/\host") may be followed.
  const localPath = (url) =>
    typeof url === "string" && /^\/(?![\/\\])/.test(url) ? url : null;

  const addLine = (text) => {
    const item = document.createElement("li");
    item.textContent = text;
    log.appendChild(item);
    item.scrollIntoView({ block: "nearest" });
  };

  const fail = (text) => {
    finished = true;
    source.close();
    root.classList.add("is-failed");
    errorText.textContent = text;
    failedBox.hidden = false;
    failedBox.querySelector("button").focus();
  };

  source.onmessage = (event) => {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    if (typeof data.progress === "number") {
      bar.value = Math.max(0, Math.min(100, data.progress));
    }
    if (data.message) addLine(String(data.message));
    if (data.failed) {
      fail(data.message ? String(data.message) : root.dataset.msgFailed);
    } else if (data.ready) {
      finished = true;
      source.close();
      bar.value = 100;
      // where the person was going (a notebook deep link); the ready url is only the root
      window.location.replace(localPath(root.dataset.nextUrl) || localPath(data.url) || "/hub/home");
    }
  };

  source.onerror = () => {
    if (!finished && source.readyState === EventSource.CLOSED) fail(root.dataset.msgLost);
  };
})();
