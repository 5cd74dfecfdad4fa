// Links and buttons with data-opens="<dialog id>" open that native <dialog> instead of following
// the link; data-closes closes another first. Without JavaScript the links lead to plain pages.
document.addEventListener("click", (event) => {
  const trigger = event.target.closest("[data-opens]");
  if (!trigger) return;
  const dialog = document.getElementById(trigger.dataset.opens);
  if (!dialog || typeof dialog.showModal !== "function") return;
  event.preventDefault();
  const closing = trigger.dataset.closes && document.getElementById(trigger.dataset.closes);
  if (closing) closing.close();
  dialog.showModal();
});
