// While a sync is queued or running, ask the portal every few seconds how it is going, show its
// progress, and reload the panel when it has finished. Without JavaScript the page shows the
// state it had.
(function () {
  const holder = document.querySelector("[data-sync-status][data-active]");
  if (!holder) return;
  const url = holder.dataset.statusUrl;
  const shown = holder.querySelector("[data-sync-progress]");
  const poll = () =>
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : null))
      .then((state) => {
        if (state && !state.is_active) return window.location.reload();
        if (state && shown && state.progress) shown.textContent = state.progress;
        window.setTimeout(poll, 2000);
      })
      .catch(() => window.setTimeout(poll, 10000));
  window.setTimeout(poll, 2000);
})();
