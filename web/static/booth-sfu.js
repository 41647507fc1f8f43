// 评标舱 media through the platform's Janus VideoRoom (docs/media.md): one publisher connection per
// source (camera + microphone, and the shared screen), one subscriber connection carrying every
// other participant's feeds. Everything goes through the platform's filtering proxy
// (/api/booth/<room>/janus…, the member's own session and CSRF token); the platform picks the room,
// the feed ids and the recording. booth.js drives it; window.BoothSfu is the only global.
"use strict";

(() => {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const newTx = () => Math.random().toString(36).slice(2, 14);
  const GATHER_MS = 3000; // upper bound on ICE gathering before the SDP is sent anyway
  const REPLY_MS = 15000;

  class Gone extends Error {}

  function gathered(pc) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (pc.iceGatheringState !== "complete") return;
        pc.removeEventListener("icegatheringstatechange", done);
        resolve();
      };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, GATHER_MS);
    });
  }

  function parseDisplay(display) {
    const text = String(display || "");
    const cut = text.lastIndexOf("/");
    return cut < 0 ? { account: text, source: "camera" } : { account: text.slice(0, cut), source: text.slice(cut + 1) };
  }

  class BoothSfu {
    // opts: url, self, iceServers, onTrack(account, source, track), onTrackGone(account, source, track),
    //       onLost(error), onChange()
    constructor(opts) {
      Object.assign(this, opts);
      this.session = null;
      this.closed = false;
      this.pending = new Map(); // transaction → {resolve, reject}
      this.handlers = new Map(); // handle id → event handler
      this.pub = {}; // source → {handle, pc, feed}
      this.sub = null; // {handle, pc, mids: Map(mid → {feed, account, source})}
      this.subQueue = Promise.resolve();
      this.subscribed = new Set(); // feed ids
      this.displays = new Map(); // feed id → display
      this.keepalive = null;
    }

    async post(path, body) {
      const resp = await fetch(this.url + path, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ transaction: newTx(), ...body }),
      });
      if (resp.status === 404 || resp.status === 401 || resp.status === 403) throw new Gone(`media ${resp.status}`);
      const reply = await resp.json();
      if (reply.janus === "error") {
        if (reply.error?.code === 458) throw new Gone("media session gone");
        throw new Error(`janus ${reply.error?.code}: ${reply.error?.reason}`);
      }
      return reply;
    }

    async attach() {
      const reply = await this.post(`/${this.session}`, { janus: "attach", plugin: "janus.plugin.videoroom" });
      return reply.data.id;
    }

    message(handle, body, jsep) {
      const transaction = newTx();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending.delete(transaction);
          reject(new Error(`no reply to ${body.request}`));
        }, REPLY_MS);
        const settle = (ev) => {
          clearTimeout(timer);
          this.pending.delete(transaction);
          const data = ev.plugindata?.data || {};
          if (ev.janus === "error") reject(new Error(`janus ${ev.error?.code}: ${ev.error?.reason}`));
          else if (data.error_code) reject(new Error(`videoroom ${data.error_code}: ${data.error}`));
          else resolve(ev);
        };
        this.pending.set(transaction, settle);
        const msg = { janus: "message", transaction, body };
        if (jsep) msg.jsep = jsep;
        this.post(`/${this.session}/${handle}`, msg).then((reply) => {
          if (reply.janus === "success") settle(reply);
        }, (err) => {
          clearTimeout(timer);
          this.pending.delete(transaction);
          reject(err);
        });
      });
    }

    trickleDone(handle) {
      return this.post(`/${this.session}/${handle}`, { janus: "trickle", candidate: { completed: true } });
    }

    async start(stream) {
      const created = await this.post("", { janus: "create" });
      this.session = created.data.id;
      this.poll();
      this.keepalive = setInterval(() => {
        this.post(`/${this.session}`, { janus: "keepalive" }).catch((err) => this.fail(err));
      }, 25000);
      await this.publish("camera", stream);
    }

    async poll() {
      while (!this.closed) {
        let events;
        try {
          const resp = await fetch(`${this.url}/${this.session}?maxev=10`, { credentials: "same-origin", cache: "no-store" });
          if (!resp.ok) throw new Gone(`media events ${resp.status}`);
          events = await resp.json();
        } catch (err) {
          this.fail(err);
          return;
        }
        for (const ev of Array.isArray(events) ? events : [events]) {
          if (ev.janus === "error") return this.fail(new Gone(`media server: ${ev.error?.reason || "error"}`));
          this.dispatch(ev);
        }
      }
    }

    dispatch(ev) {
      const settle = ev.transaction ? this.pending.get(ev.transaction) : null;
      if (settle && ev.janus !== "ack") {
        settle(ev);
        return;
      }
      if (ev.janus === "event") this.handlers.get(ev.sender)?.(ev);
      else if (ev.janus === "webrtcup" || ev.janus === "hangup" || ev.janus === "media") this.onChange?.();
    }

    // -- publishing -------------------------------------------------------------------------------

    async publish(source, stream) {
      const handle = await this.attach();
      const entry = { handle, pc: null, feed: null, source };
      this.pub[source] = entry;
      if (source === "camera") this.handlers.set(handle, (ev) => this.onRoomEvent(ev));
      const joined = await this.message(handle, { request: "join", ptype: "publisher", source });
      const data = joined.plugindata.data;
      entry.feed = data.id;
      if (source === "camera") this.addPublishers(data.publishers || []);
      const tracks = stream ? stream.getTracks() : [];
      if (!tracks.length) return entry; // nothing to send: still in the room, receiving the others
      const pc = new RTCPeerConnection({ iceServers: this.iceServers || [] });
      entry.pc = pc;
      for (const track of tracks) pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "failed") this.fail(new Error(`${source} connection failed`));
        this.onChange?.();
      };
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const reply = await this.message(handle, { request: "publish" }, { type: "offer", sdp: pc.localDescription.sdp });
      await this.trickleDone(handle);
      await pc.setRemoteDescription(reply.jsep);
      return entry;
    }

    async unpublish(source) {
      const entry = this.pub[source];
      if (!entry) return;
      delete this.pub[source];
      entry.pc?.close();
      await this.post(`/${this.session}/${entry.handle}`, { janus: "detach" }).catch(() => {});
    }

    replaceTrack(kind, track) {
      const pc = this.pub.camera?.pc;
      if (!pc) return;
      for (const sender of pc.getSenders()) {
        if (sender.track && sender.track.kind === kind) sender.replaceTrack(track).catch((err) => console.warn("replaceTrack", err));
      }
    }

    onRoomEvent(ev) {
      const data = ev.plugindata?.data || {};
      if (Array.isArray(data.publishers)) this.addPublishers(data.publishers);
      const gone = data.unpublished ?? data.leaving;
      if (gone !== undefined && gone !== "ok") this.removeFeed(gone);
    }

    addPublishers(list) {
      const fresh = [];
      for (const p of list) {
        const who = parseDisplay(p.display);
        if (who.account === this.self || this.subscribed.has(p.id)) continue;
        this.displays.set(p.id, p.display);
        fresh.push(p.id);
      }
      if (fresh.length) this.queueSub(() => this.subscribe(fresh));
    }

    removeFeed(feed) {
      if (!this.subscribed.has(feed)) return;
      this.subscribed.delete(feed);
      this.queueSub(async () => {
        if (!this.sub) return;
        const ev = await this.message(this.sub.handle, { request: "unsubscribe", streams: [{ feed }] });
        await this.onSubOffer(ev);
      });
    }

    // -- subscribing ------------------------------------------------------------------------------

    queueSub(job) {
      this.subQueue = this.subQueue.then(job).catch((err) => {
        if (!this.closed) console.warn("media subscription", err);
      });
    }

    async subscribe(feeds) {
      feeds = feeds.filter((f) => !this.subscribed.has(f));
      if (!feeds.length || this.closed) return;
      feeds.forEach((f) => this.subscribed.add(f));
      const streams = feeds.map((feed) => ({ feed }));
      let ev;
      if (!this.sub) {
        const handle = await this.attach();
        this.sub = { handle, pc: null, mids: new Map() };
        this.handlers.set(handle, (e) => this.queueSub(() => this.onSubOffer(e)));
        ev = await this.message(handle, { request: "join", ptype: "subscriber", streams });
      } else {
        ev = await this.message(this.sub.handle, { request: "subscribe", streams });
      }
      await this.onSubOffer(ev);
    }

    subPc() {
      if (this.sub.pc) return this.sub.pc;
      const pc = new RTCPeerConnection({ iceServers: this.iceServers || [] });
      this.sub.pc = pc;
      pc.ontrack = ({ track, transceiver }) => {
        const info = this.sub?.mids.get(transceiver.mid);
        if (info) this.onTrack?.(info.account, info.source, track);
      };
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "failed") this.fail(new Error("subscriber connection failed"));
        this.onChange?.();
      };
      return pc;
    }

    async onSubOffer(ev) {
      if (!this.sub || this.closed) return;
      const data = ev.plugindata?.data || {};
      for (const s of data.streams || []) {
        if (s.mid === undefined || s.type === "data") continue;
        const old = this.sub.mids.get(s.mid);
        if (s.active === false || s.feed_id === undefined) {
          if (old) {
            this.sub.mids.delete(s.mid);
            const tr = this.sub.pc?.getTransceivers().find((t) => t.mid === s.mid);
            if (tr) this.onTrackGone?.(old.account, old.source, tr.receiver.track);
          }
          continue;
        }
        const who = parseDisplay(s.feed_display ?? this.displays.get(s.feed_id));
        this.sub.mids.set(s.mid, { feed: s.feed_id, account: who.account, source: who.source, kind: s.type });
      }
      if (!ev.jsep) return;
      const pc = this.subPc();
      await pc.setRemoteDescription(ev.jsep);
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      await this.message(this.sub.handle, { request: "start" }, { type: "answer", sdp: pc.localDescription.sdp });
      await this.trickleDone(this.sub.handle);
    }

    // -- state --------------------------------------------------------------------------------------

    connected() {
      const pcs = [this.pub.camera?.pc, this.sub?.pc].filter(Boolean);
      return pcs.length > 0 && pcs.every((pc) => pc.connectionState === "connected");
    }

    // Inbound statistics of one participant's camera feed (round trip from the subscriber connection).
    async statsFor(account) {
      const out = { rtt: null, bytes: 0, packetsReceived: 0, packetsLost: 0, framesDecoded: 0 };
      const pc = this.sub?.pc;
      if (!pc) return out;
      const mids = new Set([...this.sub.mids].filter(([, i]) => i.account === account && i.source === "camera").map(([m]) => m));
      const report = await pc.getStats();
      let pair = null;
      report.forEach((s) => {
        if (s.type === "transport" && s.selectedCandidatePairId) pair = s.selectedCandidatePairId;
      });
      report.forEach((s) => {
        if (s.type === "candidate-pair" && s.id === pair && typeof s.currentRoundTripTime === "number") out.rtt = s.currentRoundTripTime;
        if (s.type !== "inbound-rtp" || !mids.has(s.mid)) return;
        out.bytes += s.bytesReceived || 0;
        out.packetsReceived += s.packetsReceived || 0;
        out.packetsLost += Math.max(0, s.packetsLost || 0);
        if (s.kind === "video") out.framesDecoded += s.framesDecoded || 0;
      });
      return out;
    }

    fail(err) {
      if (this.closed) return;
      console.warn("media server connection lost:", err?.message || err);
      this.close(false);
      this.onLost?.(err);
    }

    close(tell = true) {
      if (this.closed) return;
      this.closed = true;
      clearInterval(this.keepalive);
      for (const entry of Object.values(this.pub)) entry.pc?.close();
      this.sub?.pc?.close();
      if (this.sub) {
        for (const info of this.sub.mids.values()) this.onTrackGone?.(info.account, info.source, null);
      }
      if (tell && this.session) this.post(`/${this.session}`, { janus: "destroy" }).catch(() => {});
    }
  }

  window.BoothSfu = BoothSfu;
})();
