// sanjie reports page: follow queued and running report builds until they are done.
// The page works without it (reload to see the state); this polls each build's job.
"use strict";

(function () {
  const words = JSON.parse(document.getElementById("report-words")?.textContent || "{}");
  const POLL_MS = 1000;

  function link(name, href, text, cls) {
    const a = document.createElement("a");
    a.href = href;
    a.download = name;
    a.title = name;
    a.textContent = text;
    if (cls) a.className = cls;
    return a;
  }

  function downloads(links) {
    const box = document.createElement("span");
    box.className = "downloads";
    const csv = [];
    for (const [name, href] of Object.entries(links)) {
      const ext = name.split(".").pop();
      if (ext === "csv") csv.push([name, href]);
      else box.append(link(name, href, ext.toUpperCase(), `dl dl-${ext}`), " ");
    }
    if (csv.length) {
      const details = document.createElement("details");
      details.className = "csv";
      const summary = document.createElement("summary");
      summary.className = "dl dl-csv";
      summary.textContent = `CSV ×${csv.length}`;
      const list = document.createElement("ul");
      for (const [name, href] of csv) {
        const item = document.createElement("li");
        item.append(link(name, href, name));
        list.append(item);
      }
      details.append(summary, list);
      box.append(details);
    }
    return box;
  }

  // a finished build joins the list of earlier reports without a reload
  function listStored(row, report) {
    const table = document.getElementById("stored-reports");
    if (!table || table.querySelector(`tr[data-report="${report.id}"]`)) return;
    const names = JSON.parse(table.dataset.words || "{}");
    const body = table.tBodies[0];
    body.querySelectorAll("tr:not([data-report])").forEach((empty) => empty.remove());
    const tr = document.createElement("tr");
    tr.dataset.report = report.id;
    const cells = [
      row.cells[0].textContent, report.period, report.baseline, names[report.language] || report.language,
      report.by, report.created.slice(0, 16).replace("T", " "),
    ];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 2) td.dataset.label = names.baseline || "";
      tr.append(td);
    });
    const links = document.createElement("td");
    links.append(downloads(report.links));
    tr.append(links);
    body.prepend(tr);
    const count = table.closest("section")?.querySelector(".count");
    if (count) count.textContent = count.textContent.replace(/\d+\s*$/, (n) => String(Number(n) + 1));
  }

  function show(row, job) {
    row.dataset.state = job.state;
    row.className = row.className.replace(/\bstate-\w+/, `state-${job.state}`);
    row.querySelector(".state-word").textContent = words[job.state] || job.state;
    const bar = row.querySelector("progress");
    bar.max = job.progress.steps;
    bar.value = job.progress.step;
    row.querySelector(".job-error").textContent = job.error || "";
    if (job.report) {
      const cell = row.querySelector(".job-links");
      cell.replaceChildren(downloads(job.report.links));
      listStored(row, job.report);
    }
  }

  async function follow(row) {
    for (;;) {
      let reply;
      try {
        reply = await fetch(row.dataset.job, { credentials: "same-origin", cache: "no-store" });
      } catch (err) {
        reply = null;  // the controller restarting: try again
      }
      if (reply && reply.status === 404) {
        row.querySelector(".job-error").textContent = (await reply.json()).detail || "";
        return;
      }
      if (reply && reply.ok) {
        const job = await reply.json();
        show(row, job);
        if (job.state === "done" || job.state === "failed") return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  document.querySelectorAll("tr.job[data-job]").forEach((row) => {
    if (row.dataset.state === "queued" || row.dataset.state === "running") follow(row);
  });
})();
