// The replay's recording players (web/pages/templates/audit_tender.html): one video per participant
// and source, its archived files drawn as segments on the session's span (gaps: no recording), the
// moments its stream stalled as red marks. A click on a timeline entry's "看此刻录像" (or on a track)
// seeks every player to that moment; a player with no file at that moment shows its gap notice.
"use strict";
(function () {
  const source = document.getElementById("tp-recordings-data");
  if (!source) return;
  const data = JSON.parse(source.textContent);
  const span = Math.max(data.to - data.from, 0.001);
  const pct = (unix) => `${(Math.min(Math.max((unix - data.from) / span, 0), 1) * 100).toFixed(3)}%`;
  const zone = document.querySelector('meta[name="time-zone"]')?.content || undefined;
  const clock = (unix) =>
    new Date(unix * 1000).toLocaleTimeString(window.pbLang === "en" ? "en-GB" : "zh-CN", { timeZone: zone, hour12: false });
  const players = [...document.querySelectorAll(".tp-player")].map((figure) => {
    const p = data.players[Number(figure.dataset.index)];
    const track = figure.querySelector(".tp-track");
    for (const s of p.segments) {
      const seg = document.createElement("span");
      seg.className = "tp-seg";
      seg.style.left = pct(s.start);
      seg.style.width = `calc(${pct(s.start + s.duration)} - ${pct(s.start)})`;
      seg.title = `${clock(s.start)} – ${clock(s.start + s.duration)}`;
      track.appendChild(seg);
    }
    for (const at of p.stalls) {
      const mark = document.createElement("span");
      mark.className = "tp-stall";
      mark.style.left = pct(at);
      mark.title = `${t("录像中断")} ${clock(at)}`;
      track.appendChild(mark);
    }
    track.addEventListener("click", (ev) => {
      const box = track.getBoundingClientRect();
      seekAll(data.from + ((ev.clientX - box.left) / box.width) * span);
    });
    return { p, figure, video: figure.querySelector("video"), gap: figure.querySelector(".tp-gap"),
      cursor: figure.querySelector(".tp-cursor"), clock: figure.querySelector(".tp-clock") };
  });

  function seek(player, unix) {
    const { p, video, gap, cursor } = player;
    cursor.style.left = pct(unix);
    player.clock.textContent = clock(unix);
    const seg = p.segments.find((s) => s.start <= unix && unix < s.start + s.duration);
    player.figure.classList.toggle("tp-in-gap", !seg);
    gap.hidden = Boolean(seg);
    if (!seg) {
      video.pause();
      video.hidden = true;
      return;
    }
    video.hidden = false;
    const at = unix - seg.start;
    if (video.dataset.src !== seg.url) {
      video.dataset.src = seg.url;
      video.src = seg.url;
      video.addEventListener("loadedmetadata", () => { video.currentTime = at; }, { once: true });
    } else {
      video.currentTime = at;
    }
  }

  function seekAll(unix) {
    for (const player of players) seek(player, unix);
    document.body.dataset.replaySeek = String(unix);
  }

  document.addEventListener("click", (ev) => {
    const link = ev.target.closest(".tp-seek");
    if (!link) return;
    ev.preventDefault();
    seekAll(Number(link.dataset.unix));
    document.getElementById("recordings").scrollIntoView({ block: "start" });
  });
  seekAll(data.from);
})();
