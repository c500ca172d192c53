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
  // Each list is a live region (role=log): keep it and change only the messages that are new
  // or changed, so a screen reader reads out those and not the whole conversation again.
  function merge(list, fresh) {
    var old = list.children, now = fresh.children, i;
    for (i = 0; i < now.length; i++) {
      var node = document.importNode(now[i], true);
      if (i >= old.length) list.appendChild(node);
      else if (old[i].outerHTML !== now[i].outerHTML) list.replaceChild(node, old[i]);
    }
    while (old.length > now.length) list.removeChild(list.lastElementChild);
  }
  function update(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var lists = panes.querySelectorAll(".messages");
    var fresh = doc.querySelectorAll(".messages");
    if (lists.length !== fresh.length) { panes.innerHTML = html; return; }
    for (var i = 0; i < lists.length; i++) merge(lists[i], fresh[i]);
  }
  scrollDown();
  setInterval(function () {
    if (busy()) return;
    fetch(panes.dataset.feed, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html && !busy() && html !== panes.dataset.last) {
          panes.dataset.last = html;
          update(html);
          scrollDown();
        }
      })
      .catch(function () {});
  }, 3000);
})();
