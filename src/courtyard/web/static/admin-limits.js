// The admin page's memory, CPU and GPU cells, refreshed every 5 s from /hub/admin/limits.json.
"use strict";

(() => {
  const EVERY_MS = 5000;

  function update(data) {
    for (const row of document.querySelectorAll("#users tr[data-user]")) {
      const cells = data.servers[row.dataset.user];
      if (cells) {
        row.querySelector("td.memory").textContent = cells.memory;
        row.querySelector("td.cpu").textContent = cells.cpu;
      }
      // named servers: keyed "user/server", shown in the row's list
      for (const item of row.querySelectorAll("li[data-server]")) {
        const named = data.servers[`${row.dataset.user}/${item.dataset.server}`];
        const memory = item.querySelector(".limits .memory");
        if (!named || !memory) continue;
        memory.textContent = named.memory;
        item.querySelector(".limits .cpu").textContent = named.cpu;
      }
    }
    for (const gpu of data.gpus) {
      const row = document.querySelector(`#gpus tr[data-device="${CSS.escape(gpu.device)}"]`);
      const holder = row && row.querySelector("td.holder");
      if (holder) holder.textContent = gpu.holder || holder.dataset.free || "free";
    }
  }

  async function refresh() {
    try {
      const reply = await fetch("/hub/admin/limits.json", { credentials: "same-origin" });
      if (reply.ok) update(await reply.json());
    } catch (error) {
      // the hub restarting: try again at the next tick
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (document.querySelector("#users")) setInterval(refresh, EVERY_MS);
  });
})();
