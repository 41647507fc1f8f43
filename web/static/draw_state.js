// The draw page while a draw waits for its beacon round (申请已提交): the page follows the draw
// and shows its outcome when the round has come, without the officer reloading.
"use strict";
(function () {
  const box = document.getElementById("draw-state");
  if (!box || box.dataset.state !== "requested") return;
  const tender = box.dataset.tender;
  const look = async () => {
    try {
      const draw = await window.pb.api("GET", `/api/tenders/${tender}/draw`);
      if (draw.state !== "requested") { location.reload(); return; }
    } catch (e) {
      /* a network hiccup: look again */
    }
    setTimeout(look, 1500);
  };
  setTimeout(look, 1000);
})();
