// The console's own script. Every page works without it; with it, the NHS.UK frontend's
// components start, and a warning comes before an idle console signs its user out (the live
// triage queue is htmx, declared in the page).
import { initAll } from "/assets/nhsuk-frontend.min.js";

document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
initAll();

// The server ends a session idle for `data-idle-seconds`; it notes a use at most once a
// minute, so the warning counts from a minute before this page loaded.
const idleSeconds = Number(document.body.dataset.idleSeconds || 0) - 60;
const banner = document.getElementById("idle-warning");
if (idleSeconds > 0 && banner) {
  const warnBefore = Math.min(120, Math.floor(idleSeconds / 2));
  const minutesLeft = document.getElementById("idle-warning-minutes");
  const stay = document.getElementById("stay-signed-in");
  const csrf = document.querySelector("input[name=csrf_token]");
  let lastUse = Date.now();

  const check = () => {
    const left = idleSeconds - (Date.now() - lastUse) / 1000;
    if (left <= 0) {
      window.location.assign("/login?timed_out=1");
      return;
    }
    if (left <= warnBefore) {
      minutesLeft.textContent =
        left > 60 ? `${Math.ceil(left / 60)} minutes` : "less than a minute";
      if (banner.hidden) {
        banner.hidden = false;
        stay.focus();
      }
    }
  };
  setInterval(check, 5000);

  stay.addEventListener("click", async () => {
    const body = new URLSearchParams({ csrf_token: csrf ? csrf.value : "" });
    const answer = await fetch("/console/stay-signed-in", {
      method: "POST",
      body,
      credentials: "same-origin",
      redirect: "manual",
    });
    if (answer.status === 204) {
      lastUse = Date.now();
      banner.hidden = true;
    } else {
      window.location.assign("/login?timed_out=1");
    }
  });
}
