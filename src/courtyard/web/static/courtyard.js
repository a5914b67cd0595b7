// Courtyard pages: small touches that need script (the pages work without it).
"use strict";

// Show <time data-local> elements in the reader's own time zone and language.
document.addEventListener("DOMContentLoaded", () => {
  const lang = document.documentElement.lang || undefined;
  for (const element of document.querySelectorAll("time[data-local]")) {
    const when = new Date(element.dateTime);
    if (Number.isNaN(when.getTime())) continue;
    element.title = element.textContent;
    element.textContent = when.toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
  }
});
