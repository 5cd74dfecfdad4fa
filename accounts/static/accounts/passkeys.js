// After django-otp-webauthn's script registers a passkey, open the page that names it.
document.addEventListener("otp_webauthn.register_complete", (event) => {
  const holder = document.querySelector("[data-passkey-name-url]");
  if (!holder || !event.detail || !event.detail.id) return;
  const url = holder.dataset.passkeyNameUrl.replace("/0/", `/${Number(event.detail.id)}/`);
  window.location.assign(`${url}?new=1`);
});
