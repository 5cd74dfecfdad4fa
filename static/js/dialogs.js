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

// A form with data-confirm-changes asks first when a field marked data-consequence="<dialog id>"
// has changed (for a checkbox with data-consequence-when="unchecked", only when it was cleared):
// it opens that dialog, whose data-confirms="<form id>" button then submits the form. Without
// JavaScript the form submits as it is.
function changedConsequence(form) {
  return Array.from(form.querySelectorAll("[data-consequence]")).find((field) => {
    if (field.type === "checkbox") {
      if (field.dataset.consequenceWhen === "unchecked") return field.defaultChecked && !field.checked;
      return field.checked !== field.defaultChecked;
    }
    if (field.tagName === "SELECT") {
      return Array.from(field.options).some((option) => option.selected !== option.defaultSelected);
    }
    return field.value !== field.defaultValue;
  });
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches("form[data-confirm-changes]") || form.dataset.confirmed) return;
  const field = changedConsequence(form);
  const dialog = field && document.getElementById(field.dataset.consequence);
  if (!dialog || typeof dialog.showModal !== "function") return;
  event.preventDefault();
  dialog.showModal();
});

document.addEventListener("click", (event) => {
  const trigger = event.target.closest("[data-confirms]");
  if (!trigger) return;
  const form = document.getElementById(trigger.dataset.confirms);
  if (!form) return;
  const dialog = trigger.closest("dialog");
  if (dialog) dialog.close();
  form.dataset.confirmed = "true";
  form.requestSubmit();
});
