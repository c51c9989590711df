// Ask before destructive actions. <form data-confirm="确定删除…？"> or <button data-confirm="…">.
const DEFAULT_QUESTION = "确定要执行此操作吗？";

function question(el) {
  return el.getAttribute("data-confirm") || DEFAULT_QUESTION;
}

// Capture phase so the question comes before any other submit handler on the page.
document.addEventListener("submit", (e) => {
  const form = e.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
  if (form.dataset.jtConfirmed === "1") {
    delete form.dataset.jtConfirmed;
    return;
  }
  // A submitter that asked its own question already got an answer.
  if (e.submitter && e.submitter.hasAttribute("data-confirm")) return;
  if (!window.confirm(question(form))) {
    e.preventDefault();
    e.stopImmediatePropagation();
  }
}, true);

document.addEventListener("click", (e) => {
  const button = e.target.closest && e.target.closest("button[data-confirm], input[type=submit][data-confirm], a[data-confirm]");
  if (!button || button.disabled) return;
  if (!window.confirm(question(button))) {
    e.preventDefault();
    e.stopImmediatePropagation();
    return;
  }
  // Older engines (no SubmitEvent.submitter): mark the form so its own data-confirm is not asked again.
  const form = button.form;
  if (form && form.hasAttribute("data-confirm")) {
    form.dataset.jtConfirmed = "1";
    // The submit (if any) fires within this task; a blocked one (invalid fields) must not skip the next question.
    setTimeout(() => delete form.dataset.jtConfirmed, 0);
  }
}, true);
