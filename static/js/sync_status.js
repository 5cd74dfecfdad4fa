// While a sync is queued or running, ask the portal every few seconds how it is going, and
// reload the panel when it has finished. Without JavaScript the page shows the state it had.
(function () {
  const holder = document.querySelector("[data-sync-status][data-active]");
  if (!holder) return;
  const url = holder.dataset.statusUrl;
  const poll = () =>
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : null))
      .then((state) => {
        if (state && !state.is_active) window.location.reload();
        else window.setTimeout(poll, 3000);
      })
      .catch(() => window.setTimeout(poll, 10000));
  window.setTimeout(poll, 3000);
})();
