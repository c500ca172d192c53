// 模拟群聊: "回复" buttons fill the composer's reply_to; the conversation refreshes itself
// while nobody is typing. No framework, no CDN.
(function () {
  var panes = document.getElementById("panes");
  if (!panes) return;
  panes.addEventListener("click", function (ev) {
    var t = ev.target;
    if (t.classList.contains("reply")) {
      var pane = t.closest(".pane");
      var form = pane.querySelector(".composer");
      form.reply_to.value = t.dataset.reply;
      form.querySelector(".replying").hidden = false;
      form.text.focus();
    } else if (t.classList.contains("cancel")) {
      var f = t.closest("form");
      f.reply_to.value = "";
      f.querySelector(".replying").hidden = true;
    }
  });
  function busy() {
    var forms = panes.querySelectorAll(".composer");
    for (var i = 0; i < forms.length; i++) {
      if (forms[i].text.value || forms[i].reply_to.value) return true;
    }
    return panes.contains(document.activeElement) && document.activeElement.tagName === "TEXTAREA";
  }
  function scrollDown() {
    panes.querySelectorAll(".messages").forEach(function (m) { m.scrollTop = m.scrollHeight; });
  }
  scrollDown();
  setInterval(function () {
    if (busy()) return;
    fetch(panes.dataset.feed, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html && !busy() && html !== panes.dataset.last) {
          panes.dataset.last = html;
          panes.innerHTML = html;
          scrollDown();
        }
      })
      .catch(function () {});
  }, 3000);
})();
