// The sources panel's js_on_load (Gradio gives it `element`): "Copy citation" copies a plain-text reference.
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.copy');
  if (!button) return;
  const text = button.dataset.citation;
  const done = () => {
    button.textContent = 'Copied';
    setTimeout(() => { button.textContent = 'Copy citation'; }, 1500);
  };
  const fallback = () => {  // plain http on a LAN address has no clipboard API
    const area = document.createElement('textarea');
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand('copy');
    area.remove();
    done();
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
  else fallback();
});
