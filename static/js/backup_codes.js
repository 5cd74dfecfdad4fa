// Download and print buttons for the backup-codes page (the page works without them).
(function () {
  const list = document.getElementById("backup-codes");
  if (!list) return;
  const codes = Array.from(list.querySelectorAll("code"), (el) => el.textContent.trim());

  const download = document.querySelector("[data-download-codes]");
  download.hidden = false;
  download.addEventListener("click", () => {
    const text = "The Gap Portal backup codes\nEach code works once.\n\n" + codes.join("\n") + "\n";
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    link.download = "gap-portal-backup-codes.txt";
    link.click();
    URL.revokeObjectURL(link.href);
  });

  const print = document.querySelector("[data-print]");
  print.hidden = false;
  print.addEventListener("click", () => window.print());
})();
