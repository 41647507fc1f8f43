// 评标舱 booth page: camera & microphone check; media through the platform's Janus (booth-sfu.js,
// recorded, docs/media.md) or, when the platform has none, a mesh of RTCPeerConnections (one per
// remote participant) negotiated with "perfect negotiation"; a connection-quality indicator, a mute
// indicator and speaker highlight per participant, screen sharing; reconnect with the same identity
// and ICE restart. Protocol: docs/signaling.md; guide: docs/booth.md.
"use strict";

(() => {
  const root = document.getElementById("booth");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const ROOM = root.dataset.room;
  const SELF = root.dataset.id;
  const ROLE = root.dataset.role;
  const TOKEN_URL = root.dataset.tokenUrl;
  const STATS_EVERY_MS = 2000;
  const MAX_BACKOFF_MS = 8000;
  const ROLE_LABELS = { host: t("主持人"), supervisor: t("监管"), expert: t("专家"), observer: t("旁听") };

  // Close codes (docs/signaling.md) → a one-line message in plain words, and whether to try again.
  const CLOSES = {
    1000: { retry: false, text: t("您已离开评标舱。") },
    1009: { retry: false, text: t("消息过大，连接被关闭，请刷新页面。") },
    4001: { retry: false, text: t("入场凭证无效，请刷新页面。") },
    4002: { retry: true, text: t("入场凭证已过期，正在重新获取…") },
    4003: { retry: false, text: t("入场凭证不属于这个评标舱。") },
    4004: { retry: false, text: t("评标舱已满（最多 12 人）。") },
    4005: { retry: false, text: t("您已被主持人移出评标舱。") },
    4006: { retry: false, text: t("您已在另一个窗口或设备加入，本窗口已停止。") },
    4007: { retry: true, text: t("连接长时间无响应，正在重新连接…") },
    4008: { retry: false, text: t("协议错误，请刷新页面。") },
    4009: { retry: true, text: t("消息过多，稍后重新连接…") },
    4010: { retry: true, text: t("网络太慢，未能及时接收消息，正在重新连接…") },
    4011: { retry: true, text: t("进出评标舱过于频繁，稍后自动重新加入…") },
  };

  const state = {
    ws: null,
    joined: false,
    stopped: false, // left, removed, or refused for good: no more reconnects
    attempt: 0,
    expiredInARow: 0,
    heartbeat: null,
    reconnectTimer: null,
    iceServers: [],
    local: null, // MediaStream from the camera check
    peers: new Map(), // id → peer
    events: [], // presence messages received, in order (shown to tests through window.booth)
    serial: 0,
    removedReason: "",
    media: null, // the platform's media grant: {mode: "sfu", url} or {mode: "mesh", reason}
    sfu: null, // BoothSfu while connected to the media server
    sfuAttempt: 0,
    sfuTimer: null,
    remote: new Map(), // "<id>/<source>" → MediaStream received through the media server
    screen: null, // MediaStream of our shared screen
    mediaOf: new Map(), // id → {audio, video, screen} as that participant last said
  };
  const sfuMode = () => state.media?.mode === "sfu";

  // -- small helpers ---------------------------------------------------------------------------

  function showError(text) {
    const el = $("error");
    el.textContent = text || "";
    el.hidden = !text;
  }

  function setStatus(kind, text) {
    const el = $("status");
    el.dataset.state = kind;
    el.textContent = text;
  }

  function send(msg) {
    const ws = state.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  function politeToward(peer) {
    // aiortc cannot roll back an offer: a browser is always the polite side toward it.
    if (peer.aiortc) return true;
    if ((ROLE === "host") !== (peer.role === "host")) return ROLE === "host"; // the host is polite
    return SELF < peer.id;
  }

  // aiortc writes its session origin as "- <n> <n> IN IP4 0.0.0.0"; browsers do not.
  const AIORTC_ORIGIN = /^o=- (\d+) \1 IN IP4 0\.0\.0\.0\r?$/m;
  function fingerprint(sdp) {
    const m = /^a=fingerprint:(.+?)\r?$/m.exec(sdp || "");
    return m ? m[1].trim().toLowerCase() : "";
  }

  // -- camera and microphone check -------------------------------------------------------------

  let meterContext = null;

  async function openMedia(videoId, audioId) {
    const constraints = {
      video: videoId ? { deviceId: { exact: videoId } } : { width: { ideal: 640 }, height: { ideal: 360 } },
      audio: audioId ? { deviceId: { exact: audioId } } : { echoCancellation: true, noiseSuppression: true },
    };
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    const old = state.local;
    state.local = stream;
    $("preview").srcObject = stream;
    $("self-video").srcObject = stream;
    applyMuteState();
    startMeter(stream);
    if (old) {
      for (const peer of state.peers.values()) replaceTracks(peer, stream);
      for (const track of stream.getTracks()) state.sfu?.replaceTrack(track.kind, track);
      old.getTracks().forEach((t) => t.stop());
    }
    return stream;
  }

  function startMeter(stream) {
    if (!stream.getAudioTracks().length) return;
    try {
      meterContext?.close();
      meterContext = new AudioContext();
      const source = meterContext.createMediaStreamSource(stream);
      const analyser = meterContext.createAnalyser();
      analyser.fftSize = 512;
      source.connect(analyser);
      const data = new Float32Array(analyser.fftSize);
      const fill = $("level");
      const tick = () => {
        if (meterContext?.state === "closed" || analyser.context !== meterContext) return;
        analyser.getFloatTimeDomainData(data);
        let sum = 0;
        for (const v of data) sum += v * v;
        const rms = Math.sqrt(sum / data.length);
        const level = Math.min(1, rms * 4);
        fill.style.width = `${Math.round(level * 100)}%`;
        fill.dataset.level = level.toFixed(3);
        fill.classList.toggle("loud", level > 0.85);
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    } catch (err) {
      console.warn("audio level meter unavailable", err);
    }
  }

  async function listDevices() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const fill = (select, kind, track) => {
      const current = track?.getSettings().deviceId;
      select.replaceChildren();
      for (const d of devices.filter((x) => x.kind === kind)) {
        const opt = new Option(d.label || d.deviceId.slice(0, 8), d.deviceId, false, d.deviceId === current);
        select.append(opt);
      }
      select.disabled = select.options.length < 2;
    };
    fill($("camera-select"), "videoinput", state.local?.getVideoTracks()[0]);
    fill($("mic-select"), "audioinput", state.local?.getAudioTracks()[0]);
  }

  async function check() {
    try {
      await openMedia();
      await listDevices();
      $("check-status").textContent = t("摄像头和麦克风正常：对着麦克风说话，音量条应会跳动。");
    } catch (err) {
      console.warn("getUserMedia failed", err);
      $("check-status").textContent = t("无法打开摄像头或麦克风（检查浏览器权限）；仍可加入，但他人看不到、听不到您。");
    }
    $("join").disabled = false;
  }

  async function switchDevice() {
    try {
      await openMedia($("camera-select").value || undefined, $("mic-select").value || undefined);
    } catch (err) {
      showError(t("无法切换设备。"));
    }
  }

  // -- mute --------------------------------------------------------------------------------------

  const muted = { audio: false, video: false };

  function applyMuteState() {
    for (const t of state.local?.getAudioTracks() || []) t.enabled = !muted.audio;
    for (const t of state.local?.getVideoTracks() || []) t.enabled = !muted.video;
    const mute = $("mute");
    mute.setAttribute("aria-pressed", String(muted.audio));
    mute.textContent = muted.audio ? t("取消静音") : t("静音");
    const cam = $("camera");
    cam.setAttribute("aria-pressed", String(muted.video));
    cam.textContent = muted.video ? t("打开摄像头") : t("关闭摄像头");
    document.querySelector("#tile-self .mic-off").hidden = !muted.audio;
    sendMediaState();
  }

  function sendMediaState() {
    if (!state.joined) return;
    const audio = !muted.audio && Boolean(state.local?.getAudioTracks().length);
    const video = !muted.video && Boolean(state.local?.getVideoTracks().length);
    send({ type: "media-state", audio, video, screen: Boolean(state.screen) });
  }

  function showPeerMedia(peer) {
    const m = state.mediaOf.get(peer.id);
    peer.tile.querySelector(".mic-off").hidden = !m || m.audio;
    peer.tile.querySelector(".cam-off").hidden = !m || m.video;
    peer.tile.querySelector(".sharing").hidden = !m || !m.screen;
    peer.tile.dataset.mic = m ? (m.audio ? "on" : "off") : "unknown";
  }

  function setMuted(kind, value) {
    muted[kind] = value;
    applyMuteState();
  }

  // -- tiles -------------------------------------------------------------------------------------

  // -- media through the platform's media server (booth-sfu.js) ------------------------------------

  function remoteStream(id, source) {
    const key = `${id}/${source}`;
    let stream = state.remote.get(key);
    if (!stream) {
      stream = new MediaStream();
      state.remote.set(key, stream);
    }
    return stream;
  }

  function showScreen(id) {
    const peer = state.peers.get(id);
    if (!peer) return;
    const live = remoteStream(id, "screen").getVideoTracks().some((t) => t.readyState === "live");
    const video = peer.tile.querySelector("video.screen");
    video.hidden = !live;
    peer.tile.classList.toggle("has-screen", live);
    if (live) video.play?.().catch(() => {});
  }

  function onSfuTrack(account, source, track) {
    const stream = remoteStream(account, source);
    for (const old of stream.getTracks()) {
      if (old.kind === track.kind && old !== track) stream.removeTrack(old);
    }
    if (!stream.getTracks().includes(track)) stream.addTrack(track);
    track.addEventListener("ended", () => {
      stream.removeTrack(track);
      showScreen(account);
    });
    const peer = state.peers.get(account);
    if (peer && source === "camera") peer.tile.querySelector("video.camera").play?.().catch(() => {});
    showScreen(account);
  }

  function onSfuTrackGone(account, source, track) {
    const stream = remoteStream(account, source);
    for (const t of stream.getTracks()) {
      if (!track || t === track) stream.removeTrack(t);
    }
    showScreen(account);
  }

  async function startSfu() {
    clearTimeout(state.sfuTimer);
    if (!sfuMode() || state.sfu || state.stopped || !state.joined) return;
    const sfu = new window.BoothSfu({
      url: state.media.url,
      self: SELF,
      iceServers: state.iceServers,
      onTrack: onSfuTrack,
      onTrackGone: onSfuTrackGone,
      onChange: () => state.peers.forEach(renderQuality),
      onLost: () => {
        if (state.sfu !== sfu) return;
        state.sfu = null;
        setMediaNote(t("与录音录像服务器的连接中断，正在重新连接…"));
        scheduleSfu();
      },
    });
    state.sfu = sfu;
    try {
      await sfu.start(state.local);
      if (state.screen) await sfu.publish("screen", state.screen);
      state.sfuAttempt = 0;
      setMediaNote("");
    } catch (err) {
      console.warn("media server", err);
      sfu.fail(err);
    }
  }

  function scheduleSfu() {
    if (state.stopped) return;
    const delay = Math.min(MAX_BACKOFF_MS, 300 * 2 ** state.sfuAttempt) * (0.75 + Math.random() / 2);
    state.sfuAttempt += 1;
    clearTimeout(state.sfuTimer);
    state.sfuTimer = setTimeout(startSfu, delay);
  }

  function stopSfu() {
    clearTimeout(state.sfuTimer);
    const sfu = state.sfu;
    state.sfu = null;
    sfu?.close();
  }

  function setMediaNote(text) {
    const el = $("media-note");
    el.textContent = text;
    el.hidden = !text;
  }

  // -- screen sharing (桌面共享) ------------------------------------------------------------------

  async function shareScreen() {
    if (state.screen) return stopScreen();
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 10 } }, audio: false });
    } catch (err) {
      showError(t("未能共享屏幕（已取消或浏览器不允许）。"));
      return;
    }
    state.screen = stream;
    const track = stream.getVideoTracks()[0];
    track.addEventListener("ended", () => stopScreen());
    $("self-screen").srcObject = stream;
    $("self-screen").hidden = false;
    if (sfuMode()) {
      try {
        await state.sfu?.publish("screen", stream);
      } catch (err) {
        console.warn("screen publish", err);
      }
    } else {
      // the mesh sends one picture per participant: the screen takes the camera's place while shared
      for (const peer of state.peers.values()) {
        for (const sender of peer.pc?.getSenders() || []) {
          if (sender.track?.kind === "video") sender.replaceTrack(track).catch(() => {});
        }
      }
    }
    renderShare();
  }

  async function stopScreen() {
    const stream = state.screen;
    if (!stream) return;
    state.screen = null;
    stream.getTracks().forEach((tr) => tr.stop());
    $("self-screen").srcObject = null;
    $("self-screen").hidden = true;
    if (sfuMode()) await state.sfu?.unpublish("screen");
    else for (const peer of state.peers.values()) replaceTracks(peer, state.local || new MediaStream());
    renderShare();
  }

  function renderShare() {
    const btn = $("share");
    btn.setAttribute("aria-pressed", String(Boolean(state.screen)));
    btn.textContent = state.screen ? t("停止共享") : t("共享屏幕");
    document.querySelector("#tile-self .sharing").hidden = !state.screen;
    sendMediaState();
  }

  // -- who is speaking (发言者高亮) -----------------------------------------------------------------

  const SPEAKING_LEVEL = 0.02; // audio level (0..1) above which a participant counts as speaking
  const SPEAKER_HOLD_MS = 1200;
  const speaker = { id: null, at: 0 };

  async function audioEnergy(peer) {
    const pc = peer.pc || state.sfu?.sub?.pc;
    const out = { energy: 0, duration: 0 };
    if (!pc) return out;
    const mids = peer.pc ? null : new Set([...(state.sfu?.sub?.mids || [])].filter(([, i]) => i.account === peer.id && i.kind === "audio").map(([m]) => m));
    (await pc.getStats()).forEach((s) => {
      if (s.type !== "inbound-rtp" || s.kind !== "audio" || (mids && !mids.has(s.mid))) return;
      out.energy += s.totalAudioEnergy || 0;
      out.duration += s.totalSamplesDuration || 0;
    });
    return out;
  }

  async function speakerTick() {
    let best = null;
    let bestLevel = SPEAKING_LEVEL;
    for (const peer of state.peers.values()) {
      let now;
      try {
        now = await audioEnergy(peer);
      } catch (_) {
        continue;
      }
      const prev = peer.energy;
      peer.energy = now;
      const m = state.mediaOf.get(peer.id);
      if (!prev || now.duration <= prev.duration || (m && !m.audio)) continue;
      const level = Math.sqrt(Math.max(0, now.energy - prev.energy) / (now.duration - prev.duration));
      peer.level = level;
      if (level > bestLevel) {
        best = peer.id;
        bestLevel = level;
      }
    }
    const own = Number($("level").dataset.level || 0) / 4;
    if (!muted.audio && own > bestLevel) best = SELF;
    const at = performance.now();
    if (best) {
      speaker.id = best;
      speaker.at = at;
    } else if (at - speaker.at > SPEAKER_HOLD_MS) {
      speaker.id = null;
    }
    for (const tile of document.querySelectorAll("#grid .tile")) {
      const id = tile.id === "tile-self" ? SELF : tile.dataset.peer;
      tile.classList.toggle("speaking", id === speaker.id);
    }
  }

  (function speakerLoop() {
    setTimeout(async () => {
      if (state.joined) await speakerTick().catch(() => {});
      speakerLoop();
    }, 300);
  })();

  function layout() {
    const grid = $("grid");
    grid.dataset.count = String(grid.children.length);
  }

  function makeTile(peer) {
    const tile = $("tile-template").content.firstElementChild.cloneNode(true);
    tile.id = `tile-${peer.id}`;
    tile.dataset.peer = peer.id;
    tile.querySelector(".name").textContent = peer.name;
    tile.querySelector(".peer-role").textContent = ROLE_LABELS[peer.role] || peer.role;
    const actions = tile.querySelector(".host-actions");
    if (ROLE === "host" && peer.role !== "host") {
      actions.hidden = false;
      actions.querySelector('[data-action="mute-audio"]').addEventListener("click", () => {
        send({ type: "mute", to: peer.id, kind: "audio" });
      });
      actions.querySelector('[data-action="remove"]').addEventListener("click", () => {
        const reason = window.prompt(t("移出 {name}？请填写原因。", { name: peer.name }), "");
        if (reason !== null) send({ type: "remove", to: peer.id, reason: reason.slice(0, 200) });
      });
    }
    $("grid").append(tile);
    layout();
    return tile;
  }

  function setReconnecting(peer, on) {
    peer.reconnecting = on;
    peer.tile.querySelector(".overlay").hidden = !on;
    peer.tile.classList.toggle("reconnecting", on);
  }

  // -- peers and perfect negotiation -------------------------------------------------------------

  function enqueue(peer, job) {
    peer.queue = peer.queue.then(job).catch((err) => console.warn(`negotiation with ${peer.id}:`, err));
    return peer.queue;
  }

  function createPeer(info, offerer) {
    const peer = {
      id: info.id,
      name: info.name,
      role: info.role,
      aiortc: false,
      polite: false,
      canOffer: offerer, // the newcomer offers; those already present wait for its offer
      makingOffer: false,
      ignoreOffer: false,
      tracksAdded: false,
      reconnecting: false,
      queue: Promise.resolve(),
      pc: null,
      stream: null,
      stats: null,
      prev: null,
      quality: "unknown",
      tile: null,
      disconnectTimer: null,
    };
    peer.polite = politeToward(peer);
    peer.tile = makeTile(peer);
    state.peers.set(peer.id, peer);
    if (sfuMode()) {
      peer.stream = remoteStream(peer.id, "camera");
      peer.tile.querySelector("video.camera").srcObject = peer.stream;
      const screen = remoteStream(peer.id, "screen");
      peer.tile.querySelector("video.screen").srcObject = screen;
      showScreen(peer.id);
    } else {
      makePc(peer);
      if (offerer) addLocalTracks(peer);
    }
    showPeerMedia(peer);
    setReconnecting(peer, info.state === "reconnecting");
    return peer;
  }

  function makePc(peer) {
    const pc = new RTCPeerConnection({ iceServers: state.iceServers });
    pc.boothId = `${peer.id}/${++state.serial}/${Math.random().toString(36).slice(2, 10)}`;
    peer.pc = pc;
    peer.tracksAdded = false;
    peer.makingOffer = false;
    peer.ignoreOffer = false;
    peer.prev = null;
    peer.stream = new MediaStream();
    const video = peer.tile.querySelector("video.camera");
    video.srcObject = peer.stream;

    pc.ontrack = ({ track }) => {
      if (pc !== peer.pc) return;
      peer.stream.addTrack(track);
      track.onended = () => peer.stream.removeTrack(track);
      video.play?.().catch(() => {});
    };
    pc.onicecandidate = ({ candidate }) => {
      if (pc !== peer.pc || !candidate) return;
      send({ type: "candidate", to: peer.id, candidate: candidate.toJSON() });
    };
    pc.onnegotiationneeded = async () => {
      if (pc !== peer.pc || !peer.canOffer) return;
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        if (pc.signalingState === "have-local-offer") {
          send({ type: "offer", to: peer.id, sdp: pc.localDescription.sdp });
        }
      } catch (err) {
        console.warn(`offer to ${peer.id} failed`, err);
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.oniceconnectionstatechange = () => {
      if (pc !== peer.pc) return;
      const s = pc.iceConnectionState;
      clearTimeout(peer.disconnectTimer);
      if (s === "failed") {
        recover(peer, "ice failed");
      } else if (s === "disconnected") {
        peer.disconnectTimer = setTimeout(() => {
          if (pc === peer.pc && pc.iceConnectionState === "disconnected") recover(peer, "ice disconnected");
        }, 4000);
      }
      renderQuality(peer);
    };
    pc.onconnectionstatechange = () => renderQuality(peer);
    return pc;
  }

  function addLocalTracks(peer) {
    if (peer.tracksAdded) return;
    peer.tracksAdded = true;
    const pc = peer.pc;
    const stream = state.local;
    const kinds = new Set();
    for (const track of stream?.getTracks() || []) {
      pc.addTrack(track, stream);
      kinds.add(track.kind);
    }
    // Without a camera or microphone, still receive the others.
    for (const kind of ["audio", "video"]) {
      if (kinds.has(kind)) continue;
      const reusable = pc.getTransceivers().some((t) => t.receiver.track.kind === kind);
      if (!reusable) pc.addTransceiver(kind, { direction: "recvonly" });
    }
  }

  function replaceTracks(peer, stream) {
    if (!peer.pc) return;
    for (const sender of peer.pc.getSenders()) {
      const track = stream.getTracks().find((t) => sender.track && t.kind === sender.track.kind);
      if (track) sender.replaceTrack(track).catch((err) => console.warn("replaceTrack", err));
    }
  }

  function newPcFor(peer) {
    try {
      peer.pc.close();
    } catch (_) { /* already closed */ }
    makePc(peer);
  }

  function onDescription(peer, type, sdp) {
    if (!peer.pc) return Promise.resolve(); // media goes through the media server
    return enqueue(peer, async () => {
      if (AIORTC_ORIGIN.test(sdp) && !peer.aiortc) {
        peer.aiortc = true;
        peer.polite = politeToward(peer);
      }
      let pc = peer.pc;
      // A new DTLS identity in an offer means the other side started a fresh RTCPeerConnection
      // (what an aiortc peer does instead of an ICE restart): follow it with a fresh one here.
      const current = pc.remoteDescription ? fingerprint(pc.remoteDescription.sdp) : "";
      if (type === "offer" && current && fingerprint(sdp) && fingerprint(sdp) !== current) {
        newPcFor(peer);
        pc = peer.pc;
      }
      const collision = type === "offer" && (peer.makingOffer || pc.signalingState !== "stable");
      peer.ignoreOffer = !peer.polite && collision;
      if (peer.ignoreOffer) return;
      if (type === "answer" && pc.signalingState !== "have-local-offer") return; // stale answer
      await pc.setRemoteDescription({ type, sdp });
      peer.canOffer = true;
      if (type === "offer") {
        addLocalTracks(peer);
        await pc.setLocalDescription();
        send({ type: "answer", to: peer.id, sdp: pc.localDescription.sdp });
      }
    });
  }

  function onCandidate(peer, candidate) {
    if (!peer.pc) return Promise.resolve();
    return enqueue(peer, async () => {
      try {
        await peer.pc.addIceCandidate(candidate.candidate === "" ? null : candidate);
      } catch (err) {
        if (!peer.ignoreOffer) console.warn(`candidate from ${peer.id}`, err);
      }
    });
  }

  // ICE restart, keeping the RTCPeerConnection (and so the tile, the stream, the peer's identity).
  function restartIce(peer, why) {
    if (peer.aiortc || !peer.pc) return; // aiortc cannot restart ICE: it renegotiates a fresh connection itself
    enqueue(peer, async () => {
      const pc = peer.pc;
      console.info(`ICE restart toward ${peer.id}: ${why}`);
      if (pc.signalingState === "have-local-offer") await pc.setLocalDescription({ type: "rollback" });
      peer.canOffer = true;
      if (!pc.localDescription && !pc.remoteDescription) {
        addLocalTracks(peer); // never negotiated (its offer was lost): start over on this connection
        return;
      }
      pc.restartIce(); // fires negotiationneeded → an offer with new ICE credentials
    });
  }

  function recover(peer, why) {
    if (!state.joined || peer.reconnecting || !peer.pc) return; // wait for peer-back / our own welcome
    if (!peer.aiortc) {
      restartIce(peer, why);
      return;
    }
    enqueue(peer, async () => {
      newPcFor(peer);
      peer.canOffer = true;
      addLocalTracks(peer); // a fresh connection with an offer from here
    });
  }

  function dropPeer(id) {
    const peer = state.peers.get(id);
    if (!peer) return;
    state.peers.delete(id);
    clearTimeout(peer.disconnectTimer);
    try {
      peer.pc?.close();
    } catch (_) { /* closed */ }
    state.mediaOf.delete(id);
    peer.tile.remove();
    layout();
  }

  // -- connection quality --------------------------------------------------------------------------

  async function collectStats(peer) {
    if (!peer.pc) return state.sfu ? state.sfu.statsFor(peer.id) : { rtt: null, bytes: 0, packetsReceived: 0, packetsLost: 0, framesDecoded: 0 };
    const report = await peer.pc.getStats();
    let rtt = null;
    let bytes = 0;
    let packetsReceived = 0;
    let packetsLost = 0;
    let framesDecoded = 0;
    let selectedPair = null;
    report.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) selectedPair = s.selectedCandidatePairId;
    });
    report.forEach((s) => {
      if (s.type === "candidate-pair" && (s.id === selectedPair || (!selectedPair && s.nominated && s.state === "succeeded"))) {
        if (typeof s.currentRoundTripTime === "number") rtt = s.currentRoundTripTime;
      } else if (s.type === "inbound-rtp") {
        bytes += s.bytesReceived || 0;
        packetsReceived += s.packetsReceived || 0;
        packetsLost += Math.max(0, s.packetsLost || 0);
        if (s.kind === "video") framesDecoded += s.framesDecoded || 0;
      } else if (s.type === "remote-inbound-rtp" && rtt === null && typeof s.roundTripTime === "number") {
        rtt = s.roundTripTime;
      }
    });
    return { rtt, bytes, packetsReceived, packetsLost, framesDecoded };
  }

  async function readStats(peer) {
    const { rtt, bytes, packetsReceived, packetsLost, framesDecoded } = await collectStats(peer);
    const now = performance.now();
    const prev = peer.prev;
    let kbps = null;
    let loss = null;
    if (prev && now > prev.at) {
      kbps = Math.max(0, ((bytes - prev.bytes) * 8) / (now - prev.at));
      const got = packetsReceived - prev.packetsReceived;
      const lost = packetsLost - prev.packetsLost;
      loss = got + lost > 0 ? Math.max(0, lost) / (got + lost) : 0;
    }
    peer.prev = { at: now, bytes, packetsReceived, packetsLost };
    peer.stats = { rtt, kbps, loss, framesDecoded };
    return peer.stats;
  }

  // Network first (round-trip time, packet loss); bitrate only tells "nothing arrives" (a still
  // picture or a camera turned off is cheap to send and still good).
  function grade(stats) {
    if (!stats || stats.kbps === null) return "unknown";
    const rttMs = stats.rtt === null ? 0 : stats.rtt * 1000;
    if (rttMs > 400 || stats.loss > 0.08 || stats.kbps < 8) return "poor";
    if (rttMs > 150 || stats.loss > 0.02 || stats.kbps < 20) return "fair";
    return "good";
  }

  const GRADE_TEXT = { good: t("良好"), fair: t("一般"), poor: t("差"), unknown: "— " + t("连接中") };

  function renderQuality(peer) {
    const el = peer.tile.querySelector(".quality");
    const connected = peer.pc ? ["connected", "completed"].includes(peer.pc.iceConnectionState) : Boolean(state.sfu?.connected());
    const q = connected ? grade(peer.stats) : "unknown";
    peer.quality = q;
    el.className = `quality q ${q}`;
    el.dataset.quality = q;
    const s = peer.stats;
    let detail = "";
    if (connected && s && s.kbps !== null) {
      const parts = [];
      if (s.rtt !== null) parts.push(`${Math.round(s.rtt * 1000)} ms`);
      parts.push(t("丢包 {pct}%", { pct: (s.loss * 100).toFixed(1) }));
      parts.push(`${Math.round(s.kbps)} kbps`);
      detail = ` · ${parts.join(" · ")}`;
    }
    el.textContent = (connected || !peer.reconnecting ? GRADE_TEXT[q] : t("重新连接中")) + detail;
  }

  setInterval(async () => {
    for (const peer of state.peers.values()) {
      try {
        await readStats(peer);
      } catch (_) { /* the connection closed meanwhile */ }
      renderQuality(peer);
    }
  }, STATS_EVERY_MS);

  // -- signaling ----------------------------------------------------------------------------------

  class Fatal extends Error {}

  async function fetchToken() {
    let resp;
    try {
      resp = await fetch(TOKEN_URL, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" });
    } catch (err) {
      throw new Error("network");
    }
    if (resp.status === 401) throw new Fatal(t("登录已过期，请重新登录后再加入。"));
    if (resp.status === 403) throw new Fatal(t("您无权进入这个评标舱。"));
    if (!resp.ok) throw new Error(`token ${resp.status}`);
    return resp.json();
  }

  async function connect() {
    clearTimeout(state.reconnectTimer);
    if (state.stopped) return;
    setStatus("connecting", state.attempt ? t("重新连接中…") : t("连接中…"));
    let grant;
    try {
      grant = await fetchToken();
    } catch (err) {
      if (err instanceof Fatal) return stop(err.message);
      return scheduleReconnect();
    }
    state.media = grant.media || { mode: "mesh", recording: false };
    const url = new URL(grant.url, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url);
    state.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "join", token: grant.token }));
    ws.onmessage = (ev) => {
      if (ws !== state.ws) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (ws === state.ws) onClosed(ev.code);
    };
  }

  function lost() {
    state.ws = null;
    state.joined = false;
    clearInterval(state.heartbeat);
    for (const peer of state.peers.values()) clearTimeout(peer.disconnectTimer);
    scheduleReconnect();
  }

  function onClosed(code) {
    const known = CLOSES[code];
    if (code === 4005 && state.removedReason) {
      return stop(`${known.text}（${state.removedReason}）`);
    }
    if (known && !known.retry) return stop(known.text);
    if (code === 4002) {
      state.expiredInARow += 1;
      if (state.expiredInARow > 3) return stop(t("入场凭证总是过期：请检查本机时间后刷新页面。"));
    }
    if (known) showError(known.text);
    lost();
  }

  function scheduleReconnect() {
    if (state.stopped) return;
    state.ws = null;
    state.joined = false;
    setStatus("reconnecting", t("重新连接中…"));
    const base = Math.min(MAX_BACKOFF_MS, 250 * 2 ** state.attempt);
    const delay = base * (0.75 + Math.random() / 2);
    state.attempt += 1;
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function stop(text) {
    state.stopped = true;
    state.joined = false;
    clearTimeout(state.reconnectTimer);
    clearInterval(state.heartbeat);
    const ws = state.ws;
    state.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
    for (const id of [...state.peers.keys()]) dropPeer(id);
    stopSfu();
    stopScreen();
    showError(text);
    setStatus("stopped", t("已断开"));
  }

  function onWelcome(msg) {
    state.joined = true;
    state.attempt = 0;
    state.expiredInARow = 0;
    state.iceServers = msg.iceServers || [];
    showError("");
    setStatus("connected", t("已连接"));
    $("check").hidden = true;
    $("room").hidden = false;
    clearInterval(state.heartbeat);
    const every = Math.max(1000, ((msg.heartbeat || 10) * 1000) / 2);
    state.heartbeat = setInterval(() => send({ type: "ping", ts: Date.now() / 1000 }), every);

    const present = new Map((msg.participants || []).map((p) => [p.id, p]));
    for (const id of [...state.peers.keys()]) {
      // A fresh place (grace over): the others dropped their connections to us; so do we.
      if (!msg.resumed || !present.has(id)) dropPeer(id);
    }
    for (const info of present.values()) {
      const peer = state.peers.get(info.id);
      if (!peer) {
        createPeer(info, true); // the newcomer offers to everyone already here
        continue;
      }
      setReconnecting(peer, info.state === "reconnecting");
      if (info.state !== "reconnecting") restartIce(peer, "we are back");
    }
    $("room").dataset.media = state.media?.mode || "mesh";
    sendMediaState();
    if (sfuMode()) startSfu();
  }

  function onMessage(msg) {
    const peerOf = (id) => state.peers.get(id);
    switch (msg.type) {
      case "welcome":
        onWelcome(msg);
        break;
      case "peer-joined": {
        state.events.push({ type: msg.type, id: msg.peer.id });
        if (state.peers.has(msg.peer.id)) dropPeer(msg.peer.id); // a new place: start over
        createPeer(msg.peer, false);
        sendMediaState(); // so the newcomer sees our microphone and camera state
        break;
      }
      case "peer-left":
        state.events.push({ type: msg.type, id: msg.id, reason: msg.reason });
        dropPeer(msg.id);
        break;
      case "peer-reconnecting": {
        state.events.push({ type: msg.type, id: msg.id });
        const peer = peerOf(msg.id);
        if (peer) setReconnecting(peer, true);
        break;
      }
      case "peer-back": {
        state.events.push({ type: msg.type, id: msg.id });
        const peer = peerOf(msg.id);
        if (peer) {
          setReconnecting(peer, false);
          restartIce(peer, "peer is back");
        }
        break;
      }
      case "offer":
      case "answer": {
        const peer = peerOf(msg.from);
        if (peer) onDescription(peer, msg.type, msg.sdp);
        break;
      }
      case "candidate": {
        const peer = peerOf(msg.from);
        if (peer && msg.candidate) onCandidate(peer, msg.candidate);
        break;
      }
      case "ice-restart": {
        const peer = peerOf(msg.from);
        if (peer) restartIce(peer, "asked by peer");
        break;
      }
      case "mute-requested":
        setMuted(msg.kind === "video" ? "video" : "audio", true);
        showError(msg.kind === "video"
          ? t("主持人请您关闭摄像头。")
          : t("主持人请您静音，已为您静音。"));
        break;
      case "peer-media": {
        state.mediaOf.set(msg.id, { audio: Boolean(msg.audio), video: Boolean(msg.video), screen: Boolean(msg.screen) });
        const peer = peerOf(msg.id);
        if (peer) showPeerMedia(peer);
        break;
      }
      case "removed":
        state.removedReason = msg.reason || "";
        break;
      case "error":
        if (msg.code !== "peer-unavailable") console.warn("signaling error", msg.code, msg.message);
        break;
      default:
        break;
    }
  }

  function leave() {
    send({ type: "leave" });
    stop(t("您已离开评标舱。"));
    state.local?.getTracks().forEach((t) => t.stop());
  }

  // -- wiring --------------------------------------------------------------------------------------

  $("join").addEventListener("click", () => {
    $("join").disabled = true;
    meterContext?.resume?.();
    connect();
  });
  $("mute").addEventListener("click", () => setMuted("audio", !muted.audio));
  $("camera").addEventListener("click", () => setMuted("video", !muted.video));
  $("leave").addEventListener("click", leave);
  $("share").addEventListener("click", shareScreen);
  if (!navigator.mediaDevices?.getDisplayMedia) $("share").hidden = true;
  $("camera-select").addEventListener("change", switchDevice);
  $("mic-select").addEventListener("change", switchDevice);
  window.addEventListener("online", () => {
    if (!state.joined && !state.stopped && state.reconnectTimer) connect();
  });

  // Read-only view for tests and support staff (the console); `_dropSocket` simulates a network drop.
  window.booth = {
    get id() { return SELF; },
    get room() { return ROOM; },
    get joined() { return state.joined; },
    get events() { return state.events.slice(); },
    get mediaMode() { return state.joined ? state.media?.mode ?? null : null; },
    get mediaConnected() { return Boolean(state.sfu?.connected()); },
    get mediaSession() { return state.sfu?.session ?? null; },
    get speaker() { return speaker.id; },
    get sharing() { return Boolean(state.screen); },
    micOff: (id) => !state.peers.get(id)?.tile.querySelector(".mic-off").hidden,
    screenShown: (id) => Boolean(state.peers.get(id)?.tile.classList.contains("has-screen")),
    shareScreen: () => shareScreen(),
    peerIds: () => [...state.peers.keys()],
    pcId: (id) => state.peers.get(id)?.pc?.boothId ?? null,
    connectionState: (id) => state.peers.get(id)?.pc?.connectionState ?? null,
    quality: (id) => state.peers.get(id)?.quality ?? null,
    isAiortc: (id) => state.peers.get(id)?.aiortc ?? null,
    iceUfrag: (id) => /^a=ice-ufrag:(.+?)\r?$/m.exec(state.peers.get(id)?.pc?.currentLocalDescription?.sdp || "")?.[1] ?? null,
    framesDecoded: async (id) => {
      const peer = state.peers.get(id);
      return peer ? (await collectStats(peer)).framesDecoded : 0;
    },
    _dropSocket: () => {
      const ws = state.ws;
      if (!ws) return false;
      ws.onclose = null;
      ws.close();
      lost();
      return true;
    },
  };

  check();
})();
