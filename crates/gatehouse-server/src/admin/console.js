// Progressive enhancement only: every console task works without this file.
// A one-time link is selected when focused, so it can be copied at once.
document.addEventListener("focusin", (event) => {
  if (event.target instanceof HTMLInputElement && event.target.classList.contains("ticket")) {
    event.target.select();
  }
});

// A running job's page follows the job: its figures every two seconds, and the whole
// page once it has finished (to show its errors or its download).
const job = document.getElementById("job");
if (job && job.dataset.finished !== "true") {
  const show = (name, text) => {
    const element = job.querySelector(`[data-field="${name}"]`);
    if (element) element.textContent = text;
  };
  const poll = async () => {
    try {
      const response = await fetch(job.dataset.progress, { headers: { accept: "application/json" } });
      if (!response.ok) throw new Error(`progress: ${response.status}`);
      const p = await response.json();
      if (p.status === "completed" || p.status === "failed") {
        window.location.reload();
        return;
      }
      show("status", p.status);
      show("percentage_done", String(p.percentage_done));
      show("time_left", p.time_left_seconds ? `, about ${p.time_left_seconds} s left` : "");
      const bar = job.querySelector("progress");
      if (bar) bar.value = p.percentage_done;
      const s = p.summary;
      if (s && s.total !== undefined) {
        show("counts", `${s.total} in the file: ${s.inserted ?? 0} new, ${s.updated ?? 0} updated, ${s.failed ?? 0} failed`);
      }
    } catch {
      // The next tick tries again.
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
}

// Branding: the preview follows the form as it is typed in (the "Preview" button does the
// same without JavaScript).
const brandingForm = document.getElementById("branding-form");
const previewButton = document.getElementById("preview-button");
if (brandingForm && previewButton) {
  let timer;
  brandingForm.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (brandingForm.checkValidity()) brandingForm.requestSubmit(previewButton);
    }, 400);
  });
}
